//! Outputs are written to a temporary file beside their destination,
//! fsynced, then moved into place without ever replacing an existing file;
//! on any failure, cancellation or panic the temporary file is removed.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary file that becomes `dest` on [`TempOutput::commit`], and is
/// removed if it is dropped before that.
pub(crate) struct TempOutput {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

/// The prefix of every temporary output's name (after the leading dot and
/// the destination's name).
pub(crate) const TMP_MARK: &str = ".custody-tmp-";

impl TempOutput {
    /// Reserves a temporary path beside `dest`. Refuses a `dest` that exists
    /// (an archive never replaces a file) or whose folder is missing.
    pub(crate) fn new(dest: &Path) -> Result<TempOutput> {
        let name = dest
            .file_name()
            .ok_or_else(|| Error::InvalidArgument(format!("{}: not a file name", dest.display())))?
            .to_string_lossy()
            .into_owned();
        if dest.symlink_metadata().is_ok() {
            return Err(Error::InvalidArgument(format!(
                "{} already exists; an archive never replaces a file",
                dest.display()
            )));
        }
        let dir = parent(dest);
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            });
        }
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}{TMP_MARK}{}-{n}", std::process::id()));
        Ok(TempOutput {
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write.
    pub(crate) fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final name.
    pub(crate) fn dest(&self) -> &Path {
        &self.dest
    }

    /// Fsyncs the written file, moves it to its destination (never over an
    /// existing file) and fsyncs the folder.
    pub(crate) fn commit(mut self) -> Result<()> {
        let f = std::fs::File::open(&self.tmp).map_err(Error::io(&self.tmp))?;
        f.sync_all().map_err(Error::io(&self.tmp))?;
        drop(f);
        // A hard link fails when the destination exists, where a rename
        // would silently replace it; filesystems without links get a rename
        // after a last check.
        match std::fs::hard_link(&self.tmp, &self.dest) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.tmp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::InvalidArgument(format!(
                    "{} appeared while it was being written; it was left alone",
                    self.dest.display()
                )));
            }
            Err(_) => {
                if self.dest.symlink_metadata().is_ok() {
                    return Err(Error::InvalidArgument(format!(
                        "{} appeared while it was being written; it was left alone",
                        self.dest.display()
                    )));
                }
                std::fs::rename(&self.tmp, &self.dest).map_err(Error::io(&self.dest))?;
            }
        }
        self.committed = true;
        let dir = parent(&self.dest);
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(Error::io(dir))?;
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_output_leaves_nothing_and_commit_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mkv");
        {
            let t = TempOutput::new(&dest).unwrap();
            std::fs::write(t.path(), b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let t = TempOutput::new(&dest).unwrap();
        std::fs::write(t.path(), b"whole").unwrap();
        t.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert!(TempOutput::new(&dest).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
