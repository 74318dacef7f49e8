//! The library's modules depend on each other one way (issue 32): no file
//! reaches, through `crate::` paths, a file that reaches back. A module's own
//! children (`publish/write.rs` under `publish/mod.rs`) are one module with
//! it; what a file's tests import does not count. The checker is tested on
//! a cycle of its own, so it can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module (`publish::checked`) and the modules its code names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of the files under `src/` (`bin/` aside): a file's module is
/// its path; a `crate::a::b::c` path names the longest module it starts with.
fn graph_of(files: &BTreeMap<String, String>) -> Graph {
    let path = regex::Regex::new(r"crate::((?:[a-z_]+::)*[a-z_]+)(::\{([^}]*)\})?").unwrap();
    let resolve = |full: &str| -> Option<String> {
        let segments: Vec<&str> = full.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|module| files.contains_key(module))
    };
    let mut graph = Graph::new();
    for (module, text) in files {
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut names = BTreeSet::new();
        for found in path.captures_iter(code) {
            let base = &found[1];
            match found.get(3) {
                Some(group) => {
                    for item in group
                        .as_str()
                        .split(',')
                        .map(str::trim)
                        .filter(|i| !i.is_empty())
                    {
                        let item = item.split(" as ").next().unwrap_or(item);
                        let full = match item {
                            "self" => base.to_owned(),
                            item => format!("{base}::{item}"),
                        };
                        names.extend(resolve(&full));
                    }
                }
                None => names.extend(resolve(base)),
            }
        }
        // A module and its own children are one: the parent declares them.
        names.retain(|named| {
            named != module
                && !named.starts_with(&format!("{module}::"))
                && !module.starts_with(&format!("{named}::"))
        });
        graph.insert(module.clone(), names);
    }
    graph
}

/// A cycle in `graph`, if any, as the modules on it.
fn a_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph, module: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            return Some(path[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

fn source_files(dir: &Path, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("an entry").path();
        let relative = path
            .strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))
            .unwrap();
        if path.is_dir() {
            if relative != Path::new("bin") {
                source_files(&path, files);
            }
            continue;
        }
        let Some(stem) = relative.to_str().and_then(|p| p.strip_suffix(".rs")) else {
            continue;
        };
        let module = stem
            .trim_end_matches("/mod")
            .trim_end_matches("lib")
            .replace('/', "::");
        files.insert(
            module,
            std::fs::read_to_string(&path).expect("a source file"),
        );
    }
}

#[test]
fn the_librarys_modules_depend_on_each_other_one_way() {
    let mut files = BTreeMap::new();
    source_files(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    assert!(files.len() > 30, "read the sources: {:?}", files.keys());
    let graph = graph_of(&files);
    assert!(
        graph["config"].contains("lifecycle::followers"),
        "{:?}",
        graph["config"]
    );
    assert_eq!(a_cycle(&graph), None);
}

#[test]
fn the_checker_finds_a_cycle() {
    let files: BTreeMap<String, String> = [
        ("config", "use crate::lifecycle::followers::parse_list;"),
        (
            "lifecycle::followers",
            "use crate::publish::{Publisher, checked::CheckedUpload};",
        ),
        ("publish", "use crate::config::Config;"),
        ("publish::checked", "use crate::config;"),
        ("ports", "use crate::domain::values::LayerVersion;"),
        ("domain::values", "#[cfg(test)]\nuse crate::ports::Folder;"),
    ]
    .into_iter()
    .map(|(m, t)| (m.to_owned(), t.to_owned()))
    .collect();
    let cycle = a_cycle(&graph_of(&files)).expect("a cycle");
    assert_eq!(cycle, ["config", "lifecycle::followers", "publish"]);
}
