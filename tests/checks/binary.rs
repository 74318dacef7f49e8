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
