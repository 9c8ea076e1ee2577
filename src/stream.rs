//! Files that are not mapped (removable media, `--no-mmap`) and hold a
//! transport or program stream are read front to back through a bounded
//! window ([`custody_container::input::Windowed`]), never whole.

use crate::error::{Error, Result};
use custody_container::input::{Source, Windowed};
use custody_io::ReadMode;
use std::fs::File;
use std::path::Path;

/// A file read with positioned reads; holes of a sparse file are reported
/// so scans step over them unread.
pub(crate) struct FileSource(File);

impl Source for FileSource {
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        custody_io::read_exact_at(&self.0, at, buf)
    }

    fn data_from(&mut self, at: u64) -> std::io::Result<u64> {
        custody_io::data_from(&self.0, at)
    }
}

/// The file at `path` as a window, when `mode` does not map it and it holds
/// a container read front to back (MPEG-TS, MPEG-PS); `None` otherwise
/// (open it as [`custody_io::Evidence`]).
pub(crate) fn open_windowed(path: &Path, mode: ReadMode) -> Result<Option<Windowed<FileSource>>> {
    let file = custody_io::open_regular(path).map_err(Error::io(path))?;
    let len = file.metadata().map_err(Error::io(path))?.len();
    if len == 0 || mode.maps(path, len) {
        return Ok(None);
    }
    let mut w = Windowed::new(FileSource(file), len);
    let streamed = custody_container::summary::detect_input(&mut w)
        .is_ok_and(custody_container::summary::reads_front_to_back);
    if let Some(e) = w.take_io_error() {
        return Err(Error::io(path)(e));
    }
    Ok(streamed.then_some(w))
}

/// Maps a parse of a windowed file to the job's error: a failed read is an
/// I/O error on the file, anything else a parse error.
pub(crate) fn parse_error(
    path: &Path,
    w: &mut Windowed<FileSource>,
    source: custody_container::Error,
) -> Error {
    match w.take_io_error() {
        Some(e) => Error::io(path)(e),
        None => Error::Parse {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Content hashes of a file read at random: mapped, it is hashed in place;
/// not mapped, a container whose probe reads only part of it (MP4/MOV/3GP,
/// WAV/RF64, indexed AVI, Matroska, FLV) is read as a probe reads it (its
/// index) and then packet by packet, never whole (other formats are read
/// whole).
pub(crate) fn content_indexed(
    path: &Path,
    mode: ReadMode,
    limits: custody_container::Limits,
) -> Result<Vec<custody_hash::content::TrackContent>> {
    let parse = |source| Error::Parse {
        path: path.to_path_buf(),
        source,
    };
    let ev = custody_io::Evidence::open_planned(path, mode, |len, read| {
        custody_container::probe_ranges(len, Default::default(), read)
    })
    .map_err(Error::io(path))?;
    if !ev.is_partial() {
        return custody_hash::content::content_hashes(ev.bytes(), limits).map_err(parse);
    }
    let d = custody_container::demux::demux(ev.bytes(), limits, true, None).map_err(parse)?;
    let file = custody_io::open_regular(path).map_err(Error::io(path))?;
    let len = ev.bytes().len() as u64;
    let mut failed = None;
    let hashes = custody_hash::content::content_hashes_read(&d, len, |at, buf| {
        custody_io::read_exact_at(&file, at, buf).inspect_err(|e| {
            failed = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    });
    match (hashes, failed) {
        (Ok(h), _) => Ok(h),
        (Err(_), Some(e)) => Err(Error::io(path)(e)),
        (Err(source), None) => Err(parse(source)),
    }
}
