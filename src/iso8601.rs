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

/// A date as Lambda writes it (`2026-11-23T12:00:00.000+0000`; also with
/// `Z` or `+00:00`, and without the fraction); `None` for anything else.
pub fn parse(text: &str) -> Option<SystemTime> {
    let (date, rest) = text.split_once('T')?;
    let (year, month, day) = three_numbers(date, '-')?;
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let (hour, minute, second) = three_numbers(hms, ':')?;
    let offset = match zone {
        "" | "Z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
            let (h, m) = digits.split_at(digits.len().min(2));
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().unwrap_or(0) * 60)
        }
    };
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..61).contains(&second)
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let millis: u64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let whole =
        UNIX_EPOCH.checked_add(std::time::Duration::from_secs(u64::try_from(seconds).ok()?))?;
    whole.checked_add(std::time::Duration::from_millis(millis))
}

/// `a{separator}b{separator}c` as three numbers.
fn three_numbers(text: &str, separator: char) -> Option<(i64, i64, i64)> {
    let mut numbers = text.splitn(3, separator).map(|n| n.parse::<i64>().ok());
    Some((numbers.next()??, numbers.next()??, numbers.next()??))
}

/// Howard Hinnant's date-to-days algorithm.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn dates_are_read_as_lambda_and_emulators_write_them() {
        let at = |secs, millis| UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis);
        for (text, secs, millis) in [
            ("2026-11-23T12:00:00.000+0000", 1_795_435_200, 0),
            ("2026-11-23T12:00:00.250Z", 1_795_435_200, 250),
            ("2026-11-23T13:00:00+01:00", 1_795_435_200, 0),
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
