//! The checks before a publish (issue 32), on the in-memory AWS: a layer
//! that would break at import time is refused with its own `errorType`,
//! nothing published or written and the lease given back; a good one is
//! published declaring the upload's settings, else the deployment's, else
//! what its compiled code proves; followers the version does not fit stay.

use super::scene::*;
use layer_autopublish::adapters::fake::Op;
use layer_autopublish::config::Config;

const CP312_X86: &str = "python/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so";

/// Stages the lock file and uploads `files` as the zip, with `metadata`.
fn upload_files(
    scene: &Scene, files: &[(&str, &[u8])], metadata: &[(&str, &str)],
) -> serde_json::Value {
    let md5 = md5(LOCK_V1);
    let metadata = [&[("manifest-md5", md5.as_str())], metadata].concat();
    scene.aws.put_object(
        BUCKET,
        &key("requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let bytes = zip_of(files);
    let id = scene
        .aws
        .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, None);
    scene.event_for(&id, bytes.len())
}

/// Refused with `error_type`, saying each of `said`; nothing done.
fn refused(scene: &Scene, error: &lambda_runtime::Diagnostic, error_type: &str, said: &[&str]) {
    assert_eq!(error.error_type, error_type, "{error:?}");
    for said in said {
        assert!(error.error_message.contains(said), "{said}: {error:?}");
    }
    nothing_done(scene);
}

/// Nothing published, no record written, the lease given back.
fn nothing_done(scene: &Scene) {
    assert!(scene.versions().is_empty());
    assert!(scene.text("000001/deployment.json").is_none());
    assert!(!scene.lease_held());
}

#[tokio::test(start_paused = true)]
async fn packages_at_the_zips_root_are_refused_as_a_wrong_layout() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 2] = [("numpy/__init__.py", b""), ("six.py", b"")];
    let event = upload_files(&scene, &files, &[("compatible-runtimes", "python3.12")]);

    let error = scene.invoke(event).await.expect_err("refused");

    refused(
        &scene,
        &error,
        "LayerLayoutWrong",
        &[
            "s3://",
            "numpy/",
            "six.py",
            "python3.12 looks",
            "under python/",
            "--skip-layer-checks",
        ],
    );
}

#[tokio::test(start_paused = true)]
async fn an_x86_64_build_declared_arm64_by_its_upload_is_refused() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 1] = [(CP312_X86, b"\x7fELF")];
    let metadata = [
        ("compatible-runtimes", "python3.12"),
        ("compatible-architectures", "arm64"),
    ];
    let event = upload_files(&scene, &files, &metadata);

    let error = scene.invoke(event).await.expect_err("refused");

    refused(
        &scene,
        &error,
        "LayerIncompatible",
        &[
            "built for x86_64, which arm64 cannot load",
            "_pydantic_core.cpython-312-x86_64-linux-gnu.so",
            "arm64, from the upload's compatible-architectures metadata",
            "--platform manylinux_2_34_aarch64",
        ],
    );
}

#[tokio::test(start_paused = true)]
async fn a_build_for_another_python_than_the_deployments_is_refused() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 1] = [(CP312_X86, b"")];
    let event = upload_files(&scene, &files, &[]);
    let config = Config {
        compatible_runtimes: vec!["python3.11".into()],
        ..Config::default()
    };

    let error = invoke(&scene.publisher_with(config), event)
        .await
        .expect_err("refused");

    assert_eq!(error.error_type, "LayerIncompatible", "{error:?}");
    assert!(
        error
            .error_message
            .contains("python3.11, from COMPATIBLE_RUNTIMES"),
        "{error:?}"
    );
    nothing_done(&scene);
}

#[tokio::test(start_paused = true)]
async fn a_version_declares_what_its_compiled_code_proves_when_nothing_else_does() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 2] = [(CP312_X86, b""), ("python/pydantic/main.py", b"")];
    let event = upload_files(&scene, &files, &[("license-info", "MIT")]);

    let response = scene.invoke(event).await.expect("published");

    let result = &response.results[0];
    assert_eq!(result.declared.runtimes, ["python3.12"]);
    assert_eq!(result.declared.architectures, ["x86_64"]);
    assert_eq!(result.declared.license.as_deref(), Some("MIT"));
    let record = scene.text("000001/deployment.json").expect("recorded");
    let record: serde_json::Value = serde_json::from_str(&record).expect("JSON");
    assert_eq!(
        record["compatible_runtimes"],
        serde_json::json!(["python3.12"])
    );
    assert_eq!(
        record["compatible_architectures"],
        serde_json::json!(["x86_64"])
    );
    assert_eq!(record["license_info"], "MIT");
}

#[tokio::test(start_paused = true)]
async fn the_uploads_settings_win_over_the_deployments() {
    let scene = Scene::new();
    let metadata = [
        ("compatible-runtimes", "nodejs20.x"),
        ("compatible-architectures", "arm64"),
    ];
    let files: [(&str, &[u8]); 1] = [("nodejs/node_modules/left-pad/index.js", b"")];
    let event = upload_files(&scene, &files, &metadata);
    let config = Config {
        compatible_runtimes: vec!["python3.12".into()],
        compatible_architectures: vec!["x86_64".into()],
        ..Config::default()
    };

    let response = invoke(&scene.publisher_with(config), event)
        .await
        .expect("published");

    assert_eq!(response.results[0].declared.runtimes, ["nodejs20.x"]);
    assert_eq!(response.results[0].declared.architectures, ["arm64"]);
}

#[tokio::test(start_paused = true)]
async fn a_bad_setting_in_the_metadata_is_refused_before_any_call_to_lambda() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 1] = [("python/six.py", b"")];
    let event = upload_files(&scene, &files, &[("compatible-runtimes", "python312")]);
    scene.aws.take_record_calls();

    let error = scene.invoke(event).await.expect_err("refused");

    assert_eq!(error.error_type, "InvalidMetadata", "{error:?}");
    for said in [
        "compatible-runtimes=\"python312\"",
        "did you mean python3.12?",
    ] {
        assert!(error.error_message.contains(said), "{said}: {error:?}");
    }
    let lambda = scene
        .aws
        .take_record_calls()
        .into_iter()
        .filter(|c| c.op == Op::PublishLayerVersion)
        .count();
    assert_eq!(lambda, 0);
    nothing_done(&scene);
}

#[tokio::test(start_paused = true)]
async fn the_escape_hatch_turns_off_all_but_lambdas_own_limit() {
    let scene = Scene::new();
    let files: [(&str, &[u8]); 1] = [("numpy/__init__.py", b"")];
    let event = upload_files(&scene, &files, &[("skip-layer-checks", "true")]);
    let response = scene.invoke(event).await.expect("published");
    assert_eq!(
        outcome(&response),
        layer_autopublish::OutcomeKind::Published
    );

    let scene = Scene::new();
    let event = upload_files(&scene, &files, &[]);
    let config = Config {
        skip_layer_checks: true,
        ..Config::default()
    };
    let response = invoke(&scene.publisher_with(config), event)
        .await
        .expect("published");
    assert_eq!(
        outcome(&response),
        layer_autopublish::OutcomeKind::Published
    );
}

#[tokio::test(start_paused = true)]
async fn a_zip_that_unzips_past_lambdas_limit_is_refused_even_with_the_checks_off() {
    let scene = Scene::new();
    let mut bytes = zip_of(&[("python/big.bin", b"0123456789")]);
    // Its directory says 262,144,001 bytes unzipped (the checks read only it).
    let entry = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .expect("an entry");
    bytes[entry + 24..entry + 28].copy_from_slice(&262_144_001u32.to_le_bytes());
    let md5 = md5(LOCK_V1);
    scene.aws.put_object(
        BUCKET,
        &key("requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let metadata = [
        ("manifest-md5", md5.as_str()),
        ("skip-layer-checks", "true"),
    ];
    let id = scene
        .aws
        .put_object(BUCKET, &key("layer.zip"), &bytes, &metadata, None);

    let error = scene
        .invoke(scene.event_for(&id, bytes.len()))
        .await
        .expect_err("refused");

    assert_eq!(error.error_type, "LayerTooLargeUnzipped", "{error:?}");
    assert!(
        error.error_message.contains("262144001 bytes in 1 files"),
        "{error:?}"
    );
    nothing_done(&scene);
}

#[tokio::test(start_paused = true)]
async fn a_broken_directory_is_a_typed_error() {
    let scene = Scene::new();
    let mut bytes = zip_of(&[("python/a.py", b"a")]);
    let end = bytes.len() - 22;
    bytes[end + 10] = 9; // nine entries counted, one there
    let md5 = md5(LOCK_V1);
    scene.aws.put_object(
        BUCKET,
        &key("requirements.txt"),
        LOCK_V1.as_bytes(),
        &[],
        None,
    );
    let id = scene.aws.put_object(
        BUCKET,
        &key("layer.zip"),
        &bytes,
        &[("manifest-md5", &md5)],
        None,
    );

    let error = scene
        .invoke(scene.event_for(&id, bytes.len()))
        .await
        .expect_err("refused");

    assert_eq!(error.error_type, "NotALayerZip", "{error:?}");
    assert!(
        error
            .error_message
            .contains("central directory cannot be read"),
        "{error:?}"
    );
    nothing_done(&scene);
}

#[tokio::test(start_paused = true)]
async fn a_zip_replaced_while_its_directory_is_read_is_superseded() {
    let scene = Scene::new();
    let event = scene.upload(LOCK_V1, "build 1");
    // Overwritten between the read of the zip's end (pinned to its ETag)
    // and the read of its first bytes, in whichever order they run.
    scene.aws.meanwhile(Op::GetObject, "layer.zip", |aws| {
        aws.meanwhile(Op::GetObject, "layer.zip", |aws| {
            let newer = md5(LOCK_V2);
            let metadata = [("manifest-md5", newer.as_str())];
            aws.put_object(BUCKET, &key("layer.zip"), &zip("build 2"), &metadata, None);
        });
    });

    let response = scene.invoke(event).await.expect("superseded");

    assert_eq!(
        outcome(&response),
        layer_autopublish::OutcomeKind::Superseded
    );
    nothing_done(&scene);
}

#[tokio::test(start_paused = true)]
async fn followers_the_new_version_does_not_fit_are_left_where_they_are() {
    let scene = Scene::new();
    scene.aws.publish_by_hand(LAYER, "older", &zip("old"));
    scene
        .aws
        .create_function_on("api", &[arn(1)], "python3.12", "x86_64");
    scene
        .aws
        .create_function_on("old-api", &[arn(1)], "python3.11", "x86_64");
    scene
        .aws
        .create_function_on("graviton", &[arn(1)], "python3.12", "arm64");
    let publisher = scene.publisher_with(following("api,old-api,graviton"));
    scene.clock().advance(std::time::Duration::from_secs(60));
    let files: [(&str, &[u8]); 1] = [(CP312_X86, b"")];
    let event = upload_files(&scene, &files, &[]);

    let response = invoke(&publisher, event).await.expect("published");

    let said: Vec<(&str, &str, &str)> = response.results[0]
        .followers
        .iter()
        .map(|f| {
            (
                f.function.as_str(),
                f.result.as_str(),
                f.error.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            ("api", "moved", ""),
            (
                "old-api",
                "incompatible",
                "not moved: it runs python3.11, and the new version declares python3.12"
            ),
            (
                "graviton",
                "incompatible",
                "not moved: it runs on arm64, and the new version declares x86_64"
            ),
        ]
    );
    assert_eq!(scene.aws.layers_of("api"), Some(vec![arn(2)]));
    assert_eq!(scene.aws.layers_of("old-api"), Some(vec![arn(1)]));
}

#[tokio::test(start_paused = true)]
async fn a_ten_thousand_file_layers_directory_is_read_in_two_ranged_gets() {
    let scene = Scene::new();
    let names: Vec<String> = (0..10_000)
        .map(|i| format!("python/package_{:03}/module_{i:05}.py", i / 100))
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), b"x = 1\n".as_slice()))
        .collect();
    let event = upload_files(&scene, &files, &[]);
    scene.aws.take_record_calls();

    let response = scene.invoke(event).await.expect("published");

    assert_eq!(
        outcome(&response),
        layer_autopublish::OutcomeKind::Published
    );
    let calls = scene.aws.take_record_calls();
    // The first bytes, the last 128 KiB, and the rest of the directory (about
    // 0.9 MB) in one more read.
    assert_eq!(
        Scene::count(&calls, Op::GetObject, "layer.zip"),
        3,
        "{calls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_publish_finished_by_the_next_delivery_records_what_the_version_declares() {
    let scene = Scene::new();
    let publisher = scene.publisher_with(with_pointer());
    let files: [(&str, &[u8]); 1] = [(CP312_X86, b"")];
    let event = upload_files(&scene, &files, &[("license-info", "MIT")]);
    scene.aws.inject(
        Op::PutParameter,
        POINTER,
        layer_autopublish::adapters::fake::Fault::FailBefore,
        1,
    );
    invoke(&publisher, event.clone())
        .await
        .expect_err("SSM failed");
    assert!(scene.lease_handed_over());

    // Lambda's retry: the version is there, its record is not.
    let response = invoke(&publisher, event).await.expect("finished");

    assert_eq!(
        outcome(&response),
        layer_autopublish::OutcomeKind::Published
    );
    let record = scene.text("000001/deployment.json").expect("recorded");
    let record: serde_json::Value = serde_json::from_str(&record).expect("JSON");
    assert_eq!(
        record["compatible_runtimes"],
        serde_json::json!(["python3.12"]),
        "{record}"
    );
    assert_eq!(
        record["compatible_architectures"],
        serde_json::json!(["x86_64"]),
        "{record}"
    );
    assert_eq!(record["license_info"], "MIT", "{record}");
}
