//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "layerctl",
    version,
    about = "The CI side of layer-autopublish: upload a layer zip with its lock file, \
             see what is published, replay the function, diff lock files, list and replay \
             failed events; and deploy the function's stack",
    after_help = "Exit codes: 0 done (published, unchanged, nothing to do), 2 usage, \
                  3 input rejected (fix the input), 4 AWS error (credentials, rights, \
                  network), 5 another publish is in progress (retry later); upload --wait: \
                  6 not published (failed every retry, or superseded), 7 no receipt in time."
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
    Deploy(DeployArgs),
}

/// The layer folder, `s3://bucket/path/to/layer` (where layer.zip goes):
/// given, or found from the stack's `ArtifactsUploadPrefix` output.
#[derive(Debug, Args, Clone)]
pub struct Folder {
    /// The layer's folder: s3://bucket/path/to/layer
    #[arg(
        long,
        value_name = "S3_URI",
        required_unless_present = "stack_name",
        conflicts_with = "stack_name"
    )]
    pub s3_dir: Option<String>,
    /// Or the stack `layerctl deploy` deployed: its bucket and prefix, read with
    /// cloudformation:DescribeStacks
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// With --stack-name: the layer's folder under the stack's prefix (default: the prefix itself)
    #[arg(long, value_name = "NAME", requires = "stack_name")]
    pub folder: Option<String>,
}

impl Folder {
    /// The folder's S3 URI, once `--stack-name` has been read into it.
    pub fn s3_dir(&self) -> Result<&str, crate::failure::Failure> {
        self.s3_dir.as_deref().ok_or_else(|| {
            crate::failure::Failure::Rejected("give --s3-dir, or --stack-name".into())
        })
    }

    /// The folder under the stack's `ArtifactsUploadPrefix` (`s3://bucket/prefix/`).
    pub fn under(&mut self, prefix: &str) {
        let folder = self.folder.as_deref().unwrap_or("").trim_matches('/');
        self.s3_dir = Some(format!("{}/{folder}", prefix.trim_end_matches('/')));
    }
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
    /// Wait for the function's receipt of this upload: exit 0 once published or
    /// unchanged (printing the version's ARN), non-zero when refused, failed or
    /// timed out
    #[arg(long)]
    pub wait: bool,
    /// With --wait: how long to wait for the receipt (10m, 90s, 1h)
    #[arg(long, value_name = "DURATION", default_value = "10m", requires = "wait",
          value_parser = crate::wait::parse_timeout)]
    pub timeout: std::time::Duration,
    /// How many 8 MiB parts of a large zip go up at once
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Show the layer's published versions and whether the staged zip is
/// published, pending or superseded.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  layerctl status --s3-dir s3://my-artifacts/projects/my-app/layer \
                        --layer-name my-app-deps\n  layerctl status --all --s3-dir s3://my-artifacts/projects/"
)]
pub struct StatusArgs {
    #[command(flatten)]
    pub folder: Folder,
    /// Every layer folder under --s3-dir (a prefix, e.g. s3://my-artifacts/projects/) and
    /// where its latest upload stands, from the function's receipts
    #[arg(long, conflicts_with_all = ["layer_name", "manifest_name", "latest_parameter", "keep_versions"])]
    pub all: bool,
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
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "stack_name",
        conflicts_with = "stack_name"
    )]
    pub queue_url: Option<String>,
    /// Or the stack: its FailedEventsQueueUrl output, read with cloudformation:DescribeStacks
    #[arg(long, value_name = "NAME")]
    pub stack_name: Option<String>,
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

/// Deploy or update the function's stack from the release this layerctl was
/// built with: the function's zip into a code bucket, then a CloudFormation
/// change set, its events as they come, and the stack's outputs.
#[derive(Debug, Args)]
#[command(
    after_help = "The function's zip comes from the package layer-autopublish-function \
                        (pip install 'layerctl[deploy]'), or --function-zip. The credentials need \
                        CloudFormation, IAM, S3, Lambda, SQS, SNS, CloudWatch and Logs rights to \
                        create the stack's resources (docs/deploying.md).\n\nExamples:\n  \
                        layerctl deploy --stack-name layer-autopublish --guided\n  \
                        layerctl deploy --stack-name layer-autopublish --parameter \
                        ArtifactsBucketName=my-artifacts --parameter LayerName=my-deps"
)]
pub struct DeployArgs {
    /// The stack to create or update
    #[arg(long, value_name = "NAME")]
    pub stack_name: String,
    /// The function's processor: x86_64 or arm64 (default: the stack's, else x86_64)
    #[arg(long, value_name = "ARCH", value_parser = ["x86_64", "arm64"])]
    pub architecture: Option<String>,
    /// A template parameter (repeat): ArtifactsBucketName=my-artifacts, LayerName=my-deps, ...
    /// On an update, the ones not given keep the stack's values
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = crate::template::parse_assignment)]
    pub parameters: Vec<(String, String)>,
    /// Deploy this function zip instead of the installed one (checked against the release's SHA-256)
    #[arg(long, value_name = "PATH")]
    pub function_zip: Option<PathBuf>,
    /// Deploy a --function-zip whose SHA-256 is not the release's (a build of your own)
    #[arg(long, requires = "function_zip")]
    pub trust_function_zip: bool,
    /// The bucket for the function's zip (default: layer-autopublish-code-ACCOUNT-REGION, created
    /// private, encrypted and versioned when missing)
    #[arg(long, value_name = "BUCKET")]
    pub code_bucket: Option<String>,
    /// Ask for each parameter, showing the stack's value or the default
    #[arg(long)]
    pub guided: bool,
}
