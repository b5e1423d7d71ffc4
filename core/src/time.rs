//! Time as the queue keeps it: whole Unix seconds (UTC), shown to PHP as
//! `Y-m-d H:i:s` strings.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix seconds to `Y-m-d H:i:s` (UTC), the format PrestaShop uses for dates.
pub fn format_datetime(ts: i64) -> String {
    let mut buf = [0u8; 19];
    match datetime_bytes(ts, &mut buf) {
        Some(text) => String::from_utf8_lossy(text).into_owned(),
        None => {
            let secs = ts.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                secs / 3600,
                (secs % 3600) / 60,
                secs % 60
            )
        }
    }
}

/// [`format_datetime`] into a buffer, without the formatting machinery (it
/// runs three times per row handed to PHP). `None` for a year outside
/// 0..=9999 (use [`format_datetime`]).
pub fn datetime_bytes(ts: i64, buf: &mut [u8; 19]) -> Option<&[u8]> {
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let two = |out: &mut [u8], v: u32| {
        out[0] = b'0' + (v / 10) as u8;
        out[1] = b'0' + (v % 10) as u8;
    };
    let y = y as u32;
    two(&mut buf[0..2], y / 100);
    two(&mut buf[2..4], y % 100);
    buf[4] = b'-';
    two(&mut buf[5..7], m);
    buf[7] = b'-';
    two(&mut buf[8..10], d);
    buf[10] = b' ';
    two(&mut buf[11..13], (secs / 3600) as u32);
    buf[13] = b':';
    two(&mut buf[14..16], ((secs % 3600) / 60) as u32);
    buf[16] = b':';
    two(&mut buf[17..19], (secs % 60) as u32);
    Some(&buf[..])
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_datetime(1_795_986_645), "2026-11-29 21:10:45");
        assert_eq!(format_datetime(-1), "1969-12-31 23:59:59");
        assert_eq!(format_datetime(253_402_300_799), "9999-12-31 23:59:59");
        assert_eq!(format_datetime(253_402_300_800), "10000-01-01 00:00:00");
    }
}
