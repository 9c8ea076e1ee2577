//! Typed errors: what went wrong, in which file, and where in it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input a problem was found. Every field is optional: FFmpeg
/// does not always know the byte offset (a decoder error inside a packet of
/// a stream read from a pipe), but at least one is always set.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Position {
    /// Byte offset in the file.
    pub offset: Option<u64>,
    /// Stream (track) index, as FFmpeg numbers them (from 0).
    pub stream: Option<usize>,
    /// Packet number within that stream, in the order the file stores them (from 0).
    pub packet: Option<u64>,
    /// Presentation (or, failing that, decode) time in seconds.
    pub time: Option<f64>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(o) = self.offset {
            parts.push(format!("byte {o} (0x{o:x})"));
        }
        if let Some(s) = self.stream {
            parts.push(format!("stream {s}"));
        }
        if let Some(p) = self.packet {
            parts.push(format!("packet {p}"));
        }
        if let Some(t) = self.time {
            parts.push(format!("{t:.3} s"));
        }
        if parts.is_empty() {
            f.write_str("an unknown position")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Why a transcoding job or a proof could not run. The output file is never
/// left behind when one of these is returned.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written, synced or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The input is empty (0 bytes): there is nothing to archive.
    #[error("{}: the file is empty (0 bytes)", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// FFmpeg could not recognise or open the input (not media, a header
    /// damaged beyond use, an index that is missing).
    #[error("{}: FFmpeg cannot open it: {message}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// FFmpeg's explanation.
        message: String,
        /// Where, when FFmpeg says (a byte offset in its message).
        position: Position,
    },
    /// The input is damaged or cut short: a packet that cannot be read
    /// whole, or that its decoder rejects.
    #[error("{}: damaged or truncated at {position}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where.
        position: Position,
        /// What FFmpeg reported.
        message: String,
    },
    /// A muxer, encoder, decoder or filter failed for a reason that is not
    /// the input's damage (an unsupported parameter, a full disk).
    #[error("{}: {what}: {message}", path.display())]
    Ffmpeg {
        /// The file being read or written.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// FFmpeg's explanation.
        message: String,
    },
    /// Segments given to `join` differ in a way a stream copy cannot join.
    #[error("{}: cannot be joined to {}: {detail}", path.display(), first.display())]
    Mismatch {
        /// The segment that differs.
        path: PathBuf,
        /// The first segment, which it was compared with.
        first: PathBuf,
        /// What differs (stream, parameter, both values).
        detail: String,
    },
    /// Nothing of the input can go into the output (no track the target can
    /// hold, or a clip range outside the recording).
    #[error("{}: {reason}", path.display())]
    Nothing {
        /// The input.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An encoder the profile needs is missing from this FFmpeg build.
    #[error("encoder {0} is not available in this FFmpeg build")]
    MissingEncoder(String),
    /// A filter a job needs (the access overlay's `drawtext`) is missing
    /// from this FFmpeg build.
    #[error("filter {0} is not available in this FFmpeg build")]
    MissingFilter(String),
    /// An argument is outside what the job accepts.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller cancelled the job (its progress callback returned `false`).
    #[error("cancelled")]
    Cancelled,
    /// The caller's picture hook (or visitor) refused a picture.
    #[error("{}: picture {index}: {hook}: {message}", path.display())]
    Hook {
        /// The input.
        path: PathBuf,
        /// The hook's name.
        hook: String,
        /// The picture's number, from 0, in presentation order.
        index: u64,
        /// What the hook said.
        message: String,
    },
}

impl Error {
    /// The file concerned, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Empty { path }
            | Error::Open { path, .. }
            | Error::Corrupt { path, .. }
            | Error::Ffmpeg { path, .. }
            | Error::Mismatch { path, .. }
            | Error::Nothing { path, .. }
            | Error::Hook { path, .. } => Some(path),
            Error::MissingEncoder(_)
            | Error::MissingFilter(_)
            | Error::InvalidArgument(_)
            | Error::Cancelled => None,
        }
    }

    /// Where in the file, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Corrupt { position, .. } | Error::Open { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// The byte offset in the file, when known.
    pub fn offset(&self) -> Option<u64> {
        self.position().and_then(|p| p.offset)
    }

    /// The error without its path.
    pub fn message(&self) -> String {
        match self {
            Error::Io { source, .. } => source.to_string(),
            Error::Empty { .. } => "the file is empty (0 bytes)".into(),
            Error::Open { message, .. } => format!("FFmpeg cannot open it: {message}"),
            Error::Corrupt {
                position, message, ..
            } => format!("damaged or truncated at {position}: {message}"),
            Error::Ffmpeg { what, message, .. } => format!("{what}: {message}"),
            Error::Mismatch { first, detail, .. } => {
                format!("cannot be joined to {}: {detail}", first.display())
            }
            Error::Nothing { reason, .. } => reason.clone(),
            Error::Hook {
                hook,
                index,
                message,
                ..
            } => format!("picture {index}: {hook}: {message}"),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn ffmpeg(path: &Path, what: impl Into<String>, e: ffmpeg_next::Error) -> Error {
        let mut message = e.to_string();
        if let Some(detail) = crate::ffi::last_log() {
            message = format!("{message} ({detail})");
        }
        Error::Ffmpeg {
            path: path.to_path_buf(),
            what: what.into(),
            message,
        }
    }
}

/// A job's result.
pub type Result<T> = std::result::Result<T, Error>;
