//! Real layers (issue 32): zips made from real wheels, pinned by hash, by
//! `tests/layers/build.py`, each refused or published as the checks before
//! a publish say, by the function (uploaded as the seed uploads: the zip
//! with `manifest-md5` alone, or with the settings' metadata) and by
//! `layerctl upload`; no good layer refused.

use super::layerctl::{assert_exit, layerctl_via, upload_args};
use super::support::*;
use crate::common::World;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The layers, built once per test run (the wheels are kept between runs).
fn layers() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-layers");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/layers/build.py");
        venv_python(&[script.to_str().unwrap(), out.to_str().unwrap()], "");
        out
    })
}

fn layer(name: &str) -> PathBuf {
    layers().join(format!("{name}.zip"))
}

/// What the function answers: `Ok((runtimes, architectures))` declared by a
/// published version, or the `errorType`.
type Answer = Result<(Vec<String>, Vec<String>), String>;

/// A layer, the metadata it is uploaded with, and what the function answers.
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Answer,
);

async fn published_by_the_function(
    w: &World, case: usize, name: &str, metadata: &[(&str, &str)],
) -> Answer {
    let dir = format!("{DIR}/case-{case}");
    let layer_name = format!("{}-{case}", w.layer);
    w.put(&format!("{dir}/requirements.txt"), LOCK_V1.as_bytes(), &[])
        .await;
    let md5 = crate::common::md5_hex(LOCK_V1.as_bytes());
    let mut all = vec![
        ("manifest-md5", md5.as_str()),
        ("layer-name", layer_name.as_str()),
    ];
    all.extend_from_slice(metadata);
    let key = format!("{dir}/layer.zip");
    let bytes = std::fs::read(layer(name)).expect("the layer");
    let (etag, version_id) = w.put(&key, &bytes, &all).await;
    let mut event = w.event(&key, Some(&etag));
    if let Some(version_id) = version_id {
        event["Records"][0]["s3"]["object"]["versionId"] = version_id.into();
    }
    match w.invoke(event).await {
        Ok(response) => {
            let result = &response.results[0];
            assert_eq!(
                result.outcome,
                layer_autopublish::OutcomeKind::Published,
                "{name}"
            );
            assert_eq!(w.versions_of(&layer_name).await.len(), 1, "{name}");
            Ok((
                result.declared.runtimes.clone(),
                result.declared.architectures.clone(),
            ))
        }
        Err(error) => {
            assert!(
                w.versions_of(&layer_name).await.is_empty(),
                "{name}: {error:?}"
            );
            Err(error.error_type)
        }
    }
}

fn declared(runtimes: &[&str], architectures: &[&str]) -> Answer {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    Ok((owned(runtimes), owned(architectures)))
}

fn refused(error_type: &str) -> Answer {
    Err(error_type.to_owned())
}

#[tokio::test]
async fn the_function_publishes_every_good_real_layer_and_refuses_the_rest() {
    let w = world("real layers").await;
    const ARM64: &[(&str, &str)] = &[("compatible-architectures", "arm64")];
    let cases: Vec<Case> = vec![
        ("pure", &[], declared(&[], &[])),
        ("cp312-x86_64", &[], declared(&["python3.12"], &["x86_64"])),
        ("cp312-aarch64", &[], declared(&["python3.12"], &["arm64"])),
        (
            "cp312-aarch64",
            &[("compatible-architectures", "x86_64")],
            refused("LayerIncompatible"),
        ),
        (
            "cp312-x86_64",
            &[("compatible-runtimes", "python3.13")],
            refused("LayerIncompatible"),
        ),
        // abi3 names no processor: only layerctl, reading the ELF header, can tell.
        ("abi3", ARM64, declared(&[], &["arm64"])),
        ("abi3", &[], declared(&[], &[])),
        (
            "manylinux_2_28",
            &[("compatible-runtimes", "python3.12")],
            declared(&["python3.12"], &[]),
        ),
        (
            "auditwheel-libs",
            &[],
            declared(&["python3.12"], &["x86_64"]),
        ),
        ("macos", &[], refused("LayerIncompatible")),
        ("site-packages-at-root", &[], refused("LayerLayoutWrong")),
        (
            "over-the-unzipped-limit",
            &[],
            refused("LayerTooLargeUnzipped"),
        ),
        (
            "macos",
            &[("skip-layer-checks", "true")],
            declared(&[], &[]),
        ),
    ];
    for (case, (name, metadata, expected)) in cases.into_iter().enumerate() {
        let answer = published_by_the_function(&w, case, name, metadata).await;
        assert_eq!(answer, expected, "case {case}: {name} with {metadata:?}");
    }
    // `layerctl status` shows what the version declares, as Lambda keeps it.
    let s3_dir = format!("s3://{}/{DIR}/case-1", w.bucket);
    let layer_name = format!("{}-1", w.layer);
    let args = [
        "--json",
        "status",
        "--s3-dir",
        &s3_dir,
        "--layer-name",
        &layer_name,
    ];
    let output = layerctl_via(&w, crate::common::moto_endpoint(), &args);
    assert_exit(&output, 0);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let version = &status["versions"][0];
    assert_eq!(
        version["compatible_runtimes"],
        serde_json::json!(["python3.12"]),
        "{status}"
    );
    assert_eq!(
        version["compatible_architectures"],
        serde_json::json!(["x86_64"]),
        "{status}"
    );
}

#[tokio::test]
async fn layerctl_refuses_what_would_break_before_uploading_and_uploads_the_rest() {
    let w = world("real layers by layerctl").await;
    let scratch = std::env::temp_dir().join(format!("real-layers-{}", w.layer));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let lock = scratch.join("requirements.txt");
    std::fs::write(&lock, LOCK_V1).expect("lock file");
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("pure", &[], 0, ""),
        ("cp312-x86_64", &["--runtime", "python3.12"], 0, ""),
        ("cp312-aarch64", &["--architecture", "arm64"], 0, ""),
        ("auditwheel-libs", &["--architecture", "x86_64"], 0, ""),
        ("manylinux_2_28", &["--runtime", "python3.12"], 0, ""),
        // What names do not tell: the ELF header, the wheel's glibc.
        (
            "abi3",
            &["--architecture", "arm64"],
            3,
            "built for x86_64, which arm64 cannot load",
        ),
        (
            "manylinux_2_28",
            &["--runtime", "python3.11"],
            3,
            "needs glibc 2.28",
        ),
        ("macos", &[], 3, "LayerIncompatible"),
        ("site-packages-at-root", &[], 3, "LayerLayoutWrong"),
        ("over-the-unzipped-limit", &[], 3, "LayerTooLargeUnzipped"),
        (
            "pure",
            &["--runtime", "python312"],
            3,
            "did you mean python3.12?",
        ),
        ("macos", &["--skip-layer-checks"], 0, ""),
    ];
    for (case, (name, flags, code, said)) in cases.iter().enumerate() {
        let s3_dir = format!("s3://{}/{DIR}/layerctl-{case}", w.bucket);
        let zip = layer(name);
        let output = layerctl_via(
            &w,
            crate::common::moto_endpoint(),
            &upload_args(&zip, &lock, &s3_dir, flags),
        );
        assert_exit(&output, *code);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "case {case}: {name}: {stderr}");
        let uploaded = w
            .get(&format!("{DIR}/layerctl-{case}/layer.zip"))
            .await
            .is_some();
        assert_eq!(
            uploaded,
            *code == 0,
            "case {case}: {name}: uploaded only when good"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
