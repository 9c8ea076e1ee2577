//! Read-only access to evidence files.
//!
//! Custody's parsers work on `&[u8]`. This crate turns a path into such a
//! slice without ever opening the file for writing, and writes files
//! atomically. It is the one place in Custody with `unsafe` (the memory map,
//! `posix_fadvise` and the SIGPIPE disposition, each with its SAFETY note);
//! every other crate forbids it.
//!
//! # Memory maps and removable media
//!
//! A memory map stays valid only while the file keeps its length. If a
//! mapped file shrinks underneath the process (a recorder unplugged, another
//! process truncating it), touching the vanished pages raises `SIGBUS` and
//! kills the process. [`Evidence::open`] therefore maps only when asked and
//! [`ReadMode::Auto`] copies small files into memory; never map a file on
//! removable media that the library does not own. Use
//! [`ReadMode::Read`] for files on a recorder.

#![deny(missing_docs)]

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How [`Evidence::open`] brings a file's bytes into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Map files of at least [`MAP_THRESHOLD`] bytes that are not on
    /// removable media ([`map_is_safe`]); read the others.
    #[default]
    Auto,
    /// Always memory-map (read-only, private).
    Map,
    /// Always read the whole file into memory with `read()`.
    Read,
}

/// Files at least this large are mapped by [`ReadMode::Auto`].
pub const MAP_THRESHOLD: u64 = 1 << 20;

/// Whether [`ReadMode::Auto`] maps a file: large enough for a map to pay,
/// and not on removable media (where a vanishing device would raise SIGBUS).
pub fn map_is_safe(path: &Path, len: u64) -> bool {
    len >= MAP_THRESHOLD && !is_removable(path)
}

/// True when `path` lives on a removable or USB block device (Linux sysfs);
/// also true when that cannot be determined for a file on a block device.
/// Always false on other systems, where callers should choose [`ReadMode::Read`]
/// for recorder media themselves.
pub fn is_removable(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return true;
        };
        let dev = meta.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        if major == 0 {
            // Virtual file systems (tmpfs, overlay, 9p, FUSE) are not removable devices.
            return false;
        }
        let sys = std::path::PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
        let Ok(real) = std::fs::canonicalize(&sys) else {
            return false;
        };
        if real.to_string_lossy().contains("/usb") {
            return true;
        }
        // A partition's `removable` flag lives on its parent disk.
        for dir in [real.clone(), real.join("..")] {
            if let Ok(flag) = std::fs::read_to_string(dir.join("removable")) {
                return flag.trim() == "1";
            }
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        false
    }
}

enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// Opens `path` read-only without ever blocking, and only when it is a
/// regular file: a FIFO, a device (`/dev/zero`), a socket or a directory is
/// refused with `InvalidInput` instead of hanging in `open()` or reading
/// forever. Symbolic links are followed (callers that must not follow them
/// check first).
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO with no writer would block a plain open(); O_NONBLOCK makes
        // it return at once, and regular files ignore the flag.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", describe_kind(&kind)),
        ));
    }
    Ok(file)
}

/// The whole of a small regular file (a chunk tree, an anchor, a key), read
/// with [`open_regular`].
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_regular(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// A small regular text file (a configuration, a key), read with
/// [`open_regular`]; invalid UTF-8 is an `InvalidData` error.
pub fn read_regular_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Lets a command-line tool end quietly when its reader goes away
/// (`custody probe ... | head`): SIGPIPE gets its default action back, as in
/// other Unix tools, instead of every later write failing. A no-op elsewhere.
pub fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler
    // and touches no memory; it is called once, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The bytes of one evidence file, opened read-only.
pub struct Evidence {
    bytes: Bytes,
}

impl Evidence {
    /// Opens `path` read-only and exposes its bytes according to `mode`.
    pub fn open(path: &Path, mode: ReadMode) -> std::io::Result<Evidence> {
        let mut file = open_regular(path)?;
        let len = file.metadata()?.len();
        let map = match mode {
            ReadMode::Map => len > 0,
            ReadMode::Read => false,
            ReadMode::Auto => map_is_safe(path, len),
        };
        let bytes = if map {
            // SAFETY: the map is read-only and private. The caller chose a
            // file that no one truncates while it is mapped (see the crate
            // docs on SIGBUS); within that contract the slice stays valid for
            // the life of `Evidence`, which owns the map.
            Bytes::Map(unsafe { memmap2::MmapOptions::new().map(&file)? })
        } else {
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut buf)?;
            Bytes::Owned(buf)
        };
        Ok(Evidence { bytes })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    /// Whether the bytes come from a memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self.bytes, Bytes::Map(_))
    }
}

/// Asks the kernel to drop `file`'s pages from the page cache (after an
/// fsync), so the next read comes from the disk rather than from memory:
/// re-verifying a copy then checks what the disk holds. A no-op where
/// `posix_fadvise` is not available.
pub fn drop_cache(file: &File) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: the descriptor belongs to `file`, which outlives the call;
        // posix_fadvise only advises the kernel and touches no memory of ours.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory, fsynced, then renamed into place (and the directory fsynced),
/// so a crash leaves either the old file, or nothing, or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] with the file created with Unix permission bits `mode`
/// from the start (0o600 for secrets: never readable by others, not even briefly).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")
    })?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("custody-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let ev = Evidence::open(&p, ReadMode::Map).unwrap();
        assert!(ev.is_mapped());
        assert_eq!(ev.bytes(), b"two");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
