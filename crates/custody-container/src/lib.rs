//! Zero-copy parsing of the containers that law-enforcement recorders write.
//!
//! `custody-container` reads ISO-BMFF (MP4, MOV, 3GP, M4A, fragmented MP4,
//! CMAF/DASH/HLS segments), MPEG-TS/M2TS, MPEG-PS, AVI/OpenDML,
//! WAV/BWF/RF64, Matroska/WebM, FLV, Ogg, AMR, MP3, ADTS and JPEG/PNG photos
//! (EXIF) from a `&[u8]` (usually a read-only memory map), each behind one
//! demuxer interface ([`demux`]). Sample tables are kept as slices of the input and
//! sample bytes are returned as slices; nothing is copied from the media data
//! of an MP4. Transport-stream payloads are split across packets, so a
//! reassembled unit is the one place that owns bytes
//! ([`ts::Ts::unit_bytes`], [`ps::Ps::unit_bytes`]).
//!
//! MPEG-TS and MPEG-PS are parsed front to back through an
//! [`input::Input`]: the slice itself, or [`input::Windowed`], a bounded
//! window over a file that is not mapped (removable media), so probing or
//! content-hashing such a file never holds it whole.
//!
//! Bad input never panics: every problem is a typed [`Error`] with its byte
//! offset and box path, or a [`Warning`] in lenient mode (the default).
//!
//! ```
//! use custody_container::{probe, summary::ProbeOptions};
//! use custody_testkit::mp4::synthetic_recording;
//!
//! // Two seconds of H.264 + AAC, written in memory (real files come from a memory map).
//! let data = synthetic_recording(2, 30, 30);
//! let p = probe(&data, ProbeOptions::default()).unwrap();
//! assert_eq!(p.container.as_str(), "mp4");
//! assert_eq!(p.tracks[0].codec.unwrap().as_str(), "h264");
//! assert_eq!(p.tracks[0].samples, 60);
//! assert_eq!(p.tracks[1].codec.unwrap().as_str(), "aac");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod avi;
pub mod bmff;
mod bytes;
pub mod codec;
pub mod cost;
pub mod demux;
pub mod detect;
pub mod error;
pub mod es;
pub mod exif;
pub mod flv;
pub mod fourcc;
pub mod input;
pub mod mkv;
pub mod names;
pub mod ogg;
pub mod pes;
pub mod photo;
pub mod ps;
pub mod rawaudio;
pub mod riff;
pub mod summary;
pub mod telemetry;
pub mod time;
pub mod ts;
pub mod wav;

pub use detect::{Format, detect};
pub use error::{Error, ErrorKind, Limits, Result, Warning};
pub use fourcc::FourCC;
pub use names::{Codec, Container};
pub use summary::{Probe, TrackSummary, probe, probe_input, probe_ranges, probe_segment};
