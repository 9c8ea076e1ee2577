//! The ISO-BMFF box walker.

use crate::bytes::{be32, be64};
use crate::error::{Error, ErrorKind, Result};
use crate::fourcc::FourCC;

/// One box: its header fields and its payload as a slice of the input.
#[derive(Debug, Clone, Copy)]
pub struct BoxRef<'a> {
    /// The box type.
    pub kind: FourCC,
    /// Absolute offset of the box header in the file.
    pub offset: u64,
    /// Header length in bytes (8, 16, or 24/32 with a `uuid` user type).
    pub header_len: u32,
    /// Total size the header declares (after resolving size 0 and 1).
    pub size: u64,
    /// The 16-byte user type of a `uuid` box.
    pub usertype: Option<[u8; 16]>,
    /// The payload, clamped to the bytes actually present.
    pub payload: &'a [u8],
    /// True when the declared size runs past the parent or the file.
    pub truncated: bool,
}

impl<'a> BoxRef<'a> {
    /// Absolute offset of the first payload byte.
    pub fn payload_offset(&self) -> u64 {
        self.offset + self.header_len as u64
    }

    /// Iterates over the boxes inside this box's payload, starting `skip` bytes in.
    pub fn children(&self, skip: usize) -> BoxIter<'a> {
        let data = self.payload.get(skip..).unwrap_or(&[]);
        BoxIter::new(data, self.payload_offset() + skip as u64)
    }

    /// Splits a full box payload into (version, flags, body).
    pub fn full(&self) -> Option<(u8, u32, &'a [u8])> {
        let vf = be32(self.payload, 0)?;
        Some(((vf >> 24) as u8, vf & 0x00ff_ffff, &self.payload[4..]))
    }
}

/// Iterator over sibling boxes in a byte range.
///
/// A box whose declared size overruns the range is yielded once with
/// `truncated` set and its payload clamped; a header that cannot be read or
/// declares an impossible size yields an error. Either ends the iteration.
#[derive(Debug, Clone)]
pub struct BoxIter<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    done: bool,
}

impl<'a> BoxIter<'a> {
    /// Walks `data`, whose first byte sits at absolute offset `base`.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        BoxIter {
            data,
            pos: 0,
            base,
            done: false,
        }
    }

    /// Absolute offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.base + self.pos as u64
    }
}

impl<'a> Iterator for BoxIter<'a> {
    type Item = Result<BoxRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        crate::cost::step(1);
        let d = &self.data[self.pos..];
        let offset = self.base + self.pos as u64;
        let avail = d.len() as u64;
        let Header {
            kind,
            size,
            header_len,
            usertype,
        } = match Header::read(d, offset, avail) {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let truncated = size > avail;
        let end = size.min(avail) as usize;
        let payload = &d[header_len as usize..end];
        if truncated {
            self.done = true;
        }
        self.pos += end;
        Some(Ok(BoxRef {
            kind,
            offset,
            header_len: header_len as u32,
            size,
            usertype,
            payload,
            truncated,
        }))
    }
}

/// A box header: type, declared size (size 0 and 1 resolved), header length
/// and `uuid` user type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub kind: FourCC,
    pub size: u64,
    pub header_len: u64,
    pub usertype: Option<[u8; 16]>,
}

/// The longest box header: 64-bit size and a `uuid` user type.
pub(crate) const MAX_HEADER: usize = 32;

impl Header {
    /// Reads the header at the start of `d` (at least its first
    /// [`MAX_HEADER`] bytes where the range has them), for a box at
    /// `offset` with `avail` bytes left in its range (size 0 runs to there).
    pub(crate) fn read(d: &[u8], offset: u64, avail: u64) -> Result<Header> {
        let Some(size32) = be32(d, 0).filter(|_| d.len() >= 8) else {
            return Err(Error::new(
                offset,
                "",
                ErrorKind::Truncated {
                    needed: 8,
                    available: avail,
                },
            ));
        };
        let kind = FourCC([d[4], d[5], d[6], d[7]]);
        let mut header_len: u64 = 8;
        let size = match size32 {
            0 => avail,
            1 => {
                let Some(large) = be64(d, 8) else {
                    return Err(Error::new(
                        offset,
                        kind.to_string(),
                        ErrorKind::Truncated {
                            needed: 16,
                            available: avail,
                        },
                    ));
                };
                header_len = 16;
                large
            }
            s => s as u64,
        };
        let mut usertype = None;
        if kind.0 == *b"uuid" {
            match d.get(header_len as usize..header_len as usize + 16) {
                Some(u) => {
                    let mut t = [0u8; 16];
                    t.copy_from_slice(u);
                    usertype = Some(t);
                    header_len += 16;
                }
                None => {
                    return Err(Error::new(
                        offset,
                        kind.to_string(),
                        ErrorKind::Truncated {
                            needed: header_len + 16,
                            available: avail,
                        },
                    ));
                }
            }
        }
        if size < header_len {
            return Err(Error::new(
                offset,
                kind.to_string(),
                ErrorKind::BadBoxSize { size },
            ));
        }
        Ok(Header {
            kind,
            size,
            header_len,
            usertype,
        })
    }
}

/// Serialises a box with the given type and payload (a 32-bit or 64-bit header).
///
/// Used by tests and tools that build files; the parser never allocates boxes.
pub fn write_box(out: &mut Vec<u8>, kind: FourCC, payload: &[u8], large: bool) {
    if large {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&kind.0);
        out.extend_from_slice(&(payload.len() as u64 + 16).to_be_bytes());
    } else {
        out.extend_from_slice(&(payload.len() as u32 + 8).to_be_bytes());
        out.extend_from_slice(&kind.0);
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(data: &[u8]) -> Vec<Result<(String, u64, u64, bool)>> {
        BoxIter::new(data, 100)
            .map(|r| r.map(|b| (b.kind.to_string(), b.offset, b.size, b.truncated)))
            .collect()
    }

    #[test]
    fn size_zero_runs_to_the_end() {
        let mut d = Vec::new();
        write_box(&mut d, FourCC(*b"free"), b"ab", false);
        d.extend_from_slice(&[0, 0, 0, 0]);
        d.extend_from_slice(b"mdat12345");
        let k = kinds(&d);
        assert_eq!(
            k[1].as_ref().unwrap(),
            &("mdat".to_string(), 110, 13, false)
        );
    }

    #[test]
    fn largesize_header() {
        let mut d = Vec::new();
        write_box(&mut d, FourCC(*b"mdat"), &[7; 20], true);
        let b = BoxIter::new(&d, 0).next().unwrap().unwrap();
        assert_eq!((b.header_len, b.size, b.payload.len()), (16, 36, 20));
    }

    #[test]
    fn overrun_is_clamped_and_flagged() {
        let mut d = Vec::new();
        write_box(&mut d, FourCC(*b"mdat"), &[1; 10], false);
        d.truncate(12);
        let k = kinds(&d);
        assert_eq!(k, vec![Ok(("mdat".to_string(), 100, 18, true))]);
    }

    #[test]
    fn impossible_sizes_are_errors_with_offsets() {
        // size 3 < header
        let d = [0, 0, 0, 3, b'f', b'r', b'e', b'e', 0, 0];
        let e = BoxIter::new(&d, 32).next().unwrap().unwrap_err();
        assert_eq!(
            (e.offset, e.kind.clone()),
            (32, ErrorKind::BadBoxSize { size: 3 })
        );
        // trailing bytes shorter than a header
        let e = BoxIter::new(&[0, 0, 1], 5).next().unwrap().unwrap_err();
        assert!(matches!(
            e.kind,
            ErrorKind::Truncated {
                needed: 8,
                available: 3
            }
        ));
        // largesize smaller than its own header
        let mut d = vec![0, 0, 0, 1];
        d.extend_from_slice(b"mdat");
        d.extend_from_slice(&8u64.to_be_bytes());
        assert!(BoxIter::new(&d, 0).next().unwrap().is_err());
    }

    #[test]
    fn uuid_usertype_is_split_off() {
        let mut d = Vec::new();
        let mut payload = vec![9u8; 16];
        payload.extend_from_slice(b"xmp");
        write_box(&mut d, FourCC(*b"uuid"), &payload, false);
        let b = BoxIter::new(&d, 0).next().unwrap().unwrap();
        assert_eq!((b.usertype, b.payload), (Some([9; 16]), &b"xmp"[..]));
    }
}
