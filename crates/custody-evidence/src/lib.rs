//! The evidence layer: what a collection station keeps about every file.
//!
//! - [`keys`]: the station's ed25519 key pair, created on first use.
//! - [`canonical`]: RFC 8785 (JCS) canonical JSON, the bytes that are signed.
//! - [`manifest`]: one signed JSON document per registered file.
//! - [`log`]: the append-only, hash-chained custody log.
//!
//! No system libraries are needed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod canonical;
pub mod ingest;
pub mod keys;
pub mod log;
pub mod manifest;
pub mod store;
pub mod verify;

/// The current time as RFC 3339 UTC with seconds.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    custody_container::time::rfc3339_utc(secs)
}
