//! Where a recorder was, and when, from every place recorders put it: one
//! model ([`Fix`]) for every source. Sources so far: NMEA 0183 sidecar
//! files ([`nmea`]).
//!
//! ```
//! use custody_container::telemetry::nmea;
//! let log = b"$GPRMC,083000.00,A,5222.2120,N,00453.7120,E,10.0,90.0,291126,,,A*52\r\n";
//! let t = nmea::parse(log, Default::default()).unwrap();
//! let f = &t.fixes[0];
//! assert!((f.lat - 52.37020).abs() < 1e-9 && (f.lon - 4.89520).abs() < 1e-9);
//! assert_eq!(f.time_ms, Some(1_795_941_000_000)); // 2026-11-29T08:30:00Z
//! ```

pub mod nmea;

use crate::error::Warning;

/// Where a telemetry fix came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An NMEA 0183 log (`$GPRMC`, `$GPGGA` and their other talkers).
    Nmea,
}

/// One position fix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fix {
    /// Satellite time, Unix milliseconds (UTC), when the source tells the
    /// date and the time.
    pub time_ms: Option<i64>,
    /// Latitude in degrees, north positive (WGS 84).
    pub lat: f64,
    /// Longitude in degrees, east positive (WGS 84).
    pub lon: f64,
    /// Altitude above mean sea level in metres.
    pub alt: Option<f64>,
    /// Speed over ground in metres per second.
    pub speed: Option<f64>,
    /// Fix quality as the source gives it (NMEA GGA: 1 GPS, 2 DGPS, 4 RTK
    /// fixed, 5 RTK float, 6 dead reckoning, ...).
    pub quality: Option<u8>,
    /// Satellites used.
    pub satellites: Option<u8>,
    /// Where the fix came from.
    pub source: Source,
    /// Byte offset of the record it was read from.
    pub offset: u64,
}

/// The fixes of one source, in the order it gives them, and the problems
/// found and recovered from.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Telemetry {
    /// The fixes.
    pub fixes: Vec<Fix>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}
