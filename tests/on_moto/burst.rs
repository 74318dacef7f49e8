//! Issue 31: a monorepo's burst, as `make bench-burst` delivers it, with
//! the binary `LAYER_AUTOPUBLISH_BINARY` names (`make burst`: the release
//! build), else this test build's. `bench/burst.py` starts its own moto behind a proxy
//! that answers Lambda's control-plane calls as the account-wide limit does
//! (one bucket of 15 requests a second, 429 with `retryAfterSeconds`), and
//! delivers 100 uploads at once, each naming its own layer, each event its
//! own cold process under a stand-in Runtime API, failures retried on
//! Lambda's schedule. Before issue 31, a third of them ended in the
//! failed-events queue.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "100 processes: a stage of make test of its own (make burst)"]
fn a_hundred_layers_uploaded_at_once_each_publish_once_in_their_first_invocation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make tools`",
        python.display()
    );
    let report = std::env::temp_dir().join(format!("burst-{}.json", std::process::id()));
    let output = Command::new(&python)
        .arg(root.join("bench/burst.py"))
        .arg(
            std::env::var("LAYER_AUTOPUBLISH_BINARY")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_layer-autopublish").to_owned()),
        )
        .args(["--layers", "100", "--rps", "15", "--json"])
        .arg(&report)
        .output()
        .expect("bench/burst.py runs");
    let said = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}\n{stderr}");
    let text = std::fs::read_to_string(&report).expect("the report");
    let _ = std::fs::remove_file(&report);
    let results: Value = serde_json::from_str(&text).expect("JSON");
    let burst = &results["100 published, 15/s"];

    // Every upload published in its first invocation, none failed, none to
    // the failed-events queue; each layer has exactly one version.
    assert_eq!(burst["settled_first"], 100, "{said}");
    assert_eq!(burst["failed_invocations"], 0, "{said}");
    assert_eq!(burst["failed_events"], 0, "{said}");
    assert_eq!(
        burst["versions_per_layer"],
        serde_json::json!({"1": 100}),
        "{said}"
    );
    assert_eq!(burst["lease_takes"], 100, "one take per publish: {said}");
    // The rate did bite (else this proves nothing), and each upload's
    // answered control-plane calls are the many-layer floor: 3 to publish.
    assert!(burst["throttled"].as_u64() > Some(100), "{said}");
    assert_eq!(burst["control_calls_per_upload"], 3.0, "{said}");
}
