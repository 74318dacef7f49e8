//! The S3 SDK's CRC checksums, computed by the crc-fast stand-in of
//! `patches/crc-fast`, agree with the AWS Common Runtime's (awscrt, the C
//! library behind the AWS CLI's and boto3's CRT transfers; in the project's
//! `.venv`): the SDK signs uploads and checks S3's answers with these, so a
//! wrong one would fail real calls.

use aws_smithy_checksums::ChecksumAlgorithm;
use std::path::Path;
use std::process::Command;

/// awscrt's CRC32, CRC32C and CRC64NVME of the file, in hex.
fn awscrt_checksums(file: &Path) -> [String; 3] {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = r#"
import sys
from awscrt import checksums
data = open(sys.argv[1], "rb").read()
print(f"{checksums.crc32(data):08x} {checksums.crc32c(data):08x} {checksums.crc64nvme(data):016x}")
"#;
    let output = Command::new(python)
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("the project's python runs (make tools)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout).expect("UTF-8");
    let values: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    values.try_into().expect("three checksums")
}

fn sdk_checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut checksum = algorithm.into_impl();
    // In uneven pieces, as a streamed body arrives.
    for piece in data.chunks(4099) {
        checksum.update(piece);
    }
    checksum
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn the_sdk_crc_checksums_agree_with_the_aws_common_runtime() {
    let dir = std::env::temp_dir().join(format!("checksums-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Prefixes of the project's lock file, and the file over and over
    // (past 1 MiB): every way a length can end against 8-byte steps.
    let lock = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
        .expect("Cargo.lock");
    let long = lock.repeat((1 << 20) / lock.len() + 1);
    for (case, len) in [0, 1, 7, 8, 9, 63, 4099, long.len()]
        .into_iter()
        .enumerate()
    {
        let data = &long[..len];
        let file = dir.join(format!("{case}.bin"));
        std::fs::write(&file, data).expect("write");
        let [crc32, crc32c, crc64nvme] = awscrt_checksums(&file);
        assert_eq!(
            sdk_checksum(ChecksumAlgorithm::Crc32, data),
            crc32,
            "CRC32 of {len} bytes"
        );
        assert_eq!(
            sdk_checksum(ChecksumAlgorithm::Crc32c, data),
            crc32c,
            "CRC32C of {len} bytes"
        );
        assert_eq!(
            sdk_checksum(ChecksumAlgorithm::Crc64Nvme, data),
            crc64nvme,
            "CRC64NVME of {len} bytes"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
