//! Strict timestamp parsing and formatting, without a date library.

use crate::{TimestampFormat, VerifyError};

/// Milliseconds since the Unix epoch, parsed from `text` in `format`.
///
/// Only the exact syntax is accepted: no sign, no spaces, no exponent. So
/// an accepted timestamp is visible ASCII (the verifier relies on it).
pub(crate) fn parse(text: &[u8], format: TimestampFormat) -> Result<i128, VerifyError> {
    match format {
        TimestampFormat::UnixSeconds => Ok(digits(text)? * 1000),
        TimestampFormat::UnixMillis => digits(text),
        TimestampFormat::Rfc3339 => rfc3339(text).ok_or(VerifyError::MalformedTimestamp),
    }
}

/// A non-empty run of at most 19 ASCII digits (anything longer is outside
/// any sane window and would overflow an `i64`), without leading zeros: a
/// zero in front would be a second spelling of the same instant, which a
/// signed part running into the timestamp could hand it.
fn digits(bytes: &[u8]) -> Result<i128, VerifyError> {
    if bytes.is_empty() || bytes.len() > 19 || (bytes.len() > 1 && bytes[0] == b'0') {
        return Err(VerifyError::MalformedTimestamp);
    }
    // One pass: each byte is read as a digit, and a byte that is none is
    // noted, not branched on. 19 digits fit a u64: no 128-bit multiplications.
    let mut not_digit = false;
    let value = bytes.iter().fold(0u64, |acc, &b| {
        let digit = b.wrapping_sub(b'0');
        not_digit |= digit > 9;
        acc.wrapping_mul(10).wrapping_add(u64::from(digit))
    });
    if not_digit {
        return Err(VerifyError::MalformedTimestamp);
    }
    Ok(i128::from(value))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `t`/`z` in either case.
fn rfc3339(s: &[u8]) -> Option<i128> {
    let num = |range: std::ops::Range<usize>| -> Option<i128> {
        let part = s.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i128, |acc, &b| acc * 10 + i128::from(b - b'0'))
        })
    };
    let at = |i: usize, expected: &[u8]| s.get(i).is_some_and(|b| expected.contains(b));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Keep milliseconds; finer digits are read and dropped.
        let ms_digits = &s[start..i.min(start + 3)];
        millis = ms_digits
            .iter()
            .fold(0i128, |acc, &b| acc * 10 + i128::from(b - b'0'))
            * 10i128.pow(3 - ms_digits.len() as u32);
    }
    let offset_minutes = match s.get(i) {
        Some(b'Z' | b'z') if s.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if s.len() == i + 6 && at(i + 3, b":") => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let minutes = oh * 60 + om;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    // A leap second (:60) is read as the last second of its minute.
    let second = second.min(59);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

fn is_leap(year: i128) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i128, month: i128) -> i128 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil` algorithm).
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Writes `millis` since the epoch in `format`; `None` when the text would
/// not [`parse`] back: a Unix time before 1970 or of more than 19 digits,
/// an RFC 3339 date before year 0 or after 9999.
pub(crate) fn format(millis: i128, format: TimestampFormat) -> Option<String> {
    let text = match format {
        TimestampFormat::UnixSeconds => millis.div_euclid(1000).to_string(),
        TimestampFormat::UnixMillis => millis.to_string(),
        TimestampFormat::Rfc3339 => {
            let secs = millis.div_euclid(1000);
            let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (year, month, day) = civil_from_days(days);
            let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
        }
    };
    parse(text.as_bytes(), format).is_ok().then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimestampFormat::*;

    #[test]
    fn unix_seconds_strict() {
        assert_eq!(parse(b"1649367553", UnixSeconds), Ok(1_649_367_553_000));
        assert_eq!(parse(b"0", UnixSeconds), Ok(0));
        for bad in [
            "hello",
            "",
            "1.6e9",
            "123abc",
            " 123",
            "123 ",
            "+123",
            "-1",
            "-9223372036854775808",
            "99999999999999999999",
            "１２３",
            // A leading zero keeps the instant: refused (see `digits`).
            "01649367553",
            "00",
        ] {
            assert_eq!(
                parse(bad.as_bytes(), UnixSeconds),
                Err(VerifyError::MalformedTimestamp),
                "{bad:?}"
            );
            assert_eq!(
                parse(bad.as_bytes(), UnixMillis),
                Err(VerifyError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rfc3339_values() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2018-07-12T18:36:58Z", 1_531_420_618_000),
            ("2018-07-12t18:36:58z", 1_531_420_618_000),
            ("2018-07-12T18:36:58.123456Z", 1_531_420_618_123),
            ("2018-07-12T18:36:58.5Z", 1_531_420_618_500),
            ("2018-07-12T20:36:58+02:00", 1_531_420_618_000),
            ("2018-07-12T16:06:58-02:30", 1_531_420_618_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2016-12-31T23:59:60Z", 1_483_228_799_000),
        ];
        for (text, millis) in cases {
            assert_eq!(parse(text.as_bytes(), Rfc3339), Ok(millis), "{text}");
        }
    }

    #[test]
    fn rfc3339_rejects_near_misses() {
        for bad in [
            "",
            "hello",
            "2018-07-12",
            "2018-07-12T18:36:58",
            "2018-07-12 18:36:58Z",
            "2018-07-12T18:36:58.Z",
            "2018-07-12T18:36:58Z ",
            "2018-13-12T18:36:58Z",
            "2023-02-29T00:00:00Z",
            "2018-07-12T24:00:00Z",
            "2018-07-12T18:36:58+2:00",
            "2018-07-12T18:36:58+02:00:00",
            "+2018-07-12T18:36:58Z",
            "20180712T183658Z",
            "2018-07-12T18:36:58+24:00",
        ] {
            assert_eq!(
                parse(bad.as_bytes(), Rfc3339),
                Err(VerifyError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_visible_ascii_is_accepted() {
        let cases = [
            ("1649367553", UnixSeconds),
            ("1649367553123", UnixMillis),
            ("2018-07-12T18:36:58.123456Z", Rfc3339),
            ("2018-07-12t16:06:58-02:30", Rfc3339),
        ];
        for (text, format) in cases {
            assert!(parse(text.as_bytes(), format).is_ok(), "{text}");
            for at in 0..text.len() {
                for byte in 0..=255u8 {
                    let mut bytes = text.as_bytes().to_vec();
                    bytes[at] = byte;
                    if parse(&bytes, format).is_ok() {
                        assert!(
                            crate::headers::is_visible_ascii(&bytes),
                            "{format:?} {bytes:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn format_round_trips() {
        for millis in [
            0i128,
            1_531_420_618_000,
            1_709_164_800_000,
            253_402_300_799_000,
        ] {
            for fmt in [UnixSeconds, UnixMillis, Rfc3339] {
                let text = format(millis, fmt).unwrap();
                assert_eq!(parse(text.as_bytes(), fmt), Ok(millis), "{text}");
            }
        }
        assert_eq!(format(253_402_300_800_000, Rfc3339), None);
        // What the verifier would not read back is not written: a Unix time
        // before 1970 or past 19 digits, an RFC 3339 year before 0.
        for fmt in [UnixSeconds, UnixMillis] {
            assert_eq!(format(-1, fmt), None, "{fmt:?}");
        }
        assert_eq!(format(10i128.pow(19), UnixMillis), None);
        assert_eq!(
            format(10i128.pow(19) - 1, UnixMillis).as_deref(),
            Some("9999999999999999999")
        );
        assert_eq!(format(-62_167_219_200_001, Rfc3339), None);
        assert_eq!(
            format(-62_167_219_200_000, Rfc3339).as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
        assert_eq!(
            format(1_531_420_618_000, Rfc3339).unwrap(),
            "2018-07-12T18:36:58Z"
        );
    }
}
