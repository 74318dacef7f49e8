//! What makes an object named `layer.zip` publishable: a zip archive, within
//! Lambda's size limit. Checked before `PublishLayerVersion` so that a wrong
//! upload gets our own error, naming the object, instead of Lambda's.

/// Lambda's limit on a function's unzipped code with its layers (250 MB).
/// What a zip unzips to is never smaller than the zip (but for its headers),
/// so a larger zip can never fit; a smaller one that unzips to more is
/// refused by Lambda itself, with its own message. (The 50 MB limit is for
/// zips sent in the request, not for those published from S3.)
pub const MAX_ZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// The smallest zip archive: one end-of-central-directory record.
const MIN_ZIP_BYTES: u64 = 22;

/// The signature every zip archive with at least one entry starts with.
pub const LOCAL_FILE_HEADER: [u8; 4] = *b"PK\x03\x04";

/// Why an object cannot be a layer zip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZipProblem {
    TooLarge { size: u64 },
    NotAZip { why: String },
}

/// The size check, from a HEAD alone.
pub fn check_size(size: u64) -> Result<(), ZipProblem> {
    if size > MAX_ZIPPED_BYTES {
        return Err(ZipProblem::TooLarge { size });
    }
    if size < MIN_ZIP_BYTES {
        return Err(ZipProblem::NotAZip {
            why: format!("it is {size} bytes long, shorter than any zip archive"),
        });
    }
    Ok(())
}

/// The content check, from the object's first bytes.
pub fn check_start(first_bytes: &[u8]) -> Result<(), ZipProblem> {
    if first_bytes.starts_with(&LOCAL_FILE_HEADER) {
        return Ok(());
    }
    let why = if first_bytes.starts_with(b"PK\x05\x06") {
        "it is an empty zip archive".to_owned()
    } else {
        format!(
            "it starts with bytes {}, not a zip archive's {}",
            hex::encode(first_bytes),
            hex::encode(LOCAL_FILE_HEADER)
        )
    };
    Err(ZipProblem::NotAZip { why })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_lambda_cannot_take_are_refused() {
        assert_eq!(check_size(1024), Ok(()));
        assert_eq!(check_size(MAX_ZIPPED_BYTES), Ok(()));
        assert_eq!(
            check_size(MAX_ZIPPED_BYTES + 1),
            Err(ZipProblem::TooLarge {
                size: MAX_ZIPPED_BYTES + 1
            })
        );
        assert!(matches!(check_size(0), Err(ZipProblem::NotAZip { .. })));
        assert!(matches!(check_size(21), Err(ZipProblem::NotAZip { .. })));
    }

    #[test]
    fn only_a_zip_with_entries_passes() {
        assert_eq!(check_start(b"PK\x03\x04\x14\x00"), Ok(()));
        let not = |bytes: &[u8]| match check_start(bytes) {
            Err(ZipProblem::NotAZip { why }) => why,
            other => panic!("{bytes:?} gave {other:?}"),
        };
        assert_eq!(
            not(b"{\"a\""),
            "it starts with bytes 7b226122, not a zip archive's 504b0304"
        );
        assert_eq!(not(b"PK\x05\x06"), "it is an empty zip archive");
        assert!(not(b"").contains("starts with bytes ,"));
    }
}
