//! How numbers and times are written in the progress lines, the tables
//! and the file names.

use super::Object;
use serde_json::Value;
use std::time::SystemTime;

/// Mebibytes, one decimal.
pub(super) fn fmt_mib(bytes: Option<f64>) -> String {
    bytes.map_or("-".to_owned(), |b| format!("{:.1}", b / 1048576.0))
}

/// `files_per_level` as `4/1/1`, trailing empty levels left out.
pub(super) fn fmt_levels(obj: &Object) -> String {
    fmt_levels_of(obj, "files_per_level")
}

/// The files per level under `key` as `4/1/1`, trailing empty levels left
/// out.
pub(super) fn fmt_levels_of(obj: &Object, key: &str) -> String {
    let Some(levels) = obj.get(key).and_then(Value::as_array) else {
        return "-".to_owned();
    };
    let mut n: Vec<u64> = levels.iter().filter_map(Value::as_u64).collect();
    while n.len() > 1 && n.last() == Some(&0) {
        n.pop();
    }
    n.iter().map(u64::to_string).collect::<Vec<_>>().join("/")
}

/// Ops per second: whole and grouped by thousands from 100 up, else
/// one decimal.
pub(super) fn fmt_ops(v: Option<f64>) -> String {
    match v {
        Some(x) if x >= 100.0 => group_thousands(x.round() as u64),
        Some(x) => format!("{x:.1}"),
        None => "-".to_owned(),
    }
}

/// `n` with a comma between groups of three digits.
fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds, shown in the unit that keeps them short.
pub(super) fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(us) if us >= 10_000.0 => format!("{:.0} ms", us / 1e3),
        Some(us) if us >= 1_000.0 => format!("{:.1} ms", us / 1e3),
        Some(us) if us >= 100.0 => format!("{us:.0} us"),
        Some(us) => format!("{us:.1} us"),
    }
}

/// Seconds as `m:ss`.
pub(super) fn mmss(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub(super) fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_and_numbers() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(utc_stamp(t), "20231114-221320");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(fmt_us(Some(12_345.0)), "12 ms");
        assert_eq!(mmss(125.0), "2:05");
    }
}
