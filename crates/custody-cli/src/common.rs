//! What every subcommand shares: opening evidence read-only and reporting failures.

use custody_io::{Evidence, ReadMode};
use std::io::Write;
use std::path::Path;

/// A failure to report: exit code 2.
pub(crate) struct Failure {
    pub(crate) path: String,
    pub(crate) offset: Option<u64>,
    pub(crate) box_path: Option<String>,
    pub(crate) message: String,
}

impl From<custody::Error> for Failure {
    fn from(e: custody::Error) -> Failure {
        Failure {
            path: e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            offset: e.offset(),
            box_path: e.box_path().map(str::to_string),
            message: e.message(),
        }
    }
}

impl Failure {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "path": self.path,
            "offset": self.offset,
            "box": self.box_path,
            "message": self.message,
        }})
    }
}

pub(crate) fn open(path: &Path, no_mmap: bool) -> Result<Evidence, Failure> {
    opened(path, Evidence::open(path, mode(no_mmap)))
}

/// A failed job on `path` as reported: a file that cannot be opened or
/// read says so (`cannot read: ...`), as [`open`] does.
pub(crate) fn job_failure(e: custody::Error) -> Failure {
    let io = matches!(e, custody::Error::Io { .. });
    let mut f = Failure::from(e);
    if io {
        f.message = format!("cannot read: {}", f.message);
    }
    f
}

pub(crate) fn mode(no_mmap: bool) -> ReadMode {
    if no_mmap {
        ReadMode::Read
    } else {
        ReadMode::Auto
    }
}

fn opened(path: &Path, ev: std::io::Result<Evidence>) -> Result<Evidence, Failure> {
    ev.map_err(|e| Failure {
        path: path.display().to_string(),
        offset: None,
        box_path: None,
        message: format!("cannot read: {e}"),
    })
}

/// Text from a recorder (a file name, a serial) made safe to print on a
/// terminal or in a log a script reads: control characters (newlines,
/// escape sequences) are shown escaped, so a name can never forge a line.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Formats an optional value, `-` when absent.
pub(crate) fn fmt_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Writes a JSON document (one value, or an array for several inputs) and a newline.
pub(crate) fn print_json(values: Vec<serde_json::Value>, several: bool) -> std::io::Result<()> {
    let mut values = values;
    let doc = if several {
        serde_json::Value::Array(values)
    } else {
        values.pop().unwrap_or(serde_json::Value::Null)
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer(&mut out, &doc)?;
    writeln!(out)
}

/// Writes one serialisable value as a JSON document and a newline.
pub(crate) fn print_value<T: serde::Serialize>(v: &T) -> std::io::Result<()> {
    print_json(
        vec![serde_json::to_value(v).map_err(std::io::Error::other)?],
        false,
    )
}
