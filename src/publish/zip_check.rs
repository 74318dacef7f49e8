//! The checks before a publish (`domain/layer_checks.rs`), on the zip's own
//! directory: read from the zip's end with ranged reads of the very object
//! the record checked (its version, else its ETag), only on the publish
//! path, beside the read of its first bytes. At most [`CHUNK_BYTES`] of the
//! directory are held at once, whatever its size.

use crate::domain::declared::Source;
use crate::domain::layer_checks::{self, CheckProblem, Facts, MAX_UNZIPPED_BYTES};
use crate::domain::settings::Settings;
use crate::domain::zip_directory::{self, DirectoryProblem, Located, Scan, TAIL_BYTES};
use crate::error::Problem;
use crate::ports::{Folder, SourceObject};
use crate::publish::checked::CheckedUpload;
use tracing::info;

/// The directory's bytes read at once past the archive's last
/// [`TAIL_BYTES`]: a 10,000-file layer's directory (about 1 MB) in one more read.
pub const CHUNK_BYTES: u64 = 1024 * 1024;

/// What reading a directory took: for the log line and the docs' figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub reads: u32,
    pub bytes: u64,
    pub entries: u64,
}

/// The zip's directory, gathered into [`Facts`]; `None` when the object
/// checked was replaced or deleted meanwhile (its newer upload has its own
/// event).
pub async fn read_facts<F: Folder>(
    aws: &F, checked: &CheckedUpload<'_>,
) -> Result<Option<(Facts, Read)>, Problem> {
    let upload = checked.upload;
    let etag = checked.event_object().etag;
    let source = SourceObject {
        bucket: &upload.bucket,
        key: &upload.key,
        version_id: checked.object_version(),
        etag: etag.as_deref(),
    };
    let size = checked.head.size;
    let mut read = Read::default();
    let mut range = async |start: u64, len: u64| -> Result<Option<Vec<u8>>, Problem> {
        read.reads += 1;
        let bytes = aws.read_range(&source, start, len).await?;
        read.bytes += bytes.as_ref().map_or(0, |b| b.len() as u64);
        Ok(bytes)
    };
    let tail_len = size.min(TAIL_BYTES);
    let tail_start = size - tail_len;
    let Some(tail) = range(tail_start, tail_len).await? else {
        return Ok(None);
    };
    let unreadable = |problem: DirectoryProblem| Problem::NotALayerZip {
        why: format!("its central directory cannot be read: {problem}"),
    };
    if tail.len() as u64 != tail_len {
        let why = format!("it is {} bytes, not the {size} its HEAD said", tail.len());
        return Err(unreadable(DirectoryProblem(why)));
    }
    let directory = match zip_directory::locate(&tail, size).map_err(unreadable)? {
        Located::Directory(directory) => directory,
        Located::Zip64EndAt(at) => {
            let Some(record) = range(at, 56).await? else {
                return Ok(None);
            };
            zip_directory::zip64_end(&record, size).map_err(unreadable)?
        }
    };
    let mut facts = Facts::default();
    let mut scan = Scan::new(directory);
    // The directory's part before the tail, a chunk at a time, then the
    // rest from the tail.
    loop {
        let (offset, left) = scan.remaining();
        if left == 0 {
            break;
        }
        let bytes = match offset.checked_sub(tail_start) {
            Some(in_tail) => {
                let from = usize::try_from(in_tail).unwrap_or(usize::MAX);
                let to = usize::try_from(in_tail + left).unwrap_or(usize::MAX);
                tail.get(from..to).unwrap_or_default().to_vec()
            }
            None => {
                let len = left.min(tail_start - offset).min(CHUNK_BYTES);
                match range(offset, len).await? {
                    Some(bytes) => bytes,
                    None => return Ok(None),
                }
            }
        };
        if bytes.is_empty() {
            let why = DirectoryProblem("its directory runs past the archive's end".into());
            return Err(unreadable(why));
        }
        scan.feed(&bytes, |entry| facts.add(entry))
            .map_err(unreadable)?;
    }
    read.entries = scan.finish().map_err(unreadable)?;
    Ok(Some((facts, read)))
}

/// The checks on `facts` against the record's settings: the settings to
/// publish with (declaring what the compiled code proves where they declare
/// nothing), or the problem that keeps the layer from being published.
pub fn check(facts: &Facts, settings: &Settings, read: Read) -> Result<Settings, Problem> {
    let assessed = layer_checks::assess(facts, &settings.declared, settings.checks);
    let problem = match assessed {
        Ok(proven) => {
            let settings = settings.clone().with_proven(proven);
            info!(
                entries = read.entries,
                unzipped = facts.unzipped(),
                directory_reads = read.reads,
                directory_bytes = read.bytes,
                runtimes = ?settings.declared.runtimes,
                runtimes_from = settings.runtimes_from.as_str(),
                architectures = ?settings.declared.architectures,
                architectures_from = settings.architectures_from.as_str(),
                checks = ?settings.checks,
                "zip checked"
            );
            return Ok(settings);
        }
        Err(problem) => problem,
    };
    Err(match problem {
        CheckProblem::TooLargeUnzipped { unzipped, files } => Problem::LayerTooLargeUnzipped {
            unzipped,
            files,
            limit: MAX_UNZIPPED_BYTES,
        },
        CheckProblem::LayoutWrong { found, expected } => Problem::LayerLayoutWrong {
            runtimes: match settings.declared.runtimes.as_slice() {
                [] => "runtimes".to_owned(),
                runtimes => runtimes.join(" and "),
            },
            found,
            expected,
        },
        CheckProblem::Incompatible { why, fix } => Problem::LayerIncompatible {
            declared: describe(settings),
            why,
            fix,
        },
    })
}

/// What the version declares, and whence, for a message.
pub fn describe(settings: &Settings) -> String {
    let whence = |source: Source, variable: &str, key: &str| match source {
        Source::Upload => format!("the upload's {key} metadata"),
        Source::Deployment => variable.to_owned(),
        Source::Proven => "its compiled code".to_owned(),
        Source::None => String::new(),
    };
    let declared = &settings.declared;
    let mut said = Vec::new();
    if !declared.runtimes.is_empty() {
        let from = whence(
            settings.runtimes_from,
            "COMPATIBLE_RUNTIMES",
            "compatible-runtimes",
        );
        said.push(format!("{}, from {from}", declared.runtimes.join(", ")));
    }
    if !declared.architectures.is_empty() {
        let from = whence(
            settings.architectures_from,
            "COMPATIBLE_ARCHITECTURES",
            "compatible-architectures",
        );
        said.push(format!(
            "{}, from {from}",
            declared.architectures.join(", ")
        ));
    }
    match said.is_empty() {
        true => "no runtime or architecture declared".to_owned(),
        false => said.join("; "),
    }
}
