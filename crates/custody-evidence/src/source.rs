//! Reading a recorder's mounted file system: every name under the source,
//! found and opened relative to directory handles.
//!
//! On Unix, directories are opened one component at a time (`openat` with
//! `O_NOFOLLOW`) from a handle on the source's root, and entries are
//! examined with `fstatat` relative to their directory. So:
//!
//! - no path is ever handed to the kernel whole, and a tree deeper than
//!   `PATH_MAX` (4096 bytes) is walked and collected like any other;
//! - no symbolic link is followed anywhere below the root, not even one
//!   swapped in after the walk (the open fails instead);
//! - an entry that cannot be examined (`fstatat` fails: a directory that
//!   can be listed but not searched, an I/O error) is reported with the
//!   reason, never dropped.
//!
//! A [`Cursor`] keeps the handles of the directory it was last in, and of a
//! bounded number of its ancestors, so walking a tree and then opening its
//! files in sorted order costs a constant number of system calls per
//! directory step however deep the tree is (climbing back up uses `..`,
//! checked against the device and inode seen on the way down, so a
//! directory moved meanwhile is an error, not an escape).
//!
//! Elsewhere the same interface works on paths (`std::fs`).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Component, Path, PathBuf};

/// What a `stat` says of an entry, as far as collection cares: a file that
/// keeps its stamp from the walk to the end of its copy did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Kind of entry.
    pub kind: Kind,
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch.
    pub mtime: (i64, u32),
    /// Device and inode (zero where the platform has none).
    pub id: (u64, u64),
}

/// Kinds of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else (FIFO, socket, device).
    Other,
}

impl Stamp {
    /// The modification time as a `SystemTime`.
    pub fn modified(&self) -> std::time::SystemTime {
        let (s, ns) = self.mtime;
        let base = std::time::UNIX_EPOCH;
        if s >= 0 {
            base + std::time::Duration::new(s as u64, ns)
        } else {
            base - std::time::Duration::from_secs(s.unsigned_abs())
                + std::time::Duration::from_nanos(u64::from(ns))
        }
    }

    /// What changed between `self` and `later`, for people; `None` when
    /// nothing did.
    pub fn change(&self, later: &Stamp) -> Option<String> {
        if self == later {
            return None;
        }
        let mut what = Vec::new();
        if self.size != later.size {
            what.push(format!("size {} -> {} bytes", self.size, later.size));
        }
        if self.mtime != later.mtime {
            what.push("modification time moved".to_string());
        }
        if self.id != later.id || self.kind != later.kind {
            what.push("replaced by another file".to_string());
        }
        Some(what.join(", "))
    }
}

/// The stamp of an open file (`fstat`).
pub(crate) fn stamp_of(file: &File) -> std::io::Result<Stamp> {
    #[cfg(unix)]
    return Ok(handles::stamp(&rustix::fs::fstat(file)?));
    #[cfg(not(unix))]
    return Ok(portable::stamp(&file.metadata()?));
}

/// One directory's entries: each name with its stamp or why it has none,
/// and an error that stopped the listing part way (the names read before it
/// are kept).
pub(crate) type Listing = (
    Vec<(OsString, std::io::Result<Stamp>)>,
    Option<std::io::Error>,
);

/// The source's root, held open for the whole collection.
#[derive(Debug)]
pub(crate) struct Tree {
    #[cfg_attr(unix, allow(dead_code))]
    root: PathBuf,
    #[cfg(unix)]
    fd: rustix::fd::OwnedFd,
}

impl Tree {
    /// Opens `root` (a canonical path to a directory).
    pub fn open(root: &Path) -> std::io::Result<Tree> {
        #[cfg(unix)]
        {
            use rustix::fs::{CWD, Mode, OFlags};
            let fd = rustix::fs::openat(
                CWD,
                root,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            Ok(Tree {
                root: root.to_path_buf(),
                fd,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Tree {
                root: root.to_path_buf(),
            })
        }
    }

    /// A cursor to list, examine and open entries (one per thread).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            #[cfg(unix)]
            handles: handles::Handles::new(&self.fd),
            #[cfg(not(unix))]
            portable: portable::Paths { root: &self.root },
        }
    }
}

/// Lists, examines and opens entries of a [`Tree`] by their paths relative
/// to its root.
pub(crate) struct Cursor<'t> {
    #[cfg(unix)]
    handles: handles::Handles<'t>,
    #[cfg(not(unix))]
    portable: portable::Paths<'t>,
}

impl Cursor<'_> {
    /// The entries of directory `dir`, sorted by name (`.` and `..` left out).
    pub fn list(&mut self, dir: &Path) -> std::io::Result<Listing> {
        #[cfg(unix)]
        return self.handles.list(dir);
        #[cfg(not(unix))]
        return self.portable.list(dir);
    }

    /// Opens the regular file `file` for reading: never blocking, never
    /// through a symbolic link; anything but a regular file is refused.
    pub fn open(&mut self, file: &Path) -> std::io::Result<(File, Stamp)> {
        #[cfg(unix)]
        return self.handles.open(file);
        #[cfg(not(unix))]
        return self.portable.open(file);
    }

    /// The stamp of `file` as its directory names it now (not following a link).
    pub fn stat(&mut self, file: &Path) -> std::io::Result<Stamp> {
        #[cfg(unix)]
        return self.handles.stat(file);
        #[cfg(not(unix))]
        return self.portable.stat(file);
    }
}

/// The plain names of `rel`'s components; anything else (`..`, a root) is
/// refused: a path relative to the source names nothing outside it.
fn names(rel: &Path) -> std::io::Result<Vec<&OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a plain relative path", rel.display()),
            )),
        })
        .collect()
}

/// `rel`'s directory and its file name.
fn split(rel: &Path) -> std::io::Result<(&Path, &OsStr)> {
    match (rel.parent(), rel.file_name()) {
        (Some(dir), Some(name)) => Ok((dir, name)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no file name",
        )),
    }
}

fn not_regular(kind: Kind) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        match kind {
            Kind::Dir => "not a regular file (a directory)",
            Kind::Symlink => "a symbolic link: not followed",
            _ => "not a regular file",
        },
    )
}

#[cfg(unix)]
mod handles {
    use super::{Kind, Listing, Stamp, names, not_regular, split};
    use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    /// Directory handles held open at most, besides the root's.
    const OPEN_LEVELS: usize = 16;

    pub(super) fn stamp(st: &rustix::fs::Stat) -> Stamp {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        Stamp {
            kind,
            size: st.st_size.max(0) as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec.clamp(0, 999_999_999) as u32),
            id: (st.st_dev, st.st_ino),
        }
    }

    /// One directory on the way from the root to where the cursor is.
    struct Level {
        name: OsString,
        id: (u64, u64),
        fd: Option<OwnedFd>,
    }

    /// The directories from the root to the current one; the handles of
    /// the deepest [`OPEN_LEVELS`] of them are open (`levels[first_open..]`).
    pub(super) struct Handles<'t> {
        root: &'t OwnedFd,
        levels: Vec<Level>,
        first_open: usize,
        /// Directories opened so far (the work a walk costs).
        pub(super) opened: u64,
    }

    impl<'t> Handles<'t> {
        pub(super) fn new(root: &'t OwnedFd) -> Handles<'t> {
            Handles {
                root,
                levels: Vec::new(),
                first_open: 0,
                opened: 0,
            }
        }

        /// Moves to directory `dir` (relative to the root) and returns its handle.
        fn dir(&mut self, dir: &Path) -> std::io::Result<BorrowedFd<'_>> {
            let names = names(dir)?;
            let common = self
                .levels
                .iter()
                .zip(&names)
                .take_while(|(l, n)| l.name == **n)
                .count();
            self.climb_to(common)?;
            for n in &names[common..] {
                self.descend(n)?;
            }
            Ok(match self.levels.last().and_then(|l| l.fd.as_ref()) {
                Some(fd) => fd.as_fd(),
                None => self.root.as_fd(),
            })
        }

        /// Leaves the levels below the first `n`, with level `n` (counting
        /// the root as 0) open: reopened through `..` from the shallowest
        /// open level when its handle was closed.
        fn climb_to(&mut self, n: usize) -> std::io::Result<()> {
            if n >= self.levels.len() {
                return Ok(());
            }
            if n == 0 {
                self.levels.clear();
                self.first_open = 0;
                return Ok(());
            }
            if n > self.first_open {
                // Level n (index n - 1) is open already.
                self.levels.truncate(n);
                return Ok(());
            }
            // levels[first_open] is open (the deepest level always is).
            for i in (n - 1..self.first_open).rev() {
                let Some(child) = self.levels[i + 1].fd.as_ref() else {
                    return Err(std::io::Error::other("directory handle missing"));
                };
                let fd = rustix::fs::openat(
                    child,
                    c"..",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                self.opened += 1;
                let st = stamp(&rustix::fs::fstat(&fd)?);
                if st.id != self.levels[i].id {
                    return Err(std::io::Error::other(
                        "a directory of the source was moved while it was read",
                    ));
                }
                self.levels[i].fd = Some(fd);
                self.first_open = i;
            }
            self.levels.truncate(n);
            Ok(())
        }

        /// Enters the subdirectory `name` of the current directory (never
        /// through a symbolic link).
        fn descend(&mut self, name: &OsStr) -> std::io::Result<()> {
            let parent = match self.levels.last().and_then(|l| l.fd.as_ref()) {
                Some(fd) => fd.as_fd(),
                None => self.root.as_fd(),
            };
            let fd = rustix::fs::openat(
                parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            self.opened += 1;
            let st = stamp(&rustix::fs::fstat(&fd)?);
            if self.levels.is_empty() {
                self.first_open = 0;
            }
            self.levels.push(Level {
                name: name.to_os_string(),
                id: st.id,
                fd: Some(fd),
            });
            while self.levels.len() - self.first_open > OPEN_LEVELS {
                self.levels[self.first_open].fd = None;
                self.first_open += 1;
            }
            Ok(())
        }

        pub(super) fn list(&mut self, dir: &Path) -> std::io::Result<Listing> {
            let fd = self.dir(dir)?;
            // A handle of its own for reading the entries: the cursor's
            // handle stays for lookups. Duplicated rather than reopened
            // through ".", which needs search permission.
            let mut reader = rustix::fs::Dir::new(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)?;
            reader.rewind();
            let mut out = Vec::new();
            let mut stopped = None;
            while let Some(e) = reader.read() {
                match e {
                    Ok(e) => {
                        let name = e.file_name().to_bytes();
                        if name == b"." || name == b".." {
                            continue;
                        }
                        let name = OsStr::from_bytes(name).to_os_string();
                        let st = rustix::fs::statat(fd, &*name, AtFlags::SYMLINK_NOFOLLOW)
                            .map(|s| stamp(&s))
                            .map_err(std::io::Error::from);
                        out.push((name, st));
                    }
                    Err(e) => {
                        stopped = Some(e.into());
                        break;
                    }
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok((out, stopped))
        }

        pub(super) fn open(&mut self, file: &Path) -> std::io::Result<(std::fs::File, Stamp)> {
            let (dir, name) = split(file)?;
            let fd = self.dir(dir)?;
            // O_NONBLOCK: a FIFO swapped in after the walk does not block;
            // O_NOFOLLOW: nor is a symbolic link followed.
            let f = rustix::fs::openat(
                fd,
                name,
                OFlags::RDONLY
                    | OFlags::NONBLOCK
                    | OFlags::NOFOLLOW
                    | OFlags::NOCTTY
                    | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| {
                if e == rustix::io::Errno::LOOP {
                    not_regular(Kind::Symlink)
                } else {
                    e.into()
                }
            })?;
            let st = stamp(&rustix::fs::fstat(&f)?);
            if st.kind != Kind::File {
                return Err(not_regular(st.kind));
            }
            Ok((std::fs::File::from(f), st))
        }

        pub(super) fn stat(&mut self, file: &Path) -> std::io::Result<Stamp> {
            let (dir, name) = split(file)?;
            let fd = self.dir(dir)?;
            Ok(stamp(&rustix::fs::statat(
                fd,
                name,
                AtFlags::SYMLINK_NOFOLLOW,
            )?))
        }
    }
}

/// The same interface on paths (`std::fs`): what platforms without
/// directory handles use. Paths deeper than the platform's limit fail there,
/// with the reason reported. (Compiled everywhere, and compared with the
/// handles in this module's tests.)
#[cfg_attr(unix, allow(dead_code))]
mod portable {
    use super::{Kind, Listing, Stamp, names, not_regular, split};
    use std::path::Path;

    pub(super) fn stamp(m: &std::fs::Metadata) -> Stamp {
        let t = m.file_type();
        let kind = if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_nanos()));
        Stamp {
            kind,
            size: m.len(),
            mtime,
            id: (0, 0),
        }
    }

    pub(super) struct Paths<'t> {
        pub(super) root: &'t Path,
    }

    impl Paths<'_> {
        /// `rel` under the root, each directory on the way checked not to be
        /// a symbolic link.
        fn resolve(&self, rel: &Path, dir: bool) -> std::io::Result<std::path::PathBuf> {
            let names = names(rel)?;
            let mut p = self.root.to_path_buf();
            let last = names.len();
            for (i, n) in names.into_iter().enumerate() {
                p.push(n);
                if dir || i + 1 < last {
                    let m = std::fs::symlink_metadata(&p)?;
                    if !m.is_dir() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!("{} is not a directory", p.display()),
                        ));
                    }
                }
            }
            Ok(p)
        }

        pub(super) fn list(&mut self, dir: &Path) -> std::io::Result<Listing> {
            let dir = self.resolve(dir, true)?;
            let mut out = Vec::new();
            let mut stopped = None;
            for e in std::fs::read_dir(&dir)? {
                match e {
                    Ok(e) => {
                        let st = std::fs::symlink_metadata(e.path()).map(|m| stamp(&m));
                        out.push((e.file_name(), st));
                    }
                    Err(e) => {
                        stopped = Some(e);
                        break;
                    }
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok((out, stopped))
        }

        pub(super) fn open(&mut self, file: &Path) -> std::io::Result<(std::fs::File, Stamp)> {
            let st = self.stat(file)?;
            if st.kind != Kind::File {
                return Err(not_regular(st.kind));
            }
            let f = custody_io::open_regular(&self.resolve(file, false)?)?;
            let st = stamp(&f.metadata()?);
            Ok((f, st))
        }

        pub(super) fn stat(&mut self, file: &Path) -> std::io::Result<Stamp> {
            split(file)?;
            Ok(stamp(&std::fs::symlink_metadata(
                self.resolve(file, false)?,
            )?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `tree` with its size, through `list`, `open` and `stat`.
    fn files(
        list: &mut dyn FnMut(&Path) -> std::io::Result<Listing>,
        open: &mut dyn FnMut(&Path) -> std::io::Result<(File, Stamp)>,
    ) -> Vec<(PathBuf, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(d) = stack.pop() {
            let (entries, stopped) = list(&d).unwrap();
            assert!(stopped.is_none());
            for (name, st) in entries {
                let st = st.unwrap();
                let rel = d.join(name);
                match st.kind {
                    Kind::Dir => stack.push(rel),
                    Kind::File => {
                        let (_, opened) = open(&rel).unwrap();
                        assert_eq!(opened.size, st.size);
                        out.push((rel, st.size));
                    }
                    _ => {}
                }
            }
        }
        out.sort();
        out
    }

    /// Handles and paths see the same tree; the cursor keeps working while
    /// it moves up and down more levels than it holds open.
    #[test]
    fn handles_and_paths_agree() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let mut deep = root.clone();
        for i in 0..40 {
            deep.push(format!("d{i}"));
            std::fs::create_dir(&deep).unwrap();
            std::fs::write(deep.join("f"), vec![0u8; i]).unwrap();
            std::fs::create_dir(deep.join("side")).unwrap();
            std::fs::write(deep.join("side/g"), b"g").unwrap();
        }
        let tree = Tree::open(&root).unwrap();
        let mut c = tree.cursor();
        let mut p = portable::Paths { root: &root };
        let by_cursor = {
            let c = std::cell::RefCell::new(&mut c);
            files(&mut |d| c.borrow_mut().list(d), &mut |f| {
                c.borrow_mut().open(f)
            })
        };
        let by_paths = {
            let p = std::cell::RefCell::new(&mut p);
            files(&mut |d| p.borrow_mut().list(d), &mut |f| {
                p.borrow_mut().open(f)
            })
        };
        assert_eq!(by_cursor.len(), 80);
        assert_eq!(by_cursor, by_paths);
        // Back to the top and down again, out of order.
        for (f, size) in by_cursor.iter().rev() {
            assert_eq!(c.stat(f).unwrap().size, *size);
        }
        assert!(c.open(Path::new("../x")).is_err());
        assert!(
            c.open(Path::new("d0")).is_err(),
            "a directory is not a file"
        );
    }

    /// Cost: walking a tree and then opening each of its files in sorted
    /// order opens a bounded number of directories per directory of the
    /// tree, however deep (a cursor that reopened each path from the root
    /// would open about depth² / 2 of them: 180,000 here).
    #[cfg(unix)]
    #[test]
    fn a_deep_walk_opens_each_directory_a_bounded_number_of_times() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let depth = 600;
        let mut deep = root.clone();
        for _ in 0..depth {
            deep.push("d");
            std::fs::create_dir(&deep).unwrap();
            std::fs::write(deep.join("f"), b"x").unwrap();
            std::fs::create_dir(deep.join("s")).unwrap();
        }
        let tree = Tree::open(&root).unwrap();
        let mut c = tree.cursor();
        let found = {
            let c = std::cell::RefCell::new(&mut c);
            files(&mut |d| c.borrow_mut().list(d), &mut |f| {
                c.borrow_mut().open(f)
            })
        };
        assert_eq!(found.len(), depth);
        for (f, _) in &found {
            c.stat(f).unwrap();
        }
        let dirs = 2 * depth as u64;
        assert!(
            c.handles.opened <= 4 * dirs,
            "{} directories opened for a tree of {dirs}",
            c.handles.opened
        );
    }
}
