//! RIFF, the chunk format under WAV and AVI: little-endian reads, the
//! chunk walk, and which bytes a probe of a RIFF file reads (so a file
//! that is not mapped is probed at the cost of its headers and index).

use crate::bmff::plan::ReadAt;
use crate::fourcc::FourCC;
use std::ops::Range;

/// Reads a little-endian `u16` at `at`.
pub(crate) fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// Reads a little-endian `u32` at `at`.
pub(crate) fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Reads a little-endian `u64` at `at`.
pub(crate) fn le64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Reads a four-character code at `at`.
pub(crate) fn fourcc(d: &[u8], at: usize) -> Option<FourCC> {
    Some(FourCC(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// A fixed-size or chunk text field: up to the first NUL, trailing spaces
/// and line ends dropped, bytes that are not UTF-8 replaced.
pub(crate) fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim_end().to_string()
}

/// One chunk: its id, where its header and body start, its declared size,
/// and where the body ends cut at the enclosing end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk {
    pub(crate) id: FourCC,
    pub(crate) at: u64,
    pub(crate) body: u64,
    pub(crate) size: u64,
    pub(crate) cut: u64,
}

impl Chunk {
    /// Reads the chunk header at `at` from `head` (8 bytes); `None` past `end`.
    fn read(head: &[u8], at: u64, end: u64) -> Option<Chunk> {
        if at.checked_add(8)? > end {
            return None;
        }
        let size = le32(head, 4)? as u64;
        let body = at + 8;
        Some(Chunk {
            id: fourcc(head, 0)?,
            at,
            body,
            size,
            cut: body.saturating_add(size).min(end),
        })
    }

    /// Where the next chunk starts (bodies are padded to an even size).
    fn next(&self) -> u64 {
        self.body
            .saturating_add(self.size)
            .saturating_add(self.size & 1)
    }
}

/// The chunks of `d` between `from` and `end`; the walk stops at a header
/// that does not fit.
pub(crate) fn chunks(d: &[u8], from: u64, end: u64) -> impl Iterator<Item = Chunk> + '_ {
    let mut at = from;
    std::iter::from_fn(move || {
        crate::cost::step(1);
        let c = Chunk::read(d.get(at as usize..)?, at, end)?;
        at = c.next();
        Some(c)
    })
}

/// Chunk headers read through `read_at`, for planning.
fn chunks_at<'r, 'a>(
    read_at: &'r mut ReadAt<'a>,
    from: u64,
    end: u64,
) -> impl Iterator<Item = std::io::Result<Chunk>> + use<'r, 'a> {
    let mut at = from;
    std::iter::from_fn(move || {
        if at.checked_add(8)? > end {
            return None;
        }
        let mut head = [0u8; 8];
        if let Err(e) = read_at(at, &mut head) {
            return Some(Err(e));
        }
        let c = Chunk::read(&head, at, end)?;
        at = c.next();
        Some(Ok(c))
    })
}

/// The byte ranges of a `len`-byte WAV, RF64 or AVI file that probing it
/// reads, found with one small read per chunk: every chunk header, and the
/// bodies of the chunks a probe parses (never the audio or the `movi`
/// data). `None` when the probe needs the whole file: an AVI with no index
/// (its packets are found by reading the `movi` list).
///
/// A probe of an image holding only the ranges equals a probe of the file.
pub fn probe_ranges(
    len: u64,
    read_at: &mut ReadAt<'_>,
) -> std::io::Result<Option<Vec<Range<u64>>>> {
    let mut out = Vec::new();
    let mut hdrls = Vec::new();
    let mut indexed = false;
    let riffs: Vec<Chunk> = chunks_at(read_at, 0, len).collect::<std::io::Result<_>>()?;
    for riff in riffs {
        out.push(riff.at..(riff.body + 4).min(len));
        if !matches!(&riff.id.0, b"RIFF" | b"RF64" | b"BW64") {
            break;
        }
        let children: Vec<Chunk> =
            chunks_at(read_at, riff.body + 4, riff.cut).collect::<std::io::Result<_>>()?;
        for c in children {
            out.push(c.at..(c.body + 4).min(c.cut));
            let whole = match &c.id.0 {
                b"data" | b"JUNK" => false,
                b"LIST" => {
                    let mut kind = [0u8; 4];
                    if c.body + 4 <= c.cut {
                        read_at(c.body, &mut kind)?;
                    }
                    if &kind == b"hdrl" {
                        hdrls.push(c);
                    }
                    &kind != b"movi"
                }
                b"idx1" => {
                    indexed = true;
                    true
                }
                _ => true,
            };
            if whole {
                out.push(c.body..c.cut);
            }
        }
    }
    // AVI: the OpenDML standard indexes the super-indexes name.
    for hdrl in hdrls {
        let mut b = vec![0u8; (hdrl.cut - hdrl.body) as usize];
        read_at(hdrl.body, &mut b)?;
        for strl in chunks(&b, 4, b.len() as u64).filter(|c| c.id.0 == *b"LIST") {
            for indx in chunks(&b, strl.body + 4, strl.cut).filter(|c| c.id.0 == *b"indx") {
                let x = &b[indx.body as usize..indx.cut as usize];
                let n = le32(x, 4).unwrap_or(0) as usize;
                for i in 0..n.min(x.len().saturating_sub(24) / 16) {
                    let (Some(off), Some(size)) = (le64(x, 24 + 16 * i), le32(x, 32 + 16 * i))
                    else {
                        break;
                    };
                    if off < len {
                        indexed = true;
                        out.push(off..off.saturating_add(8 + size as u64).min(len));
                    }
                }
            }
        }
    }
    let avi = out.first().is_some_and(|_| {
        let mut form = [0u8; 4];
        len >= 12 && read_at(8, &mut form).is_ok() && &form == b"AVI "
    });
    Ok((!avi || indexed).then_some(out))
}
