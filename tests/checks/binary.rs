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

/// The body of `manifest`'s TOML section `[name]` (empty when it has none).
fn section<'a>(manifest: &'a str, name: &str) -> &'a str {
    let header = format!("{name}]");
    manifest
        .split("\n[")
        .find(|s| s.starts_with(&header))
        .map_or("", |s| &s[header.len()..])
}

/// The lines of a TOML text that are settings: trimmed, no comments.
fn settings(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
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
    assert!(
        settings(section(manifest, "profile.release")).contains(&"panic = \"unwind\""),
        "[profile.release] says panic = \"unwind\""
    );
    assert!(
        settings(section(manifest, "package.metadata.lambda.build"))
            .contains(&"disable_optimizations = true"),
        "cargo lambda adds none of its release settings"
    );
}

/// The function builds as `sam build` builds it on any host, for either
/// processor: cargo lambda's own compiler (zig) and the target SAM asks for.
/// A target named in Cargo.toml makes cargo lambda refuse SAM's `--arm64`;
/// another compiler, or a linker or C compiler named in .cargo/config.toml,
/// ties the build to a host that has it (a Debian gcc, a cross gcc).
#[test]
fn the_function_builds_with_what_cargo_lambda_brings() {
    let manifest = include_str!("../../Cargo.toml");
    let lambda = settings(section(manifest, "package.metadata.lambda.build"));
    for key in ["target", "compiler"] {
        assert!(
            !lambda.iter().any(|line| line.starts_with(key)),
            "[package.metadata.lambda.build] names no {key}: {lambda:?}"
        );
    }
    let config = settings(include_str!("../../.cargo/config.toml"));
    for line in &config {
        assert!(
            !line.starts_with("linker") && !line.starts_with("CC_") && !line.starts_with("[env]"),
            ".cargo/config.toml names no linker or C compiler: {line}"
        );
    }
}

/// `scripts/check-binary.sh` reads readelf's whole report before looking
/// in it. Piped into `grep -q`, which stops at its first match, a long
/// report ended in SIGPIPE, which `pipefail` read as "not found": a cold CI
/// run failed so on a good binary. A readelf that says what a static-pie's
/// says, then a long tail, must pass.
#[test]
fn the_binary_check_reads_readelfs_whole_report() {
    use std::os::unix::fs::PermissionsExt;
    let bin = std::env::temp_dir().join(format!("readelf-stub-{}", std::process::id()));
    std::fs::create_dir_all(&bin).expect("a folder");
    let readelf = bin.join("readelf");
    // What matters first, then 200,000 lines, far more than a pipe holds.
    let stub = "#!/usr/bin/env bash\n\
        case \"$1\" in\n\
          -h) echo '  Type: DYN (Position-Independent Executable file)' ;;\n\
          -d) echo ' 0x000000006ffffffb (FLAGS_1) Flags: PIE' ;;\n\
        esac\n\
        seq 200000\n";
    std::fs::write(&readelf, stub).expect("the stub");
    std::fs::set_permissions(&readelf, std::fs::Permissions::from_mode(0o755)).expect("mode");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-binary.sh");

    let output = Command::new("bash")
        .args([script, "static", "/bin/true"])
        .env("PATH", path)
        .output()
        .expect("the script runs");

    let _ = std::fs::remove_dir_all(&bin);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(String::from_utf8_lossy(&output.stdout).ends_with("/bin/true: static-pie\n"));
}
