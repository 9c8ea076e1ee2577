//! Custody: evidence-grade parsing, hashing and custody of the media that
//! law-enforcement recorders (body-worn cameras) produce.
//!
//! One function per job, each taking paths and returning a typed result or
//! an [`Error`]: [`probe`], [`hash`](fn@hash), [`content`], [`locate`], [`ingest`],
//! [`verify`], [`report`], and (with the default `transcode` feature, which
//! needs FFmpeg's libraries) `archive` and `compare`. The workspace crates
//! are re-exported for the details:
//!
//! - [`container`]: zero-copy parsing of ISO-BMFF, MPEG-TS/M2TS and MPEG-PS.
//! - [`hash`](mod@hash): one-pass BLAKE3 + SHA-256, chunk trees that locate
//!   changes, container-independent content hashes.
//! - [`io`]: read-only access to evidence files (memory map or planned reads).
//! - [`evidence`]: keys, signed manifests, the custody log, the store, ingest,
//!   verification and supervision reports.
//! - `transcode` (feature `transcode`): FFmpeg pipelines (remux, join, clip,
//!   preservation master, access copy) and their proofs.
//! - `redact` (feature `redact`; `models` adds the built-in face and plate
//!   detectors): detector hooks, tracking, masks and the redaction log, with
//!   the jobs `detect`, `redact` and `redact_to_store`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod jobs;
#[cfg(feature = "transcode")]
mod provenance;
#[cfg(feature = "redact")]
mod redaction;
mod station;
mod stream;

pub use custody_container as container;
pub use custody_evidence as evidence;
pub use custody_hash as hash;
pub use custody_io as io;
#[cfg(feature = "redact")]
pub use custody_redact as redact;
#[cfg(feature = "transcode")]
pub use custody_transcode as transcode;
pub use error::{Error, Result};
pub use jobs::{
    ContentSummary, HashSummary, ProbeRequest, content, content_with, default_key_path, hash,
    hash_cancellable, ingest, load_key, locate, probe, probe_segment, read_tree, tree_path, verify,
    verify_range, write_tree,
};
#[cfg(feature = "transcode")]
pub use jobs::{StoreTarget, StoredArchive, archive, archive_to_store, compare};
#[cfg(feature = "redact")]
pub use redaction::{StoredRedaction, detect, redact, redact_to_store};
pub use station::{
    KeyListing, Rebuilt, StationKeyInfo, Trusted, catalog_list, catalog_rebuild, init_key,
    list_keys, log_anchor, read_anchor, read_device_offsets, read_patterns, report, rotate_key,
    station_anchor, trust_anchors,
};
