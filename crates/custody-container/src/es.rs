//! Elementary-stream framing shared by the MPEG-TS and MPEG-PS demuxers.
//!
//! PES payloads are pushed in as they arrive; a [`Framer`] splits them into
//! access units (video: start-code scanning; audio: frame headers) without
//! keeping the payload bytes. Each [`Frame`] records where it starts (the
//! file offset of the packet that carries its first byte and its position in
//! the elementary stream), its size, its timestamps and whether it is a
//! random access point.

use std::collections::VecDeque;

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

/// How far back, before its first frame, a framer may start one: a 4-byte
/// start code and up to 64 header bytes (an audio header is shorter).
const LOOKBACK: u64 = 128;

/// How a stream's payload is split into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// H.264 Annex B.
    H264,
    /// H.265 Annex B.
    Hevc,
    /// MPEG-1/2 video.
    Mpeg2Video,
    /// AAC with ADTS headers.
    Adts,
    /// AAC in LATM/LOAS (AudioSyncStream).
    Latm,
    /// MPEG-1/2 audio layers I-III.
    MpegAudio,
    /// AC-3 and E-AC-3.
    Ac3,
    /// One frame per PES packet.
    Pes,
    /// PSI sections (SCTE-35 splice information): one unit per section,
    /// collected by the transport-stream demuxer rather than a framer.
    Sections,
}

/// Stream properties learnt from headers while framing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// Picture width.
    pub width: Option<u32>,
    /// Picture height.
    pub height: Option<u32>,
    /// Audio sample rate.
    pub sample_rate: Option<u32>,
    /// Audio channels.
    pub channels: Option<u32>,
    /// MPEG audio layer (1, 2 or 3).
    pub mpeg_audio_layer: Option<u8>,
    /// True for E-AC-3 (rather than AC-3).
    pub eac3: bool,
}

#[derive(Debug, Clone, Copy)]
struct PesMark {
    es_pos: u64,
    offset: u64,
    pts: Option<i64>,
    dts: Option<i64>,
    random_access: bool,
    used: bool,
}

/// Splits one elementary stream into frames.
#[derive(Debug, Clone)]
pub struct Framer {
    framing: Framing,
    /// Stream properties found so far.
    pub info: StreamInfo,
    pos: u64,
    marks: VecDeque<PesMark>,
    // current frame
    cur: Option<Frame>,
    seen_vcl: bool,
    // start-code scanner
    zeros: u32,
    hdr: [u8; 64],
    hdr_len: usize,
    hdr_need: usize,
    hdr_start: u64,
    code_pos: u64,
    collecting: bool,
    have_params: bool,
    // audio
    skip: u64,
    skipped: u64,
}

impl Framer {
    /// A framer for `framing`.
    pub fn new(framing: Framing) -> Self {
        Framer {
            framing,
            info: StreamInfo::default(),
            pos: 0,
            marks: VecDeque::new(),
            cur: None,
            seen_vcl: false,
            zeros: 0,
            hdr: [0; 64],
            hdr_len: 0,
            hdr_need: 0,
            hdr_start: 0,
            code_pos: 0,
            collecting: false,
            have_params: false,
            skip: 0,
            skipped: 0,
        }
    }

    /// Marks the start of a PES packet at file offset `offset`. `random_access`
    /// is the transport stream's random-access indicator: the first frame that
    /// starts in this PES is then a keyframe (open-GOP streams signal recovery
    /// points this way rather than with IDR pictures).
    pub fn pes_start(
        &mut self,
        offset: u64,
        pts: Option<i64>,
        dts: Option<i64>,
        random_access: bool,
        out: &mut Vec<Frame>,
    ) {
        if self.framing == Framing::Pes {
            self.emit(out);
            self.cur = Some(Frame {
                offset,
                es_pos: self.pos,
                in_pes: 0,
                size: 0,
                pts,
                dts,
                keyframe: true,
                samples: 0,
            });
            return;
        }
        while self.marks.len() > 1 {
            self.marks.pop_front();
        }
        self.marks.push_back(PesMark {
            es_pos: self.pos,
            offset,
            pts,
            dts,
            random_access,
            used: false,
        });
    }

    /// Feeds payload bytes of the current PES packet.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Frame>) {
        crate::cost::step(data.len() as u64);
        match self.framing {
            Framing::Pes | Framing::Sections => self.pos += data.len() as u64,
            Framing::H264 | Framing::Hevc | Framing::Mpeg2Video => self.scan_video(data, out),
            _ => self.scan_audio(data, out),
        }
    }

    /// Ends the stream, emitting the last frame.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        if self.collecting {
            self.collecting = false;
            self.on_header(out);
        }
        self.emit(out);
    }

    fn emit(&mut self, out: &mut Vec<Frame>) {
        if let Some(mut f) = self.cur.take() {
            f.size = self.pos.saturating_sub(f.es_pos);
            out.push(f);
        }
    }

    /// Starts a new frame at elementary-stream position `at`.
    fn begin(&mut self, at: u64, keyframe: bool, samples: u32, out: &mut Vec<Frame>) {
        if let Some(mut f) = self.cur.take() {
            f.size = at.saturating_sub(f.es_pos);
            out.push(f);
        }
        let mut frame = Frame {
            offset: 0,
            es_pos: at,
            in_pes: 0,
            size: 0,
            pts: None,
            dts: None,
            keyframe,
            samples,
        };
        // The PES that holds byte `at` is the last one starting at or before it.
        if let Some(m) = self.mark_at(at) {
            frame.offset = m.offset;
            frame.in_pes = at.saturating_sub(m.es_pos);
        }
        // Timestamps belong to the PES holding the start code's value byte
        // (a start code may straddle two PES packets) or the audio sync word.
        let code_at = if self.is_video() { self.code_pos } else { at };
        if let Some(m) = self.mark_at(code_at)
            && !m.used
        {
            frame.pts = m.pts;
            frame.dts = m.dts;
            frame.keyframe |= m.random_access;
            m.used = true;
        }
        self.cur = Some(frame);
    }

    fn mark_at(&mut self, at: u64) -> Option<&mut PesMark> {
        let idx = self.marks.iter().rposition(|m| m.es_pos <= at).unwrap_or(0);
        self.marks.get_mut(idx)
    }

    fn is_video(&self) -> bool {
        matches!(
            self.framing,
            Framing::H264 | Framing::Hevc | Framing::Mpeg2Video
        )
    }

    fn scan_video(&mut self, data: &[u8], out: &mut Vec<Frame>) {
        let mut i = 0;
        while i < data.len() {
            if self.collecting {
                let b = data[i];
                // A new start code ends the header early.
                if b == 1 && self.zeros >= 2 {
                    self.collecting = false;
                    self.on_header(out);
                    // fall through to treat this byte as a start code below
                } else {
                    if self.hdr_len < self.hdr.len() {
                        self.hdr[self.hdr_len] = b;
                        self.hdr_len += 1;
                    }
                    self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
                    self.pos += 1;
                    i += 1;
                    if self.hdr_len >= self.hdr_need {
                        self.collecting = false;
                        self.on_header(out);
                    }
                    continue;
                }
            }
            if self.zeros < 2 {
                // Fast path: jump to the next zero byte.
                match data[i..].iter().position(|&b| b == 0) {
                    Some(k) => {
                        if k > 0 {
                            self.zeros = 0;
                        }
                        self.pos += k as u64 + 1;
                        i += k + 1;
                        self.zeros += 1;
                    }
                    None => {
                        self.pos += (data.len() - i) as u64;
                        self.zeros = 0;
                        i = data.len();
                    }
                }
                continue;
            }
            let b = data[i];
            self.pos += 1;
            i += 1;
            if b == 0 {
                // A run of zeros as long as the stream: the count only needs to pass 2.
                self.zeros = self.zeros.saturating_add(1);
            } else if b == 1 {
                // Start code: 00 00 01 (a fourth leading zero belongs to it too).
                self.hdr_start = self.pos - 3 - u64::from(self.zeros > 2);
                self.code_pos = self.pos;
                self.zeros = 0;
                self.hdr_len = 0;
                self.hdr_need = 3;
                self.collecting = true;
            } else {
                self.zeros = 0;
            }
        }
    }

    /// Handles the header bytes collected after a start code.
    fn on_header(&mut self, out: &mut Vec<Frame>) {
        let h = &self.hdr[..self.hdr_len];
        let Some(&first) = h.first() else { return };
        let at = self.hdr_start;
        // The first sequence parameter set gives the picture size: collect up to
        // 64 bytes of it, then parse.
        let is_sps = match self.framing {
            Framing::H264 => first & 0x1f == 7,
            Framing::Hevc => (first >> 1) & 0x3f == 33,
            _ => false,
        };
        if is_sps && !self.have_params {
            if self.hdr_need < 64 {
                self.hdr_need = 64;
                self.collecting = true;
                return;
            }
            let sps = &self.hdr[..self.hdr_len];
            let size = if self.framing == Framing::H264 {
                h264_sps_size(sps)
            } else {
                hevc_sps_size(sps)
            };
            if let Some((w, h)) = size {
                self.have_params = true;
                self.info.width = Some(w);
                self.info.height = Some(h);
            }
        }
        match self.framing {
            Framing::H264 => {
                let t = first & 0x1f;
                let vcl = t == 1 || t == 5;
                if vcl {
                    let first_mb_zero =
                        self.hdr.get(1).is_some_and(|b| b & 0x80 != 0) && self.hdr_len > 1;
                    if self.cur.is_none() || (self.seen_vcl && first_mb_zero) {
                        self.begin(at, t == 5, 0, out);
                    }
                    if t == 5
                        && let Some(c) = self.cur.as_mut()
                    {
                        c.keyframe = true;
                    }
                    self.seen_vcl = true;
                } else if matches!(t, 6..=9 | 14..=18) && (self.seen_vcl || self.cur.is_none()) {
                    self.begin(at, false, 0, out);
                    self.seen_vcl = false;
                }
            }
            Framing::Hevc => {
                let t = (first >> 1) & 0x3f;
                let vcl = t < 32;
                if vcl {
                    let first_slice = self.hdr_len > 2 && self.hdr[2] & 0x80 != 0;
                    if self.cur.is_none() || (self.seen_vcl && first_slice) {
                        self.begin(at, false, 0, out);
                    }
                    if (16..=23).contains(&t)
                        && let Some(c) = self.cur.as_mut()
                    {
                        c.keyframe = true;
                    }
                    self.seen_vcl = true;
                } else if matches!(t, 32..=35 | 39 | 41..=44 | 48..=55)
                    && (self.seen_vcl || self.cur.is_none())
                {
                    self.begin(at, false, 0, out);
                    self.seen_vcl = false;
                }
            }
            Framing::Mpeg2Video => match first {
                0xb3 => {
                    if self.hdr_len < 4 && self.hdr_need < 4 {
                        self.hdr_need = 4;
                        self.collecting = true;
                        return;
                    }
                    if self.hdr_len >= 4 && !self.have_params {
                        self.info.width = Some(((h[1] as u32) << 4) | (h[2] as u32 >> 4));
                        self.info.height = Some(((h[2] as u32 & 0xf) << 8) | h[3] as u32);
                        self.have_params = true;
                    }
                    if self.seen_vcl || self.cur.is_none() {
                        self.begin(at, false, 0, out);
                        self.seen_vcl = false;
                    }
                }
                0xb8 if self.seen_vcl || self.cur.is_none() => {
                    self.begin(at, false, 0, out);
                    self.seen_vcl = false;
                }
                0x00 => {
                    let pct = h.get(2).map(|b| (b >> 3) & 7);
                    if self.seen_vcl || self.cur.is_none() {
                        self.begin(at, false, 0, out);
                    }
                    if pct == Some(1)
                        && let Some(c) = self.cur.as_mut()
                    {
                        c.keyframe = true;
                    }
                    self.seen_vcl = true;
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn scan_audio(&mut self, data: &[u8], out: &mut Vec<Frame>) {
        let need = match self.framing {
            Framing::Adts => 7,
            Framing::MpegAudio => 4,
            Framing::Ac3 => 7,
            Framing::Latm => 8,
            _ => 1,
        };
        let mut i = 0;
        while i < data.len() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - i) as u64);
                self.skip -= n;
                self.pos += n;
                i += n as usize;
                continue;
            }
            let b = data[i];
            i += 1;
            self.pos += 1;
            if self.hdr_len == 0 && !matches!(b, 0xff | 0x0b | 0x56) {
                self.skipped += 1;
                continue;
            }
            self.hdr[self.hdr_len] = b;
            self.hdr_len += 1;
            if self.hdr_len < need {
                continue;
            }
            match self.audio_header() {
                Some((len, samples)) if len as usize >= need => {
                    let start = self.pos - need as u64;
                    self.begin(start, true, samples, out);
                    self.skip = len - need as u64;
                    self.hdr_len = 0;
                }
                _ => {
                    // Not a header here: slide by one byte.
                    self.hdr.copy_within(1..self.hdr_len, 0);
                    self.hdr_len -= 1;
                    self.skipped += 1;
                    while self.hdr_len > 0 && !matches!(self.hdr[0], 0xff | 0x0b | 0x56) {
                        self.hdr.copy_within(1..self.hdr_len, 0);
                        self.hdr_len -= 1;
                        self.skipped += 1;
                    }
                }
            }
        }
    }

    /// Parses the collected audio header: (frame length, samples).
    fn audio_header(&mut self) -> Option<(u64, u32)> {
        let h = &self.hdr[..self.hdr_len];
        match self.framing {
            Framing::Adts => {
                if h[0] != 0xff || h[1] & 0xf6 != 0xf0 {
                    return None;
                }
                let sr = ADTS_RATES.get(((h[2] >> 2) & 0xf) as usize).copied()?;
                let len = ((h[3] as u64 & 3) << 11) | ((h[4] as u64) << 3) | (h[5] as u64 >> 5);
                let blocks = (h[6] & 3) as u32 + 1;
                self.info.sample_rate.get_or_insert(sr);
                self.info
                    .channels
                    .get_or_insert((((h[2] & 1) << 2) | (h[3] >> 6)) as u32);
                Some((len, 1024 * blocks))
            }
            Framing::MpegAudio => {
                let (len, samples, sr, layer, ch) = mpeg_audio_header(h)?;
                self.info.sample_rate.get_or_insert(sr);
                self.info.mpeg_audio_layer.get_or_insert(layer);
                self.info.channels.get_or_insert(ch);
                Some((len, samples))
            }
            Framing::Ac3 => {
                if h[0] != 0x0b || h[1] != 0x77 {
                    return None;
                }
                let bsid = h[5] >> 3;
                if bsid > 10 {
                    let words = (((h[2] as u64 & 7) << 8) | h[3] as u64) + 1;
                    let fscod = h[4] >> 6;
                    let (sr, blocks) = if fscod == 3 {
                        (
                            [24_000, 22_050, 16_000]
                                .get(((h[4] >> 4) & 3) as usize)
                                .copied()?,
                            6,
                        )
                    } else {
                        (
                            [48_000, 44_100, 32_000][fscod as usize],
                            [1, 2, 3, 6][((h[4] >> 4) & 3) as usize],
                        )
                    };
                    self.info.eac3 = true;
                    self.info.sample_rate.get_or_insert(sr);
                    Some((words * 2, 256 * blocks))
                } else {
                    let fscod = (h[4] >> 6) as usize;
                    let code = (h[4] & 0x3f) as usize;
                    if fscod == 3 || code >= 38 {
                        return None;
                    }
                    let words = AC3_WORDS[fscod][code / 2] as u64
                        + if fscod == 1 { (code & 1) as u64 } else { 0 };
                    self.info
                        .sample_rate
                        .get_or_insert([48_000, 44_100, 32_000][fscod]);
                    Some((words * 2, 1536))
                }
            }
            Framing::Latm => {
                if h[0] != 0x56 || h[1] & 0xe0 != 0xe0 {
                    return None;
                }
                let len = (((h[1] as u64) & 0x1f) << 8) | h[2] as u64;
                if self.info.sample_rate.is_none()
                    && let Some((sr, ch)) = latm_config(&h[3..])
                {
                    self.info.sample_rate = Some(sr);
                    self.info.channels = Some(ch);
                }
                Some((len + 3, 1024))
            }
            _ => None,
        }
    }

    /// Audio bytes that belong to no frame: a partial frame where the stream
    /// starts, or damaged data skipped while looking for the next sync word.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The elementary-stream position from which pushed bytes may still
    /// belong to a frame not emitted yet: the start of the current frame, or,
    /// before the first one, a few bytes back (a start code and the header
    /// bytes collected after it, or an audio frame header).
    pub fn keep_from(&self) -> u64 {
        match &self.cur {
            Some(f) => f.es_pos,
            None => self.pos.saturating_sub(LOOKBACK),
        }
    }

    /// Elementary-stream bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

const ADTS_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// AC-3 frame sizes in 16-bit words by sample-rate code (48, 44.1, 32 kHz) and bit-rate index.
const AC3_WORDS: [[u16; 19]; 3] = [
    [
        64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1152,
        1280,
    ],
    [
        69, 87, 104, 121, 139, 174, 208, 243, 278, 348, 417, 487, 557, 696, 835, 975, 1114, 1253,
        1393,
    ],
    [
        96, 120, 144, 168, 192, 240, 288, 336, 384, 480, 576, 672, 768, 960, 1152, 1344, 1536,
        1728, 1920,
    ],
];

/// Reads the sample rate and channels from a LATM AudioMuxElement that carries
/// its StreamMuxConfig (audioMuxVersion 0 only).
fn latm_config(d: &[u8]) -> Option<(u32, u32)> {
    let mut b = Bits { d, bit: 0 };
    if b.u(1)? != 0 || b.u(1)? != 0 {
        // useSameStreamMux, or audioMuxVersion 1: no config to read here.
        return None;
    }
    b.u(1 + 6 + 4 + 3)?; // allStreamsSameTimeFraming, numSubFrames, numProgram, numLayer
    if b.u(5)? == 31 {
        b.u(6)?;
    }
    let sfi = b.u(4)?;
    let sr = if sfi == 15 {
        b.u(24)?
    } else {
        *ADTS_RATES.get(sfi as usize)?
    };
    let ch = b.u(4)?;
    Some((sr, ch))
}

/// Parses an MPEG audio frame header: (length, samples, rate, layer, channels).
pub fn mpeg_audio_header(h: &[u8]) -> Option<(u64, u32, u32, u8, u32)> {
    if h.len() < 4 || h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let layer_bits = (h[1] >> 1) & 3;
    if version == 1 || layer_bits == 0 {
        return None;
    }
    let layer = 4 - layer_bits; // 1, 2 or 3
    let br_idx = (h[2] >> 4) as usize;
    let sr_idx = ((h[2] >> 2) & 3) as usize;
    if br_idx == 0 || br_idx == 15 || sr_idx == 3 {
        return None;
    }
    let pad = ((h[2] >> 1) & 1) as u64;
    const BR: [[u16; 15]; 5] = [
        [
            0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
        [
            0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    let table = match (version == 3, layer) {
        (true, l) => (l - 1) as usize,
        (false, 1) => 3,
        (false, _) => 4,
    };
    let br = BR[table][br_idx] as u64 * 1000;
    let sr = [
        [11_025, 12_000, 8_000],
        [0, 0, 0],
        [22_050, 24_000, 16_000],
        [44_100, 48_000, 32_000],
    ][version as usize][sr_idx] as u64;
    let (len, samples) = match layer {
        1 => ((12 * br / sr + pad) * 4, 384),
        2 => (144 * br / sr + pad, 1152),
        _ if version == 3 => (144 * br / sr + pad, 1152),
        _ => (72 * br / sr + pad, 576),
    };
    let channels = if h[3] >> 6 == 3 { 1 } else { 2 };
    Some((len, samples, sr as u32, layer, channels))
}

/// Bit reader over an RBSP (emulation-prevention bytes already removed).
struct Bits<'a> {
    d: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    fn u(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.d.get(self.bit / 8)?;
            v = (v << 1) | ((byte >> (7 - self.bit % 8)) & 1) as u32;
            self.bit += 1;
        }
        Some(v)
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.u(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.u(zeros)? as u64).min(u32::MAX as u64) as u32)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) } as i32)
    }
}

/// Removes emulation-prevention bytes (00 00 03 -> 00 00).
fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads the cropped picture size from an H.264 SPS NAL unit (header byte included).
pub fn h264_sps_size(nal: &[u8]) -> Option<(u32, u32)> {
    let r = rbsp(nal.get(1..)?);
    let mut b = Bits { d: &r, bit: 0 };
    let profile = b.u(8)?;
    b.u(16)?;
    b.ue()?;
    let mut chroma = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma = b.ue()?;
        if chroma == 3 {
            b.u(1)?;
        }
        b.ue()?;
        b.ue()?;
        b.u(1)?;
        if b.u(1)? == 1 {
            for i in 0..if chroma == 3 { 12 } else { 8 } {
                if b.u(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            // delta_scale should lie in -128..=127; a file may hold any i32.
                            next = ((last as i64 + b.se()? as i64 + 256) % 256) as i32;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    b.ue()?;
    match b.ue()? {
        0 => {
            b.ue()?;
        }
        1 => {
            b.u(1)?;
            b.se()?;
            b.se()?;
            for _ in 0..b.ue()?.min(256) {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?;
    b.u(1)?;
    let w = b.ue()?.checked_add(1)?.checked_mul(16)?;
    let hm = b.ue()?.checked_add(1)?;
    let frame_mbs_only = b.u(1)?;
    if frame_mbs_only == 0 {
        b.u(1)?;
    }
    b.u(1)?;
    let h = (2 - frame_mbs_only).checked_mul(hm)?.checked_mul(16)?;
    let (mut cw, mut ch) = (w, h);
    if b.u(1)? == 1 {
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        let (ux, uy) = match chroma {
            0 => (1, 2 - frame_mbs_only),
            1 => (2, 2 * (2 - frame_mbs_only)),
            2 => (2, 2 - frame_mbs_only),
            _ => (1, 2 - frame_mbs_only),
        };
        cw = w.checked_sub(l.checked_add(r)?.checked_mul(ux)?)?;
        ch = h.checked_sub(t.checked_add(bo)?.checked_mul(uy)?)?;
    }
    Some((cw, ch))
}

/// Reads the cropped picture size from an H.265 SPS NAL unit (2-byte header included).
pub fn hevc_sps_size(nal: &[u8]) -> Option<(u32, u32)> {
    let r = rbsp(nal.get(2..)?);
    let mut b = Bits { d: &r, bit: 0 };
    b.u(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = b.u(3)?;
    b.u(1)?;
    // profile_tier_level(1, max_sub_layers_minus1)
    b.u(2 + 1 + 5)?;
    b.u(32)?;
    b.u(4)?;
    b.u(32)?;
    b.u(11)?; // 43 reserved bits and one more flag: 32 + 11 + 1 = 44 with the next
    b.u(1)?;
    b.u(8)?; // general_level_idc
    let mut present = Vec::new();
    for _ in 0..max_sub_layers_minus1 {
        present.push((b.u(1)?, b.u(1)?));
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            b.u(2)?;
        }
    }
    for (profile, level) in present {
        if profile == 1 {
            b.u(32)?;
            b.u(32)?;
            b.u(24)?;
        }
        if level == 1 {
            b.u(8)?;
        }
    }
    b.ue()?; // sps_seq_parameter_set_id
    let chroma = b.ue()?;
    if chroma == 3 {
        b.u(1)?;
    }
    let w = b.ue()?;
    let h = b.ue()?;
    if b.u(1)? == 1 {
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        let (sx, sy) = match chroma {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        return Some((
            w.checked_sub(l.checked_add(r)?.checked_mul(sx)?)?,
            h.checked_sub(t.checked_add(bo)?.checked_mul(sy)?)?,
        ));
    }
    Some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg_audio_frame_length() {
        // MPEG-1 layer II, 192 kbit/s, 44.1 kHz, no padding: 626 bytes, 1152 samples.
        let (len, samples, sr, layer, _) = mpeg_audio_header(&[0xff, 0xfd, 0xa0, 0x04]).unwrap();
        assert_eq!((len, samples, sr, layer), (626, 1152, 44_100, 2));
    }

    #[test]
    fn adts_frames_split_across_pushes() {
        let mut f = Framer::new(Framing::Adts);
        let mut out = Vec::new();
        // Two ADTS frames of 10 bytes each (7-byte header, 3 payload bytes), 48 kHz.
        let frame = [0xff, 0xf1, 0x4c, 0x80, 0x01, 0x40, 0x00, 1, 2, 3];
        let mut stream = frame.to_vec();
        stream.extend_from_slice(&frame);
        f.pes_start(0, Some(900), None, false, &mut out);
        f.push(&stream[..13], &mut out);
        f.push(&stream[13..], &mut out);
        f.finish(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].size, 10);
        assert_eq!(out[0].pts, Some(900));
        assert_eq!(out[1].pts, None);
        assert_eq!(f.info.sample_rate, Some(48_000));
    }

    #[test]
    fn h264_access_units_by_first_mb() {
        let mut f = Framer::new(Framing::H264);
        let mut out = Vec::new();
        // AUD, IDR slice, non-IDR slice (first_mb = 0), a second slice of the same picture.
        let es = [
            0, 0, 0, 1, 9, 0xf0, 0, 0, 1, 0x65, 0x88, 0x80, 0, 0, 1, 0x41, 0x9a, 0x00, 0, 0, 1,
            0x41, 0x20, 0x11,
        ];
        f.pes_start(0, Some(0), None, false, &mut out);
        f.push(&es, &mut out);
        f.finish(&mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].keyframe);
        assert!(!out[1].keyframe);
        assert_eq!(out[0].size + out[1].size, es.len() as u64);
    }

    /// Writes bits most significant first; `ue`/`se` as Exp-Golomb codes.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        n: usize,
    }

    impl BitWriter {
        fn u(&mut self, bits: u32, v: u64) -> &mut Self {
            for i in (0..bits).rev() {
                if self.n.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                if (v >> i) & 1 == 1 {
                    *self.bytes.last_mut().unwrap() |= 0x80 >> (self.n % 8);
                }
                self.n += 1;
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let len = 64 - (v + 1).leading_zeros();
            self.u(len - 1, 0).u(len, v + 1)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            self.ue(if v > 0 {
                2 * v as u64 - 1
            } else {
                v.unsigned_abs() * 2
            })
        }
        /// The NAL unit: `header`, then the RBSP with its stop bit and emulation prevention.
        fn nal(&mut self, header: &[u8]) -> Vec<u8> {
            self.u(1, 1);
            let mut out = header.to_vec();
            let mut zeros = 0;
            for &b in &self.bytes {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                out.push(b);
            }
            out
        }
    }

    #[test]
    fn h264_scaling_delta_outside_its_range_does_not_overflow() {
        // High profile SPS with a scaling list whose first delta_scale is i32::MAX
        // (the syntax allows -128..=127): nextScale = (8 + delta + 256) % 256 = 7,
        // then -7 brings it to 0 and ends the list.
        let mut w = BitWriter::default();
        w.u(8, 100).u(16, 0x001f).ue(0); // profile_idc, constraints + level, sps id
        w.ue(1).ue(0).ue(0).u(1, 0); // 4:2:0, bit depths, qpprime_y_zero_transform_bypass
        w.u(1, 1).u(1, 1); // seq_scaling_matrix_present, list 0 present
        w.se(i32::MAX as i64).se(-7);
        w.u(7, 0); // lists 1-7 absent
        w.ue(0).ue(0).ue(0).ue(1).u(1, 0); // frame_num, poc type 0, poc lsb, refs, gaps
        w.ue(19).ue(14).u(1, 1).u(1, 0).u(1, 0); // 20x15 MBs, frames only, no cropping
        assert_eq!(h264_sps_size(&w.nal(&[0x67])), Some((320, 240)));
    }

    #[test]
    fn h264_cropping_beyond_u32_gives_no_size() {
        let sps = |crop_top: u64| {
            let mut w = BitWriter::default();
            w.u(8, 66).u(16, 0x001e).ue(0); // Baseline: 4:2:0, no chroma fields
            w.ue(0).ue(0).ue(0).ue(1).u(1, 0);
            w.ue(119).ue(67).u(1, 1).u(1, 0); // 120x68 MBs = 1920x1088, frames only
            w.u(1, 1).ue(0).ue(0).ue(crop_top).ue(4); // crop: 2-line units
            w.nal(&[0x67])
        };
        assert_eq!(h264_sps_size(&sps(0)), Some((1920, 1080)));
        // 2 * 2^31 overflows u32: the crop is larger than any picture.
        assert_eq!(h264_sps_size(&sps(1 << 31)), None);
    }

    #[test]
    fn hevc_cropping_beyond_u32_gives_no_size() {
        let sps = |left: u64| {
            let mut w = BitWriter::default();
            w.u(4, 0).u(3, 0).u(1, 1); // vps id, max_sub_layers_minus1, temporal id nesting
            w.u(8, 1).u(32, 0x6000_0000).u(48, 0).u(8, 120); // profile_tier_level: Main
            w.ue(0).ue(1).ue(1920).ue(1088); // sps id, 4:2:0, luma size
            w.u(1, 1).ue(left).ue(0).ue(0).ue(4); // conformance window (chroma units)
            w.nal(&[0x42, 0x01])
        };
        assert_eq!(hevc_sps_size(&sps(0)), Some((1920, 1080)));
        // 2 * 2^31 overflows u32.
        assert_eq!(hevc_sps_size(&sps(1 << 31)), None);
    }

    #[test]
    fn a_zero_run_longer_than_u32_does_not_overflow_the_counter() {
        // 2^32 zero bytes cannot be fed to a test: start the counter where they would
        // leave it. The start code after the run is found as after a short run.
        let mut es = vec![0u8; 10];
        es.extend_from_slice(&[1, 0x65, 0x88]);
        let frames = |long_run: bool| {
            let mut f = Framer::new(Framing::H264);
            let mut out = Vec::new();
            f.pes_start(0, None, None, false, &mut out);
            f.push(&es[..8], &mut out);
            if long_run {
                f.zeros = u32::MAX - 1;
            }
            f.push(&es[8..], &mut out);
            f.finish(&mut out);
            out
        };
        let expected = vec![Frame {
            offset: 0,
            es_pos: 7,
            in_pes: 7,
            size: 6,
            pts: None,
            dts: None,
            keyframe: true,
            samples: 0,
        }];
        assert_eq!(frames(false), expected);
        assert_eq!(frames(true), expected);
    }
}
