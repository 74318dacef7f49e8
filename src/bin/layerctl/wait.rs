//! `layerctl upload --wait`: what became of the upload, read from its
//! receipt (`domain::receipt`), which the function writes once the record is
//! settled and after each failed attempt. Only that one key is read
//! (`GetObject`, polled with jitter): CI's policy allows nothing more.
//!
//! How it ends: published or unchanged (exit 0, the version's ARN); refused
//! (exit 3 at the first attempt: the same upload fails the same way on each
//! retry, so there is nothing to wait for); failed after every retry, or
//! superseded by a newer upload (exit 6); no receipt in time (exit 7).

use crate::failure::Failure;
use crate::report::Report;
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::domain::receipt::Receipt;
use layer_autopublish::publish::receipts::read_receipt;
use std::time::{Duration, Instant};

/// The first look comes after this, then each pause grows to [`LONGEST`]:
/// most receipts are there within seconds of the upload.
const FIRST: Duration = Duration::from_secs(2);
const LONGEST: Duration = Duration::from_secs(10);

/// `10m`, `90s`, `1h`, or plain seconds.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: give a duration such as 10m, 90s or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// How a receipt ends the wait, or `None` while Lambda still retries.
pub fn verdict(receipt: &Receipt) -> Option<Result<(), Failure>> {
    let said = || {
        format!(
            "{}: {}",
            receipt.error_type.as_deref().unwrap_or("Error"),
            receipt.message.as_deref().unwrap_or("no message")
        )
    };
    match receipt.outcome.as_str() {
        "published" | "unchanged" | "would_publish" => Some(Ok(())),
        "failed" => {
            let failure = Failure::of_error_type(
                receipt.error_type.as_deref().unwrap_or("InternalError"),
                receipt.message.as_deref().unwrap_or(""),
            );
            match failure {
                // The upload itself is wrong: every retry fails the same.
                Failure::Rejected(_) => Some(Err(failure)),
                _ if receipt.will_retry == Some(true) => None,
                _ => Some(Err(Failure::NotPublished(format!(
                    "attempt {} failed, and Lambda does not retry it: {}. The event is in the \
                     failed-events queue (layerctl failed); replay it once fixed",
                    receipt.attempt.unwrap_or(1),
                    said()
                )))),
            }
        }
        other => Some(Err(Failure::NotPublished(format!(
            "{other}: {}",
            receipt.message.as_deref().unwrap_or("not published")
        )))),
    }
}

/// Polls the receipt at `key` until it ends the wait or `timeout` passes.
pub async fn for_receipt(
    aws: &Aws, bucket: &str, key: &str, timeout: Duration, report: &Report,
) -> Result<Receipt, Failure> {
    let started = Instant::now();
    let uri = format!("s3://{bucket}/{key}");
    report.line(format!("waiting for the function's receipt {uri}"));
    let mut pause = FIRST;
    let mut last_said: Option<(u32, String)> = None;
    let mut refused_read = None;
    loop {
        // Jitter: CI jobs started together do not poll together.
        let jittered = pause.mul_f64(0.8 + fastrand::f64() * 0.4);
        tokio::time::sleep(jittered.min(timeout.saturating_sub(started.elapsed()))).await;
        match read_receipt(aws, bucket, key).await {
            Ok(Some(receipt)) => {
                if let Some(ended) = verdict(&receipt) {
                    return ended.map(|()| receipt);
                }
                let attempt = receipt.attempt.unwrap_or(1);
                let now = (attempt, receipt.outcome.clone());
                if last_said.as_ref() != Some(&now) {
                    report.line(format!(
                        "attempt {attempt} failed: {}: {}; Lambda retries in about {}",
                        receipt.error_type.as_deref().unwrap_or("Error"),
                        receipt.message.as_deref().unwrap_or(""),
                        if attempt <= 1 {
                            "a minute"
                        } else {
                            "two minutes"
                        }
                    ));
                    last_said = Some(now);
                }
            }
            Ok(_) => {}
            // Without s3:ListBucket, S3 answers 403 for a key not written yet.
            Err(e) if e.code.as_deref() == Some("AccessDenied") => refused_read = Some(e),
            Err(e) => return Err(Failure::from(e)),
        }
        if started.elapsed() >= timeout {
            let hint = match refused_read {
                Some(_) => " S3 refused to read it: if it never appears, CI's role needs \
                            s3:GetObject on the receipts (the stack's CI policy gives it)."
                    .to_owned(),
                None => String::new(),
            };
            return Err(Failure::TimedOut(format!(
                "no receipt at {uri} after {} s: the function has not settled the upload \
                 (is the trigger on, the event delivered? layerctl status shows where it \
                 stands).{hint}",
                timeout.as_secs()
            )));
        }
        pause = (pause * 2).min(LONGEST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(
        outcome: &str, error_type: Option<&str>, attempt: u32, will_retry: Option<bool>,
    ) -> Receipt {
        Receipt {
            outcome: outcome.into(),
            layer_version_arn: Some("arn:aws:lambda:us-east-1:1:layer:deps:3".into()),
            message: Some("what to fix".into()),
            error_type: error_type.map(str::to_owned),
            attempt: Some(attempt),
            will_retry,
            ..Receipt::default()
        }
    }

    #[test]
    fn durations_read_as_ci_writes_them() {
        assert_eq!(parse_timeout("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_timeout("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("45"), Ok(Duration::from_secs(45)));
        assert!(parse_timeout("ten").is_err());
        assert!(parse_timeout("10d").is_err());
    }

    #[test]
    fn each_receipt_ends_the_wait_as_documented() {
        let code = |r: &Receipt| verdict(r).map(|v| v.err().map_or(0, |f| f.exit_code()));
        assert_eq!(code(&receipt("published", None, 1, None)), Some(0));
        assert_eq!(code(&receipt("unchanged", None, 1, None)), Some(0));
        // Refused: the fix is in the message, at the first attempt.
        let refused = receipt("failed", Some("MissingManifestMd5"), 1, Some(true));
        assert_eq!(code(&refused), Some(3));
        // AWS trouble: Lambda retries; after the last attempt, the queue.
        assert_eq!(
            code(&receipt("failed", Some("S3Error"), 1, Some(true))),
            None
        );
        assert_eq!(
            code(&receipt("failed", Some("PublishInProgress"), 2, Some(true))),
            None
        );
        let last = receipt("failed", Some("S3Error"), 3, Some(false));
        assert_eq!(code(&last), Some(6));
        let said = verdict(&last).and_then(|v| v.err()).map(|f| f.to_string());
        assert!(said.is_some_and(|s| s.contains("failed-events queue")));
        assert_eq!(code(&receipt("superseded", None, 1, None)), Some(6));
    }
}
