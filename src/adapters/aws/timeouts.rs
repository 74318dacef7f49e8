//! How long each kind of call the function makes may take before it is
//! abandoned (and, but for the publish, retried), so that a call that never
//! answers ends well within the function's timeout instead of hanging the
//! invocation until Lambda kills it.
//!
//! A HEAD is not a `PublishLayerVersion` of a 250 MB zip: each kind of call
//! gets its own budget. An *attempt* timeout abandons one request (the
//! SDK's retry policy then sends it again: 5 attempts); an *operation*
//! timeout bounds a call with all its retries.

use aws_smithy_types::timeout::TimeoutConfig;
use std::time::Duration;

/// Opening a connection to an AWS endpoint in the function's own region.
pub const CONNECT: Duration = Duration::from_secs(2);

/// HEAD, ListObjectsV2 (a page), a ranged or small GET's answer, a PUT of a
/// record or the lease, ListLayerVersions, GetLayerVersion: the answer of a
/// healthy service comes in milliseconds.
pub const SMALL_ATTEMPT: Duration = Duration::from_secs(3);
pub const SMALL_OPERATION: Duration = Duration::from_secs(10);

/// Reading a GET's body once its answer came: a lock file of at most
/// 16 MiB, or the zip's first bytes.
pub const BODY_READ: Duration = Duration::from_secs(10);

/// A server-side CopyObject: S3 copies the bytes before it answers, up to
/// the 250 MB of a layer zip.
pub const COPY_ATTEMPT: Duration = Duration::from_secs(20);
pub const COPY_OPERATION: Duration = Duration::from_secs(45);

/// `PublishLayerVersion`: Lambda reads the whole zip from S3 and hashes it
/// before it answers. Sent once per attempt (never retried blind, see
/// `aws/lambda.rs`), so its attempt is its operation.
pub const PUBLISH_ATTEMPT: Duration = Duration::from_secs(30);

/// Every call's default: the small calls'.
pub fn small_calls() -> TimeoutConfig {
    timeouts(SMALL_ATTEMPT, SMALL_OPERATION)
}

pub fn copies() -> TimeoutConfig {
    timeouts(COPY_ATTEMPT, COPY_OPERATION)
}

pub fn publish() -> TimeoutConfig {
    timeouts(PUBLISH_ATTEMPT, PUBLISH_ATTEMPT)
}

fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::lease::{DEFAULT_LEASE_WAIT, LEASE_TTL};

    /// The function's `Timeout` in template.yaml, in seconds.
    fn function_timeout() -> Duration {
        let template = include_str!("../../../template.yaml");
        let seconds: u64 = template
            .lines()
            .find_map(|l| l.trim().strip_prefix("Timeout:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        Duration::from_secs(seconds)
    }

    /// The longest wait for another's lease, a publish abandoned at its
    /// timeout, a hung copy abandoned once, and a small call through all of
    /// its retries, together, still end before Lambda's timeout; and a
    /// live holder never outlives its lease.
    #[test]
    fn a_hung_call_ends_within_the_function_timeout_and_the_lease_outlives_it() {
        let worst = DEFAULT_LEASE_WAIT + PUBLISH_ATTEMPT + COPY_ATTEMPT + SMALL_OPERATION;
        let timeout = function_timeout();
        assert!(worst < timeout, "{worst:?} is not within {timeout:?}");
        assert!(LEASE_TTL > timeout);
        assert!(SMALL_ATTEMPT < SMALL_OPERATION && COPY_ATTEMPT < COPY_OPERATION);
    }
}
