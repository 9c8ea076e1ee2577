//! Typed errors and warnings, each with the byte offset and box path where
//! the problem was found.

use std::fmt;

/// What went wrong while parsing.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended before a structure was complete.
    Truncated {
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// A box declares a size smaller than its own header or larger than its parent.
    BadBoxSize {
        /// The declared size.
        size: u64,
    },
    /// A table claims more entries than the bytes present can hold.
    TooManyEntries {
        /// The entry count the table claims.
        count: u64,
        /// Bytes those entries would need.
        needs: u64,
        /// Bytes the box holds.
        holds: u64,
    },
    /// Boxes nest deeper than [`crate::Limits::max_depth`].
    TooDeep {
        /// The depth limit.
        limit: u32,
    },
    /// A required box is missing.
    Missing(&'static str),
    /// A field holds a value the format does not allow.
    Invalid(String),
    /// The bytes are not a container this crate recognises.
    Unrecognised,
    /// The container was recognised but cannot be parsed yet.
    Unsupported(String),
    /// The input could not be read (a file read through a window failed:
    /// a device removed, a file cut short while it was read).
    Read(String),
}

/// A parse error: what, where in the file, and in which box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Absolute byte offset in the input where the problem was found.
    pub offset: u64,
    /// Box path such as `moov/trak[1]/mdia/minf/stbl/stsz`, or a stream label.
    pub path: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    /// Builds an error at `offset` inside `path`.
    pub fn new(offset: u64, path: impl Into<String>, kind: ErrorKind) -> Self {
        Error {
            offset,
            path: path.into(),
            kind,
        }
    }
}

/// Formats a byte count as a short human figure (`17 GB`, `8 KB`).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { needed, available } => write!(
                f,
                "truncated: needs {needed} bytes but only {available} are present"
            ),
            ErrorKind::BadBoxSize { size } => write!(f, "invalid box size {size}"),
            ErrorKind::TooManyEntries {
                count,
                needs,
                holds,
            } => write!(
                f,
                "entry count {count} needs {} but the box holds {}",
                human_bytes(*needs),
                human_bytes(*holds)
            ),
            ErrorKind::TooDeep { limit } => write!(f, "boxes nest deeper than {limit} levels"),
            ErrorKind::Missing(what) => write!(f, "missing required box {what}"),
            ErrorKind::Invalid(msg) => write!(f, "{msg}"),
            ErrorKind::Unrecognised => write!(f, "not a recognised media container"),
            ErrorKind::Unsupported(msg) => write!(f, "unsupported: {msg}"),
            ErrorKind::Read(msg) => write!(f, "cannot read: {msg}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "@ {:#x}: {}", self.offset, self.kind)
        } else {
            write!(f, "{} @ {:#x}: {}", self.path, self.offset, self.kind)
        }
    }
}

impl std::error::Error for Error {}

/// A problem that did not stop parsing (lenient mode), with its location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// What is odd.
    pub message: String,
    /// Absolute byte offset.
    pub offset: u64,
    /// Box path or stream label.
    pub path: String,
}

impl From<Error> for Warning {
    fn from(e: Error) -> Self {
        Warning {
            offset: e.offset,
            path: e.path,
            message: e.kind.to_string(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} @ {:#x}: {}", self.path, self.offset, self.message)
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Parsing limits and strictness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum box nesting depth.
    pub max_depth: u32,
    /// In strict mode any warning becomes an error.
    pub strict: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            strict: false,
        }
    }
}

/// Collects warnings, or turns the first into an error in strict mode.
#[derive(Debug, Default)]
pub(crate) struct Diag {
    pub(crate) strict: bool,
    pub(crate) warnings: Vec<Warning>,
}

/// Cap on stored warnings so a hostile file cannot grow the list without bound.
const MAX_WARNINGS: usize = 1000;

impl Diag {
    pub(crate) fn new(strict: bool) -> Self {
        Diag {
            strict,
            warnings: Vec::new(),
        }
    }

    /// Records a problem; in strict mode returns it as an error.
    pub(crate) fn warn(&mut self, e: Error) -> Result<()> {
        if self.strict {
            return Err(e);
        }
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(e.into());
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings.push(Warning {
                offset: e.offset,
                path: String::new(),
                message: "further warnings suppressed".into(),
            });
        }
        Ok(())
    }

    /// Records a free-form problem at `offset` in `path`.
    pub(crate) fn note(&mut self, offset: u64, path: &str, msg: impl Into<String>) -> Result<()> {
        self.warn(Error::new(offset, path, ErrorKind::Invalid(msg.into())))
    }
}
