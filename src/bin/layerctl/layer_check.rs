//! `upload`'s checks before anything goes up: the function's own checks
//! (`domain/layer_checks.rs`, the same messages and `errorType`s), and what
//! only the bytes tell, which `layerctl` can read cheaply from the file: the
//! ELF header of shared objects whose names say nothing (auditwheel's
//! `*.libs/`, Node's `.node` addons, `abi3` modules) and each wheel's
//! `*.dist-info/WHEEL` tags (the glibc it needs).

use crate::failure::Failure;
use layer_autopublish::domain::layer_checks::{Facts, Header};
use layer_autopublish::domain::settings::Settings;
use layer_autopublish::domain::zip_directory::{self, Located, Scan, TAIL_BYTES};
use layer_autopublish::publish::zip_check::{self, Read as DirectoryRead};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The longest `WHEEL` file read (they are a few hundred bytes).
const MAX_WHEEL_BYTES: u64 = 64 * 1024;

/// Where an entry's data is.
#[derive(Clone, Copy, Debug)]
struct Stored {
    local_header: u64,
    method: u16,
    compressed: u64,
}

/// Checks the zip at `path` against `settings` (the upload's flags): the
/// settings it would be published with, or why it would break.
pub fn check(path: &Path, settings: &Settings) -> Result<Settings, Failure> {
    let shown = path.display().to_string();
    let cannot = |e: std::io::Error| Failure::Rejected(format!("{shown}: cannot read it: {e}"));
    let unreadable = |why: String| {
        Failure::Rejected(format!(
            "{shown}: its central directory cannot be read: {why}; give the layer's zip archive"
        ))
    };
    let mut file = File::open(path).map_err(cannot)?;
    let size = file.metadata().map_err(cannot)?.len();
    let tail_len = size.min(TAIL_BYTES);
    let tail = read_at(&mut file, size - tail_len, tail_len).map_err(cannot)?;
    let directory = match zip_directory::locate(&tail, size).map_err(|p| unreadable(p.0))? {
        Located::Directory(directory) => directory,
        Located::Zip64EndAt(at) => {
            let record = read_at(&mut file, at, 56).map_err(cannot)?;
            zip_directory::zip64_end(&record, size).map_err(|p| unreadable(p.0))?
        }
    };
    let bytes = read_at(&mut file, directory.offset, directory.size).map_err(cannot)?;
    let mut facts = Facts::default();
    let mut wheels: Vec<(String, Stored)> = Vec::new();
    let mut shared: HashMap<String, Stored> = HashMap::new();
    let mut scan = Scan::new(directory);
    scan.feed(&bytes, |entry| {
        facts.add(entry);
        let stored = Stored {
            local_header: entry.local_header,
            method: entry.method,
            compressed: entry.compressed,
        };
        if entry.name.ends_with(".dist-info/WHEEL") {
            wheels.push((entry.name.to_owned(), stored));
        }
        let lower = entry.name.to_ascii_lowercase();
        if lower.ends_with(".so") || lower.contains(".so.") || lower.ends_with(".node") {
            shared.insert(entry.name.to_owned(), stored);
        }
    })
    .map_err(|p| unreadable(p.0))?;
    let entries = scan.finish().map_err(|p| unreadable(p.0))?;

    for name in facts.untagged().to_vec() {
        let Some(stored) = shared.get(&name) else {
            continue;
        };
        let start = first_bytes(&mut file, *stored, 20).map_err(cannot)?;
        facts.add_machine(&name, Header::of(&start));
    }
    for (name, stored) in wheels {
        if stored.compressed > MAX_WHEEL_BYTES {
            continue;
        }
        let text = first_bytes(&mut file, stored, MAX_WHEEL_BYTES as usize).map_err(cannot)?;
        let tags: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|line| line.strip_prefix("Tag:"))
            .map(|tag| tag.trim().to_owned())
            .collect();
        let dist_info = name.trim_end_matches("/WHEEL");
        facts.add_wheel_tags(dist_info, &tags);
    }

    let read = DirectoryRead {
        reads: 1,
        bytes: directory.size,
        entries,
    };
    zip_check::check(&facts, settings, read).map_err(|problem| {
        Failure::Rejected(format!("{shown}: {}: {problem}", problem.error_type()))
    })
}

fn read_at(file: &mut File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Up to `n` bytes of an entry's content, inflated when deflated; fewer
/// when it is shorter or compressed another way (then nothing is told).
fn first_bytes(file: &mut File, stored: Stored, n: usize) -> std::io::Result<Vec<u8>> {
    let header = read_at(file, stored.local_header, 30)?;
    let field = |at: usize| {
        header
            .get(at..at + 2)
            .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    if header.get(..4) != Some(b"PK\x03\x04".as_slice()) {
        return Ok(Vec::new());
    }
    let data = stored.local_header + 30 + field(26) + field(28);
    match stored.method {
        0 => read_at(file, data, n as u64),
        8 => {
            file.seek(SeekFrom::Start(data))?;
            Ok(inflate_start(&mut file.take(stored.compressed), n))
        }
        _ => Ok(Vec::new()),
    }
}

/// The first `n` bytes of a deflate stream read from `input`, inflating
/// only as much as it takes.
fn inflate_start(input: &mut impl Read, n: usize) -> Vec<u8> {
    use miniz_oxide::inflate::stream::{inflate, InflateState};
    use miniz_oxide::{DataFormat, MZFlush, MZStatus};
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut out = vec![0u8; n];
    let mut produced = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    'reading: while produced < n {
        let read = input.read(&mut chunk).unwrap_or(0);
        let flush = if read == 0 {
            MZFlush::Finish
        } else {
            MZFlush::None
        };
        let mut fed = &chunk[..read];
        loop {
            let result = inflate(&mut state, fed, &mut out[produced..], flush);
            produced += result.bytes_written;
            fed = &fed[result.bytes_consumed..];
            let progress = result.bytes_written + result.bytes_consumed > 0;
            match result.status {
                Ok(MZStatus::Ok) if produced < n && !fed.is_empty() && progress => {}
                Ok(MZStatus::Ok) if produced < n && read > 0 => continue 'reading,
                _ => break 'reading,
            }
        }
    }
    out.truncate(produced);
    out
}
