//! Civil-date arithmetic (proleptic Gregorian) and IMAP date formats.

/// Three-letter month names as used by IMAP `date-month`.
pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar date as used by SEARCH (`d-Mon-yyyy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    /// 1..=12
    pub month: u8,
    /// 1..=31 (validated against the month)
    pub day: u8,
}

impl Date {
    /// Days since 1970-01-01.
    pub fn days_since_epoch(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        )
    }

    /// Unix time of 00:00:00 on this date in the given offset
    /// (RFC 3501 searches compare dates "disregarding time and timezone";
    /// the session chooses the zone).
    pub fn unix_midnight(&self, offset_minutes: i32) -> i64 {
        self.days_since_epoch() * 86_400 - i64::from(offset_minutes) * 60
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = MONTHS
            .get(usize::from(self.month).wrapping_sub(1))
            .copied()
            .unwrap_or("???");
        write!(f, "{}-{}-{:04}", self.day, m, self.year)
    }
}

/// An APPEND `date-time`: an instant plus the zone it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix: i64,
    /// Zone offset east of UTC in minutes (`-0700` → -420).
    pub offset_minutes: i32,
}

pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the given civil date (month 1..=12).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Shift the year so it starts in March; then Feb 29 is the last day.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // 0..=399
    let mp = (i64::from(m) + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // 0..=365
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Format an INTERNALDATE: `"17-Jul-1996 02:44:25 -0700"` (without the
/// surrounding quotes). The day is zero-padded (`date-day-fixed` allows
/// `2DIGIT`). `offset_minutes` is clamped to ±99:59.
pub fn format_internal_date(unix: i64, offset_minutes: i32) -> String {
    let off = offset_minutes.clamp(-5999, 5999);
    let local = unix.saturating_add(i64::from(off) * 60);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        sign,
        a / 60,
        a % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for d in (-800_000..800_000).step_by(37) {
            let (y, m, dd) = civil_from_days(d);
            assert!(dd >= 1 && dd <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn internal_date() {
        // 1996-07-17 09:44:25 UTC
        assert_eq!(
            format_internal_date(837_596_665, -420),
            "17-Jul-1996 02:44:25 -0700"
        );
        assert_eq!(format_internal_date(0, 0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(format_internal_date(-1, 330), "01-Jan-1970 05:29:59 +0530");
        assert_eq!(
            format_internal_date(1_604_570_400, 0),
            "05-Nov-2020 10:00:00 +0000"
        );
        // extremes never panic
        let _ = format_internal_date(i64::MAX, i32::MAX);
        let _ = format_internal_date(i64::MIN, i32::MIN);
    }
}
