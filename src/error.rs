//! One error type for every job, with the cause kept.

use std::path::{Path, PathBuf};

/// Why a job failed. Each variant keeps its cause ([`std::error::Error::source`]).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A container could not be parsed (strict mode, or a damaged header).
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error, with its byte offset and box path.
        source: custody_container::Error,
    },
    /// A chunk tree is malformed, or a file could not be hashed against it.
    #[error("{}: {source}", path.display())]
    Tree {
        /// The tree file, or the file hashed.
        path: PathBuf,
        /// The cause.
        source: custody_hash::TreeError,
    },
    /// A chunk tree whose leaves do not produce its root hash.
    #[error("{}: the chunk tree's leaves do not produce its root hash", path.display())]
    InconsistentTree {
        /// The tree file.
        path: PathBuf,
    },
    /// The station key could not be loaded or created.
    #[error("{}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: custody_evidence::keys::KeyError,
    },
    /// The station key could not be rotated.
    #[error("{}: {source}", path.display())]
    Rotate {
        /// The key file.
        path: PathBuf,
        /// The cause.
        source: custody_evidence::keyring::RotateError,
    },
    /// A file of trusted public keys cannot be used.
    #[error("{}: {source}", path.display())]
    TrustFile {
        /// The file.
        path: PathBuf,
        /// The cause, with its line.
        source: custody_evidence::keyring::TrustFileError,
    },
    /// A device offsets file has a line that is not `SERIAL +HH:MM`.
    #[error("{}: {source}", path.display())]
    DeviceOffsets {
        /// The file.
        path: PathBuf,
        /// The line.
        source: custody_evidence::ingest::OffsetsError,
    },
    /// The store's catalog could not be read or written.
    #[error("{}: {source}", path.display())]
    Catalog {
        /// The store.
        path: PathBuf,
        /// The cause.
        source: custody_evidence::catalog::CatalogError,
    },
    /// The custody log is empty: it has no head to anchor.
    #[error("{}: the log is empty: nothing to anchor", path.display())]
    EmptyLog {
        /// The store.
        path: PathBuf,
    },
    /// Verification could not run at all.
    #[error("{}: {source}", path.display())]
    Verify {
        /// The store.
        path: PathBuf,
        /// The cause.
        source: custody_evidence::verify::VerifyError,
    },
    /// Transcoding, or the proof of a derivative, could not run: the input
    /// is damaged or cut short (with its position), empty, unsupported, or
    /// the output could not be written. No output is left behind.
    #[cfg(feature = "transcode")]
    #[error("{}: {}", path.display(), source.message())]
    Transcode {
        /// The file concerned (an input, or the output).
        path: PathBuf,
        /// The cause, with its position in the file when known.
        source: Box<custody_transcode::Error>,
    },
    /// A redaction could not be made: a model missing or not the one
    /// pinned (the message names the set-up command), a regions file that
    /// cannot be used, a detector that failed. No output is left behind.
    #[cfg(feature = "redact")]
    #[error("{}: {source}", path.display())]
    Redact {
        /// The input, or the file concerned (a model, the regions file).
        path: PathBuf,
        /// The cause.
        source: Box<custody_redact::redact::RedactError>,
    },
    /// A derivative could not be registered in a store: a source not
    /// registered there, a key that is not the store's, bytes that changed.
    #[error("{}: {source}", path.display())]
    Derive {
        /// The source, the output or the store concerned.
        path: PathBuf,
        /// The cause.
        source: custody_evidence::derive::DeriveError,
    },
    /// An argument is outside what the job accepts.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller cancelled the job (its progress callback said stop).
    #[error("cancelled")]
    Cancelled,
}

/// A job's result.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(feature = "transcode")]
impl Error {
    /// A transcoding error, placed on its own file (else on `fallback`).
    pub(crate) fn transcode(fallback: &Path, source: custody_transcode::Error) -> Error {
        match source {
            custody_transcode::Error::Cancelled => Error::Cancelled,
            custody_transcode::Error::InvalidArgument(m) => Error::InvalidArgument(m),
            source => Error::Transcode {
                path: source
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| fallback.to_path_buf()),
                source: Box::new(source),
            },
        }
    }
}

impl Error {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The file or folder concerned, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Parse { path, .. }
            | Error::Tree { path, .. }
            | Error::InconsistentTree { path }
            | Error::Key { path, .. }
            | Error::Rotate { path, .. }
            | Error::TrustFile { path, .. }
            | Error::DeviceOffsets { path, .. }
            | Error::Catalog { path, .. }
            | Error::EmptyLog { path }
            | Error::Verify { path, .. }
            | Error::Derive { path, .. } => Some(path),
            #[cfg(feature = "transcode")]
            Error::Transcode { path, .. } => Some(path),
            #[cfg(feature = "redact")]
            Error::Redact { path, .. } => Some(path),
            Error::InvalidArgument(_) | Error::Cancelled => None,
        }
    }

    /// The byte offset in the file where parsing failed.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Parse { source, .. } => Some(source.offset),
            #[cfg(feature = "transcode")]
            Error::Transcode { source, .. } => source.offset(),
            _ => None,
        }
    }

    /// The box path where parsing failed (`moov/trak[1]/mdia`), when known.
    pub fn box_path(&self) -> Option<&str> {
        match self {
            Error::Parse { source, .. } if !source.path.is_empty() => Some(&source.path),
            _ => None,
        }
    }

    /// The error without its path: what went wrong.
    pub fn message(&self) -> String {
        match self {
            Error::Io { source, .. } => source.to_string(),
            Error::Parse { source, .. } => source.to_string(),
            Error::Tree { source, .. } => source.to_string(),
            Error::InconsistentTree { .. } => {
                "the chunk tree's leaves do not produce its root hash".into()
            }
            Error::Key { source, .. } => source.to_string(),
            Error::Rotate { source, .. } => source.to_string(),
            Error::TrustFile { source, .. } => source.to_string(),
            Error::DeviceOffsets { source, .. } => source.to_string(),
            Error::Catalog { source, .. } => source.to_string(),
            Error::EmptyLog { .. } => "the log is empty: nothing to anchor".into(),
            Error::Verify { source, .. } => source.to_string(),
            Error::Derive { source, .. } => source.to_string(),
            #[cfg(feature = "transcode")]
            Error::Transcode { source, .. } => source.message(),
            #[cfg(feature = "redact")]
            Error::Redact { source, .. } => source.to_string(),
            Error::InvalidArgument(m) => m.clone(),
            Error::Cancelled => "cancelled".into(),
        }
    }

    /// The one JSON shape of an error, in every interface:
    /// `{"error": {"path", "offset", "box", "message"}}`.
    ///
    /// ```
    /// let e = custody::probe("/no/such/file.mp4", &Default::default()).unwrap_err();
    /// let v = e.to_json();
    /// assert_eq!(v["error"]["path"], "/no/such/file.mp4");
    /// assert!(v["error"]["message"].as_str().unwrap().contains("No such file"));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "path": self.path().map(|p| p.display().to_string()),
            "offset": self.offset(),
            "box": self.box_path(),
            "message": self.message(),
        }})
    }
}
