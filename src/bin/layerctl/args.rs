//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "layerctl",
    version,
    about = "The CI side of layer-autopublish: upload a layer zip with its lock file, \
             see what is published, replay the function, diff lock files, list and replay \
             failed events",
    after_help = "Exit codes: 0 done (published, unchanged, nothing to do), 2 usage, \
                  3 input rejected (fix the input), 4 AWS error (credentials, rights, \
                  network), 5 another publish is in progress (retry later)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// AWS region (default: from the environment or profile)
    #[arg(long, global = true, help_heading = "Global options")]
    pub region: Option<String>,
    /// Send AWS calls to this endpoint, e.g. a local emulator
    #[arg(
        long,
        global = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub endpoint_url: Option<String>,
    /// AWS profile from ~/.aws/config
    #[arg(long, global = true, help_heading = "Global options")]
    pub profile: Option<String>,
    /// Print nothing but errors
    #[arg(long, short, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Print the result as JSON on stdout
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Upload(UploadArgs),
    Status(StatusArgs),
    Invoke(InvokeArgs),
    Diff(DiffArgs),
    Failed(FailedArgs),
}

/// The layer folder, `s3://bucket/path/to/layer` (where layer.zip goes).
#[derive(Debug, Args)]
pub struct Folder {
    /// The layer's folder: s3://bucket/path/to/layer
    #[arg(long, value_name = "S3_URI")]
    pub s3_dir: String,
}

/// Upload the lock file, then the zip with its manifest-md5 metadata and a
/// SHA-256 checksum: the upload that triggers the function.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  layerctl upload --zip build/layer.zip \
                        --manifest requirements.txt --s3-dir s3://my-artifacts/projects/my-app/layer")]
pub struct UploadArgs {
    /// The layer zip to upload
    #[arg(long, value_name = "PATH")]
    pub zip: PathBuf,
    /// The lock file the zip was built from (requirements.txt, poetry.lock, uv.lock, ...)
    #[arg(long, value_name = "PATH")]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub folder: Folder,
    /// Publish to this layer instead of the function's LAYER_NAME
    #[arg(long, value_name = "NAME")]
    pub layer_name: Option<String>,
    /// Upload a requirements file even if some lines do not pin one version
    #[arg(long)]
    pub allow_unpinned: bool,
    /// A runtime the version declares (Lambda's identifier, e.g. python3.12;
    /// repeat or comma-separate; default: the function's COMPATIBLE_RUNTIMES,
    /// else what the compiled code was built for)
    #[arg(long = "runtime", value_name = "RUNTIME", value_delimiter = ',')]
    pub runtimes: Vec<String>,
    /// An architecture the version declares: x86_64 or arm64 (repeat or
    /// comma-separate; default: as for --runtime)
    #[arg(long = "architecture", value_name = "ARCH", value_delimiter = ',')]
    pub architectures: Vec<String>,
    /// The version's licence, e.g. an SPDX identifier (default: the function's LICENSE_INFO)
    #[arg(long, value_name = "TEXT")]
    pub license: Option<String>,
    /// Upload and publish even where the checks say the layer would break at
    /// import time (they still refuse a zip over Lambda's unzipped limit)
    #[arg(long)]
    pub skip_layer_checks: bool,
    /// How many 8 MiB parts of a large zip go up at once
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Show the layer's published versions and whether the staged zip is
/// published, pending or superseded.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  layerctl status --s3-dir s3://my-artifacts/projects/my-app/layer \
                        --layer-name my-app-deps"
)]
pub struct StatusArgs {
    #[command(flatten)]
    pub folder: Folder,
    /// The layer (default: the staged zip's layer-name metadata, else LAYER_NAME)
    #[arg(long, value_name = "NAME")]
    pub layer_name: Option<String>,
    /// The lock file name (default: the staged zip's manifest-name metadata, else MANIFEST_NAME, else requirements.txt)
    #[arg(long, value_name = "NAME")]
    pub manifest_name: Option<String>,
    /// The latest pointer's SSM parameter, {layer} for the layer's name (default: LATEST_PARAMETER)
    #[arg(long, value_name = "NAME")]
    pub latest_parameter: Option<String>,
    /// How many versions retention keeps, to show what the next publish deletes (default: KEEP_VERSIONS)
    #[arg(long, value_name = "N")]
    pub keep_versions: Option<usize>,
}

/// Run the function's handler here, on the folder's current layer.zip (or a
/// saved event): publish without the trigger, replay a failed event.
#[derive(Debug, Args)]
#[command(
    after_help = "The function's environment variables (LAYER_NAME, MANIFEST_NAME, \
                        COMPATIBLE_RUNTIMES, ...) configure it as in Lambda.\n\nExamples:\n  \
                        layerctl invoke --s3-dir s3://my-artifacts/projects/my-app/layer --dry-run\n  \
                        layerctl invoke --event failed-event.json"
)]
pub struct InvokeArgs {
    /// The layer's folder: s3://bucket/path/to/layer
    #[arg(
        long,
        value_name = "S3_URI",
        required_unless_present = "event",
        conflicts_with = "event"
    )]
    pub s3_dir: Option<String>,
    /// An S3 event notification to replay (JSON file)
    #[arg(long, value_name = "PATH")]
    pub event: Option<PathBuf>,
    /// Publish to this layer instead of LAYER_NAME
    #[arg(long, value_name = "NAME")]
    pub layer_name: Option<String>,
    /// Report what would happen; write and publish nothing (the function's DRY_RUN=true)
    #[arg(long)]
    pub dry_run: bool,
}

/// A unified diff of the lock files of two versions, or of a version and a
/// local file.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  layerctl diff --s3-dir s3://my-artifacts/projects/my-app/layer\n  \
                        layerctl diff --s3-dir s3://my-artifacts/projects/my-app/layer --from 3 --to 5\n  \
                        layerctl diff --s3-dir s3://my-artifacts/projects/my-app/layer --local requirements.txt"
)]
pub struct DiffArgs {
    #[command(flatten)]
    pub folder: Folder,
    /// The older version (default: the one before --to, or the latest with --local)
    #[arg(long, value_name = "N")]
    pub from: Option<i64>,
    /// The newer version (default: the latest)
    #[arg(long, value_name = "M", conflicts_with = "local")]
    pub to: Option<i64>,
    /// Compare with this local lock file instead of a version
    #[arg(long, value_name = "PATH")]
    pub local: Option<PathBuf>,
    /// The lock file name (default: MANIFEST_NAME, else requirements.txt)
    #[arg(long, value_name = "NAME")]
    pub manifest_name: Option<String>,
}

/// List the events that failed every retry (the stack's failed-events
/// queue): the upload, its layer, the error and how to fix it, attempts and
/// age. `--replay` runs each again and deletes its message once it succeeded.
#[derive(Debug, Args)]
#[command(
    after_help = "The queue is the stack's FailedEventsQueueUrl output. Replaying here \
                        uses the function's environment variables (LAYER_NAME, ...) as \
                        `invoke` does; --function invokes the deployed function instead.\n\n\
                        Examples:\n  layerctl failed --queue-url $QUEUE\n  \
                        layerctl failed --queue-url $QUEUE --replay\n  \
                        layerctl failed --queue-url $QUEUE --replay --function layer-autopublish-PublisherFunction-abc"
)]
pub struct FailedArgs {
    /// The failed-events queue's URL
    #[arg(long, value_name = "URL")]
    pub queue_url: String,
    /// Run each event again; delete its message only once that succeeded
    #[arg(long)]
    pub replay: bool,
    /// Replay by invoking this deployed function (name or ARN) instead of here
    #[arg(long, value_name = "NAME", requires = "replay")]
    pub function: Option<String>,
    /// Replaying here: publish to this layer instead of LAYER_NAME
    #[arg(
        long,
        value_name = "NAME",
        requires = "replay",
        conflicts_with = "function"
    )]
    pub layer_name: Option<String>,
}
