//! Dates as Lambda writes them (`CreatedDate`), for the records the
//! function writes and the in-memory Lambda: days from the civil calendar,
//! so no date crate is needed for one format.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as Lambda writes dates, to the second: `2026-11-23T12:00:00.000+0000`.
pub fn format(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+0000",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Howard Hinnant's days-to-date algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_written_as_lambda_writes_them() {
        let at = |secs| format(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00.000+0000");
        assert_eq!(at(1_795_435_200), "2026-11-23T12:00:00.000+0000");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000+0000");
    }
}
