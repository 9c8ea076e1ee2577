//! Which bytes of an MP4 a probe reads, found with a few small reads.
//!
//! A probe reads the top-level box headers, the first `ftyp`/`styp`, the
//! first `moov`, every `moof`, the start of every `sidx` and the XMP `uuid`
//! box; never the media data. [`probe_ranges`] walks the top-level boxes
//! exactly as [`super::Mp4::parse`] does (the same header decoding, the same
//! resynchronisation after a damaged header) but through a reader, so a file
//! that is not mapped can be probed from an image holding only those ranges
//! (`custody_io::Evidence::open_planned`): its cost is the index, not the
//! file.

use super::boxes::{Header, MAX_HEADER};
use super::find_top_box_in;
use std::ops::Range;

/// Reads exactly `buf.len()` bytes at a file offset.
pub type ReadAt<'a> = dyn FnMut(u64, &mut [u8]) -> std::io::Result<()> + 'a;

/// The byte ranges of a `len`-byte MP4 that probing it reads (with
/// `boxes`, also every box the box tree descends into), found through
/// `read_at` with one small read per top-level box.
///
/// Bytes outside the ranges can be anything: a probe of an image holding
/// only the ranges equals a probe of the file.
///
/// ```
/// use custody_container::bmff::probe_ranges;
/// use custody_testkit::mp4::write_synthetic_recording;
/// let mut file = Vec::new();
/// write_synthetic_recording(&mut file, 1, 30, 30, 2000).unwrap();
/// let ranges = probe_ranges(file.len() as u64, false, &mut |at, buf| {
///     buf.copy_from_slice(&file[at as usize..at as usize + buf.len()]);
///     Ok(())
/// })
/// .unwrap();
/// let read: u64 = ranges.iter().map(|r| r.end - r.start).sum();
/// assert!(read < file.len() as u64 / 2, "the media data is not read");
/// ```
pub fn probe_ranges(
    len: u64,
    boxes: bool,
    read_at: &mut ReadAt<'_>,
) -> std::io::Result<Vec<Range<u64>>> {
    let mut out = Vec::new();
    let mut head = [0u8; MAX_HEADER];
    let (mut brand, mut movie) = (false, false);
    let mut pos = 0u64;
    while pos < len {
        let n = (len - pos).min(MAX_HEADER as u64) as usize;
        read_at(pos, &mut head[..n])?;
        out.push(pos..pos + n as u64);
        let h = match Header::read(&head[..n], pos, len - pos) {
            Ok(h) => h,
            Err(_) => match resync(len, pos + 1, read_at)? {
                Some(next) => {
                    pos = next;
                    continue;
                }
                None => break,
            },
        };
        let end = pos.saturating_add(h.size).min(len);
        let payload = pos + h.header_len..end;
        let wanted = match &h.kind.0 {
            b"ftyp" | b"styp" => !std::mem::replace(&mut brand, true),
            b"moov" => !std::mem::replace(&mut movie, true) || boxes,
            b"moof" => true,
            b"uuid" => h.usertype == Some(super::meta::XMP_UUID),
            b"sidx" => {
                // Its header fields only: version, flags, ids, times and the count.
                out.push(payload.start..payload.end.min(payload.start + 32));
                false
            }
            kind => boxes && super::tree::has_children(kind),
        };
        if wanted {
            out.push(payload);
        }
        if h.size > len - pos {
            break; // truncated: the walk ends here
        }
        pos = end;
    }
    Ok(out)
}

/// The next plausible top-level box at or after `from`, scanning the file in
/// windows as [`super::find_top_box`] scans a slice.
fn resync(len: u64, from: u64, read_at: &mut ReadAt<'_>) -> std::io::Result<Option<u64>> {
    const WINDOW: usize = 1 << 16;
    let mut buf = vec![0u8; WINDOW];
    let mut base = from;
    while base < len {
        let n = (len - base).min(WINDOW as u64) as usize;
        read_at(base, &mut buf[..n])?;
        if let Some(at) = find_top_box_in(&buf[..n], base, base, len) {
            return Ok(Some(at));
        }
        if base + n as u64 >= len {
            break;
        }
        // Box starts up to `n - 8` were tried; the next window starts after them.
        base += n as u64 - 7;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::ProbeOptions;

    /// Checks that the image probes as the file does; returns the bytes planned.
    fn same(data: &[u8]) -> u64 {
        custody_testkit::fuzz::window(data);
        let ranges = crate::summary::probe_ranges(
            data.len() as u64,
            ProbeOptions::default(),
            &mut |at, buf| {
                buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
                Ok(())
            },
        )
        .unwrap()
        .unwrap();
        ranges.iter().map(|r| r.end - r.start).sum()
    }

    #[test]
    fn a_probe_of_the_planned_image_equals_a_probe_of_the_file() {
        let mut file = Vec::new();
        custody_testkit::mp4::write_synthetic_recording(&mut file, 4, 30, 30, 1000).unwrap();
        let read = same(&file);
        assert!(read * 10 < file.len() as u64, "{read} of {}", file.len());
        // Cut short at many points, and a damaged header with garbage after it.
        for cut in (0..file.len()).step_by(file.len() / 97) {
            same(&file[..cut]);
        }
        let moov = file.windows(4).position(|w| w == b"moov").unwrap() - 4;
        for junk in [&b"\0\0\0\x03abc"[..], b"\xff\xff", b"\0\0\0\0free"] {
            let mut d = file[..moov].to_vec();
            d.extend_from_slice(junk);
            d.extend_from_slice(&file[moov..]);
            same(&d);
        }
        // Every byte of the box headers, and then random bytes, changed.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..400 {
            let mut d = file.clone();
            let at = if i < 64 {
                [0, moov][i % 2] + i / 2
            } else {
                next() as usize % d.len()
            };
            d[at] = next() as u8;
            same(&d);
        }
    }

    #[test]
    fn a_resync_window_finds_a_box_that_straddles_its_end() {
        // Garbage, then a box whose type begins 2 bytes before a window ends.
        let mut d = vec![0u8; (1 << 16) + 1 - 8 + 2];
        d[0..4].copy_from_slice(&3u32.to_be_bytes()); // an impossible size
        d[4..8].copy_from_slice(b"abcd");
        let start = d.len() - 6;
        d.truncate(start);
        d.extend_from_slice(&16u32.to_be_bytes());
        d.extend_from_slice(b"free");
        d.extend_from_slice(&[0; 8]);
        let read = |at: u64, buf: &mut [u8]| {
            buf.copy_from_slice(&d[at as usize..at as usize + buf.len()]);
            Ok(())
        };
        let found = resync(d.len() as u64, 1, &mut { read }).unwrap();
        assert_eq!(found, Some(start as u64));
        assert_eq!(found.map(|f| f as usize), crate::bmff::find_top_box(&d, 1));
    }
}
