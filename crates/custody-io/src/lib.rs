//! Read-only access to evidence files.
//!
//! Custody's parsers work on `&[u8]`. This crate turns a path into such a
//! slice without ever opening the file for writing, and writes files
//! atomically. It is the one place in Custody with `unsafe` (the memory map,
//! `posix_fadvise`, `lseek(SEEK_DATA)` and the SIGPIPE disposition, each
//! with its SAFETY note);
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
//!
//! # Reading only what a parser needs
//!
//! A file that is not mapped is not read whole either when the caller knows
//! which ranges its parser reads: [`Evidence::open_planned`] asks a planner
//! (for probing, `custody_container::probe_ranges`) for those ranges, found
//! with a few small reads, and reads only them into a file-length image
//! whose other pages are never touched (an anonymous mapping reserved
//! without swap): a 5 TB recording on a USB mount costs its index, not 5 TB.

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
    /// Never map: read with `read()`, only the ranges a planner asks for
    /// ([`Evidence::open_planned`]), else the whole file.
    Read,
}

impl ReadMode {
    /// Whether [`Evidence::open`] maps the `len`-byte file at `path` in
    /// this mode (an empty file is never mapped).
    pub fn maps(self, path: &Path, len: u64) -> bool {
        match self {
            ReadMode::Map => len > 0,
            ReadMode::Read => false,
            ReadMode::Auto => map_is_safe(path, len),
        }
    }
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
    /// A file-length anonymous image holding only the planned ranges.
    Sparse(memmap2::Mmap),
}

/// Reads exactly `buf.len()` bytes at a file offset: what a planner is given.
pub type ReadAt<'a> = dyn FnMut(u64, &mut [u8]) -> std::io::Result<()> + 'a;

/// Builds a file-length image of `file` holding the bytes of `ranges` (any
/// order, overlapping or not, clamped to `len`); every other byte reads as
/// zero and costs no memory. Returns the image and the bytes read.
fn sparse_image(
    file: &File,
    len: u64,
    ranges: &mut [std::ops::Range<u64>],
) -> std::io::Result<(memmap2::Mmap, u64)> {
    let size = usize::try_from(len).map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::OutOfMemory, "file too large to address")
    })?;
    let mut image = memmap2::MmapOptions::new()
        .len(size.max(1))
        .no_reserve_swap()
        .map_anon()?;
    ranges.sort_by_key(|r| r.start);
    let mut done = 0u64; // everything below this offset is read already
    let mut read = 0u64;
    for r in ranges.iter() {
        let (start, end) = (r.start.max(done), r.end.min(len));
        if start >= end {
            continue;
        }
        read_exact_at(file, start, &mut image[start as usize..end as usize])?;
        read += end - start;
        done = end;
    }
    Ok((image.make_read_only()?, read))
}

/// The first offset at or after `at` where `file` may hold data: `at`
/// itself unless it lies in a hole of a sparse file, the start of the next
/// data region, or the file's length when only a hole follows. Holes read
/// as zeros, so a scan for something other than zeros may start there.
/// Where the system cannot tell (no `SEEK_DATA`), `at`.
pub fn data_from(file: &File, at: u64) -> std::io::Result<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let Ok(off) = libc::off_t::try_from(at) else {
            return Ok(at);
        };
        // SAFETY: the descriptor belongs to `file`, which outlives the call;
        // lseek only moves the file position (every read here is
        // positioned, `read_exact_at`) and touches no memory of ours.
        let r = unsafe { libc::lseek(file.as_raw_fd(), off, libc::SEEK_DATA) };
        if r >= 0 {
            return Ok((r as u64).max(at));
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // No data at or after `at`: a hole to the end.
            Some(libc::ENXIO) => Ok(file.metadata()?.len().max(at)),
            // The file system cannot say.
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(at),
            _ => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Ok(at)
    }
}

/// Reads exactly `buf.len()` bytes of `file` at `offset`, without moving
/// (or depending on) the file position.
pub fn read_exact_at(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
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

/// Makes the C allocator keep freed memory for reuse instead of handing it
/// back to the kernel, for a command-line tool that runs neural networks
/// on every picture (`custody detect`, `custody redact`). Their layers
/// allocate and free tensors of tens of MiB per picture; glibc's malloc
/// maps each one fresh (anything over 32 MiB, whatever its settings), so
/// every picture paid for hundreds of MiB of zeroed pages: a quarter of
/// the detection's CPU time went to the kernel. With this the pages are
/// reused; the process's peak memory is unchanged, but it is kept until
/// exit. Call it once, early (it applies to allocations made after it).
/// Returns whether it took effect (glibc only; a no-op elsewhere).
///
/// ```
/// custody_io::retain_freed_memory();
/// let v = vec![0u8; 64 << 20];
/// assert_eq!(v.len(), 64 << 20);
/// ```
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters, under
    // glibc's own arena lock; it touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// The bytes of one evidence file, opened read-only.
pub struct Evidence {
    bytes: Bytes,
    len: u64,
    read: u64,
}

impl Evidence {
    /// Opens `path` read-only and exposes its bytes according to `mode`.
    pub fn open(path: &Path, mode: ReadMode) -> std::io::Result<Evidence> {
        Evidence::open_planned(path, mode, |_, _| Ok(None))
    }

    /// Opens `path` like [`Evidence::open`], except that a file that is not
    /// mapped is read only where `plan` says: given the file's length and a
    /// reader, it returns the byte ranges the caller will look at, or `None`
    /// for the whole file. Bytes outside the ranges read as zero, so `plan`
    /// must cover everything the caller's parser reads.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("clip.bin");
    /// std::fs::write(&path, b"head....tail")?;
    /// let ev = custody_io::Evidence::open_planned(&path, custody_io::ReadMode::Read, |len, _read| {
    ///     Ok(Some(vec![0..4, len - 4..len]))
    /// })?;
    /// assert_eq!(ev.bytes(), b"head\0\0\0\0tail");
    /// assert_eq!(ev.bytes_read(), 8);
    /// # Ok(()) }
    /// ```
    pub fn open_planned(
        path: &Path,
        mode: ReadMode,
        plan: impl FnOnce(u64, &mut ReadAt<'_>) -> std::io::Result<Option<Vec<std::ops::Range<u64>>>>,
    ) -> std::io::Result<Evidence> {
        let mut file = open_regular(path)?;
        let len = file.metadata()?.len();
        let map = mode.maps(path, len);
        if !map && len > 0 {
            let f = &file;
            if let Some(mut ranges) = plan(len, &mut |at, buf| read_exact_at(f, at, buf))? {
                let (image, read) = sparse_image(&file, len, &mut ranges)?;
                return Ok(Evidence {
                    bytes: Bytes::Sparse(image),
                    len,
                    read,
                });
            }
        }
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
        let read = if map { 0 } else { len };
        Ok(Evidence { bytes, len, read })
    }

    /// The file's bytes (with [`Evidence::open_planned`], zero outside the
    /// planned ranges).
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Map(m) | Bytes::Sparse(m) => &m[..self.len as usize],
            Bytes::Owned(v) => v,
        }
    }

    /// Bytes read into memory with `read()`: the whole file, the planned
    /// ranges, or 0 for a map.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Whether only planned ranges were read ([`Evidence::open_planned`]):
    /// the other bytes are zeros, not the file's.
    pub fn is_partial(&self) -> bool {
        matches!(self.bytes, Bytes::Sparse(_))
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

    #[test]
    fn a_planned_read_of_a_sparse_5_tb_file_reads_only_its_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.bin");
        let f = File::create(&p).unwrap();
        let len = 5u64 << 40;
        f.set_len(len).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"tail", len - 4).unwrap();
        drop(f);
        let mut asked = Vec::new();
        let ev = Evidence::open_planned(&p, ReadMode::Read, |n, read| {
            let mut b = [0u8; 4];
            read(n - 4, &mut b)?;
            asked.push(b);
            Ok(Some(vec![n - 4..n + 100, 0..16, 8..32]))
        })
        .unwrap();
        assert_eq!(asked, [*b"tail"]);
        assert_eq!(ev.bytes().len() as u64, len);
        assert_eq!(&ev.bytes()[ev.bytes().len() - 4..], b"tail");
        assert_eq!(
            ev.bytes_read(),
            4 + 32,
            "overlaps read once, the end clamped"
        );
        assert!(!ev.is_mapped());
        // Without a plan the same mode reads the whole file: kept for small files.
        let small = dir.path().join("small.bin");
        std::fs::write(&small, b"abc").unwrap();
        let ev = Evidence::open(&small, ReadMode::Read).unwrap();
        assert_eq!((ev.bytes(), ev.bytes_read()), (&b"abc"[..], 3));
    }

    #[test]
    fn data_from_steps_over_holes_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse.bin");
        let f = File::create(&p).unwrap();
        let len = 1u64 << 40;
        f.set_len(len).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"data", 0).unwrap();
        drop(f);
        let f = open_regular(&p).unwrap();
        assert_eq!(data_from(&f, 0).unwrap(), 0, "data is data");
        let after = data_from(&f, 1 << 20).unwrap();
        // A file system that cannot tell says "here"; one that can, "nothing follows".
        assert!(after == 1 << 20 || after == len, "{after}");
        assert_eq!(data_from(&f, len).unwrap(), len);
        let mut b = [0u8; 4];
        read_exact_at(&f, 0, &mut b).unwrap();
        assert_eq!(&b, b"data");
    }
}
