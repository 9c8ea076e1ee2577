//! Test support for Custody, kept out of the libraries' public API.
//!
//! - [`mp4`]: a minimal ISO-BMFF writer and a synthetic camera recording.
//! - [`avi`]: a small MJPEG AVI writer.
//! - [`flv`]: a small FLV writer.
//! - [`mkv`]: a small Matroska writer (known and unknown sizes).
//! - [`ogg`]: a small Ogg Opus writer (packets spanning pages).
//! - [`photo`]: a small PNG writer.
//! - [`ts`]: an MPEG-TS packet writer.
//! - [`wav`]: a WAV / RF64 writer with Broadcast Wave metadata.
//! - [`hostile`]: well-formed files shaped to make parsers work hardest.
//! - [`fuzz`]: the entry points of the cargo-fuzz targets, which `cargo test`
//!   also replays.
//!
//! ```
//! use custody_container::{probe, summary::ProbeOptions};
//!
//! let data = custody_testkit::mp4::synthetic_recording(2, 30, 30);
//! let p = probe(&data, ProbeOptions::default()).unwrap();
//! assert_eq!(p.tracks[0].samples, 60);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod avi;
pub mod flv;
pub mod fuzz;
pub mod hostile;
pub mod mkv;
pub mod mp4;
pub mod ogg;
pub mod photo;
pub mod ts;
pub mod wav;
