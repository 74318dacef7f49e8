//! The real `layer-autopublish` binary, as Lambda starts it.

use std::process::Command;

#[test]
fn bad_configuration_stops_the_function_at_start_up_naming_the_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_layer-autopublish"))
        .env("COMPATIBLE_ARCHITECTURES", "x86_64,aarch64")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .expect("the binary runs");

    assert!(
        !output.status.success(),
        "must not start with a bad configuration"
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("COMPATIBLE_ARCHITECTURES"), "{printed}");
    assert!(
        printed.contains("\"aarch64\" is not one of x86_64, arm64"),
        "{printed}"
    );
}

/// The shipped binary unwinds a panic, as the handler's catch needs (a
/// record that panics fails with InternalError and the event's other
/// records go on: tests/scenarios/panics.rs, in the test profile). cargo
/// lambda builds it, and left to itself adds `panic = "abort"` to a release
/// profile that does not name a strategy: the release profile names
/// `unwind`, and cargo lambda's own release settings are off.
#[test]
fn the_release_build_unwinds_a_panic() {
    let manifest = include_str!("../../Cargo.toml");
    let section = |name: &str| -> Vec<&str> {
        manifest
            .split("\n[")
            .find(|s| s.starts_with(name))
            .map(|s| s.lines().map(str::trim).collect())
            .unwrap_or_default()
    };
    assert!(
        section("profile.release]").contains(&"panic = \"unwind\""),
        "[profile.release] says panic = \"unwind\""
    );
    assert!(
        section("package.metadata.lambda.build]").contains(&"disable_optimizations = true"),
        "cargo lambda adds none of its release settings"
    );
}
