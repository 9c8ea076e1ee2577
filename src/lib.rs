//! Custody: evidence-grade parsing, hashing and custody of the media that
//! law-enforcement recorders (body-worn cameras) produce.
//!
//! This facade re-exports the workspace crates:
//!
//! - [`container`]: zero-copy parsing of ISO-BMFF, MPEG-TS/M2TS and MPEG-PS.
//! - [`hash`]: one-pass BLAKE3 + SHA-256, chunk trees that locate changes,
//!   container-independent content hashes.
//! - [`io`]: read-only access to evidence files (memory map or read).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use custody_container as container;
pub use custody_hash as hash;
pub use custody_io as io;
