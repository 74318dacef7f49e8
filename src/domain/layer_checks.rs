//! The checks before a publish: would this layer load where it says it
//! does? From the zip's own directory (the names and unzipped sizes of its
//! entries, `zip_directory.rs`), three questions, each with its own
//! `errorType`:
//!
//! - does it fit Lambda's unzipped limit? (`LayerTooLargeUnzipped`)
//! - is anything where the declared runtimes look? (`LayerLayoutWrong`)
//! - can its compiled code load on the declared runtimes and architectures?
//!   (`LayerIncompatible`)
//!
//! and what its compiled code proves, which a version declares when nothing
//! else does. `layerctl`, which holds the bytes, also feeds what names do not
//! tell: the ELF machine of untagged shared objects, and each wheel's tags
//! ([`Facts::add_machine`], [`Facts::add_wheel_tags`]).
//!
//! Pure: [`Facts`] gathers what the entries show in bounded memory (counts,
//! and a few example names per finding), [`assess`] decides.

use crate::domain::declared::{self, Declared};
use crate::domain::zip_directory::Entry;
use std::collections::BTreeMap;

/// Lambda's limit on a layer unzipped (and on a function with its layers).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// How many file names each finding keeps to show.
const EXAMPLES: usize = 3;
/// How many of the zip's top-level names a layout message shows.
const ROOTS_SHOWN: usize = 6;

/// Some files of one finding: how many, and the first few names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Examples {
    count: u64,
    first: Vec<String>,
}

impl Examples {
    fn add(&mut self, name: &str) {
        self.count += 1;
        if self.first.len() < EXAMPLES {
            self.first.push(name.to_owned());
        }
    }

    fn describe(&self) -> String {
        let more = self.count.saturating_sub(self.first.len() as u64);
        let listed = self.first.join(", ");
        match more {
            0 => listed,
            n => format!("{listed} and {n} more"),
        }
    }
}

/// The places in a layer a runtime looks in, once unzipped under `/opt`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Places {
    python: bool,
    nodejs: bool,
    java: bool,
    ruby: bool,
    /// `bin/`, `lib/`: every runtime; `extensions/`: Lambda extensions.
    any: bool,
}

/// What a zip's entries show, gathered one entry at a time.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    files: u64,
    unzipped: u64,
    places: Places,
    /// The zip's top-level names (a folder ends in `/`), with their files.
    roots: Vec<(String, u64)>,
    more_roots: u64,
    /// Files under `python/lib/python3.X/site-packages/`, by X.
    site_packages: BTreeMap<u8, Examples>,
    /// Extension modules for CPython 3.X, outside a site-packages of a
    /// version, by X.
    python_tags: BTreeMap<u8, Examples>,
    /// Compiled code for a processor (`x86_64`, `aarch64`, or another).
    machines: BTreeMap<String, Examples>,
    /// Compiled code that cannot load on Lambda at all, by why.
    foreign: BTreeMap<&'static str, Examples>,
    /// Wheels that need a newer glibc than Lambda's, by the glibc (2.X).
    glibc: BTreeMap<u8, Examples>,
    /// Untagged shared objects, for `layerctl` to read (when it gathers).
    untagged: Vec<String>,
}

/// What a file's name says about its compiled code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Compiled {
    python: Option<u8>,
    machine: Option<String>,
    foreign: Option<&'static str>,
    /// A shared object with nothing in its name: `layerctl` reads its ELF header.
    untagged: bool,
}

impl Facts {
    /// Adds one entry of the zip's directory.
    pub fn add(&mut self, entry: Entry<'_>) {
        let name = entry.name;
        self.unzipped = self.unzipped.saturating_add(entry.unzipped);
        if name.ends_with('/') {
            return;
        }
        self.files += 1;
        let name = name.trim_start_matches("./");
        self.add_root(name);
        self.places = place_of(name, self.places);
        let in_version = site_packages_of(name);
        if let Some(minor) = in_version {
            self.site_packages.entry(minor).or_default().add(name);
        }
        let compiled = classify(name);
        if let Some(why) = compiled.foreign {
            self.foreign.entry(why).or_default().add(name);
        }
        if let Some(minor) = compiled.python {
            match in_version {
                // Built for another Python than its folder's: it loads nowhere.
                Some(folder) if folder != minor => {
                    self.foreign
                        .entry("built for another Python than its site-packages folder")
                        .or_default()
                        .add(name);
                }
                Some(_) => {}
                None => self.python_tags.entry(minor).or_default().add(name),
            }
        }
        if let Some(machine) = compiled.machine {
            self.machines.entry(machine).or_default().add(name);
        }
        if compiled.untagged && self.untagged.len() < MAX_UNTAGGED {
            self.untagged.push(name.to_owned());
        }
    }

    fn add_root(&mut self, name: &str) {
        let root = match name.split_once('/') {
            Some((folder, _)) => format!("{folder}/"),
            None => name.to_owned(),
        };
        let shown = self.roots.len();
        match self.roots.iter_mut().find(|(seen, _)| *seen == root) {
            Some((_, files)) => *files += 1,
            None if shown < ROOTS_SHOWN => self.roots.push((root, 1)),
            None => self.more_roots += 1,
        }
    }

    /// The shared objects whose names tell nothing (auditwheel's
    /// `*.libs/`, Node's `.node` addons): `layerctl` reads their headers.
    pub fn untagged(&self) -> &[String] {
        &self.untagged
    }

    /// What `layerctl` read in an untagged shared object's header: its
    /// processor (ELF's `e_machine`), or another format (Mach-O, PE).
    pub fn add_machine(&mut self, name: &str, header: Header) {
        match header {
            Header::Elf(machine) => self.machines.entry(machine).or_default().add(name),
            Header::MachO => self
                .foreign
                .entry("built for macOS (a Mach-O binary)")
                .or_default()
                .add(name),
            Header::Pe => self
                .foreign
                .entry("built for Windows (a PE binary)")
                .or_default()
                .add(name),
            Header::Other => {}
        }
    }

    /// A wheel's tags, from its `*.dist-info/WHEEL` (`Tag:` lines), as
    /// `layerctl` read them: a `manylinux_2_X` tag needs glibc 2.X.
    pub fn add_wheel_tags(&mut self, wheel: &str, tags: &[String]) {
        // A wheel installs when any of its tags fits: its least demanding.
        let needs = tags.iter().filter_map(|tag| glibc_of(tag)).min();
        if let Some(minor) = needs {
            self.glibc.entry(minor).or_default().add(wheel);
        }
        for tag in tags {
            if tag.contains("musllinux") {
                self.foreign
                    .entry("a musllinux wheel (Lambda's runtimes use glibc)")
                    .or_default()
                    .add(wheel);
            }
        }
    }

    pub fn unzipped(&self) -> u64 {
        self.unzipped
    }

    pub fn files(&self) -> u64 {
        self.files
    }
}

/// How many untagged shared objects `layerctl` reads the header of.
const MAX_UNTAGGED: usize = 10_000;

/// What a shared object's first bytes say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Header {
    /// ELF, for this processor (`x86_64`, `aarch64`, or another's name).
    Elf(String),
    MachO,
    Pe,
    Other,
}

impl Header {
    /// Reads the first 20 bytes of a file.
    pub fn of(bytes: &[u8]) -> Self {
        match bytes {
            [0x7f, b'E', b'L', b'F', class, data, ..] if bytes.len() >= 20 => {
                let machine = match data {
                    1 => u16::from_le_bytes([bytes[18], bytes[19]]),
                    _ => u16::from_be_bytes([bytes[18], bytes[19]]),
                };
                let name = match (machine, class) {
                    (62, _) => "x86_64".to_owned(),
                    (183, _) => "aarch64".to_owned(),
                    (3, _) => "i686".to_owned(),
                    (40, _) => "arm".to_owned(),
                    (21, _) => "ppc64".to_owned(),
                    (22, _) => "s390x".to_owned(),
                    (other, _) => format!("ELF machine {other}"),
                };
                Self::Elf(name)
            }
            [0xcf | 0xce, 0xfa, 0xed, 0xfe, ..] | [0xca, 0xfe, 0xba, 0xbe, ..] => Self::MachO,
            [b'M', b'Z', ..] => Self::Pe,
            _ => Self::Other,
        }
    }
}

/// The glibc minor version a wheel tag needs (`manylinux_2_28_x86_64`: 28).
fn glibc_of(tag: &str) -> Option<u8> {
    let platform = tag.rsplit('-').next().unwrap_or(tag);
    if platform.starts_with("manylinux1_") {
        return Some(5);
    }
    if platform.starts_with("manylinux2010_") {
        return Some(12);
    }
    if platform.starts_with("manylinux2014_") {
        return Some(17);
    }
    let rest = platform.strip_prefix("manylinux_2_")?;
    rest.split('_').next()?.parse().ok()
}

/// The glibc a Python runtime has: Amazon Linux 2's (2.26) up to 3.11,
/// Amazon Linux 2023's (2.34) from 3.12.
fn runtime_glibc(python_minor: u8) -> u8 {
    if python_minor <= 11 {
        26
    } else {
        34
    }
}

/// Where `name` is, among the places runtimes look.
fn place_of(name: &str, mut places: Places) -> Places {
    let parts: Vec<&str> = name.splitn(4, '/').collect();
    match parts.as_slice() {
        ["python", _, ..] => places.python = true,
        ["nodejs", "node_modules", _, ..] => places.nodejs = true,
        ["nodejs", version, "node_modules", _] if is_node_folder(version) => places.nodejs = true,
        ["java", "lib", _, ..] => places.java = true,
        ["ruby", "gems" | "lib", _, ..] => places.ruby = true,
        ["bin" | "lib" | "extensions", _, ..] => places.any = true,
        _ => {}
    }
    places
}

/// `node18`, `node20`: a version's own `node_modules` folder.
fn is_node_folder(name: &str) -> bool {
    name.strip_prefix("node")
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

/// X, for a file under `python/lib/python3.X/site-packages/`.
fn site_packages_of(name: &str) -> Option<u8> {
    let rest = name.strip_prefix("python/lib/python3.")?;
    let (minor, rest) = rest.split_once('/')?;
    rest.starts_with("site-packages/")
        .then(|| minor.parse().ok())
        .flatten()
}

/// What a file's name says about its compiled code.
fn classify(name: &str) -> Compiled {
    let base = name.rsplit('/').next().unwrap_or(name);
    let folder = name.strip_suffix(base).unwrap_or_default();
    let lower = base.to_ascii_lowercase();
    let mut compiled = Compiled::default();
    if lower.ends_with(".pyd") {
        compiled.foreign = Some("a Windows extension module (.pyd)");
        return compiled;
    }
    if lower.ends_with(".dylib") && folder.contains(".dylibs/") {
        compiled.foreign = Some("a macOS library (.dylib) a macOS wheel bundles");
        return compiled;
    }
    if lower.ends_with(".dll") && folder.contains(".libs/") {
        compiled.foreign = Some("a Windows library (.dll) a Windows wheel bundles");
        return compiled;
    }
    let shared = lower.ends_with(".so") || lower.contains(".so.") || lower.ends_with(".node");
    // node-gyp-build's `prebuilds/<platform>-<arch>/` ship every platform's
    // addon, and load the one that fits.
    if !shared || folder.split('/').any(|part| part == "prebuilds") {
        return compiled;
    }
    // `name.cpython-312-x86_64-linux-gnu.so`: the tag before `.so`.
    let tag = lower
        .strip_suffix(".so")
        .and_then(|stem| stem.rsplit_once('.'))
        .map(|(_, tag)| tag);
    let Some(tag) =
        tag.filter(|t| t.starts_with("cpython-") || t.starts_with("pypy") || *t == "abi3")
    else {
        // `libz-1a2b.so.1`, `_speedups.so`, `addon.node`: nothing in the
        // name; `layerctl` reads the header.
        compiled.untagged = true;
        return compiled;
    };
    if tag == "abi3" {
        compiled.untagged = true;
        return compiled;
    }
    if tag.starts_with("pypy") {
        compiled.foreign = Some("built for PyPy, not CPython");
        return compiled;
    }
    let mut parts = tag.split('-');
    let version = parts.nth(1).unwrap_or_default();
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    compiled.python = digits
        .strip_prefix('3')
        .and_then(|minor| minor.parse().ok());
    let platform: Vec<&str> = parts.collect();
    match platform.as_slice() {
        ["darwin"] => compiled.foreign = Some("built for macOS (a darwin extension module)"),
        [machine, "linux", "gnu" | "gnueabihf"] => compiled.machine = Some(machine_name(machine)),
        [_, "linux", "musl"] => {
            compiled.foreign = Some("built for musl libc (Lambda's runtimes use glibc)");
        }
        _ => compiled.foreign = Some("built for an operating system other than Linux"),
    }
    compiled
}

/// `i386` and `i686`, `arm` and `armv7l` are one processor each.
fn machine_name(tag: &str) -> String {
    match tag {
        "i386" | "i686" => "i686".into(),
        "arm" | "armv7l" => "arm".into(),
        "powerpc64le" => "ppc64le".into(),
        other => other.into(),
    }
}

/// Why a layer would break where it is declared to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckProblem {
    TooLargeUnzipped { unzipped: u64, files: u64 },
    LayoutWrong { found: String, expected: String },
    Incompatible { why: Vec<String>, fix: String },
}

/// What a version declares: the upload's or the deployment's settings, or
/// else what the compiled code proves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proven {
    pub runtimes: Vec<String>,
    pub architectures: Vec<String>,
}

/// How much of the checks a record runs: all, or only Lambda's own limit
/// (the escape hatch: `skip-layer-checks`, `SKIP_LAYER_CHECKS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    All,
    SizeOnly,
}

/// The checks, against what the version declares. Returns what the compiled
/// code proves (the runtimes and architectures it declares when none are).
pub fn assess(facts: &Facts, declared: &Declared, checks: Checks) -> Result<Proven, CheckProblem> {
    if facts.unzipped > MAX_UNZIPPED_BYTES {
        return Err(CheckProblem::TooLargeUnzipped {
            unzipped: facts.unzipped,
            files: facts.files,
        });
    }
    if checks == Checks::SizeOnly {
        return Ok(Proven::default());
    }
    check_layout(facts, &declared.runtimes)?;
    check_compatible(facts, declared)
}

/// Something is where a declared runtime looks.
fn check_layout(facts: &Facts, runtimes: &[String]) -> Result<(), CheckProblem> {
    let p = facts.places;
    let families: Vec<&str> = runtimes.iter().map(|r| family(r)).collect();
    // A custom runtime (and Go, .NET) looks wherever it is told.
    if families.contains(&"custom") {
        return Ok(());
    }
    let found = |family: &str| match family {
        "python" => p.python,
        "nodejs" => p.nodejs,
        "java" => p.java,
        "ruby" => p.ruby,
        _ => false,
    };
    let fits = p.any
        || match families.is_empty() {
            true => p.python || p.nodejs || p.java || p.ruby,
            false => families.iter().any(|f| found(f)),
        };
    if fits {
        return Ok(());
    }
    let mut roots: Vec<String> = facts
        .roots
        .iter()
        .map(|(root, files)| match files {
            1 => root.clone(),
            n => format!("{root} ({n} files)"),
        })
        .collect();
    if facts.more_roots > 0 {
        roots.push(format!("{} more", facts.more_roots));
    }
    let found = match facts.files {
        0 => "it holds no file".to_owned(),
        _ => format!(
            "its files sit at the zip's root or in folders no runtime looks in: {}",
            roots.join(", ")
        ),
    };
    let shown: Vec<&str> = match families.is_empty() {
        true => vec!["python", "nodejs", "java", "ruby"],
        false => families,
    };
    let expected: Vec<&str> = shown.iter().map(|f| where_it_looks(f)).collect();
    Err(CheckProblem::LayoutWrong {
        found,
        expected: expected.join("; "),
    })
}

/// A runtime's family, by its identifier.
fn family(runtime: &str) -> &'static str {
    ["python", "nodejs", "java", "ruby"]
        .into_iter()
        .find(|f| runtime.starts_with(f))
        .unwrap_or("custom")
}

fn where_it_looks(family: &str) -> &'static str {
    match family {
        "python" => {
            "Python looks under python/ (or python/lib/python3.X/site-packages/): build with \
             `pip install -r requirements.txt --target python/` and zip the folder that holds \
             python/"
        }
        "nodejs" => "Node.js looks under nodejs/node_modules/ (or nodejs/node20/node_modules/)",
        "java" => "Java looks under java/lib/",
        "ruby" => "Ruby looks under ruby/gems/3.3.0/ (or ruby/lib/)",
        _ => "every runtime looks under bin/ and lib/",
    }
}

/// The compiled code loads on every declared runtime and architecture;
/// where none are declared, on the one it was built for.
fn check_compatible(facts: &Facts, declared: &Declared) -> Result<Proven, CheckProblem> {
    let mut why: Vec<String> = facts
        .foreign
        .iter()
        .map(|(what, files)| format!("{what}: {}", files.describe()))
        .collect();
    let pythons: Vec<u8> = declared
        .runtimes
        .iter()
        .filter_map(|r| declared::python_minor(r))
        .collect();
    let machines: Vec<&str> = declared
        .architectures
        .iter()
        .filter_map(|a| declared::machine_of(a))
        .collect();

    // Python: an extension outside a version's site-packages loads on one
    // Python; a version's site-packages is searched by that Python alone.
    for (minor, files) in &facts.python_tags {
        for &declared in pythons.iter().filter(|&&v| v != *minor) {
            why.push(format!(
                "built for Python 3.{minor}, which python3.{declared} cannot load: {}",
                files.describe()
            ));
        }
    }
    for (minor, files) in &facts.site_packages {
        if !pythons.is_empty() && !pythons.contains(minor) {
            let declared: Vec<String> = pythons.iter().map(|v| format!("python3.{v}")).collect();
            why.push(format!(
                "in the site-packages of Python 3.{minor}, where {} does not look: {}",
                declared.join(" and "),
                files.describe()
            ));
        }
    }
    let tagged: Vec<u8> = facts.python_tags.keys().copied().collect();
    if pythons.is_empty() && tagged.len() > 1 {
        let each: Vec<String> = facts
            .python_tags
            .iter()
            .map(|(minor, files)| format!("3.{minor}: {}", files.describe()))
            .collect();
        why.push(format!(
            "built for several Pythons, so that no runtime loads all of it ({})",
            each.join("; ")
        ));
    }

    // Processors: Lambda runs x86_64 and arm64 (aarch64) only.
    for (machine, files) in &facts.machines {
        match declared::architecture_of(machine) {
            None => why.push(format!(
                "built for {machine}, a processor Lambda does not run: {}",
                files.describe()
            )),
            Some(_) => {
                for &other in machines.iter().filter(|m| *m != machine) {
                    let arch = declared::architecture_of(other).unwrap_or(other);
                    why.push(format!(
                        "built for {machine}, which {arch} cannot load: {}",
                        files.describe()
                    ));
                }
            }
        }
    }
    let lambda_machines: Vec<&String> = facts
        .machines
        .keys()
        .filter(|m| declared::architecture_of(m).is_some())
        .collect();
    if machines.is_empty() && lambda_machines.len() > 1 {
        why.push(format!(
            "built for both x86_64 and aarch64, so that no architecture loads all of it ({})",
            facts
                .machines
                .iter()
                .map(|(m, files)| format!("{m}: {}", files.describe()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }

    // What the version declares when nothing else does.
    let site_minors: Vec<u8> = facts.site_packages.keys().copied().collect();
    let proven_python = match (tagged.as_slice(), site_minors.as_slice()) {
        ([minor], []) | ([], [minor]) => Some(*minor),
        ([minor], [site]) if minor == site => Some(*minor),
        _ => None,
    };
    let proven = Proven {
        runtimes: proven_python
            .map(|minor| format!("python3.{minor}"))
            .filter(|r| declared::RUNTIMES.contains(&r.as_str()))
            .into_iter()
            .collect(),
        architectures: match lambda_machines.as_slice() {
            [machine] => declared::architecture_of(machine)
                .map(str::to_owned)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        },
    };

    // glibc: a wheel needing a newer one than the runtime has.
    let runs_on: Vec<u8> = match pythons.is_empty() {
        true => proven_python.into_iter().collect(),
        false => pythons.clone(),
    };
    for (glibc, wheels) in &facts.glibc {
        for &minor in &runs_on {
            let has = runtime_glibc(minor);
            if *glibc > has {
                why.push(format!(
                    "needs glibc 2.{glibc} (manylinux_2_{glibc}), newer than python3.{minor}'s \
                     2.{has}: {}",
                    wheels.describe()
                ));
            }
        }
    }

    if why.is_empty() {
        return Ok(proven);
    }
    let python = pythons.first().copied().or(proven_python).unwrap_or(12);
    let machine = machines
        .first()
        .copied()
        .or_else(|| lambda_machines.first().map(|m| m.as_str()))
        .unwrap_or("x86_64");
    Err(CheckProblem::Incompatible {
        why,
        fix: build_command(python, machine),
    })
}

/// The command that builds a Python layer for Lambda's Python 3.X on `machine`.
pub fn build_command(python_minor: u8, machine: &str) -> String {
    let glibc = runtime_glibc(python_minor);
    let manylinux = match glibc {
        26 => "manylinux2014".to_owned(),
        g => format!("manylinux_2_{g}"),
    };
    format!(
        "`pip install -r requirements.txt --target python/ --platform {manylinux}_{machine} \
         --implementation cp --python-version 3.{python_minor} --only-binary=:all:` (uv: `uv pip \
         install -r requirements.txt --target python/ --python-platform \
         {machine}-{manylinux} --python-version 3.{python_minor}`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, unzipped: u64) -> Entry<'_> {
        Entry {
            name,
            unzipped,
            local_header: 0,
            method: 0,
            compressed: unzipped,
        }
    }

    fn facts(names: &[&str]) -> Facts {
        let mut facts = Facts::default();
        for name in names {
            facts.add(entry(name, 10));
        }
        facts
    }

    fn declared(runtimes: &[&str], architectures: &[&str]) -> Declared {
        Declared {
            runtimes: runtimes.iter().map(|r| r.to_string()).collect(),
            architectures: architectures.iter().map(|a| a.to_string()).collect(),
            license: None,
        }
    }

    fn check(
        names: &[&str], runtimes: &[&str], architectures: &[&str],
    ) -> Result<Proven, CheckProblem> {
        assess(
            &facts(names),
            &declared(runtimes, architectures),
            Checks::All,
        )
    }

    fn incompatible(result: Result<Proven, CheckProblem>) -> String {
        match result {
            Err(CheckProblem::Incompatible { why, fix }) => format!("{} | {fix}", why.join(" / ")),
            other => panic!("not incompatible: {other:?}"),
        }
    }

    const CP312_X86: &str = "python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so";

    #[test]
    fn pure_code_passes_and_proves_nothing() {
        let proven = check(&["python/six.py", "python/idna/core.py"], &[], &[]).unwrap();
        assert_eq!(proven, Proven::default());
        assert!(check(&["python/six.py"], &["python3.9", "python3.13"], &["arm64"]).is_ok());
    }

    #[test]
    fn compiled_code_proves_its_python_and_processor() {
        let proven = check(&[CP312_X86, "python/pydantic/main.py"], &[], &[]).unwrap();
        assert_eq!(proven.runtimes, ["python3.12"]);
        assert_eq!(proven.architectures, ["x86_64"]);
        let site = "python/lib/python3.11/site-packages/m/_x.cpython-311-aarch64-linux-gnu.so";
        let proven = check(&[site], &[], &[]).unwrap();
        assert_eq!(
            (proven.runtimes, proven.architectures),
            (vec!["python3.11".into()], vec!["arm64".into()])
        );
    }

    #[test]
    fn another_python_or_processor_is_incompatible() {
        let said = incompatible(check(&[CP312_X86], &["python3.13"], &[]));
        assert!(
            said.contains("built for Python 3.12, which python3.13 cannot load"),
            "{said}"
        );
        assert!(said.contains("--python-version 3.13"), "{said}");
        let said = incompatible(check(&[CP312_X86], &["python3.12"], &["arm64"]));
        assert!(
            said.contains("built for x86_64, which arm64 cannot load"),
            "{said}"
        );
        assert!(said.contains("--platform manylinux_2_34_aarch64"), "{said}");
        let said = incompatible(check(&[CP312_X86], &["python3.12"], &["x86_64", "arm64"]));
        assert!(said.contains("which arm64 cannot load"), "{said}");
        let site = "python/lib/python3.11/site-packages/six.py";
        let said = incompatible(check(&[site], &["python3.12"], &[]));
        assert!(
            said.contains("site-packages of Python 3.11, where python3.12 does not look"),
            "{said}"
        );
        // One site-packages per declared version is how a layer serves several.
        let both = [site, "python/lib/python3.12/site-packages/six.py"];
        assert!(check(&both, &["python3.11", "python3.12"], &[]).is_ok());
    }

    #[test]
    fn code_for_another_system_is_incompatible_whatever_is_declared() {
        for name in [
            "python/m/_x.cpython-312-darwin.so",
            "python/m/_x.cp312-win_amd64.pyd",
            "python/numpy/.dylibs/libopenblas.0.dylib",
            "python/numpy.libs/libopenblas.dll",
            "python/m/_x.cpython-312-x86_64-linux-musl.so",
            "python/m/_x.pypy310-pp73-x86_64-linux-gnu.so",
            "python/m/_x.cpython-312-i386-linux-gnu.so",
        ] {
            assert!(
                matches!(
                    check(&[name], &[], &[]),
                    Err(CheckProblem::Incompatible { .. })
                ),
                "{name}"
            );
        }
        // What a package ships for other systems, outside a wheel's bundle, is left alone.
        assert!(check(
            &[
                "python/debugpy/attach_x86.dylib",
                "python/debugpy/attach.dll"
            ],
            &[],
            &[]
        )
        .is_ok());
    }

    #[test]
    fn mixed_builds_load_nowhere() {
        let other = "python/m/_y.cpython-311-x86_64-linux-gnu.so";
        let said = incompatible(check(&[CP312_X86, other], &[], &[]));
        assert!(said.contains("built for several Pythons"), "{said}");
        let arm = "python/m/_y.cpython-312-aarch64-linux-gnu.so";
        let said = incompatible(check(&[CP312_X86, arm], &[], &[]));
        assert!(said.contains("built for both x86_64 and aarch64"), "{said}");
    }

    #[test]
    fn a_layer_must_put_files_where_runtimes_look() {
        let root = ["numpy/__init__.py", "numpy/core/a.py", "six.py"];
        match check(&root, &["python3.12"], &[]) {
            Err(CheckProblem::LayoutWrong { found, expected }) => {
                assert!(found.contains("numpy/ (2 files), six.py"), "{found}");
                assert!(
                    expected.starts_with("Python looks under python/"),
                    "{expected}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&root, &[], &[]),
            Err(CheckProblem::LayoutWrong { .. })
        ));
        assert!(matches!(
            check(&["python/x.py"], &["nodejs20.x"], &[]),
            Err(CheckProblem::LayoutWrong { .. })
        ));
        assert!(check(&["nodejs/node_modules/x/index.js"], &["nodejs20.x"], &[]).is_ok());
        assert!(check(
            &["nodejs/node20/node_modules/x/index.js"],
            &["nodejs20.x"],
            &[]
        )
        .is_ok());
        assert!(check(&["java/lib/x.jar"], &["java21"], &[]).is_ok());
        assert!(check(&["ruby/gems/3.3.0/gems/x/x.rb"], &["ruby3.3"], &[]).is_ok());
        assert!(check(&["bin/tool", "README"], &["python3.12"], &[]).is_ok());
        assert!(check(&["extensions/agent"], &[], &[]).is_ok());
        assert!(check(&["anything/here"], &["provided.al2023"], &[]).is_ok());
        assert!(matches!(
            check(&["python/"], &[], &[]),
            Err(CheckProblem::LayoutWrong { .. })
        ));
    }

    #[test]
    fn the_unzipped_limit_is_checked_even_with_the_other_checks_off() {
        let mut facts = facts(&["six.py"]);
        facts.add(entry("python/big.bin", MAX_UNZIPPED_BYTES));
        let none = Declared::default();
        assert!(matches!(
            assess(&facts, &none, Checks::SizeOnly),
            Err(CheckProblem::TooLargeUnzipped { files: 2, .. })
        ));
        let small = self::facts(&["six.py"]);
        assert_eq!(
            assess(&small, &none, Checks::SizeOnly),
            Ok(Proven::default())
        );
    }

    #[test]
    fn headers_and_wheel_tags_tell_what_names_do_not() {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1];
        elf.resize(20, 0);
        elf[18] = 183;
        assert_eq!(Header::of(&elf), Header::Elf("aarch64".into()));
        assert_eq!(Header::of(&[0xcf, 0xfa, 0xed, 0xfe, 7, 0]), Header::MachO);
        assert_eq!(Header::of(b"MZ\x90\x00"), Header::Pe);
        let prebuilt = "nodejs/node_modules/bufferutil/prebuilds/darwin-x64/node.napi.node";
        let mut f = facts(&[
            CP312_X86,
            "python/pydantic_core.libs/libz-1a2b.so.1",
            prebuilt,
        ]);
        assert_eq!(
            f.untagged(),
            ["python/pydantic_core.libs/libz-1a2b.so.1"],
            "not prebuilds/"
        );
        f.add_machine("python/pydantic_core.libs/libz-1a2b.so.1", Header::of(&elf));
        let said = incompatible(assess(&f, &Declared::default(), Checks::All));
        assert!(said.contains("built for both x86_64 and aarch64"), "{said}");

        let mut f = facts(&[CP312_X86]);
        let tags = ["cp312-cp312-manylinux_2_28_x86_64".to_string()];
        f.add_wheel_tags("python/pydantic_core-2.0.dist-info", &tags);
        assert!(
            assess(&f, &declared(&["python3.12"], &[]), Checks::All).is_ok(),
            "2.28 ≤ 2.34"
        );
        let said = incompatible(assess(&f, &declared(&["python3.11"], &[]), Checks::All));
        assert!(
            said.contains("needs glibc 2.28 (manylinux_2_28), newer than python3.11's 2.26"),
            "{said}"
        );
        let both = [
            "cp311-cp311-manylinux_2_17_x86_64".to_string(),
            "cp311-cp311-manylinux2014_x86_64".to_string(),
        ];
        let mut f = facts(&["python/x.py"]);
        f.add_wheel_tags("python/x-1.dist-info", &both);
        assert!(assess(&f, &declared(&["python3.11"], &[]), Checks::All).is_ok());
    }
}
