//! NMEA 0183 logs (the `.nmea`/`.log` sidecar files GPS receivers and many
//! recorders write beside a recording): `RMC` (time, date, position,
//! speed, status) and `GGA` (time, position, altitude, quality,
//! satellites) from any talker (`GP`, `GN`, `GL`, `GA`, `BD`). Sentences of
//! the same time are one fix. Each sentence's checksum is checked; a bad
//! one, a void fix or a sentence that does not parse is skipped with a
//! warning at its byte offset (an error in strict mode). Lines are read in
//! one pass; memory is the fixes.

use super::{Fix, Source, Telemetry};
use crate::error::{Diag, Limits, Result};

/// Knots in metres per second.
const KNOT: f64 = 1852.0 / 3600.0;

/// Longest sentence kept: NMEA allows 82 bytes; receivers write longer
/// proprietary ones, which are skipped unread past this.
const MAX_LINE: usize = 1024;

/// Parses an NMEA 0183 log.
///
/// ```
/// use custody_container::telemetry::nmea;
/// let log = b"$GPGGA,083000.00,5222.2120,N,00453.7120,E,1,08,0.9,12.5,M,46.9,M,,*5B\n";
/// let t = nmea::parse(log, Default::default()).unwrap();
/// assert_eq!((t.fixes[0].alt, t.fixes[0].quality, t.fixes[0].time_ms), (Some(12.5), Some(1), None));
/// ```
pub fn parse(data: &[u8], limits: Limits) -> Result<Telemetry> {
    let mut diag = Diag::new(limits.strict);
    let mut out = Telemetry::default();
    // The date of the last RMC, for the GGA sentences that follow it.
    let mut date: Option<(i64, i64, i64)> = None;
    // The time of day (ms) of the fix being built.
    let mut current: Option<u64> = None;
    let mut at = 0usize;
    for line in data.split(|&b| b == b'\n') {
        crate::cost::step(1);
        let offset = at as u64;
        at += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let Some(body) = sentence(line) else {
            diag.note(
                offset,
                "nmea",
                "not an NMEA sentence, or its checksum is wrong",
            )?;
            continue;
        };
        let fields: Vec<&str> = body.split(',').collect();
        let kind = fields[0].get(2..).unwrap_or("");
        let read = match kind {
            "RMC" => rmc(&fields, &mut date),
            "GGA" => gga(&fields, date),
            _ => continue,
        };
        let Some((tod, mut fix)) = read else {
            diag.note(
                offset,
                "nmea",
                format!("{kind} sentence without a valid fix"),
            )?;
            continue;
        };
        fix.offset = offset;
        match out.fixes.last_mut() {
            // The same second's other sentence: one fix.
            Some(last) if current == Some(tod) => merge(last, fix),
            _ => out.fixes.push(fix),
        }
        current = Some(tod);
    }
    out.warnings = diag.warnings;
    Ok(out)
}

/// The sentence between `$` and `*` when its checksum holds (a sentence
/// without a checksum is taken as it is).
fn sentence(line: &[u8]) -> Option<&str> {
    let line = line.get(..line.len().min(MAX_LINE))?;
    let start = line.iter().position(|&b| b == b'$' || b == b'!')?;
    let rest = &line[start + 1..];
    let (body, sum) = match rest.iter().position(|&b| b == b'*') {
        Some(star) => (&rest[..star], Some(rest.get(star + 1..star + 3)?)),
        None => (rest, None),
    };
    if let Some(sum) = sum {
        let want = u8::from_str_radix(std::str::from_utf8(sum).ok()?, 16).ok()?;
        if body.iter().fold(0u8, |a, &b| a ^ b) != want {
            return None;
        }
    }
    let body = std::str::from_utf8(body).ok()?;
    body.contains(',').then_some(body)
}

/// Time of day `hhmmss[.sss]` in milliseconds.
fn time_of_day(s: &str) -> Option<u64> {
    let h: u64 = s.get(0..2)?.parse().ok()?;
    let m: u64 = s.get(2..4)?.parse().ok()?;
    let sec: f64 = s.get(4..)?.parse().ok()?;
    if h > 23 || m > 59 || !(0.0..61.0).contains(&sec) {
        return None;
    }
    Some((h * 3600 + m * 60) * 1000 + (sec * 1000.0).round() as u64)
}

/// A coordinate `dddmm.mmmm` and its hemisphere, in signed degrees.
fn coordinate(v: &str, hemi: &str, max: f64) -> Option<f64> {
    let dot = v.find('.').unwrap_or(v.len());
    let deg: f64 = v.get(..dot.checked_sub(2)?)?.parse().ok()?;
    let min: f64 = v.get(dot - 2..)?.parse().ok()?;
    let d = deg + min / 60.0;
    if !(0.0..60.0).contains(&min) || d > max {
        return None;
    }
    match hemi {
        "N" | "E" => Some(d),
        "S" | "W" => Some(-d),
        _ => None,
    }
}

/// Unix milliseconds of a date and a time of day.
fn unix_ms((y, mo, d): (i64, i64, i64), tod: u64) -> Option<i64> {
    let midnight = crate::time::parse_local(&format!("{y:04}-{mo:02}-{d:02}T00:00:00"))?;
    Some(midnight * 1000 + tod as i64)
}

/// An empty fix at a position.
fn at(lat: f64, lon: f64) -> Fix {
    Fix {
        time_ms: None,
        lat,
        lon,
        alt: None,
        speed: None,
        quality: None,
        satellites: None,
        source: Source::Nmea,
        offset: 0,
    }
}

/// `RMC`: time, status, lat, N/S, lon, E/W, speed (knots), course, date.
fn rmc(f: &[&str], date: &mut Option<(i64, i64, i64)>) -> Option<(u64, Fix)> {
    let tod = time_of_day(f.get(1)?)?;
    if let Some(d) = f.get(9).filter(|d| d.len() == 6) {
        let n = |r: std::ops::Range<usize>| d.get(r)?.parse::<i64>().ok();
        *date = Some((2000 + n(4..6)?, n(2..4)?, n(0..2)?));
    }
    if *f.get(2)? != "A" {
        return None;
    }
    let mut fix = at(
        coordinate(f.get(3)?, f.get(4)?, 90.0)?,
        coordinate(f.get(5)?, f.get(6)?, 180.0)?,
    );
    fix.speed = f
        .get(7)
        .and_then(|s| s.parse::<f64>().ok())
        .map(|k| k * KNOT);
    fix.time_ms = date.and_then(|d| unix_ms(d, tod));
    Some((tod, fix))
}

/// `GGA`: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude.
fn gga(f: &[&str], date: Option<(i64, i64, i64)>) -> Option<(u64, Fix)> {
    let tod = time_of_day(f.get(1)?)?;
    let quality: u8 = f.get(6)?.parse().ok()?;
    if quality == 0 {
        return None;
    }
    let mut fix = at(
        coordinate(f.get(2)?, f.get(3)?, 90.0)?,
        coordinate(f.get(4)?, f.get(5)?, 180.0)?,
    );
    fix.quality = Some(quality);
    fix.satellites = f.get(7).and_then(|s| s.parse().ok());
    fix.alt = f.get(9).and_then(|s| s.parse().ok());
    fix.time_ms = date.and_then(|d| unix_ms(d, tod));
    Some((tod, fix))
}

/// Fills what `into` lacks from `other`, a sentence of the same second.
fn merge(into: &mut Fix, other: Fix) {
    into.time_ms = into.time_ms.or(other.time_ms);
    into.alt = into.alt.or(other.alt);
    into.speed = into.speed.or(other.speed);
    into.quality = into.quality.or(other.quality);
    into.satellites = into.satellites.or(other.satellites);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sentence with its checksum.
    fn s(body: &str) -> String {
        let sum = body.bytes().fold(0u8, |a, b| a ^ b);
        format!("${body}*{sum:02X}\r\n")
    }

    #[test]
    fn rmc_and_gga_of_one_second_are_one_fix() {
        let log = [
            s("GPRMC,235959.50,A,3351.9000,S,15112.5580,E,5.0,0.0,311226,,,A"),
            s("GPGGA,235959.50,3351.9000,S,15112.5580,E,2,11,0.8,-3.5,M,20.0,M,,"),
            s("GNRMC,000000.50,A,3351.9100,S,15112.5580,E,5.0,0.0,010127,,,A"),
        ]
        .concat();
        let t = parse(log.as_bytes(), Limits::default()).unwrap();
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        assert_eq!(t.fixes.len(), 2);
        let f = t.fixes[0];
        assert!((f.lat + 33.865).abs() < 1e-9 && (f.lon - 151.2093).abs() < 1e-9);
        assert_eq!(
            (f.alt, f.quality, f.satellites),
            (Some(-3.5), Some(2), Some(11))
        );
        assert!((f.speed.unwrap() - 5.0 * 1852.0 / 3600.0).abs() < 1e-9);
        // 2026-12-31T23:59:59.5Z, then the next day's (and year's) first second.
        assert_eq!(f.time_ms, Some(1_798_761_599_500));
        assert_eq!(t.fixes[1].time_ms, Some(1_798_761_600_500));
    }

    #[test]
    fn bad_checksums_void_fixes_and_junk_are_warnings() {
        let mut log = s("GPRMC,083000,V,,,,,,,291126,,,N");
        log += "$GPRMC,083001,A,5222.2120,N,00453.7120,E,0,0,291126,,,A*00\n";
        log += "garbage \u{0}\u{1}\n";
        log += &s("GPGGA,083002,9100.0000,N,00453.7120,E,1,08,0.9,1,M,,M,,");
        log += &s("GPGGA,083003,5222.2120,N,00453.7120,E,1,08,0.9,1,M,,M,,");
        let t = parse(log.as_bytes(), Limits::default()).unwrap();
        assert_eq!(t.fixes.len(), 1);
        assert_eq!(t.warnings.len(), 4, "{:?}", t.warnings);
        assert_eq!(
            t.warnings[1].offset,
            log.find("$GPRMC,083001").unwrap() as u64
        );
        let strict = Limits {
            strict: true,
            ..Limits::default()
        };
        assert!(parse(log.as_bytes(), strict).is_err());
    }

    #[test]
    fn any_bytes_parse_without_a_panic() {
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..300u32)
                .map(|i| (i * 37 + n as u32 * 11) as u8)
                .collect();
            let _ = parse(&junk, Limits::default());
            let mut line = b"$GPGGA,".to_vec();
            line.extend_from_slice(&junk[..n as usize]);
            let _ = parse(&line, Limits::default());
        }
    }
}
