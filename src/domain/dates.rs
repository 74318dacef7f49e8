//! Dates as Lambda writes them (a version's `CreatedDate`:
//! `2026-11-23T12:00:00.000+0000`), read and written with `time`, for the
//! records the function writes, the in-memory Lambda, and the check that a
//! version came after an upload.

use std::time::SystemTime;
use time::format_description::well_known::Rfc3339;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Lambda's own form: RFC 3339's, but with the offset's basic form
/// (`+0000`), which RFC 3339 and `time`'s ISO 8601 parser both refuse.
const LAMBDA: &[BorrowedFormatItem<'static>] = format_description!(
    version = 2,
    "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
);

/// `time` as Lambda writes dates, to the second: `2026-11-23T12:00:00.000+0000`.
pub fn format(time: SystemTime) -> String {
    let whole_seconds = OffsetDateTime::from(time)
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    const WRITTEN: &[BorrowedFormatItem<'static>] = format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
    );
    whole_seconds.format(WRITTEN).unwrap_or_default()
}

/// A date as Lambda writes it (`2026-11-23T12:00:00.000+0000`), or as
/// RFC 3339 does (`Z`, `+01:00`: emulators); `None` for anything else.
pub fn parse(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, LAMBDA)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates_are_written_as_lambda_writes_them() {
        let at = |secs| format(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(at(1_795_435_200), "2026-11-23T12:00:00.000+0000");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000+0000");
        let fraction = UNIX_EPOCH + Duration::from_millis(1_795_435_200_750);
        assert_eq!(
            format(fraction),
            "2026-11-23T12:00:00.000+0000",
            "to the second"
        );
    }

    #[test]
    fn dates_are_read_as_lambda_and_emulators_write_them() {
        let at = |secs, millis| UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis);
        for (text, secs, millis) in [
            ("2026-11-23T12:00:00.000+0000", 1_795_435_200, 0),
            ("2026-11-23T12:00:00.250Z", 1_795_435_200, 250),
            ("2026-11-23T13:00:00+01:00", 1_795_435_200, 0),
            ("2026-11-23T13:00:00+0100", 1_795_435_200, 0),
            ("2000-02-29T00:00:00.5+0000", 951_782_400, 500),
        ] {
            assert_eq!(parse(text), Some(at(secs, millis)), "{text}");
        }
        for secs in [0, 951_782_400, 1_795_435_200, 4_102_444_799] {
            let written = format(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(parse(&written), Some(at(secs, 0)), "{written}");
        }
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-11-23Tab:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
