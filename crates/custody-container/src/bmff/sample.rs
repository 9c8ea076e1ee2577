//! Sample tables read in place, the per-sample iterator and the compact index.

use crate::bytes::{be16, be32, be64};

/// One media sample (an access unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// Absolute byte offset of the sample in the file (or segment).
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Decode timestamp in the track's timescale.
    pub dts: i64,
    /// Presentation timestamp in the track's timescale.
    pub pts: i64,
    /// Duration in the track's timescale.
    pub duration: u32,
    /// Sync sample (random access point).
    pub keyframe: bool,
    /// Index of the sample entry (0-based) that describes this sample.
    pub entry: u32,
}

/// Sample sizes: one size for all samples, or a table of 4-, 8-, 16- or 32-bit fields.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sizes<'a> {
    Fixed(u32),
    Table { bytes: &'a [u8], bits: u8 },
}

impl Sizes<'_> {
    #[inline]
    fn get(&self, i: u32) -> u32 {
        match *self {
            Sizes::Fixed(s) => s,
            Sizes::Table { bytes, bits } => {
                let i = i as usize;
                match bits {
                    32 => be32(bytes, i * 4).unwrap_or(0),
                    16 => be16(bytes, i * 2).unwrap_or(0) as u32,
                    8 => bytes.get(i).copied().unwrap_or(0) as u32,
                    _ => {
                        let b = bytes.get(i / 2).copied().unwrap_or(0);
                        if i.is_multiple_of(2) {
                            (b >> 4) as u32
                        } else {
                            (b & 0xf) as u32
                        }
                    }
                }
            }
        }
    }
}

/// The sample tables of one track, as slices of the `stbl` boxes' entries.
///
/// Every slice has been checked to hold its claimed entry count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tables<'a> {
    pub(crate) sample_count: u32,
    pub(crate) sizes: Sizes<'a>,
    /// Chunk offsets: entries of 4 (`stco`) or 8 (`co64`) bytes.
    pub(crate) chunks: &'a [u8],
    pub(crate) chunk_width: u8,
    /// `stsc` entries (12 bytes each).
    pub(crate) stsc: &'a [u8],
    /// `stts` entries (8 bytes each).
    pub(crate) stts: &'a [u8],
    /// `ctts` entries (8 bytes each).
    pub(crate) ctts: &'a [u8],
    /// `stss` entries (4 bytes each), `None` when every sample is a sync sample.
    pub(crate) stss: Option<&'a [u8]>,
}

impl Tables<'_> {
    pub(crate) const EMPTY: Tables<'static> = Tables {
        sample_count: 0,
        sizes: Sizes::Fixed(0),
        chunks: &[],
        chunk_width: 4,
        stsc: &[],
        stts: &[],
        ctts: &[],
        stss: None,
    };

    /// Bytes the samples of the tables claim, present in the data or not
    /// (reads every size of a size table).
    pub(crate) fn claimed_bytes(&self) -> u64 {
        match self.sizes {
            Sizes::Fixed(s) => s as u64 * self.sample_count as u64,
            Sizes::Table { .. } => (0..self.sample_count)
                .map(|i| self.sizes.get(i) as u64)
                .sum(),
        }
    }

    pub(crate) fn chunk_count(&self) -> u32 {
        (self.chunks.len() / self.chunk_width as usize) as u32
    }

    #[inline]
    fn chunk_offset(&self, c: u32) -> u64 {
        if self.chunk_width == 8 {
            be64(self.chunks, c as usize * 8).unwrap_or(0)
        } else {
            be32(self.chunks, c as usize * 4).unwrap_or(0) as u64
        }
    }
}

/// A track fragment run (`trun`) with its defaults resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    pub(crate) entries: &'a [u8],
    pub(crate) count: u32,
    pub(crate) flags: u32,
    pub(crate) first_flags: Option<u32>,
    pub(crate) default_duration: u32,
    pub(crate) default_size: u32,
    pub(crate) default_flags: u32,
    pub(crate) data_offset: u64,
    pub(crate) base_dts: i64,
    pub(crate) entry: u32,
}

impl Run<'_> {
    pub(crate) fn stride(flags: u32) -> usize {
        4 * ((flags & 0xf00).count_ones() as usize)
    }
}

/// Run-length cursor over (count, value) pairs of 8 bytes (`stts`, `ctts`).
#[derive(Debug, Clone)]
struct Rle<'a> {
    data: &'a [u8],
    idx: usize,
    left: u32,
    value: u32,
}

impl<'a> Rle<'a> {
    fn new(data: &'a [u8]) -> Self {
        Rle {
            data,
            idx: 0,
            left: 0,
            value: 0,
        }
    }

    /// Loads the next (count, value) entry; false when the table has run out.
    #[inline]
    fn load(&mut self) -> bool {
        let at = self.idx * 8;
        match (be32(self.data, at), be32(self.data, at + 4)) {
            (Some(c), Some(v)) => {
                self.left = c;
                self.value = v;
                self.idx += 1;
                true
            }
            _ => false,
        }
    }

    /// The value for the next sample; the last value repeats once the table runs out.
    #[inline]
    fn next(&mut self) -> u32 {
        while self.left == 0 {
            if !self.load() {
                return self.value;
            }
        }
        self.left -= 1;
        self.value
    }

    /// Skips `n` samples and returns the sum of their values.
    fn skip(&mut self, mut n: u32) -> i64 {
        let mut sum = 0i64;
        while n > 0 {
            if self.left == 0 && !self.load() {
                sum = sum.saturating_add((self.value as i64).saturating_mul(n as i64));
                break;
            }
            let step = n.min(self.left);
            self.left -= step;
            sum = sum.saturating_add((self.value as i64).saturating_mul(step as i64));
            n -= step;
        }
        sum
    }
}

/// Iterates a track's samples in decode order without allocating.
///
/// Samples of the `moov` tables come first, then those of each fragment run.
/// Samples whose bytes lie (partly) beyond the end of the data are not
/// yielded; [`SampleIter::missing`] counts them afterwards.
#[derive(Debug, Clone)]
pub struct SampleIter<'a> {
    t: Tables<'a>,
    runs: &'a [Run<'a>],
    data_len: u64,
    // moov table state
    i: u32,
    chunk: u32,
    chunk_left: u32,
    pos: u64,
    stsc_idx: usize,
    spc: u32,
    entry: u32,
    stts: Rle<'a>,
    ctts: Rle<'a>,
    has_ctts: bool,
    stss_idx: usize,
    next_sync: u32,
    dts: i64,
    // fragment state
    run: usize,
    run_i: u32,
    run_pos: u64,
    run_dts: i64,
    missing: u64,
}

impl<'a> SampleIter<'a> {
    pub(crate) fn new(t: Tables<'a>, runs: &'a [Run<'a>], data_len: u64) -> Self {
        SampleIter {
            t,
            runs,
            data_len,
            i: 0,
            chunk: 0,
            chunk_left: 0,
            pos: 0,
            stsc_idx: 0,
            spc: 0,
            entry: 0,
            stts: Rle::new(t.stts),
            ctts: Rle::new(t.ctts),
            has_ctts: !t.ctts.is_empty(),
            stss_idx: 0,
            next_sync: 0,
            dts: 0,
            run: 0,
            run_i: 0,
            run_pos: 0,
            run_dts: 0,
            missing: 0,
        }
    }

    /// Samples skipped so far because their bytes are not in the data.
    pub fn missing(&self) -> u64 {
        self.missing
    }

    /// Table samples passed so far (yielded or missing): after a table
    /// sample is yielded, its 0-based number plus one.
    pub(crate) fn table_position(&self) -> u32 {
        self.i
    }

    /// Moves to the next non-empty chunk; false when the chunks run out.
    fn next_chunk(&mut self) -> bool {
        loop {
            crate::cost::step(1);
            if self.chunk >= self.t.chunk_count() {
                return false;
            }
            // Apply every `stsc` entry whose first chunk (1-based) has been reached.
            let c1 = self.chunk + 1;
            while let (Some(first), Some(spc), Some(sdi)) = (
                be32(self.t.stsc, self.stsc_idx * 12),
                be32(self.t.stsc, self.stsc_idx * 12 + 4),
                be32(self.t.stsc, self.stsc_idx * 12 + 8),
            ) {
                if first > c1 && self.stsc_idx > 0 {
                    break;
                }
                self.spc = spc;
                self.entry = sdi.saturating_sub(1);
                self.stsc_idx += 1;
            }
            if self.stsc_idx == 0 {
                return false;
            }
            self.pos = self.t.chunk_offset(self.chunk);
            self.chunk_left = self.spc;
            self.chunk += 1;
            if self.chunk_left > 0 {
                return true;
            }
        }
    }

    #[inline]
    fn next_table_sample(&mut self) -> Option<Sample> {
        loop {
            crate::cost::step(1);
            if self.i >= self.t.sample_count {
                return None;
            }
            if self.chunk_left == 0 && !self.next_chunk() {
                // Chunks exhausted before the sample count: the rest are missing.
                self.missing += (self.t.sample_count - self.i) as u64;
                self.i = self.t.sample_count;
                return None;
            }
            let size = self.t.sizes.get(self.i);
            let n = self.i + 1;
            // `next_sync` is the next sync sample number at or after `n`
            // (u32::MAX when there is none; 0 before the first lookup).
            if n > self.next_sync {
                self.advance_sync(n);
            }
            let keyframe = self.t.stss.is_none() || n == self.next_sync;
            let duration = self.stts.next();
            let cts = if self.has_ctts {
                self.ctts.next() as i32 as i64
            } else {
                0
            };
            let s = Sample {
                offset: self.pos,
                size,
                dts: self.dts,
                pts: self.dts.saturating_add(cts),
                duration,
                keyframe,
                entry: self.entry,
            };
            self.i = n;
            self.chunk_left -= 1;
            self.pos = self.pos.saturating_add(size as u64);
            self.dts = self.dts.saturating_add(duration as i64);
            if s.offset.saturating_add(s.size as u64) <= self.data_len {
                return Some(s);
            }
            self.missing += 1;
            if let Sizes::Fixed(_) = self.t.sizes {
                // Every later sample of this chunk lies further out: skip them at once.
                let skip = self.chunk_left.min(self.t.sample_count - self.i);
                self.skip_table_samples(skip);
            }
        }
    }

    /// Moves the sync-sample cursor to the first entry >= `n` (entries out of order are skipped).
    #[cold]
    fn advance_sync(&mut self, n: u32) {
        let Some(stss) = self.t.stss else {
            self.next_sync = u32::MAX;
            return;
        };
        self.next_sync = u32::MAX;
        while let Some(s) = be32(stss, self.stss_idx * 4) {
            if s < n {
                self.stss_idx += 1;
            } else {
                self.next_sync = s;
                break;
            }
        }
    }

    /// Skips `n` samples of the current chunk, keeping the time cursors in step.
    fn skip_table_samples(&mut self, n: u32) {
        self.missing += n as u64;
        self.chunk_left -= n;
        self.i += n;
        self.dts = self.dts.saturating_add(self.stts.skip(n));
        if self.has_ctts {
            self.ctts.skip(n);
        }
    }

    #[inline]
    fn next_run_sample(&mut self) -> Option<Sample> {
        loop {
            crate::cost::step(1);
            let r = self.runs.get(self.run)?;
            if self.run_i == 0 {
                self.run_pos = r.data_offset;
                self.run_dts = r.base_dts;
            }
            if self.run_i >= r.count {
                self.run += 1;
                self.run_i = 0;
                continue;
            }
            let stride = Run::stride(r.flags);
            let mut at = self.run_i as usize * stride;
            let mut field = |present: bool, default: u32| -> u32 {
                if present {
                    let v = be32(r.entries, at).unwrap_or(default);
                    at += 4;
                    v
                } else {
                    default
                }
            };
            let duration = field(r.flags & 0x100 != 0, r.default_duration);
            let size = field(r.flags & 0x200 != 0, r.default_size);
            let default_flags = match (self.run_i, r.first_flags) {
                (0, Some(f)) => f,
                _ => r.default_flags,
            };
            let flags = field(r.flags & 0x400 != 0, default_flags);
            let cts = field(r.flags & 0x800 != 0, 0) as i32 as i64;
            let s = Sample {
                offset: self.run_pos,
                size,
                // tfdt is any u64 (read as i64): decode times saturate at the ends.
                dts: self.run_dts,
                pts: self.run_dts.saturating_add(cts),
                duration,
                keyframe: flags & 0x0001_0000 == 0,
                entry: r.entry,
            };
            self.run_i += 1;
            self.run_pos = self.run_pos.saturating_add(size as u64);
            self.run_dts = self.run_dts.saturating_add(duration as i64);
            if s.offset.saturating_add(s.size as u64) <= self.data_len {
                return Some(s);
            }
            self.missing += 1;
            if r.flags & 0x200 == 0 {
                // Same size for every later sample of the run: all lie beyond the end.
                self.missing += (r.count - self.run_i) as u64;
                self.run += 1;
                self.run_i = 0;
            }
        }
    }
}

impl Iterator for SampleIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.i < self.t.sample_count
            && let Some(s) = self.next_table_sample()
        {
            return Some(s);
        }
        self.next_run_sample()
    }
}

/// A compact, materialised sample index: 24 bytes per sample, random access.
///
/// Durations are not stored: a sample's duration is the gap to the next
/// sample's decode time (the last sample keeps its own).
#[derive(Debug, Clone, Default)]
pub struct SampleIndex {
    entries: Vec<Packed>,
    last_duration: u32,
}

/// 24 bytes: offset (48 bits) with keyframe and entry index packed above it,
/// decode time, size and composition offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    offset_flags: u64,
    dts: i64,
    size: u32,
    cts: i32,
}

const OFFSET_BITS: u32 = 48;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const KEY_BIT: u64 = 1 << 63;
const ENTRY_MAX: u32 = (1 << 15) - 1;

impl SampleIndex {
    /// Builds the index from an iterator; `capacity` is a hint bounded by the caller.
    pub fn build(iter: SampleIter<'_>, capacity: usize) -> SampleIndex {
        let mut entries = Vec::with_capacity(capacity);
        let mut last_duration = 0;
        for s in iter {
            entries.push(Packed {
                offset_flags: (s.offset & OFFSET_MASK)
                    | ((s.entry.min(ENTRY_MAX) as u64) << OFFSET_BITS)
                    | if s.keyframe { KEY_BIT } else { 0 },
                dts: s.dts,
                size: s.size,
                cts: (s.pts - s.dts).clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            });
            last_duration = s.duration;
        }
        SampleIndex {
            entries,
            last_duration,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the track has no samples present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sample at `i`, in decode order.
    pub fn get(&self, i: usize) -> Option<Sample> {
        let p = self.entries.get(i)?;
        let duration = match self.entries.get(i + 1) {
            Some(n) => n.dts.saturating_sub(p.dts).clamp(0, u32::MAX as i64) as u32,
            None => self.last_duration,
        };
        Some(Sample {
            offset: p.offset_flags & OFFSET_MASK,
            size: p.size,
            dts: p.dts,
            pts: p.dts + p.cts as i64,
            duration,
            keyframe: p.offset_flags & KEY_BIT != 0,
            entry: ((p.offset_flags >> OFFSET_BITS) as u32) & ENTRY_MAX,
        })
    }

    /// Iterates over all samples.
    pub fn iter(&self) -> impl Iterator<Item = Sample> + '_ {
        (0..self.entries.len()).filter_map(|i| self.get(i))
    }

    /// Indices of the sync samples.
    pub fn keyframes(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, p)| p.offset_flags & KEY_BIT != 0)
            .map(|(i, _)| i)
    }

    /// Bytes of memory the entries use.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Packed>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Packed>(), 24);
    }

    #[test]
    fn skipped_samples_saturate_the_decode_time() {
        // Fixed-size samples of a chunk past the end of the data are skipped in one
        // step: u32::MAX - 2 of them at u32::MAX ticks each (a file of some GiB can
        // declare that many one-byte samples) overflow i64. The one sample present,
        // in the second chunk, keeps the saturated time.
        let stts = [0xff; 8];
        let stsc = [
            0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 1, // chunk 1: u32::MAX - 1 samples
            0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, // chunk 2: one sample
        ];
        let chunks = [0, 0, 0, 100, 0, 0, 0, 0];
        let t = Tables {
            sample_count: u32::MAX,
            sizes: Sizes::Fixed(1),
            chunks: &chunks,
            chunk_width: 4,
            stsc: &stsc,
            stts: &stts,
            ctts: &[],
            stss: None,
        };
        let mut it = SampleIter::new(t, &[], 10);
        let samples: Vec<Sample> = it.by_ref().collect();
        assert_eq!(
            samples,
            [Sample {
                offset: 0,
                size: 1,
                dts: i64::MAX,
                pts: i64::MAX,
                duration: u32::MAX,
                keyframe: true,
                entry: 0,
            }]
        );
        assert_eq!(it.missing(), u32::MAX as u64 - 1);
    }
}
