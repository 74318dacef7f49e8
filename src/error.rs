//! What the user sees when something is wrong: each error has a stable
//! `errorType` and a message naming the object, what is wrong, and the fix.

use crate::domain::event::EventProblem;
use crate::domain::layer_zip::{ZipProblem, MAX_ZIPPED_BYTES};
use lambda_runtime::Diagnostic;
use std::time::Duration;

/// One failed AWS call, with the service's error code when it sent one.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {target} failed: {message}")]
pub struct AwsError {
    pub service: AwsService,
    pub operation: &'static str,
    pub target: String,
    pub code: Option<String>,
    pub message: String,
    /// The service answered (with an error), as opposed to no answer at
    /// all: a timeout, a dropped connection. A call without an answer may
    /// still be applying.
    pub answered: bool,
    /// How many seconds a throttled call's answer asked the caller to wait
    /// before sending it again (Lambda's `Retry-After`, `retryAfterSeconds`:
    /// whole seconds).
    pub retry_after_s: Option<u16>,
    /// Set on a throttle the caller stopped waiting out (`throttles.rs`):
    /// how often and how long the call was throttled. Boxed: rarely set, and
    /// every `Result` of a call carries the error's size.
    pub waited_out: Option<Box<WaitedOut>>,
}

/// How long a throttled call was waited out before its caller's time ran
/// short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitedOut {
    /// Every attempt was throttled.
    pub attempts: u32,
    pub waited: Duration,
}

impl AwsError {
    /// Whether the call may have applied although it failed: no answer at
    /// all (a reset connection, a timeout: no code) or a failure on the
    /// service's side (5xx). A throttle or a client error did not apply.
    pub fn may_have_applied(&self) -> bool {
        match self.code.as_deref() {
            None => true,
            Some(code) => matches!(
                code,
                "InternalError" | "ServiceUnavailable" | "ServiceException" | "InternalFailure"
            ),
        }
    }

    /// Whether IAM refused the call (S3's `AccessDenied`, which the adapter
    /// also gives a HEAD's bare 403; the other services'
    /// `AccessDeniedException`).
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(ACCESS_DENIED | "AccessDeniedException")
        )
    }

    /// Whether the service refused the call by throttling: nothing applied,
    /// and the same call may be sent again after a pause.
    pub fn is_throttle(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("TooManyRequestsException" | "ThrottlingException" | "Throttling" | "SlowDown")
        )
    }
}

/// S3's error code for a refusal by IAM or a bucket policy.
pub const ACCESS_DENIED: &str = "AccessDenied";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsService {
    S3,
    Lambda,
    Ssm,
    EventBridge,
}

/// Why one record of an event could not be processed: the upload it was
/// about, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{zip}: {}", problem.explain(zip))]
pub struct RecordError {
    /// The upload's S3 URI.
    pub zip: String,
    pub problem: Problem,
}

/// What is wrong with one upload, and how to fix it. Each message follows
/// the upload's S3 URI (see [`RecordError`]).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(
        "the object does not exist. It was deleted or overwritten after the event; \
         upload it again to publish it"
    )]
    LayerZipNotFound,

    #[error(
        "S3 refused the function's role {refused} (403 AccessDenied). {why} Check that the \
         role may read it: s3:GetObject on the object {object} (the template grants it under \
         ArtifactsPrefix only), and for a bucket encrypted with a KMS key of yours, \
         kms:Decrypt on that key (the KmsKeyArn parameter); then replay the event"
    )]
    LayerZipUnreadable {
        /// What was refused: `its HEAD`, or `its HEAD and the listing of its key`.
        refused: &'static str,
        /// What the listing told (it exists), or that nothing could tell.
        why: &'static str,
        /// `bucket/key`, as IAM's resource names it after `arn:aws:s3:::`.
        object: String,
    },

    #[error(
        "the bucket {bucket} does not exist: the event names a bucket deleted since, or was \
         written by hand with a wrong name. Check the bucket in the event"
    )]
    BucketNotFound { bucket: String },

    /// Its message names the upload twice: see [`Problem::explain`].
    #[error("{problem}")]
    MissingManifestMd5 { problem: String },

    #[error(
        "its manifest-md5 metadata is {expected} but the staged lock file {manifest} \
         {found}. The zip and the lock file come from different builds: upload the \
         lock file the zip was built from, then the zip"
    )]
    InconsistentManifest {
        manifest: String,
        expected: String,
        /// What the staged lock file is: `has MD5 <hex>`, or `is gone`.
        found: String,
    },

    #[error(
        "no layer to publish to. Set the function's LAYER_NAME, or upload the zip \
         with user metadata layer-name=<name>"
    )]
    MissingLayerName,

    #[error(
        "its layer-name metadata names the layer {layer}, which this deployment may not \
         publish to (ALLOWED_LAYERS={allowed}). Name a layer in that set, or add it to \
         AllowedLayers and redeploy"
    )]
    LayerNotAllowed { layer: String, allowed: String },

    #[error(
        "{why}. Upload the layer's zip archive (python/... or nodejs/... inside) under this key"
    )]
    NotALayerZip { why: String },

    #[error(
        "it is {size} bytes, more than the {limit} bytes Lambda allows a layer \
         unzipped; split the dependencies into several layers"
    )]
    LayerZipTooLarge { size: u64, limit: u64 },

    #[error(
        "it unzips to {unzipped} bytes in {files} files, more than the {limit} bytes Lambda \
         allows a layer unzipped: Lambda would refuse it. Split the dependencies into several \
         layers, or leave out what the functions do not import (tests, docs, *.pyc: pip's \
         --no-compile)"
    )]
    LayerTooLargeUnzipped {
        unzipped: u64,
        files: u64,
        limit: u64,
    },

    #[error(
        "nothing in it is where {runtimes} look{s}: {found}, but Lambda unzips a layer into \
         /opt, and {expected}. Nothing was published. {SKIP_HINT}",
        s = if .runtimes.contains(" and ") || .runtimes == "runtimes" { "" } else { "s" }
    )]
    LayerLayoutWrong {
        /// The declared runtimes, or `runtimes` when none are.
        runtimes: String,
        found: String,
        expected: String,
    },

    #[error(
        "it would fail to load where it is declared to run ({declared}): {}. Nothing was \
         published. Build the layer for its runtime and architecture, e.g. {fix}; or declare \
         what it was built for (`layerctl upload --runtime/--architecture`, metadata \
         compatible-runtimes/compatible-architectures). {SKIP_HINT}",
        .why.join("; ")
    )]
    LayerIncompatible {
        /// The runtimes and architectures the version declares, and whence.
        declared: String,
        why: Vec<String>,
        fix: String,
    },

    #[error(
        "the staged lock file {manifest} is {size} bytes, more than the {limit} bytes \
         a lock file may be here. Stage the lock file itself, not an archive or a build log"
    )]
    ManifestTooLarge {
        manifest: String,
        size: u64,
        limit: u64,
    },

    #[error(
        "layer version {version_arn} has CodeSha256 {published}, but the uploaded \
         object's SHA-256 is {uploaded}: Lambda did not take the bytes that were uploaded. \
         Nothing else was published or recorded. Delete that version (`aws lambda \
         delete-layer-version`), then upload the zip again"
    )]
    ChecksumMismatch {
        version_arn: String,
        published: String,
        uploaded: String,
    },

    #[error("user metadata {key}={} is not valid: {problem}", excerpt(.value))]
    InvalidMetadata {
        key: &'static str,
        value: String,
        problem: String,
    },

    #[error(
        "another invocation ({holder}) is publishing from this folder and holds \
         {lease} for {seconds_left} s more. Nothing was changed; Lambda retries this event, \
         or replay it once the lease is gone"
    )]
    PublishInProgress {
        lease: String,
        holder: String,
        seconds_left: u64,
    },

    #[error(
        "{error}, and no version of layer {layer} carries this lock file's marker yet, \
         looked for again until this invocation's time ran short. Without an answer the call \
         may still apply, so it is not sent again: the lease stays held until it expires \
         (150 s), and Lambda's retry of this event then records that version, or publishes \
         if none came. Nothing to do"
    )]
    PublishUnconfirmed {
        layer: String,
        /// Boxed: the largest variant sets every `Problem`'s size.
        error: Box<AwsError>,
    },

    #[error(
        "version {version_arn} is published, but not every function of FOLLOWERS uses it yet: \
         {}. The publish stands; Lambda's retry of this event (the lease is handed over to \
         it) moves the rest; a failed one needs the right or the function named",
        followers_said(.followers)
    )]
    FollowersNotMoved {
        version_arn: String,
        followers: Vec<crate::domain::outcome::FollowerResult>,
    },

    #[error(
        "its version {version_arn} is published, but not in every region of REPLICATE_TO: \
         {}. Nothing to do for a passing failure: Lambda's retry of this event publishes only \
         where this lock file is still missing; otherwise fix what is named (a bucket in that \
         region, a right of the role)",
        .failed.join(" | ")
    )]
    ReplicasNotPublished {
        version_arn: String,
        failed: Vec<String>,
        /// A region's publish got no answer and may still apply.
        publish_pending: bool,
    },

    #[error("{}{}", .0, hint(.0))]
    Aws(AwsError),

    /// A call throttled until the record's time ran short.
    #[error(
        "{error}{}. A throttled call changes nothing. Lambda's control plane allows an \
         account about 15 requests per second, shared by every tool of the account: this \
         record waited as long as its time allowed, and Lambda's retry of this event (about a \
         minute later) finishes it. If bursts of uploads keep ending here, see \
         docs/operating.md#a-burst-of-uploads",
        waited_for(.error)
    )]
    Throttled { error: AwsError },

    /// A state the code rules out was reached: a bug, said as such.
    #[error(
        "{0}. This is a bug in layer-autopublish: nothing more was written; please report \
         it, then replay the event"
    )]
    Internal(String),
}

/// The escape hatch, in every check's message.
const SKIP_HINT: &str = "If the check misjudges this layer, upload it with \
    `layerctl upload --skip-layer-checks` (metadata skip-layer-checks=true), or deploy with \
    SkipLayerChecks=true: see docs/how-it-works.md#checks-before-a-publish";

/// A value quoted in a message, cut short: metadata may hold up to 2 KB,
/// and an error message must stay readable.
fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    if value.chars().count() <= MAX_CHARS {
        format!("{value:?}")
    } else {
        let start: String = value.chars().take(MAX_CHARS).collect();
        format!("{start:?}… ({} bytes)", value.len())
    }
}

/// Each follower's result, for a message.
fn followers_said(followers: &[crate::domain::outcome::FollowerResult]) -> String {
    let each: Vec<String> = followers
        .iter()
        .map(|f| match &f.error {
            Some(error) => format!("{} {} ({error})", f.function, f.result),
            None => format!("{} {}", f.function, f.result),
        })
        .collect();
    each.join(", ")
}

/// How long a throttled call was waited out, for a message.
fn waited_for(error: &AwsError) -> String {
    match error.waited_out.as_deref() {
        Some(WaitedOut { attempts: 1, .. }) => {
            ", on its one attempt, with no time left to wait".into()
        }
        Some(WaitedOut { attempts, waited }) => format!(
            ", on each of its {attempts} attempts over {:.1} s",
            waited.as_secs_f64()
        ),
        None => String::new(),
    }
}

/// A failed call is `Throttled` when the service refused it for the rate,
/// else the service's own error type.
impl From<AwsError> for Problem {
    fn from(error: AwsError) -> Self {
        if error.is_throttle() {
            Self::Throttled { error }
        } else {
            Self::Aws(error)
        }
    }
}

/// What to do about the AWS errors a user can fix.
fn hint(error: &AwsError) -> &'static str {
    match (error.service, error.code.as_deref()) {
        (AwsService::S3, Some(ACCESS_DENIED)) => {
            ". Grant the function's role this right (see template.yaml; an object under \
             ArtifactsPrefix, and with a KMS-encrypted bucket, kms:Decrypt on its key: \
             KmsKeyArn)"
        }
        (_, Some("AccessDeniedException")) => {
            ". Grant the function's role this right (see template.yaml)"
        }
        (AwsService::S3, Some("NoSuchBucket")) => ". Check the bucket name in the event",
        (AwsService::Lambda, Some("CodeStorageExceededException")) => {
            ". Delete old layer versions to free Lambda code storage"
        }
        _ => "",
    }
}

impl Problem {
    /// What the user reads after the upload's URI. Only the missing
    /// metadata's fix names the upload again, in the command that fixes it.
    fn explain(&self, zip: &str) -> String {
        match self {
            Self::MissingManifestMd5 { problem } => format!(
                "{problem}. Upload the zip with user metadata manifest-md5=<lowercase hex MD5 \
                 of the lock file>, e.g. `aws s3 cp layer.zip {zip} --metadata \
                 manifest-md5=$(md5sum requirements.txt | cut -d' ' -f1)`"
            ),
            other => other.to_string(),
        }
    }

    /// Whether a `PublishLayerVersion` this record sent may still apply:
    /// then nobody may act on the versions as read before it until the
    /// lease expires.
    pub fn may_still_publish(&self) -> bool {
        match self {
            Self::PublishUnconfirmed { .. } => true,
            Self::ReplicasNotPublished {
                publish_pending, ..
            } => *publish_pending,
            _ => false,
        }
    }

    /// The stable `errorType` of this problem.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::LayerZipNotFound => "LayerZipNotFound",
            Self::LayerZipUnreadable { .. } => "LayerZipUnreadable",
            Self::BucketNotFound { .. } => "BucketNotFound",
            Self::MissingManifestMd5 { .. } => "MissingManifestMd5",
            Self::InconsistentManifest { .. } => "InconsistentManifest",
            Self::MissingLayerName => "MissingLayerName",
            Self::LayerNotAllowed { .. } => "LayerNotAllowed",
            Self::InvalidMetadata { .. } => "InvalidMetadata",
            Self::NotALayerZip { .. } => "NotALayerZip",
            Self::LayerZipTooLarge { .. } => "LayerZipTooLarge",
            Self::LayerTooLargeUnzipped { .. } => "LayerTooLargeUnzipped",
            Self::LayerLayoutWrong { .. } => "LayerLayoutWrong",
            Self::LayerIncompatible { .. } => "LayerIncompatible",
            Self::ManifestTooLarge { .. } => "ManifestTooLarge",
            Self::ChecksumMismatch { .. } => "ChecksumMismatch",
            Self::PublishInProgress { .. } => "PublishInProgress",
            Self::PublishUnconfirmed { .. } => "PublishUnconfirmed",
            Self::FollowersNotMoved { .. } => "FollowersNotMoved",
            Self::ReplicasNotPublished { .. } => "ReplicasNotPublished",
            Self::Internal(_) => "InternalError",
            Self::Throttled { .. } => "Throttled",
            Self::Aws(source) => match source.service {
                AwsService::S3 => "S3Error",
                AwsService::Lambda => "LambdaError",
                AwsService::Ssm => "SsmError",
                AwsService::EventBridge => "EventBridgeError",
            },
        }
    }
}

impl From<ZipProblem> for Problem {
    fn from(problem: ZipProblem) -> Self {
        match problem {
            ZipProblem::TooLarge { size } => Self::LayerZipTooLarge {
                size,
                limit: MAX_ZIPPED_BYTES,
            },
            ZipProblem::NotAZip { why } => Self::NotALayerZip { why },
        }
    }
}

impl RecordError {
    /// The stable `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        self.problem.error_type()
    }
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the payload is not an S3 event notification: {0}. Invoke this function only from \
         an S3 ObjectCreated notification on */layer.zip"
    )]
    InvalidEvent(#[from] EventProblem),

    /// Records that failed, with their index in the event; the others were
    /// processed.
    #[error("{}", records_failed_message(.failed, *.total))]
    RecordsFailed {
        failed: Vec<(usize, RecordError)>,
        total: usize,
    },
}

fn records_failed_message(failed: &[(usize, RecordError)], total: usize) -> String {
    match failed {
        [(_, only)] if total == 1 => only.to_string(),
        _ => {
            let each: Vec<String> = failed
                .iter()
                .map(|(index, e)| format!("record {index}: {}: {e}", e.error_type()))
                .collect();
            format!(
                "{} of {total} records failed (the others were processed): {}",
                failed.len(),
                each.join(" | ")
            )
        }
    }
}

impl Error {
    /// The stable `errorType`: a failure's own type when all failures share
    /// it, else `MultipleErrors`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidEvent(_) => "InvalidEvent",
            Self::RecordsFailed { failed, .. } => {
                let mut types = failed.iter().map(|(_, e)| e.error_type());
                match types.next() {
                    Some(first) if types.all(|t| t == first) => first,
                    _ => "MultipleErrors",
                }
            }
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found(n: u8) -> RecordError {
        RecordError {
            zip: format!("s3://b/{n}/layer.zip"),
            problem: Problem::LayerZipNotFound,
        }
    }

    #[test]
    fn a_single_failure_keeps_its_own_type_and_message() {
        let error = Error::RecordsFailed {
            failed: vec![(0, not_found(1))],
            total: 1,
        };
        let d = Diagnostic::from(error);
        assert_eq!(d.error_type, "LayerZipNotFound");
        assert!(d
            .error_message
            .starts_with("s3://b/1/layer.zip: the object does not exist"));
    }

    #[test]
    fn several_failures_are_each_listed() {
        let error = Error::RecordsFailed {
            failed: vec![
                (0, not_found(1)),
                (
                    2,
                    RecordError {
                        zip: "s3://b/2/layer.zip".into(),
                        problem: Problem::MissingLayerName,
                    },
                ),
            ],
            total: 3,
        };
        assert_eq!(error.error_type(), "MultipleErrors");
        let message = error.to_string();
        assert!(message.starts_with("2 of 3 records failed"), "{message}");
        assert!(message.contains("record 0: LayerZipNotFound: s3://b/1/layer.zip"));
        assert!(message.contains("record 2: MissingLayerName: s3://b/2/layer.zip"));

        let same = Error::RecordsFailed {
            failed: vec![(0, not_found(1)), (1, not_found(2))],
            total: 2,
        };
        assert_eq!(same.error_type(), "LayerZipNotFound");
    }

    #[test]
    fn aws_errors_say_what_to_do() {
        let e = RecordError {
            zip: "s3://b/layer.zip".into(),
            problem: Problem::Aws(AwsError {
                service: AwsService::Lambda,
                operation: "PublishLayerVersion",
                target: "deps".into(),
                code: Some("AccessDeniedException".into()),
                answered: true,
                message: "not allowed".into(),
                retry_after_s: None,
                waited_out: None,
            }),
        };
        assert_eq!(e.error_type(), "LambdaError");
        assert_eq!(
            e.to_string(),
            "s3://b/layer.zip: PublishLayerVersion on deps failed: not allowed. Grant the \
             function's role this right (see template.yaml)"
        );
    }

    #[test]
    fn long_metadata_values_are_cut_short_in_messages() {
        let e = |value: String| RecordError {
            zip: "s3://b/layer.zip".into(),
            problem: Problem::InvalidMetadata {
                key: "manifest-name",
                value,
                problem: "it is too long".into(),
            },
        };
        assert_eq!(
            e("a/b".into()).to_string(),
            "s3://b/layer.zip: user metadata manifest-name=\"a/b\" is not valid: it is too long"
        );
        let long = e("é".repeat(1000)).to_string();
        assert!(long.len() < 300, "{long}");
        assert!(long.contains("… (2000 bytes)"), "{long}");
    }

    #[test]
    fn the_missing_metadata_fix_names_the_upload() {
        let e = RecordError {
            zip: "s3://b/app/layer.zip".into(),
            problem: Problem::MissingManifestMd5 {
                problem: "it has no manifest-md5 user metadata".into(),
            },
        };
        assert_eq!(
            e.to_string(),
            "s3://b/app/layer.zip: it has no manifest-md5 user metadata. Upload the zip with \
             user metadata manifest-md5=<lowercase hex MD5 of the lock file>, e.g. `aws s3 cp \
             layer.zip s3://b/app/layer.zip --metadata manifest-md5=$(md5sum requirements.txt \
             | cut -d' ' -f1)`"
        );
    }

    #[test]
    fn invalid_event_is_typed() {
        let d = Diagnostic::from(Error::InvalidEvent(EventProblem("no Records".into())));
        assert_eq!(d.error_type, "InvalidEvent");
        assert!(d.error_message.contains("no Records"));
    }
}
