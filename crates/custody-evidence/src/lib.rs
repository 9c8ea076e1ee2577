//! The evidence layer: what a collection station keeps about every file.
//!
//! - [`keys`]: the station's ed25519 key pair, created only by `custody key init`.
//! - [`canonical`]: RFC 8785 (JCS) canonical JSON, the bytes that are signed.
//! - [`manifest`]: one signed JSON document per registered file.
//! - [`log`]: the append-only, hash-chained, signed custody log.
//! - [`keyring`]: the store's published public keys and whom to trust.
//! - [`store`]: the store format (docs/FORMAT.md); [`verify`]: checking it.
//! - [`ingest`]: verified collection; [`recover`]: finishing what an
//!   interrupted collection left.
//! - [`derive`](mod@derive): registering a derivative (an archival or access copy) with
//!   signed provenance naming its registered sources.
//!
//! No system libraries are needed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod canonical;
pub mod catalog;
pub mod derive;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod finding;
pub mod format;
pub mod ingest;
pub mod keyring;
pub mod keys;
pub mod log;
pub mod manifest;
pub mod names;
pub mod osname;
pub mod recover;
pub mod report;
pub mod schema;
mod source;
pub mod store;
pub mod verify;

/// The meaningful lines of a station's configuration file (patterns, trusted
/// keys, device offsets), with their 1-based numbers: trimmed, without blank
/// lines and `#` comments.
pub(crate) fn config_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// The current time as RFC 3339 UTC with seconds.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    custody_container::time::rfc3339_utc(secs)
}

/// Parses `YYYY-MM-DDThh:mm:ssZ` into Unix seconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    // Days from civil (Howard Hinnant).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Parses a UTC offset `+HH:MM` / `-HH:MM` (up to 14 hours) into seconds.
///
/// ```
/// assert_eq!(custody_evidence::parse_offset("+08:00"), Some(28_800));
/// assert_eq!(custody_evidence::parse_offset("-03:30"), Some(-12_600));
/// assert_eq!(custody_evidence::parse_offset("8"), None);
/// ```
pub fn parse_offset(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let h: i64 = s.get(1..3)?.parse().ok()?;
    let m: i64 = s.get(4..6)?.parse().ok()?;
    (s.get(1..3)?.bytes().all(|c| c.is_ascii_digit())
        && s.get(4..6)?.bytes().all(|c| c.is_ascii_digit())
        && m < 60
        && h * 60 + m <= 14 * 60)
        .then_some(sign * (h * 3600 + m * 60))
}

/// Formats an offset in seconds as `+HH:MM`.
pub fn format_offset(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// `start` plus `seconds`, as RFC 3339 UTC.
pub fn end_time(start: &str, seconds: f64) -> Option<String> {
    let s = parse_utc(start)?;
    Some(custody_container::time::rfc3339_utc(
        s + seconds.round() as i64,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_round_trip() {
        for t in [0i64, 951_782_400, 1_796_000_000, 1_000_000_007] {
            assert_eq!(
                super::parse_utc(&custody_container::time::rfc3339_utc(t)),
                Some(t)
            );
        }
    }
}
