//! Wall-clock time as RFC 3339 text (`2026-11-24T13:05:09Z`), for the chat
//! log and the activity log.
//!
//! The standard library gives seconds since the Unix epoch but no calendar,
//! so we convert days to a date ourselves with Howard Hinnant's
//! `civil_from_days` algorithm: a few lines of integer arithmetic, exact for
//! every date in the proleptic Gregorian calendar.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in UTC, to the second.
pub fn now_rfc3339() -> String {
    rfc3339(unix_secs())
}

/// Seconds since the Unix epoch, now.
pub fn unix_secs() -> u64 {
    // A clock set before 1970 is a broken clock; call it the epoch rather
    // than fail to log.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A span of time for people: `3d 4h 05m 06s`, leading zero units left
/// out (`42s`, `5m 00s`).
pub fn span(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m {s:02}s"),
        _ => format!("{d}d {h}h {m:02}m {s:02}s"),
    }
}

/// A moment for people, to the minute: `14:05 UTC` if it is less than a
/// day after `now`, else `2026-11-24 14:05 UTC`. (UTC because std cannot
/// read the machine's time zone; a production server would use the local
/// zone, through a date library.)
pub fn minute_utc(unix_secs: u64, now: u64) -> String {
    let stamp = rfc3339(unix_secs); // 2026-11-24T14:05:09Z
    match unix_secs.saturating_sub(now) < 86_400 {
        true => format!("{} UTC", &stamp[11..16]),
        false => format!("{} {} UTC", &stamp[..10], &stamp[11..16]),
    }
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day).
/// See <https://howardhinnant.github.io/date_algorithms.html#civil_from_days>.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year, from March 1st
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_leave_out_leading_zero_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(42), "42s");
        assert_eq!(span(300), "5m 00s");
        assert_eq!(span(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3d 4h 05m 06s");
        assert_eq!(span(3600 + 1), "1h 00m 01s");
    }

    #[test]
    fn a_minute_today_is_the_time_and_later_ones_have_the_date() {
        let now = 1_795_525_509; // 2026-11-24T13:05:09Z
        assert_eq!(minute_utc(now + 3600, now), "14:05 UTC");
        assert_eq!(minute_utc(now + 86_399, now), "13:05 UTC");
        assert_eq!(minute_utc(now + 86_400, now), "2026-11-25 13:05 UTC");
        // A moment already past (a clock set back) still reads well.
        assert_eq!(minute_utc(now - 60, now), "13:04 UTC");
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(1_795_525_509), "2026-11-24T13:05:09Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn now_looks_like_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.ends_with('Z'));
        assert_eq!(&now[10..11], "T");
    }
}
