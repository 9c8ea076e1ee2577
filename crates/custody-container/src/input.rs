//! Where the transport- and program-stream demuxers read their bytes.
//!
//! [`crate::ts::Ts`] and [`crate::ps::Ps`] parse through an [`Input`]: a
//! `&[u8]` (a memory map) is its own input, zero-copy and whole at once,
//! and [`Windowed`] reads a [`Source`] (a file that is not mapped: removable
//! media, `--no-mmap`) front to back into a bounded buffer. Both go through
//! the same parser, so they give the same result, and the windowed parse
//! costs the window plus what the parse keeps, never the file's size.
//!
//! ```
//! use custody_container::input::Windowed;
//! use custody_container::{Limits, ts::Ts};
//!
//! // Three null packets after a PAT-less start: parsed from a 100-byte window.
//! let mut data = Vec::new();
//! for _ in 0..3 {
//!     data.extend_from_slice(&[0x47, 0x1f, 0xff, 0x10]);
//!     data.resize(data.len() + 184, 0xff);
//! }
//! let read = |at: u64, buf: &mut [u8]| {
//!     buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
//!     Ok(())
//! };
//! let windowed = Ts::parse_from(Windowed::with_window(read, data.len() as u64, 100), Limits::default(), None, true)?;
//! let whole = Ts::parse(&data, Limits::default())?;
//! assert_eq!(format!("{:?}", windowed.warnings), format!("{:?}", whole.warnings));
//! # Ok::<(), custody_container::Error>(())
//! ```

use crate::error::{Error, ErrorKind, Result};

/// Bytes a demuxer reads front to back: what [`crate::ts::Ts::parse_from`]
/// and [`crate::ps::Ps::parse_from`] take.
pub trait Input {
    /// Length of the input in bytes.
    fn size(&self) -> u64;

    /// The bytes from `at` (at most [`Input::size`]) on: at least `min` of
    /// them, fewer only where the input ends first. Callers never ask for an
    /// offset below one they asked for before.
    fn window(&mut self, at: u64, min: usize) -> Result<&[u8]>;

    /// An offset `end >= at` such that every byte in `at..end` is known to
    /// be zero without reading it (a hole in a sparse file); `at` when
    /// nothing is known. Scans for sync bytes and start codes skip such runs.
    fn zeros_until(&mut self, at: u64) -> Result<u64> {
        Ok(at)
    }
}

impl Input for &[u8] {
    #[inline]
    fn size(&self) -> u64 {
        self.len() as u64
    }

    #[inline]
    fn window(&mut self, at: u64, _min: usize) -> Result<&[u8]> {
        Ok(usize::try_from(at)
            .ok()
            .and_then(|a| self.get(a..))
            .unwrap_or(&[]))
    }
}

impl<T: Input + ?Sized> Input for &mut T {
    #[inline]
    fn size(&self) -> u64 {
        (**self).size()
    }

    #[inline]
    fn window(&mut self, at: u64, min: usize) -> Result<&[u8]> {
        (**self).window(at, min)
    }

    #[inline]
    fn zeros_until(&mut self, at: u64) -> Result<u64> {
        (**self).zeros_until(at)
    }
}

/// The error for an [`Input`] that returned fewer bytes than asked for
/// before its end (a broken implementation; the parsers never index past
/// what they were given).
pub(crate) fn short_window(at: u64) -> Error {
    Error::new(
        at,
        "input",
        ErrorKind::Invalid("the input returned fewer bytes than it holds".into()),
    )
}

/// Random-access reads of a file: what [`Windowed`] fills its buffer from.
///
/// Any `FnMut(u64, &mut [u8]) -> std::io::Result<()>` that reads exactly
/// `buf.len()` bytes at an offset is one.
pub trait Source {
    /// Reads exactly `buf.len()` bytes at offset `at`.
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()>;

    /// The first offset at or after `at` that may hold a byte other than
    /// zero (for a sparse file, the start of the next data region; the
    /// length when only a hole follows); `at` when unknown.
    fn data_from(&mut self, at: u64) -> std::io::Result<u64> {
        Ok(at)
    }
}

impl<F: FnMut(u64, &mut [u8]) -> std::io::Result<()>> Source for F {
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self(at, buf)
    }
}

/// A [`Source`] of known length read front to back through a buffer of a
/// few MiB: an [`Input`] whose memory does not grow with the file.
pub struct Windowed<S> {
    source: S,
    size: u64,
    buf: Vec<u8>,
    /// Offset of `buf[0]`.
    start: u64,
    capacity: usize,
    read: u64,
    error: Option<std::io::Error>,
}

impl<S: Source> Windowed<S> {
    /// The buffer [`Windowed::new`] reads through.
    pub const WINDOW: usize = 4 << 20;

    /// Reads the `size` bytes of `source` through a [`Windowed::WINDOW`] buffer.
    pub fn new(source: S, size: u64) -> Self {
        Self::with_window(source, size, Self::WINDOW)
    }

    /// Reads through a buffer of `window` bytes (any size: a request for
    /// more, such as one whole packet, grows it to that).
    pub fn with_window(source: S, size: u64, window: usize) -> Self {
        Windowed {
            source,
            size,
            buf: Vec::new(),
            start: 0,
            capacity: window.max(1),
            read: 0,
            error: None,
        }
    }

    /// Bytes read from the source so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The read error that ended a parse (reported to the parser as
    /// [`ErrorKind::Read`]), for a caller that wants the original.
    pub fn take_io_error(&mut self) -> Option<std::io::Error> {
        self.error.take()
    }

    fn fail(&mut self, at: u64, e: std::io::Error) -> Error {
        let err = Error::new(at, "input", ErrorKind::Read(e.to_string()));
        self.error = Some(e);
        err
    }
}

impl<S: Source> Input for Windowed<S> {
    fn size(&self) -> u64 {
        self.size
    }

    fn window(&mut self, at: u64, min: usize) -> Result<&[u8]> {
        let end = self.start + self.buf.len() as u64;
        if at < self.start || at > self.size {
            return Err(Error::new(
                at,
                "input",
                ErrorKind::Invalid(format!(
                    "read at {at} outside {}..{} of a {}-byte input",
                    self.start, self.size, self.size
                )),
            ));
        }
        let want = at.saturating_add(min as u64).min(self.size);
        if want > end {
            // Keep what is already held from `at` on; read the rest of a window.
            if at >= end {
                self.buf.clear();
            } else {
                self.buf.drain(..(at - self.start) as usize);
            }
            self.start = at;
            let held = self.buf.len();
            let target = (self.capacity.max(min) as u64).min(self.size - at) as usize;
            self.buf.resize(target, 0);
            let from = at + held as u64;
            if let Err(e) = self.source.read_at(from, &mut self.buf[held..]) {
                self.buf.truncate(held);
                return Err(self.fail(from, e));
            }
            self.read += (target - held) as u64;
        }
        Ok(&self.buf[(at - self.start) as usize..])
    }

    fn zeros_until(&mut self, at: u64) -> Result<u64> {
        match self.source.data_from(at) {
            Ok(d) => Ok(d.clamp(at, self.size.max(at))),
            Err(e) => Err(self.fail(at, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_what_is_asked_and_never_the_whole_input() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = Windowed::with_window(
            |at: u64, buf: &mut [u8]| {
                buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
                Ok(())
            },
            data.len() as u64,
            64,
        );
        assert_eq!(w.window(0, 10).unwrap(), &data[..64]);
        // More than the window: grows to fit.
        assert_eq!(w.window(30, 200).unwrap(), &data[30..230]);
        assert_eq!(w.window(9_990, 100).unwrap(), &data[9_990..]);
        assert_eq!(w.window(10_000, 4).unwrap(), b"");
        assert!(w.window(5, 1).is_err(), "behind the window");
        assert!(w.bytes_read() < 400, "{}", w.bytes_read());
    }

    #[test]
    fn a_failed_read_is_a_typed_error_keeping_the_cause() {
        let mut w = Windowed::new(
            |_: u64, _: &mut [u8]| -> std::io::Result<()> {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "device gone",
                ))
            },
            1000,
        );
        let e = w.window(0, 4).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Read(ref m) if m.contains("device gone")));
        assert_eq!(
            w.take_io_error().map(|e| e.kind()),
            Some(std::io::ErrorKind::UnexpectedEof)
        );
    }
}
