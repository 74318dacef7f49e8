//! A bug that panics while a record is processed: the record fails with the
//! error contract's `InternalError` and its S3 URI, the others go on, and
//! the lease it held is left to expire, as a crashed invocation's.

use super::scene::*;

#[tokio::test(start_paused = true)]
async fn a_panic_fails_its_record_as_an_internal_error_and_leaves_its_lease_to_expire() {
    let scene = Scene::new();
    let first = scene.upload(LOCK_V1, "build 1");
    scene
        .aws
        .inject(Op::PublishLayerVersion, "", Fault::Panic, 1);

    let error = scene.invoke(first).await.unwrap_err();

    assert_eq!(error.error_type, "InternalError");
    let message = &error.error_message;
    assert!(
        message.contains(&format!("s3://{BUCKET}/{DIR}/layer.zip")),
        "{message}"
    );
    assert!(message.contains("panicked"), "{message}");
    assert!(message.contains("PublishLayerVersion"), "{message}");
    assert!(scene.lease_held(), "left to expire, as a crash leaves it");
}

#[tokio::test(start_paused = true)]
async fn after_a_record_that_panicked_the_next_record_of_the_event_goes_on() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    let record = event["Records"][0].clone();
    let mut both = event.clone();
    both["Records"] = Value::Array(vec![record.clone(), record]);
    scene.aws.inject(Op::HeadObject, "", Fault::Panic, 1);

    let error = scene.invoke(both).await.unwrap_err();

    assert!(
        error.error_message.starts_with("1 of 2 records failed"),
        "{}",
        error.error_message
    );
    assert!(
        error.error_message.contains("record 0: InternalError"),
        "{}",
        error.error_message
    );
    assert_eq!(scene.versions().len(), 1, "the second record published");
    assert!(!scene.lease_held());
}
