//! The SDK side of the ports (`src/adapters/aws/`), one method at a time, against
//! answers moto never gives, with `aws-smithy-mocks`:
//! - moto ignores `S3ObjectVersion` and `x-amz-copy-source-if-match`, so
//!   what the publish and the copies send is asserted here;
//! - moto lists layer versions in one page, newest first, so the paths for
//!   other orders and for several pages need answers moto never gives;
//! - moto never throttles nor fails, so the retry policy is asserted here.

use aws_sdk_lambda::operation::list_layer_versions::ListLayerVersionsOutput;
use aws_sdk_lambda::operation::publish_layer_version::PublishLayerVersionOutput;
use aws_sdk_lambda::types::{LayerVersionContentOutput, LayerVersionsListItem};
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use layer_autopublish::adapters::aws::Aws;
use layer_autopublish::ports::{Folder, Layer, PublishRequest};
use std::time::Duration;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer:deps";
const VERSION: &str = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY";
const PRECONDITION_FAILED: &str = "<Error><Code>PreconditionFailed</Code><Message>At least one \
     of the pre-conditions you specified did not hold</Message></Error>";

fn s3_only(rules: &[&Rule]) -> Aws {
    Aws::from_clients(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules),
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[] as &[&Rule]),
    )
}

fn lambda_only(rules: &[&Rule]) -> Aws {
    Aws::from_clients(
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_lambda, RuleMode::Sequential, rules, |conf| {
            conf.retry_config(layer_autopublish::adapters::aws::retry_config())
        }),
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[] as &[&Rule]),
    )
}

#[tokio::test]
async fn the_publish_is_pinned_to_the_object_version_and_carries_the_marker() {
    let publish = mock!(aws_sdk_lambda::Client::publish_layer_version)
        .match_requests(|r| {
            r.layer_name() == Some("deps")
                && r.description() == Some("manifest-md5:211c06919374057484ac6936024311c6")
                && r.content().and_then(|c| c.s3_bucket()) == Some("b")
                && r.content().and_then(|c| c.s3_key()) == Some("app/layer.zip")
                && r.content().and_then(|c| c.s3_object_version()) == Some(VERSION)
                && r.compatible_runtimes().len() == 1
                && r.compatible_architectures().is_empty()
        })
        .then_output(|| {
            PublishLayerVersionOutput::builder()
                .version(1)
                .layer_version_arn(format!("{ARN}:1"))
                .description("manifest-md5:211c06919374057484ac6936024311c6")
                .created_date("2026-11-23T12:00:00.000+0000")
                .content(
                    LayerVersionContentOutput::builder()
                        .code_sha256("c2hh")
                        .build(),
                )
                .build()
        });
    let aws = lambda_only(&[&publish]);
    let runtimes = ["python3.12".to_owned()];
    let request = PublishRequest {
        layer_name: "deps",
        bucket: "b",
        key: "app/layer.zip",
        object_version: Some(VERSION),
        description: "manifest-md5:211c06919374057484ac6936024311c6",
        compatible_runtimes: &runtimes,
        compatible_architectures: &[],
        license_info: None,
    };

    let new = aws.publish(&request).await.expect("published");

    assert_eq!(publish.num_calls(), 1, "the request carried all of it");
    assert_eq!(new.version.version, 1);
    assert_eq!(new.version.arn, format!("{ARN}:1"));
    assert_eq!(new.code_sha256.as_deref(), Some("c2hh"));
}

#[tokio::test]
async fn a_copy_is_conditional_on_the_sources_etag_and_a_refusal_is_false() {
    let copied = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests(|r| {
            r.copy_source() == Some("b/my%20app/req%2Bs.txt")
                && r.copy_source_if_match() == Some("\"abc\"")
                && r.key() == Some("my app/000001/req+s.txt")
        })
        .then_output(|| CopyObjectOutput::builder().build());
    let aws = s3_only(&[&copied]);
    let copy = aws.copy_if("b", "my app/req+s.txt", "my app/000001/req+s.txt", "abc");
    assert!(copy.await.expect("copied"));
    assert_eq!(copied.num_calls(), 1);

    let refused = mock!(aws_sdk_s3::Client::copy_object)
        .then_http_response(|| http_status(412, PRECONDITION_FAILED));
    let aws = s3_only(&[&refused]);
    assert!(!aws.copy_if("b", "a", "c", "abc").await.expect("answered"));
}

#[tokio::test]
async fn conditional_puts_send_their_condition_and_a_refusal_is_none() {
    use layer_autopublish::ports::WriteCondition;
    let absent = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_none_match() == Some("*") && r.if_match().is_none())
        .then_output(|| {
            aws_sdk_s3::operation::put_object::PutObjectOutput::builder()
                .e_tag("\"new\"")
                .build()
        });
    let matching = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| r.if_match() == Some("\"old\""))
        .then_http_response(|| http_status(412, PRECONDITION_FAILED));
    let aws = s3_only(&[&absent, &matching]);

    let put = aws.put(
        "b",
        "k",
        b"x".to_vec(),
        "application/json",
        WriteCondition::Absent,
    );
    assert_eq!(put.await.expect("written"), Some("new".to_owned()));
    let put = aws.put(
        "b",
        "k",
        b"x".to_vec(),
        "application/json",
        WriteCondition::ETagIs("old"),
    );
    assert_eq!(put.await.expect("answered"), None);
    assert_eq!((absent.num_calls(), matching.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_multipart_uploads_checksum_is_not_taken_for_the_whole_objects() {
    let head = mock!(aws_sdk_s3::Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .e_tag("\"0123-3\"")
            .checksum_sha256("c2hh")
            .content_length(10)
            .build()
    });
    let aws = s3_only(&[&head]);
    let found = aws.head("b", "k").await.expect("answered").expect("exists");
    assert_eq!(found.sha256, None);
    assert_eq!(found.id.etag.as_deref(), Some("0123-3"));
}

fn http_status(
    status: u16, body: &str,
) -> aws_smithy_runtime_api::http::Response<aws_sdk_s3::primitives::SdkBody> {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).expect("a status"),
        aws_sdk_s3::primitives::SdkBody::from(body.to_owned()),
    )
}

fn list_item(version: i64) -> LayerVersionsListItem {
    LayerVersionsListItem::builder()
        .version(version)
        .layer_version_arn(format!("{ARN}:{version}"))
        .created_date("2026-11-23T12:00:00.000+0000")
        .build()
}

/// One page of `ListLayerVersions`: these versions, in this order.
fn page(
    versions: &'static [i64], next_marker: Option<&'static str>,
) -> impl Fn() -> ListLayerVersionsOutput + Send + Sync + 'static {
    move || {
        ListLayerVersionsOutput::builder()
            .set_layer_versions(Some(versions.iter().map(|v| list_item(*v)).collect()))
            .set_next_marker(next_marker.map(str::to_owned))
            .build()
    }
}

/// The latest version found through `responses`, and how many calls it took.
async fn latest(responses: Rule) -> (Result<Option<i64>, String>, usize) {
    let aws = lambda_only(&[&responses]);
    let found = aws.recent_versions("deps").await;
    (
        found
            .map(|v| v.first().map(|v| v.version))
            .map_err(|e| e.to_string()),
        responses.num_calls(),
    )
}

#[tokio::test]
async fn a_newest_first_page_costs_one_call() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[9, 8], Some("page-2")))
        .output(page(&[7], None))
        .build();
    assert_eq!(latest(pages).await, (Ok(Some(9)), 1));
}

#[tokio::test]
async fn any_other_order_reads_every_page() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[1, 2], Some("page-2")))
        .output(page(&[4, 3], None))
        .build();
    assert_eq!(latest(pages).await, (Ok(Some(4)), 2));
}

#[tokio::test]
async fn a_marker_that_does_not_move_ends_the_listing() {
    let pages = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .output(page(&[1, 2], Some("same")))
        .repeatedly()
        .build();
    assert_eq!(latest(pages).await, (Ok(Some(2)), 2));
}

#[tokio::test]
async fn a_layer_that_does_not_exist_has_no_latest_version() {
    let missing = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .http_status(
            404,
            Some(r#"{"__type":"ResourceNotFoundException","Message":"no such layer"}"#.into()),
        )
        .build();
    assert_eq!(latest(missing).await, (Ok(None), 1));
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    let responses = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .sequence()
        .http_status(429, Some(r#"{"__type":"TooManyRequestsException"}"#.into()))
        .http_status(503, None)
        .output(page(&[3], None))
        .build();
    assert_eq!(latest(responses).await, (Ok(Some(3)), 3));
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
    let (result, calls) = latest(responses).await;
    assert_eq!(calls, 1, "not retried");
    let message = result.unwrap_err();
    assert!(message.contains("AccessDeniedException"), "{message}");
}

/// 300 MB can't be uploaded to moto in a test's time, nor kept by the fake:
/// a HEAD that says so is all the handler may need.
#[tokio::test]
async fn a_zip_larger_than_lambda_takes_fails_after_one_head() {
    use lambda_runtime::{Context, LambdaEvent};
    use layer_autopublish::{config::Config, handle, Publisher};
    let head = mock!(aws_sdk_s3::Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .e_tag("\"9b2cf535f27731c974343645a3985328\"")
            .metadata("manifest-md5", "211c06919374057484ac6936024311c6")
            .content_length(300 * 1024 * 1024)
            .build()
    });
    // Read at the same time as the HEAD, for the first look (issue 13).
    let versions = mock!(aws_sdk_lambda::Client::list_layer_versions)
        .then_output(|| ListLayerVersionsOutput::builder().build());
    // Then the upload's receipt: none yet (the first attempt), and the
    // failure's, tagged for the bucket's lifecycle rule.
    const RECEIPT: &str =
        "projects/my-app/lambda/layer/.receipts/e-9b2cf535f27731c974343645a3985328.json";
    let no_receipt = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some(RECEIPT))
        .then_http_response(|| http_status(404, "<Error><Code>NoSuchKey</Code></Error>"));
    let receipt = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(|r| {
            r.key() == Some(RECEIPT) && r.tagging() == Some("layer-autopublish=receipt")
        })
        .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
    let config = Config {
        layer_name: Some("deps".into()),
        ..Config::default()
    };
    let aws = Aws::from_clients(
        mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            &[&head, &no_receipt, &receipt]
        ),
        mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&versions]),
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[] as &[&Rule]),
        mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, &[] as &[&Rule]),
    );
    let publisher = Publisher::new(aws, config, "us-east-1");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/events/put-layer-zip.json");
    let event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    let error = handle(&publisher, LambdaEvent::new(event, Context::default()))
        .await
        .expect_err("too large");

    assert_eq!(error.error_type(), "LayerZipTooLarge");
    assert_eq!(
        error.to_string(),
        "s3://layer-artifacts/projects/my-app/lambda/layer/layer.zip: it is 314572800 bytes, \
         more than the 262144000 bytes Lambda allows a layer unzipped; split the dependencies \
         into several layers"
    );
    assert_eq!(head.num_calls(), 1, "nothing but the HEAD");
    assert_eq!(
        versions.num_calls(),
        1,
        "and, at the same time, the layer's versions"
    );
    assert_eq!(
        (no_receipt.num_calls(), receipt.num_calls()),
        (1, 1),
        "then the receipt"
    );
}

/// `PublishLayerVersion` is not idempotent: a 5xx may have applied, so the
/// SDK must not send it again blind (the publisher looks first); a throttle
/// goes back to the publisher too, which pauses through its clock.
#[tokio::test]
async fn a_publish_is_sent_once_even_throttled() {
    let failed = mock!(aws_sdk_lambda::Client::publish_layer_version)
        .sequence()
        .http_status(503, Some(r#"{"__type":"ServiceException"}"#.into()))
        .output(|| PublishLayerVersionOutput::builder().version(2).build())
        .build();
    let aws = lambda_only(&[&failed]);
    let request = request();
    let error = aws.publish(&request).await.unwrap_err();
    assert!(error.may_have_applied(), "{error}");
    assert_eq!(failed.num_calls(), 1, "not retried");

    let throttled = mock!(aws_sdk_lambda::Client::publish_layer_version)
        .sequence()
        .http_status(429, Some(r#"{"__type":"TooManyRequestsException"}"#.into()))
        .output(|| PublishLayerVersionOutput::builder().version(2).build())
        .build();
    let aws = lambda_only(&[&throttled]);
    let error = aws.publish(&request).await.unwrap_err();
    assert!(error.is_throttle() && !error.may_have_applied(), "{error}");
    assert_eq!(
        throttled.num_calls(),
        1,
        "the publisher pauses and sends it again (tests/scenarios/lost_answers.rs)"
    );
}

fn request() -> PublishRequest<'static> {
    PublishRequest {
        layer_name: "deps",
        bucket: "b",
        key: "app/layer.zip",
        object_version: None,
        description: "manifest-md5:211c06919374057484ac6936024311c6",
        compatible_runtimes: &[],
        compatible_architectures: &[],
        license_info: None,
    }
}

/// A HEAD has no body, so S3's error code never arrives: the message says
/// the call, the object and the HTTP status, not a dump of the response.
#[tokio::test(start_paused = true)]
async fn a_failed_head_says_its_status_not_a_debug_dump() {
    let failing = mock!(aws_sdk_s3::Client::head_object)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let aws = s3_only(&[&failing]);

    let error = aws.head("b", "app/layer.zip").await.unwrap_err();

    let message = error.to_string();
    assert_eq!(
        message,
        "HeadObject on s3://b/app/layer.zip failed: HTTP 503, without an error code"
    );
    assert!(error.may_have_applied());
}

/// A HEAD's bare 403 is S3's `AccessDenied` (its GET would say so in the
/// body): the flow asks a listing whether the key is missing or refused.
#[tokio::test(start_paused = true)]
async fn a_heads_bare_403_is_access_denied() {
    let refused = mock!(aws_sdk_s3::Client::head_object)
        .sequence()
        .http_status(403, None)
        .build();
    let aws = s3_only(&[&refused]);

    let error = aws.head("b", "app/layer.zip").await.unwrap_err();

    assert!(error.is_access_denied(), "{error:?}");
    assert!(!error.may_have_applied());
}

/// An HTTP client whose first `hang` requests never answer; the others get
/// `answer`. Counts the requests sent.
fn hanging_client(
    hang: usize, answer: fn() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse,
) -> (
    aws_smithy_runtime_api::client::http::SharedHttpClient,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    client_answering(move |n| (n >= hang).then(answer))
}

/// An HTTP client whose `n`th request (from 0) gets `answer(n)`, or never
/// an answer for `None`; and how many requests it was sent.
fn client_answering(
    answer: impl Fn(usize) -> Option<aws_smithy_runtime_api::client::orchestrator::HttpResponse>
        + Send
        + Sync
        + 'static,
) -> (
    aws_smithy_runtime_api::client::http::SharedHttpClient,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    type Answer = dyn Fn(usize) -> Option<HttpResponse> + Send + Sync;
    struct Answering {
        sent: Arc<AtomicUsize>,
        answer: Box<Answer>,
    }
    impl std::fmt::Debug for Answering {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Answering")
        }
    }
    impl HttpConnector for Answering {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            match (self.answer)(self.sent.fetch_add(1, Ordering::SeqCst)) {
                Some(response) => HttpConnectorFuture::ready(Ok(response)),
                None => HttpConnectorFuture::new(std::future::pending()),
            }
        }
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let connector = SharedHttpConnector::new(Answering {
        sent: sent.clone(),
        answer: Box::new(answer),
    });
    (http_client_fn(move |_, _| connector.clone()), sent)
}

/// The function's own SDK configuration (`lambda_config_from`), sending
/// through `client`.
fn functions_aws(client: aws_smithy_runtime_api::client::http::SharedHttpClient) -> Aws {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    let sdk = layer_autopublish::adapters::aws::lambda_config_from(|name| {
        (name == "AWS_REGION").then(|| "us-east-1".to_owned())
    })
    .expect("a region is set");
    let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let sdk = sdk
        .to_builder()
        .http_client(client)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    Aws::for_function(&sdk)
}

/// An HTTP client answering with `answers` in turn (the last one again
/// after that), and how many requests it was sent.
fn scripted_client(
    answers: &'static [fn() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse],
) -> (
    aws_smithy_runtime_api::client::http::SharedHttpClient,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    client_answering(move |n| answers.get(n).or(answers.last()).map(|answer| answer()))
}

/// Lambda's 429 as it sends it: its type in a header, the wait it asks for
/// in `Retry-After` and in the body.
fn lambda_throttle(header: bool) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let body = r#"{"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded","retryAfterSeconds":"3"}"#;
    let mut response = http_status(429, body);
    let headers = response.headers_mut();
    headers.insert("x-amzn-ErrorType", "TooManyRequestsException");
    headers.insert("Content-Type", "application/json");
    if header {
        headers.insert("Retry-After", "2");
    }
    response
}

fn no_versions() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    http_status(200, r#"{"LayerVersions":[]}"#)
}

/// The function's clients send a throttled call once: the publisher waits
/// it out (`throttles.rs`), no sooner than the answer asks, which the error
/// carries, from the header or else the body.
#[tokio::test(start_paused = true)]
async fn the_functions_clients_leave_a_throttle_to_the_publisher_with_the_wait_it_asks() {
    use std::sync::atomic::Ordering;
    let (client, sent) = scripted_client(&[|| lambda_throttle(true), no_versions]);
    let error = functions_aws(client)
        .recent_versions("deps")
        .await
        .unwrap_err();
    assert!(error.is_throttle(), "{error}");
    assert_eq!(error.retry_after_s, Some(2), "the header first");
    assert_eq!(sent.load(Ordering::SeqCst), 1, "not retried by the SDK");

    let (client, _) = scripted_client(&[|| lambda_throttle(false)]);
    let error = functions_aws(client)
        .recent_versions("deps")
        .await
        .unwrap_err();
    assert_eq!(error.retry_after_s, Some(3), "else the body's");

    // S3's SlowDown names no wait; not retried either.
    let (client, sent) = scripted_client(&[|| {
        http_status(503, "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
    }]);
    let error = functions_aws(client)
        .read_small("b", "app/requirements.txt", 1024)
        .await
        .unwrap_err();
    assert!(error.is_throttle(), "{error}");
    assert_eq!(
        (error.retry_after_s, sent.load(Ordering::SeqCst)),
        (None, 1)
    );
}

/// Every other passing failure is still retried by the SDK.
#[tokio::test(start_paused = true)]
async fn the_functions_clients_still_retry_server_errors() {
    let (client, sent) = scripted_client(&[
        || http_status(503, r#"{"__type":"ServiceException","message":"busy"}"#),
        no_versions,
    ]);
    let versions = functions_aws(client).recent_versions("deps").await;
    assert_eq!(versions.ok(), Some(Vec::new()));
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A HEAD whose first request never answers is abandoned after its
/// attempt timeout and sent again, within the function's timeout.
#[tokio::test(start_paused = true)]
async fn a_head_that_never_answers_is_abandoned_and_sent_again() {
    use layer_autopublish::adapters::aws::timeouts::{SMALL_ATTEMPT, SMALL_OPERATION};
    let (client, sent) = hanging_client(1, || {
        let mut response = http_status(200, "");
        response.headers_mut().insert("ETag", "\"e1\"");
        response.headers_mut().insert("Content-Length", "22");
        response
    });
    let aws = functions_aws(client);
    let start = tokio::time::Instant::now();

    let head = tokio::time::timeout(Duration::from_secs(600), aws.head("b", "app/layer.zip"))
        .await
        .expect("the HEAD hung: no attempt timeout");

    let head = head.expect("the second attempt answered").expect("found");
    assert_eq!(head.id.etag.as_deref(), Some("e1"));
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 2);
    let took = start.elapsed();
    assert!(took >= SMALL_ATTEMPT && took < SMALL_OPERATION, "{took:?}");
}

/// A publish that never answers is abandoned after its own (longer)
/// timeout and not sent again: it may still apply (see the publisher).
#[tokio::test(start_paused = true)]
async fn a_publish_that_never_answers_is_abandoned_once_its_timeout_passes() {
    use layer_autopublish::adapters::aws::timeouts::PUBLISH_ATTEMPT;
    let (client, sent) = hanging_client(usize::MAX, || http_status(200, "{}"));
    let aws = functions_aws(client);
    let start = tokio::time::Instant::now();

    let publish = tokio::time::timeout(Duration::from_secs(600), aws.publish(&request()))
        .await
        .expect("the publish hung: no timeout");

    let error = publish.expect_err("no answer");
    assert_eq!(error.code, None, "{error}");
    assert!(error.may_have_applied());
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), PUBLISH_ATTEMPT);
}

#[test]
fn the_runtimes_a_version_may_declare_are_the_sdks() {
    use layer_autopublish::domain::declared::RUNTIMES;
    let mut sdk: Vec<&str> = aws_sdk_lambda::types::Runtime::values().to_vec();
    let mut ours: Vec<&str> = RUNTIMES.to_vec();
    sdk.sort_unstable();
    ours.sort_unstable();
    assert_eq!(
        ours, sdk,
        "domain/declared.rs's RUNTIMES against the SDK's Runtime"
    );
}
