//! The access units a [`Framer`] finds in an elementary stream, and their
//! packed index ([`Units`]): each [`Frame`] records where it starts (the
//! file offset of the packet that carries its first byte and its position
//! in the elementary stream), its size, its timestamps and whether it is a
//! random access point.
//!
//! [`Framer`]: crate::codec::framer::Framer

/// An access unit found in an elementary stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    /// File offset of the packet (TS packet or PS pack) that carries the first byte.
    pub offset: u64,
    /// Position of the first byte in the elementary stream (payload bytes so far).
    pub es_pos: u64,
    /// Position of the first byte within the payload of the PES packet at `offset`.
    pub in_pes: u64,
    /// Size in bytes.
    pub size: u64,
    /// Presentation timestamp (90 kHz), when the frame starts in a PES that carried one.
    pub pts: Option<i64>,
    /// Decode timestamp (90 kHz).
    pub dts: Option<i64>,
    /// Random access point (IDR/IRAP picture, MPEG-2 I picture, every audio frame).
    pub keyframe: bool,
    /// Audio samples in the frame (0 for video and data).
    pub samples: u32,
}

/// Bits of each position (file offset, elementary-stream position, position
/// in the PES payload, size) in a packed unit: inputs of 16 TiB and more are
/// refused by the demuxers ([`MAX_INPUT`]).
const POS_BITS: u32 = 44;
const POS_MASK: u64 = (1 << POS_BITS) - 1;
const SAMPLES_BITS: u32 = 13;
const KEY_BIT: u32 = 4 * POS_BITS + SAMPLES_BITS;
const PTS_BIT: u32 = KEY_BIT + 1;
const DTS_BIT: u32 = KEY_BIT + 2;

/// The largest input the MPEG-TS and MPEG-PS demuxers accept (16 TiB): every
/// position in it fits the packed unit index.
pub const MAX_INPUT: u64 = 1 << POS_BITS;

/// Units per storage block: the index grows block by block, never by
/// copying what it already holds.
const BLOCK: usize = 4096;

/// A growable list stored in fixed blocks: no reallocation copies, and at
/// most one partly used block.
#[derive(Debug, Clone)]
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Blocks<T> {
    const fn new() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, v: T) {
        if self.len.is_multiple_of(BLOCK) {
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        if let Some(b) = self.blocks.last_mut() {
            b.push(v);
            self.len += 1;
        }
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.blocks.get(i / BLOCK)?.get(i % BLOCK)
    }

    fn last(&self) -> Option<&T> {
        self.blocks.last()?.last()
    }

    fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.blocks.iter().flatten()
    }

    fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Vec<T>>()
            + self.blocks.len() * BLOCK * std::mem::size_of::<T>()
    }
}

/// Timestamps of one unit, kept apart: most units of a hostile stream have none.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    unit: u64,
    pts: i64,
    dts: i64,
}

/// The access units of one stream, packed: 24 bytes per unit, plus 24 for
/// each unit that carries a timestamp. Units are read back as [`Frame`]s.
#[derive(Debug, Clone)]
pub struct Units {
    packed: Blocks<[u64; 3]>,
    stamps: Blocks<Stamp>,
}

impl Default for Units {
    fn default() -> Self {
        Units::new()
    }
}

#[inline]
fn put(w: &mut [u64; 3], at: u32, width: u32, v: u64) {
    let v = v & ((1u64 << width) - 1);
    let (i, s) = ((at / 64) as usize, at % 64);
    w[i] |= v << s;
    if s + width > 64 {
        w[i + 1] |= v >> (64 - s);
    }
}

#[inline]
fn get(w: &[u64; 3], at: u32, width: u32) -> u64 {
    let (i, s) = ((at / 64) as usize, at % 64);
    let mut v = w[i] >> s;
    if s + width > 64 {
        v |= w[i + 1] << (64 - s);
    }
    v & ((1u64 << width) - 1)
}

impl Units {
    /// No units.
    pub const fn new() -> Self {
        Units {
            packed: Blocks::new(),
            stamps: Blocks::new(),
        }
    }

    /// Appends a unit. Positions must lie below [`MAX_INPUT`] (the demuxers
    /// refuse larger inputs) and `samples` below 8,192 (no audio frame
    /// holds more); larger values are clamped.
    pub fn push(&mut self, f: &Frame) {
        let mut w = [0u64; 3];
        let pos = |v: u64| {
            debug_assert!(v <= POS_MASK, "position {v} beyond the packed range");
            v.min(POS_MASK)
        };
        put(&mut w, 0, POS_BITS, pos(f.offset));
        put(&mut w, POS_BITS, POS_BITS, pos(f.es_pos));
        put(&mut w, 2 * POS_BITS, POS_BITS, pos(f.in_pes));
        put(&mut w, 3 * POS_BITS, POS_BITS, pos(f.size));
        put(
            &mut w,
            4 * POS_BITS,
            SAMPLES_BITS,
            (f.samples as u64).min((1 << SAMPLES_BITS) - 1),
        );
        put(&mut w, KEY_BIT, 1, f.keyframe as u64);
        put(&mut w, PTS_BIT, 1, f.pts.is_some() as u64);
        put(&mut w, DTS_BIT, 1, f.dts.is_some() as u64);
        if f.pts.is_some() || f.dts.is_some() {
            self.stamps.push(Stamp {
                unit: self.packed.len as u64,
                pts: f.pts.unwrap_or(0),
                dts: f.dts.unwrap_or(0),
            });
        }
        self.packed.push(w);
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.packed.len
    }

    /// True when there are no units.
    pub fn is_empty(&self) -> bool {
        self.packed.len == 0
    }

    fn unpack(&self, w: &[u64; 3], stamp: Option<&Stamp>) -> Frame {
        let has_pts = get(w, PTS_BIT, 1) == 1;
        let has_dts = get(w, DTS_BIT, 1) == 1;
        Frame {
            offset: get(w, 0, POS_BITS),
            es_pos: get(w, POS_BITS, POS_BITS),
            in_pes: get(w, 2 * POS_BITS, POS_BITS),
            size: get(w, 3 * POS_BITS, POS_BITS),
            pts: stamp.filter(|_| has_pts).map(|s| s.pts),
            dts: stamp.filter(|_| has_dts).map(|s| s.dts),
            keyframe: get(w, KEY_BIT, 1) == 1,
            samples: get(w, 4 * POS_BITS, SAMPLES_BITS) as u32,
        }
    }

    fn stamped(w: &[u64; 3]) -> bool {
        get(w, PTS_BIT, 1) == 1 || get(w, DTS_BIT, 1) == 1
    }

    /// The unit at `i` (a binary search among the timestamped units when it has one).
    pub fn get(&self, i: usize) -> Option<Frame> {
        let w = self.packed.get(i)?;
        let stamp = if Self::stamped(w) {
            // Stamps are in unit order: find the one for unit `i`.
            let (mut lo, mut hi) = (0, self.stamps.len);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match self.stamps.get(mid) {
                    Some(s) if s.unit < i as u64 => lo = mid + 1,
                    _ => hi = mid,
                }
            }
            self.stamps.get(lo).filter(|s| s.unit == i as u64)
        } else {
            None
        };
        Some(self.unpack(w, stamp))
    }

    /// The first unit.
    pub fn first(&self) -> Option<Frame> {
        self.get(0)
    }

    /// The last unit.
    pub fn last(&self) -> Option<Frame> {
        let w = self.packed.last()?;
        let stamp = if Self::stamped(w) {
            self.stamps.last()
        } else {
            None
        };
        Some(self.unpack(w, stamp))
    }

    /// The units in order.
    pub fn iter(&self) -> impl Iterator<Item = Frame> + '_ {
        let mut stamps = self.stamps.iter();
        self.packed.iter().map(move |w| {
            let stamp = if Self::stamped(w) {
                stamps.next()
            } else {
                None
            };
            self.unpack(w, stamp)
        })
    }

    /// Bytes of memory the index holds.
    pub fn heap_bytes(&self) -> usize {
        self.packed.heap_bytes() + self.stamps.heap_bytes()
    }
}

/// The bytes of the frames a [`Framer`] has not emitted yet, for demuxers
/// that hand each frame's bytes over as they parse: it holds what was
/// pushed from [`Framer::keep_from`] on, so its size is bounded by the
/// largest frame, and every byte is copied in once and moved at most once
/// more on average.
#[derive(Debug, Clone, Default)]
pub(crate) struct Assembly {
    buf: Vec<u8>,
    /// Elementary-stream position of `buf[0]`.
    start: u64,
}

impl Assembly {
    /// Appends bytes pushed to the framer at elementary-stream position `at`.
    pub(crate) fn add(&mut self, at: u64, bytes: &[u8]) {
        if self.start + self.buf.len() as u64 != at {
            self.buf.clear();
            self.start = at;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes of `f`, when they are all held.
    pub(crate) fn bytes(&self, f: &Frame) -> Option<&[u8]> {
        let a = usize::try_from(f.es_pos.checked_sub(self.start)?).ok()?;
        let n = usize::try_from(f.size).ok()?;
        self.buf.get(a..a.checked_add(n)?)
    }

    /// Forgets the bytes before elementary-stream position `from`: moves
    /// the rest down only once at least half the buffer is dead, so the
    /// moves cost no more than the bytes added.
    pub(crate) fn trim(&mut self, from: u64) {
        let dead = from.saturating_sub(self.start).min(self.buf.len() as u64) as usize;
        if dead > 0 && dead * 2 >= self.buf.len() {
            self.buf.drain(..dead);
            self.start += dead as u64;
        }
    }
}
