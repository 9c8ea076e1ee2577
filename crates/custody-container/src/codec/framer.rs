//! Splitting an elementary stream into access units, as transport and
//! program streams and raw audio files carry it: PES payloads (or a file's
//! bytes) are pushed in as they arrive, and a [`Framer`] finds the units
//! (video: start-code scanning, H.264/HEVC access-unit boundaries, MPEG-2
//! pictures; audio: frame headers, read by [`super::audio`]) without
//! keeping the payload bytes. Each [`Frame`] records where it starts (the
//! file offset of the packet that carries its first byte and its position
//! in the elementary stream), its size, its timestamps and whether it is a
//! random access point.
//!
//! ```
//! use custody_container::codec::framer::{Framer, Framing};
//! // Two ADTS frames of 10 bytes (48 kHz), pushed in uneven pieces.
//! let frame = [0xff, 0xf1, 0x4c, 0x80, 0x01, 0x40, 0x00, 1, 2, 3];
//! let stream = [frame, frame].concat();
//! let (mut f, mut out) = (Framer::new(Framing::Adts), Vec::new());
//! f.pes_start(0, Some(900), None, false, &mut out);
//! f.push(&stream[..13], &mut out);
//! f.push(&stream[13..], &mut out);
//! f.finish(&mut out);
//! assert_eq!((out.len(), out[0].size, f.info.sample_rate), (2, 10, Some(48_000)));
//! ```

use super::audio;
use super::video::{h264_sps_size, hevc_sps_size};
use crate::es::Frame;
use std::collections::VecDeque;

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
        let a = match self.framing {
            Framing::Adts => audio::adts(h)?,
            Framing::MpegAudio => audio::mpeg(h)?,
            Framing::Ac3 => audio::ac3(h)?,
            Framing::Latm => audio::latm(h)?,
            _ => return None,
        };
        let info = &mut self.info;
        if let Some(sr) = a.sample_rate {
            info.sample_rate.get_or_insert(sr);
        }
        if let Some(ch) = a.channels {
            info.channels.get_or_insert(ch);
        }
        if let Some(layer) = a.layer {
            info.mpeg_audio_layer.get_or_insert(layer);
        }
        info.eac3 |= a.eac3;
        Some((a.len, a.samples))
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

    /// How the stream is split.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Elementary-stream bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
