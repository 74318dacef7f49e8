//! What moto cannot show, proven in-process with `aws-smithy-mocks`:
//! - moto server drops user metadata whose name holds `_`, while real S3
//!   keeps `manifest_md5`, the key aws_lambda_artifact_builder writes;
//! - moto ignores `S3ObjectVersion`, so what the publish request carries is
//!   asserted here;
//! - moto lists layer versions in one page, newest first, so the paths for
//!   other orders and for several pages need an answer moto never gives;
//! - moto ignores `x-amz-copy-source-if-match`, so the lock file copies'
//!   condition is asserted here.

use aws_sdk_lambda::operation::list_layer_versions::ListLayerVersionsOutput;
use aws_sdk_lambda::operation::publish_layer_version::PublishLayerVersionOutput;
use aws_sdk_lambda::types::{LayerVersionContentOutput, LayerVersionsListItem};
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use lambda_runtime::{Context, LambdaEvent};
use layer_autopublish::aws::Aws;
use layer_autopublish::config::Config;
use layer_autopublish::lease::held_body;
use layer_autopublish::{handle, OutcomeKind, Publisher};
use serde_json::Value;

const MD5: &str = "211c06919374057484ac6936024311c6";
/// The object version the event reports (a versioned bucket).
const VERSION: &str = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY";
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer:deps";

fn event() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/events/put-layer-zip.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["Records"][0]["s3"]["object"]["eTag"] = Value::from("abc");
    event["Records"][0]["s3"]["object"]["versionId"] = Value::from(VERSION);
    event
}

fn list_item(version: i64) -> LayerVersionsListItem {
    LayerVersionsListItem::builder()
        .version(version)
        .layer_version_arn(format!("{ARN}:{version}"))
        .created_date("2026-11-23T12:00:00.000+0000")
        .build()
}

fn publisher(s3_rules: &[&Rule], lambda_rules: &[&Rule]) -> Publisher {
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules);
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, lambda_rules);
    let config = Config {
        layer_name: Some("deps".into()),
        ..Config::default()
    };
    Publisher::new(Aws::from_clients(s3, lambda), config, "us-east-1")
}

/// HEAD of the event's zip: its version, `MD5` under `md5_key`, `size` bytes.
fn zip_head(md5_key: &'static str, size: i64) -> Rule {
    mock!(aws_sdk_s3::Client::head_object).then_output(move || {
        HeadObjectOutput::builder()
            .e_tag("\"abc\"")
            .version_id(VERSION)
            .metadata(md5_key, MD5)
            .content_length(size)
            .build()
    })
}

/// The ranged GET of the zip's first bytes: a zip's, of the event's object.
fn zip_start() -> Rule {
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.range() == Some("bytes=0-3"))
        .then_output(|| {
            GetObjectOutput::builder()
                .e_tag("\"abc\"")
                .version_id(VERSION)
                .body(ByteStream::from_static(b"PK\x03\x04"))
                .build()
        })
}

/// A layer without versions.
fn no_versions() -> Rule {
    mock!(aws_sdk_lambda::Client::list_layer_versions)
        .then_output(|| ListLayerVersionsOutput::builder().build())
}

#[tokio::test]
async fn the_seeds_metadata_key_is_read_and_the_publish_pinned_to_the_events_version() {
    let head = zip_head("manifest_md5", 1024);
    let zip_start = zip_start();
    let empty_folder = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let deployment = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.key()
                .is_some_and(|k| k.ends_with("000001/deployment.json"))
        })
        .then_output(|| PutObjectOutput::builder().build());
    let lease = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.key().is_some_and(|k| k.ends_with("/publish.lease")) && r.if_none_match() == Some("*")
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"lease\"").build());
    let release = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.key().is_some_and(|k| k.ends_with("/publish.lease"))
                && r.if_match() == Some("\"lease\"")
        })
        .then_output(|| PutObjectOutput::builder().e_tag("\"free\"").build());
    let no_versions = no_versions();
    let publish = mock!(aws_sdk_lambda::Client::publish_layer_version)
        .match_requests(|r| {
            r.description() == Some(&format!("manifest-md5:{MD5}"))
                && r.content().and_then(|c| c.s3_key())
                    == Some("projects/my-app/lambda/layer/layer.zip")
                && r.content().and_then(|c| c.s3_object_version()) == Some(VERSION)
        })
        .then_output(|| {
            PublishLayerVersionOutput::builder()
                .version(1)
                .layer_version_arn(format!("{ARN}:1"))
                .created_date("2026-11-23T12:00:00.000+0000")
                .content(
                    LayerVersionContentOutput::builder()
                        .code_sha256("c2hh")
                        .build(),
                )
                .build()
        });
    let publisher = publisher(
        &[
            &head,
            &zip_start,
            &empty_folder,
            &deployment,
            &lease,
            &release,
        ],
        &[&no_versions, &publish],
    );

    let response = handle(&publisher, LambdaEvent::new(event(), Context::default()))
        .await
        .expect("published");

    let result = &response.results[0];
    assert_eq!(result.outcome, OutcomeKind::Published);
    assert_eq!(result.manifest_md5.as_deref(), Some(MD5));
    assert_eq!(result.layer_version, Some(1));
    assert_eq!(result.code_sha256.as_deref(), Some("c2hh"));
    assert_eq!(
        publish.num_calls(),
        1,
        "published with the marker of manifest_md5"
    );
    assert_eq!(deployment.num_calls(), 1);
    assert_eq!((lease.num_calls(), release.num_calls()), (1, 1));
    assert_eq!(zip_start.num_calls(), 1, "the zip was checked to be one");
}

/// moto ignores `x-amz-copy-source-if-match`: what the copies of the lock
/// file send is asserted here. The staged file is the one whose ETag (its
/// MD5) the listing showed and the metadata matched; a copy of anything
/// else must be refused by S3.
#[tokio::test]
async fn the_lock_file_is_copied_only_while_it_is_the_one_checked() {
    let head = zip_head("manifest-md5", 1024);
    let folder = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(
                Object::builder()
                    .key("projects/my-app/lambda/layer/requirements.txt")
                    .e_tag(format!("\"{MD5}\""))
                    .size(20)
                    .build(),
            )
            .build()
    });
    let zip_start = zip_start();
    let copies = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests(|r| {
            r.copy_source() == Some("layer-artifacts/projects/my-app/lambda/layer/requirements.txt")
                && r.copy_source_if_match() == Some(&format!("\"{MD5}\""))
                && matches!(
                    r.key(),
                    Some(
                        "projects/my-app/lambda/layer/000001/requirements.txt"
                            | "projects/my-app/lambda/layer/last-requirements.txt"
                    )
                )
        })
        .then_output(|| CopyObjectOutput::builder().build());
    let puts = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| PutObjectOutput::builder().e_tag("\"lease\"").build());
    let no_versions = no_versions();
    let publish = mock!(aws_sdk_lambda::Client::publish_layer_version).then_output(|| {
        PublishLayerVersionOutput::builder()
            .version(1)
            .layer_version_arn(format!("{ARN}:1"))
            .build()
    });
    let publisher = publisher(
        &[&head, &folder, &zip_start, &copies, &puts],
        &[&no_versions, &publish],
    );

    let response = handle(&publisher, LambdaEvent::new(event(), Context::default()))
        .await
        .expect("published");

    assert_eq!(response.results[0].outcome, OutcomeKind::Published);
    assert_eq!(
        copies.num_calls(),
        2,
        "NNNNNN/ and last- copies, conditional"
    );
    // The lease, the deployment record, the release: no upload of the lock file.
    assert_eq!(puts.num_calls(), 3);
}

/// A lease write S3 keeps refusing (412) while the listing shows the lease
/// free must end within the wait, not loop: the loop once had no deadline
/// on that path.
#[tokio::test]
async fn a_lease_that_cannot_be_taken_ends_within_the_wait() {
    let head = zip_head("manifest-md5", 1024);
    let folder = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(
                Object::builder()
                    .key("projects/my-app/lambda/layer/publish.lease")
                    .e_tag("\"released\"")
                    .size(60)
                    .build(),
            )
            .build()
    });
    let zip_start = zip_start();
    let refused = mock!(aws_sdk_s3::Client::put_object)
        .sequence()
        .http_status(
            412,
            Some("<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>".into()),
        )
        .repeatedly()
        .build();
    let no_versions = no_versions();
    // Read once, at the give-up, to name the holder in the message.
    let lease_body = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("/publish.lease")))
        .then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from(held_body("another-invocation", 0)))
                .build()
        });
    let publisher = publisher(
        &[&head, &folder, &zip_start, &lease_body, &refused],
        &[&no_versions],
    )
    .with_lease_wait(std::time::Duration::from_millis(300));

    let run = handle(&publisher, LambdaEvent::new(event(), Context::default()));
    let error = tokio::time::timeout(std::time::Duration::from_secs(10), run)
        .await
        .expect("ends within the wait")
        .expect_err("no lease");

    assert_eq!(error.error_type(), "PublishInProgress");
    assert!(error.to_string().contains("another-invocation"), "{error}");
    assert!(refused.num_calls() >= 1);
}

/// 300 MB can't be uploaded to moto in a test's time: a HEAD says so.
#[tokio::test]
async fn a_zip_larger_than_lambda_takes_fails_before_any_other_call() {
    let head = zip_head("manifest-md5", 300 * 1024 * 1024);
    let publisher = publisher(&[&head], &[]);

    let error = handle(&publisher, LambdaEvent::new(event(), Context::default()))
        .await
        .expect_err("too large");

    assert_eq!(error.error_type(), "LayerZipTooLarge");
    assert_eq!(
        error.to_string(),
        "s3://layer-artifacts/projects/my-app/lambda/layer/layer.zip: it is 314572800 bytes, \
         more than the 262144000 bytes Lambda allows a layer unzipped; split the dependencies \
         into several layers"
    );
    assert_eq!(head.num_calls(), 1);
}

async fn latest(pages: Rule) -> (Option<i64>, usize) {
    let aws = Aws::from_clients(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_lambda, RuleMode::Sequential, [&pages]),
    );
    let found = aws.latest_layer_version("deps").await.expect("listed");
    (found.map(|v| v.version), pages.num_calls())
}

/// One page of `ListLayerVersions`: these versions, in this order.
fn page(
    versions: &'static [i64],
    next_marker: Option<&'static str>,
) -> impl Fn() -> ListLayerVersionsOutput + Send + Sync + 'static {
    move || {
        ListLayerVersionsOutput::builder()
            .set_layer_versions(Some(versions.iter().map(|v| list_item(*v)).collect()))
            .set_next_marker(next_marker.map(str::to_owned))
            .build()
    }
}

#[tokio::test]
async fn a_newest_first_page_costs_one_call() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[9, 8], Some("page-2")))
        .output(page(&[7], None))
        .build();
    assert_eq!(latest(pages).await, (Some(9), 1));
}

#[tokio::test]
async fn any_other_order_reads_every_page() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[1, 2], Some("page-2")))
        .output(page(&[4, 3], None))
        .build();
    assert_eq!(latest(pages).await, (Some(4), 2));
}

#[tokio::test]
async fn a_marker_that_does_not_move_ends_the_listing() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[1, 2], Some("same")))
        .repeatedly()
        .build();
    assert_eq!(latest(pages).await, (Some(2), 2));
}

async fn list_with_retries(responses: Rule) -> (Result<Option<i64>, String>, usize) {
    let lambda = mock_client!(aws_sdk_lambda, RuleMode::Sequential, [&responses], |conf| {
        conf.retry_config(layer_autopublish::aws::retry_config())
    });
    let aws = Aws::from_clients(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[] as &[&Rule]),
        lambda,
    );
    let found = aws.latest_layer_version("deps").await;
    (
        found
            .map(|v| v.map(|v| v.version))
            .map_err(|e| e.to_string()),
        responses.num_calls(),
    )
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let responses = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .http_status(429, Some(r#"{"__type":"TooManyRequestsException"}"#.into()))
        .http_status(503, None)
        .output(page(&[3], None))
        .build();
    assert_eq!(list_with_retries(responses).await, (Ok(Some(3)), 3));
}

#[tokio::test]
async fn permanent_errors_fail_at_once() {
    let responses = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .http_status(
            403,
            Some(r#"{"__type":"AccessDeniedException","Message":"not authorized"}"#.into()),
        )
        .output(page(&[3], None))
        .build();
    let (result, calls) = list_with_retries(responses).await;
    assert_eq!(calls, 1, "not retried");
    let message = result.unwrap_err();
    assert!(message.contains("AccessDeniedException"), "{message}");
}
