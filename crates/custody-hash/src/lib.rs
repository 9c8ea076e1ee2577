//! Fixity for evidence files.
//!
//! - [`digest`]: BLAKE3 + SHA-256 (and optionally MD5) of a file in one read,
//!   on parallel threads; a streaming [`digest::Digester`] for hashing while copying.
//! - [`tree`]: a chunk tree over 64 KiB leaves whose root is the plain BLAKE3
//!   hash (`b3sum`-compatible); [`tree::locate`] names the byte ranges that
//!   changed, [`tree::verify_range`] checks one range alone.
//! - [`hex`]: [`Digest32`], a 32-byte digest written as lowercase hex.
//! - [`content`]: hashes of each track's media, independent of the container.
//!
//! No system libraries are needed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod content;
pub mod digest;
pub mod hex;
pub mod tree;

pub use digest::{
    Algorithms, DigestOptions, Digester, FileDigest, hash_bytes, hash_file, hash_reader,
};
pub use hex::Digest32;
pub use tree::{ByteRange, ChunkTree, LocateReport, TreeError, locate, verify_range};
