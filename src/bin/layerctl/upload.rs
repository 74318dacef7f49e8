//! `layerctl upload`: the lock file first, then the zip with the lock file's
//! MD5 as `manifest-md5` metadata and a SHA-256 checksum: the upload that
//! triggers the function. Everything that can be checked here is checked
//! before the first byte goes up.

use crate::args::UploadArgs;
use crate::calls::{self, Uploaded, UploadedPart};
use crate::failure::Failure;
use crate::layer_check;
use crate::report::Report;
use crate::wait;
use aws_sdk_s3::primitives::{ByteStream, Length};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::declared::{ARCHITECTURES_KEY, LICENSE_KEY, RUNTIMES_KEY};
use layer_autopublish::domain::event::Upload;
use layer_autopublish::domain::layer_zip::{self, ZipProblem, LOCAL_FILE_HEADER};
use layer_autopublish::domain::layout::{console_url_of_folder, LayerDir};
use layer_autopublish::domain::lockfile;
use layer_autopublish::domain::manifest::{ManifestMd5, MAX_MANIFEST_BYTES};
use layer_autopublish::domain::metadata::{
    validate_layer_name, validate_manifest_name, LAYER_NAME_KEY, MANIFEST_MD5_KEYS,
    MANIFEST_NAME_KEY,
};
use layer_autopublish::domain::receipt::{receipt_key, Receipt};
use layer_autopublish::domain::settings::{self, Defaults, SKIP_CHECKS_KEY};
use layer_autopublish::publish::zip_check;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::Path;

/// Zips above this go up in parts (several at once, each retried on its
/// own, with progress).
const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// How many unpinned lines an error quotes.
const QUOTED_LINES: usize = 5;

#[derive(Serialize)]
struct Uploads {
    manifest: String,
    zip: String,
    manifest_md5: String,
    zip_size: u64,
    /// `…-N` for a multipart upload.
    zip_sha256: Option<String>,
    /// In a versioned bucket: the version the function publishes from.
    zip_version_id: Option<String>,
    layer_name: Option<String>,
    console_url: String,
    /// With `--wait`: the function's receipt of the upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Receipt>,
}

pub async fn run(
    aws: &Aws, region: &str, report: &Report, args: UploadArgs,
) -> Result<(), Failure> {
    let folder = LayerDir::from_s3_uri(args.folder.s3_dir()?).map_err(Failure::Rejected)?;
    let manifest_name = file_name(&args.manifest)?;
    validate_manifest_name(&manifest_name).map_err(|why| {
        Failure::Rejected(format!(
            "{}: the lock file's name cannot be used: {why}",
            args.manifest.display()
        ))
    })?;
    if let Some(layer) = &args.layer_name {
        validate_layer_name(layer)
            .map_err(|why| Failure::Rejected(format!("--layer-name {layer:?}: {why}")))?;
    }
    let lock = read_lock_file(&args.manifest)?;
    if lockfile::is_requirements_file(&manifest_name) && !args.allow_unpinned {
        check_pinned(&args.manifest, &lock)?;
    }
    let zip_size = check_zip(&args.zip)?;
    let settings_metadata = declared_metadata(&args);
    let settings = settings::resolve(&settings_metadata, Defaults::default()).map_err(
        |(key, value, why)| {
            Failure::Rejected(format!("{}: {value:?} is not valid: {why}", flag_of(key)))
        },
    )?;
    let checked = layer_check::check(&args.zip, &settings)?;
    let md5 = ManifestMd5::of(&lock);

    let manifest_key = folder.staged_manifest_key(&manifest_name);
    calls::put_object_with_sha256(
        aws,
        folder.bucket(),
        &manifest_key,
        ByteStream::from(lock),
        "text/plain",
        &HashMap::new(),
    )
    .await?;
    report.line(format!("uploaded {}", folder.s3_uri(&manifest_key)));

    let mut metadata = HashMap::from([
        (MANIFEST_MD5_KEYS[0].to_owned(), md5.to_string()),
        (MANIFEST_NAME_KEY.to_owned(), manifest_name.clone()),
    ]);
    if let Some(layer) = &args.layer_name {
        metadata.insert(LAYER_NAME_KEY.to_owned(), layer.clone());
    }
    metadata.extend(settings_metadata);
    let zip_key = folder.zip_key();
    let uploaded = if zip_size <= MULTIPART_THRESHOLD {
        let body = ByteStream::from_path(&args.zip).await.map_err(|e| {
            Failure::Rejected(format!("{}: cannot read it: {e}", args.zip.display()))
        })?;
        calls::put_object_with_sha256(
            aws,
            folder.bucket(),
            &zip_key,
            body,
            "application/zip",
            &metadata,
        )
        .await?
    } else {
        let parts = Parts {
            path: &args.zip,
            size: zip_size,
            at_once: usize::from(args.concurrency),
        };
        upload_in_parts(aws, report, &folder, &parts, &metadata).await?
    };
    let zip_uri = folder.s3_uri(&zip_key);
    let sha256 = uploaded
        .sha256
        .as_deref()
        .map(|sum| format!(", sha256 {sum}"));
    let version = uploaded
        .version_id
        .as_deref()
        .map(|id| format!(", version {id}"));
    report.line(format!(
        "uploaded {zip_uri} ({zip_size} bytes, manifest-md5 {md5}{}{})",
        sha256.unwrap_or_default(),
        version.unwrap_or_default()
    ));
    report.line(format!("checked: {}", zip_check::describe(&checked)));
    let console_url = console_url_of_folder(region, folder.bucket(), &folder.prefix());
    report.line(format!("console: {console_url}"));
    let receipt = if args.wait {
        let upload = Upload {
            event_name: "ObjectCreated:Put".into(),
            bucket: folder.bucket().to_owned(),
            key: zip_key.clone(),
            version_id: uploaded.version_id.clone(),
            etag: uploaded.etag.clone(),
        };
        let key = receipt_key(&upload).ok_or_else(|| {
            Failure::Aws(format!(
                "S3 answered the upload of {zip_uri} with neither a version nor an ETag: \
                 its receipt cannot be found"
            ))
        })?;
        let waited = wait::for_receipt(aws, folder.bucket(), &key, args.timeout, report).await;
        let receipt = match waited {
            Ok(receipt) => receipt,
            Err(failure) => {
                report.result(&serde_json::json!({"zip": zip_uri, "error": failure.to_string(), "exit_code": failure.exit_code()}));
                return Err(failure);
            }
        };
        report.line(format!(
            "{}: {}",
            receipt.outcome,
            receipt.layer_version_arn.as_deref().unwrap_or("no version")
        ));
        Some(receipt)
    } else {
        report.line(format!(
            "the function publishes it if the lock file changed; see: layerctl status --s3-dir {}",
            args.folder.s3_dir()?
        ));
        None
    };
    report.result(&Uploads {
        manifest: folder.s3_uri(&manifest_key),
        zip: zip_uri,
        manifest_md5: md5.to_string(),
        zip_size,
        zip_sha256: uploaded.sha256,
        zip_version_id: uploaded.version_id,
        layer_name: args.layer_name,
        console_url,
        receipt,
    });
    Ok(())
}

/// The metadata `--runtime`, `--architecture`, `--license` and
/// `--skip-layer-checks` write (only those given: the function's defaults
/// apply to the rest).
fn declared_metadata(args: &UploadArgs) -> HashMap<String, String> {
    let mut metadata = HashMap::new();
    if !args.runtimes.is_empty() {
        metadata.insert(RUNTIMES_KEY.to_owned(), args.runtimes.join(","));
    }
    if !args.architectures.is_empty() {
        metadata.insert(ARCHITECTURES_KEY.to_owned(), args.architectures.join(","));
    }
    if let Some(license) = &args.license {
        metadata.insert(LICENSE_KEY.to_owned(), license.clone());
    }
    if args.skip_layer_checks {
        metadata.insert(SKIP_CHECKS_KEY.to_owned(), "true".to_owned());
    }
    metadata
}

/// The flag that writes a metadata key.
fn flag_of(key: &str) -> &'static str {
    match key {
        RUNTIMES_KEY => "--runtime",
        ARCHITECTURES_KEY => "--architecture",
        LICENSE_KEY => "--license",
        _ => "--skip-layer-checks",
    }
}

fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
        .ok_or_else(|| Failure::Rejected(format!("{}: not a file name", path.display())))
}

fn read_lock_file(path: &Path) -> Result<Vec<u8>, Failure> {
    let cannot =
        |e: std::io::Error| Failure::Rejected(format!("{}: cannot read it: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    if size > MAX_MANIFEST_BYTES {
        return Err(Failure::Rejected(format!(
            "{}: it is {size} bytes, more than the {MAX_MANIFEST_BYTES} bytes a lock file may be; \
             give the lock file itself",
            path.display()
        )));
    }
    std::fs::read(path).map_err(cannot)
}

/// A requirements file must pin every package, or the same MD5 would stand
/// for different layers over time.
fn check_pinned(path: &Path, lock: &[u8]) -> Result<(), Failure> {
    let text = String::from_utf8_lossy(lock);
    let unpinned = lockfile::unpinned_requirements(&text);
    if unpinned.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = unpinned
        .iter()
        .take(QUOTED_LINES)
        .map(|u| format!("  line {}: {}: {}", u.line_number, u.requirement, u.why))
        .collect();
    let more = unpinned.len().saturating_sub(QUOTED_LINES);
    Err(Failure::Rejected(format!(
        "{}: {} requirement(s) do not pin one version, so this lock file can build a different \
         layer tomorrow:\n{}{}\nPin every package (pip freeze, pip-compile --generate-hashes, \
         uv pip compile), or pass --allow-unpinned to upload it anyway",
        path.display(),
        unpinned.len(),
        quoted.join("\n"),
        if more > 0 {
            format!("\n  ... and {more} more")
        } else {
            String::new()
        },
    )))
}

/// The checks the function makes, made before uploading: returns the size.
fn check_zip(path: &Path) -> Result<u64, Failure> {
    let shown = path.display();
    let cannot = |e: std::io::Error| Failure::Rejected(format!("{shown}: cannot read it: {e}"));
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    let mut first_bytes = Vec::with_capacity(LOCAL_FILE_HEADER.len());
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(LOCAL_FILE_HEADER.len() as u64)
                .read_to_end(&mut first_bytes)
        })
        .map_err(cannot)?;
    layer_zip::check_size(size)
        .and_then(|()| layer_zip::check_start(&first_bytes))
        .map_err(|problem| {
            Failure::Rejected(match problem {
                ZipProblem::TooLarge { size } => format!(
                    "{shown}: it is {size} bytes, more than the {} bytes Lambda allows a layer \
                     unzipped; split the dependencies into several layers",
                    layer_zip::MAX_ZIPPED_BYTES
                ),
                ZipProblem::NotAZip { why } => {
                    format!("{shown}: {why}; give the layer's zip archive")
                }
            })
        })?;
    Ok(size)
}

/// A file going up in parts.
struct Parts<'a> {
    path: &'a Path,
    size: u64,
    /// How many parts are in flight at once.
    at_once: usize,
}

/// A multipart upload, several parts at once, with progress; abandoned on
/// failure so that no parts linger.
async fn upload_in_parts(
    aws: &Aws, report: &Report, folder: &LayerDir, parts: &Parts<'_>,
    metadata: &HashMap<String, String>,
) -> Result<Uploaded, Failure> {
    let key = folder.zip_key();
    let upload_id =
        calls::start_multipart_upload(aws, folder.bucket(), &key, "application/zip", metadata)
            .await?;
    let result = upload_parts(aws, report, folder, parts, &upload_id).await;
    match result {
        Ok(uploaded) => {
            Ok(
                calls::complete_multipart_upload(aws, folder.bucket(), &key, &upload_id, &uploaded)
                    .await?,
            )
        }
        Err(failure) => {
            if let Err(e) =
                calls::abort_multipart_upload(aws, folder.bucket(), &key, &upload_id).await
            {
                eprintln!("layerctl: the unfinished upload could not be abandoned: {e}");
            }
            Err(failure)
        }
    }
}

/// Every part, `at_once` in flight: each streams its range of the file (no
/// part is read into memory whole) with its SHA-256. The first failure
/// stops the rest; the caller abandons the upload.
async fn upload_parts(
    aws: &Aws, report: &Report, folder: &LayerDir, parts: &Parts<'_>, upload_id: &str,
) -> Result<Vec<UploadedPart>, Failure> {
    let key = folder.zip_key();
    let (path, size) = (parts.path, parts.size);
    let count = size.div_ceil(PART_SIZE);
    // A bar on a terminal; plain lines in CI logs.
    let bar = (report.for_people() && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(size);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("layer.zip");
        bar
    });
    let one_part = |index: u64| {
        let key = &key;
        async move {
            let offset = index * PART_SIZE;
            let length = PART_SIZE.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| {
                    Failure::Rejected(format!("{}: cannot read it: {e}", path.display()))
                })?;
            let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
            let part =
                calls::upload_part(aws, folder.bucket(), key, upload_id, number, body).await?;
            Ok::<_, Failure>((part, length))
        }
    };
    let mut in_flight = futures_util::stream::iter(0..count)
        .map(one_part)
        .buffer_unordered(parts.at_once.max(1));
    let mut uploaded = Vec::new();
    while let Some(done) = in_flight.next().await {
        let (part, length) = done?;
        uploaded.push(part);
        match &bar {
            Some(bar) => bar.inc(length),
            None => report.line(format!(
                "uploaded part {}/{count} of layer.zip",
                uploaded.len()
            )),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // They finish in any order; S3 completes them in part order.
    uploaded.sort_by_key(|part| part.number);
    Ok(uploaded)
}
