//! MPEG transport streams: 188-byte TS, 192-byte M2TS (BDAV) and 204-byte (with parity).
//!
//! [`Ts::parse`] finds the packet size and the first sync byte, resynchronises
//! after junk, reads PAT and PMT sections (several programs), reassembles
//! PES packets per elementary stream and splits them into access units
//! ([`crate::es::Frame`]) with 33-bit timestamps unwrapped, kept packed
//! ([`Units`]). Payload bytes are not kept: [`Ts::parse_with_units`] hands
//! each unit's bytes over as the parse completes it (in one pass, whatever
//! the units' sizes), and [`Ts::unit_bytes`] reassembles one unit on demand
//! by walking the packets of its PID.

use crate::codec::framer::{Framer, Framing, StreamInfo};
use crate::detect::find_ts_sync;
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::es::{Frame, MAX_INPUT, Units};
use crate::input::{Input, short_window};
use crate::pes::{self, Carried, Elementary, MAX_PES_HEADER, Out, StreamKind};

/// A program from the PAT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Program {
    /// Program number.
    pub number: u16,
    /// PID of its PMT.
    pub pmt_pid: u16,
    /// PID carrying its PCR.
    pub pcr_pid: Option<u16>,
    /// Elementary stream PIDs.
    pub pids: Vec<u16>,
}

/// One elementary stream.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Packet identifier.
    pub pid: u16,
    /// PMT stream type.
    pub stream_type: u8,
    /// Program number.
    pub program: u16,
    /// FFmpeg's codec name, when known.
    pub codec: Option<&'static str>,
    /// Stream kind.
    pub kind: StreamKind,
    /// ISO 639 language from the PMT.
    pub language: Option<String>,
    /// Access units in decode order.
    pub units: Units,
    /// Properties learnt from headers.
    pub info: StreamInfo,
    /// Continuity-counter errors.
    pub cc_errors: u32,
    framing: Framing,
}

/// A parsed transport stream.
#[derive(Debug)]
pub struct Ts<'a> {
    /// The input; empty when it was read through a window
    /// ([`Ts::parse_from`]).
    pub data: &'a [u8],
    /// Packet size: 188, 192 or 204.
    pub packet_size: usize,
    /// Programs from the PAT.
    pub programs: Vec<Program>,
    /// Elementary streams in PMT order.
    pub streams: Vec<Stream>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

struct PidState {
    stream: usize,
    cc: Option<u8>,
    pes_hdr: Vec<u8>,
    in_pes: bool,
    hdr_pending: bool,
    rai: bool,
    pes_offset: u64,
    es: Elementary,
}

impl Carried for Stream {
    fn parts(&mut self) -> (&mut Units, &mut StreamInfo, &mut Option<&'static str>) {
        (&mut self.units, &mut self.info, &mut self.codec)
    }
}

/// Called with each access unit as the parse completes it: the stream's
/// index in [`Ts::streams`], the stream, the unit, and its bytes (`None`
/// when they are not all present).
pub type OnUnit<'c> = pes::OnUnit<'c, Stream>;

/// Programs kept from the PAT; real multiplexes carry a handful.
const MAX_PROGRAMS: usize = 1024;

#[derive(Default)]
struct Section {
    buf: Vec<u8>,
}

/// Codec, kind and framing for a PMT stream type (with descriptor hints).
fn classify(
    stream_type: u8,
    reg: Option<[u8; 4]>,
    desc_tags: &[u8],
) -> (Option<&'static str>, StreamKind, Framing) {
    use StreamKind::*;
    match stream_type {
        0x01 | 0x02 => (Some("mpeg2video"), Video, Framing::Mpeg2Video),
        0x03 | 0x04 => (Some("mp3"), Audio, Framing::MpegAudio),
        0x0f => (Some("aac"), Audio, Framing::Adts),
        0x11 => (Some("aac_latm"), Audio, Framing::Latm),
        0x10 => (Some("mpeg4"), Video, Framing::Pes),
        0x1b => (Some("h264"), Video, Framing::H264),
        0x24 => (Some("hevc"), Video, Framing::Hevc),
        0x81 => (Some("ac3"), Audio, Framing::Ac3),
        0x87 => (Some("eac3"), Audio, Framing::Ac3),
        0x86 => (Some("scte_35"), Data, Framing::Sections),
        0x15 => (Some("timed_id3"), Data, Framing::Pes),
        0x06 => {
            if desc_tags.contains(&0x6a) || reg == Some(*b"AC-3") {
                (Some("ac3"), Audio, Framing::Ac3)
            } else if desc_tags.contains(&0x7a) || reg == Some(*b"EAC3") {
                (Some("eac3"), Audio, Framing::Ac3)
            } else if desc_tags.contains(&0x59) {
                (Some("dvb_subtitle"), Subtitle, Framing::Pes)
            } else if desc_tags.contains(&0x56) {
                (Some("dvb_teletext"), Subtitle, Framing::Pes)
            } else if reg == Some(*b"HEVC") {
                (Some("hevc"), Video, Framing::Hevc)
            } else {
                (None, Data, Framing::Pes)
            }
        }
        _ => match reg.as_ref().map(|r| &r[..]) {
            Some(b"HEVC") => (Some("hevc"), Video, Framing::Hevc),
            Some(b"AC-3") => (Some("ac3"), Audio, Framing::Ac3),
            _ => (None, Data, Framing::Pes),
        },
    }
}

impl<'a> Ts<'a> {
    /// Parses a transport stream.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Ts<'a>> {
        Self::parse_slice(data, limits, None, true)
    }

    /// Parses a transport stream and calls `on_unit` with each access unit
    /// and its bytes as they are found (in decode order within a stream),
    /// in one pass over the input: the bytes are those the parser split into
    /// units, held only until the unit is complete.
    pub fn parse_with_units(
        data: &'a [u8],
        limits: Limits,
        on_unit: &mut OnUnit<'_>,
    ) -> Result<Ts<'a>> {
        Self::parse_slice(data, limits, Some(on_unit), true)
    }

    /// Like [`Ts::parse_with_units`], without keeping the unit index: every
    /// stream's `units` stays empty, and memory is bounded by the largest
    /// unit rather than by the number of units (content hashing needs no
    /// index).
    pub fn parse_streaming(
        data: &'a [u8],
        limits: Limits,
        on_unit: &mut OnUnit<'_>,
    ) -> Result<Ts<'a>> {
        Self::parse_slice(data, limits, Some(on_unit), false)
    }

    fn parse_slice(
        data: &'a [u8],
        limits: Limits,
        on_unit: Option<&mut OnUnit<'_>>,
        keep: bool,
    ) -> Result<Ts<'a>> {
        let mut ts = Ts::parse_from(data, limits, on_unit, keep)?;
        ts.data = data;
        Ok(ts)
    }
}

/// Bytes the search for packet alignment looks at from where it starts:
/// 64 KiB of candidate offsets and five packets of the largest size after
/// the last (with a 192-byte packet's 4-byte lead). Given at least this
/// much (or the rest of the input), [`find_ts_sync`] answers as it would
/// given the whole rest.
const SYNC_SPAN: usize = 65_536 + 5 * 204 + 4;

impl Ts<'static> {
    /// Parses a transport stream read through `input` (a [`Windowed`]
    /// file, or a slice): the same parse as [`Ts::parse`],
    /// [`Ts::parse_with_units`] (with `on_unit`) or [`Ts::parse_streaming`]
    /// (with `on_unit`, `keep_units` false), reading the input once from
    /// front to back. [`Ts::data`] stays empty, so [`Ts::unit_bytes`] has
    /// nothing to reassemble from: take the bytes through `on_unit`.
    ///
    /// [`Windowed`]: crate::input::Windowed
    pub fn parse_from<I: Input>(
        mut input: I,
        limits: Limits,
        on_unit: Option<&mut OnUnit<'_>>,
        keep_units: bool,
    ) -> Result<Ts<'static>> {
        let mut out = Out {
            on_unit,
            keep: keep_units,
        };
        let size = input.size();
        if size >= MAX_INPUT {
            return Err(Error::new(
                0,
                "ts",
                ErrorKind::Unsupported(format!("transport streams of {MAX_INPUT} bytes or more")),
            ));
        }
        let mut diag = Diag::new(limits.strict);
        let head = input.window(0, SYNC_SPAN)?;
        let (packet_size, start) = [188usize, 192, 204]
            .iter()
            .filter_map(|&s| find_ts_sync(head, s).map(|o| (s, o)))
            .min_by_key(|&(_, o)| o)
            .ok_or_else(|| {
                Error::new(
                    0,
                    "ts",
                    ErrorKind::Invalid("no MPEG-TS sync byte found".into()),
                )
            })?;
        let lead = if packet_size == 192 { 4 } else { 0 };
        if start > 0 {
            diag.note(
                0,
                "ts",
                format!("{start} bytes of junk before the first packet"),
            )?;
        }
        let mut ts = Ts {
            data: &[],
            packet_size,
            programs: Vec::new(),
            streams: Vec::new(),
            warnings: Vec::new(),
        };
        // PID -> state index; 8192 PIDs.
        // (Small entries: these tables are the parse's fixed cost.)
        let mut pid_map: Vec<Option<u16>> = vec![None; 8192];
        let mut states: Vec<PidState> = Vec::new();
        let mut psi: Vec<Option<Box<Section>>> = (0..8192).map(|_| None).collect();
        psi[0] = Some(Box::default());
        // PID -> program number, for PIDs that carry a PMT.
        let mut pmt_program: Vec<Option<u16>> = vec![None; 8192];
        let mut pos = start as u64;
        while pos + (lead + 188) as u64 <= size {
            crate::cost::step(1);
            let pkt_off = pos;
            let w = input.window(pos, lead + 188)?;
            let p = w.get(lead..lead + 188).ok_or_else(|| short_window(pos))?;
            if p[0] != 0x47 {
                match resync(&mut input, pos, packet_size)? {
                    Some(k) => {
                        diag.note(
                            pkt_off,
                            "ts",
                            format!("lost sync; skipped {k} bytes of junk"),
                        )?;
                        pos += k;
                        continue;
                    }
                    None => {
                        diag.note(
                            pkt_off,
                            "ts",
                            "lost sync; the rest of the file is not transport stream",
                        )?;
                        break;
                    }
                }
            }
            pos += packet_size as u64;
            let tei = p[1] & 0x80 != 0;
            let pusi = p[1] & 0x40 != 0;
            let pid = (((p[1] & 0x1f) as u16) << 8) | p[2] as u16;
            let afc = (p[3] >> 4) & 3;
            let cc = p[3] & 0xf;
            if tei {
                diag.note(
                    pkt_off,
                    &format!("pid {pid:#x}"),
                    "transport error indicator set",
                )?;
            }
            if pid == 0x1fff {
                continue;
            }
            let mut at = 4;
            let mut discontinuity = false;
            let mut random_access = false;
            if afc & 2 != 0 {
                let alen = p[4] as usize;
                discontinuity = alen > 0 && p[5] & 0x80 != 0;
                random_access = alen > 0 && p[5] & 0x40 != 0;
                at = 5 + alen;
            }
            if afc & 1 == 0 || at > 188 {
                continue;
            }
            let payload = &p[at..];
            if let Some(sec) = psi[pid as usize].as_mut() {
                let complete = collect_section(sec, payload, pusi);
                for s in complete {
                    if pid == 0 {
                        ts.on_pat(&s, &mut psi, &mut pmt_program);
                    } else if let Some(prog) = pmt_program[pid as usize] {
                        ts.on_pmt(&s, prog, &mut pid_map, &mut states, &mut psi);
                    } else if let Some(si) = pid_map[pid as usize].map(usize::from) {
                        // A stream carried in sections (SCTE-35): one unit per section.
                        let f = Frame {
                            offset: pkt_off,
                            es_pos: 0,
                            in_pes: 0,
                            size: s.len() as u64,
                            pts: None,
                            dts: None,
                            keyframe: true,
                            samples: 0,
                        };
                        let st = &mut states[si];
                        st.es
                            .whole(st.stream, &mut ts.streams[st.stream], &f, &s, &mut out);
                    }
                }
                continue;
            }
            let Some(si) = pid_map[pid as usize].map(usize::from) else {
                continue;
            };
            let st = &mut states[si];
            if let Some(last) = st.cc
                && !discontinuity
                && cc != (last + 1) & 0xf
                && cc != last
            {
                ts.streams[st.stream].cc_errors += 1;
                diag.note(
                    pkt_off,
                    &format!("pid {pid:#x}"),
                    format!("continuity counter jumps from {last} to {cc}: packets lost"),
                )?;
            }
            if st.cc == Some(cc) && !discontinuity {
                // Duplicate packet: ignored.
                continue;
            }
            st.cc = Some(cc);
            if pusi {
                st.rai = random_access;
                st.in_pes = true;
                st.hdr_pending = true;
                st.pes_hdr.clear();
                st.pes_offset = pkt_off;
            }
            if !st.in_pes {
                continue;
            }
            if st.hdr_pending {
                // The PES header may span packets.
                let before = st.pes_hdr.len();
                let take = (MAX_PES_HEADER - before).min(payload.len());
                st.pes_hdr.extend_from_slice(&payload[..take]);
                match pes::header(&st.pes_hdr) {
                    Some((hlen, pts, dts)) => {
                        st.hdr_pending = false;
                        let skip = hlen.saturating_sub(before);
                        let stream = &mut ts.streams[st.stream];
                        if stream.codec.is_none()
                            && stream.framing == Framing::Pes
                            && st.es.framer.position() == 0
                            && let Some((codec, kind, framing)) =
                                sniff(payload.get(skip..).unwrap_or(&[]))
                        {
                            // Private data (type 0x06) with no telling descriptor: FFmpeg
                            // and Blu-ray M2TS writers put AAC or AC-3 here.
                            stream.codec = Some(codec);
                            stream.kind = kind;
                            stream.framing = framing;
                            st.es.framer = Framer::new(framing);
                        }
                        let (i, rai) = (st.stream, st.rai);
                        st.es
                            .start(i, stream, st.pes_offset, pts, dts, rai, &mut out);
                        if skip < payload.len() {
                            st.es.payload(i, stream, &payload[skip..], &mut out);
                        }
                    }
                    None if st.pes_hdr.len() >= MAX_PES_HEADER
                        || (st.pes_hdr.len() >= 3 && st.pes_hdr[..3] != [0, 0, 1]) =>
                    {
                        diag.note(
                            st.pes_offset,
                            &format!("pid {pid:#x}"),
                            "invalid PES header; PES skipped",
                        )?;
                        st.in_pes = false;
                        st.hdr_pending = false;
                    }
                    None => {}
                }
                continue;
            }
            st.es
                .payload(st.stream, &mut ts.streams[st.stream], payload, &mut out);
        }
        for st in &mut states {
            let path = format!("pid {:#x}", ts.streams[st.stream].pid);
            st.es.finish(
                st.stream,
                &mut ts.streams[st.stream],
                &mut out,
                &mut diag,
                &path,
            )?;
        }
        if ts.programs.is_empty() {
            diag.note(start as u64, "ts", "no program association table found")?;
        }
        ts.warnings = diag.warnings;
        Ok(ts)
    }
}

/// After a packet at `pos` without its sync byte: how many bytes on packets
/// line up again, or `None` when they never do. Searches 64 KiB of
/// candidate offsets at a time, so a long stretch of junk costs O(n), and
/// steps over runs the input knows are zeros (a hole: no sync byte there)
/// without reading them, landing on the same 64 KiB steps.
fn resync<I: Input>(input: &mut I, pos: u64, packet_size: usize) -> Result<Option<u64>> {
    const STEP: u64 = 65_536;
    let lead = if packet_size == 192 { 4 } else { 0 };
    // A step is taken only while more than this remains after its start.
    let last = STEP + packet_size as u64 * 5;
    let size = input.size();
    let mut skipped = 0u64;
    loop {
        let at = pos + skipped;
        let rest = size - at;
        if rest > last {
            // Every candidate offset of a step whose sync bytes would lie in
            // zeros fails: take those steps at once.
            let zeros = input.zeros_until(at + lead)? - (at + lead);
            let steps = (zeros / STEP).min((rest - last - 1) / STEP + 1);
            if steps > 0 {
                skipped += steps * STEP;
                continue;
            }
        }
        let w = input.window(at, SYNC_SPAN)?;
        match find_ts_sync(w, packet_size) {
            Some(k) if k > 0 || skipped > 0 => return Ok(Some(skipped + k as u64)),
            Some(_) => return Ok(None),
            None if rest > last => skipped += STEP,
            None => return Ok(None),
        }
    }
}

impl<'a> Ts<'a> {
    fn on_pat(
        &mut self,
        s: &[u8],
        psi: &mut [Option<Box<Section>>],
        pmt_program: &mut [Option<u16>],
    ) {
        if s.first() != Some(&0x00) || s.len() < 12 {
            return;
        }
        let len = ((((s[1] & 0xf) as usize) << 8) | s[2] as usize).min(s.len() - 3);
        let end = (3 + len).saturating_sub(4);
        let mut at = 8;
        while at + 4 <= end {
            let number = u16::from_be_bytes([s[at], s[at + 1]]);
            let pid = u16::from_be_bytes([s[at + 2], s[at + 3]]) & 0x1fff;
            at += 4;
            if number == 0
                || pmt_program[pid as usize].is_some()
                || self.programs.len() >= MAX_PROGRAMS
                || self.programs.iter().any(|p| p.number == number)
            {
                continue;
            }
            self.programs.push(Program {
                number,
                pmt_pid: pid,
                pcr_pid: None,
                pids: Vec::new(),
            });
            pmt_program[pid as usize] = Some(number);
            if psi[pid as usize].is_none() {
                psi[pid as usize] = Some(Box::default());
            }
        }
    }

    fn on_pmt(
        &mut self,
        s: &[u8],
        program: u16,
        pid_map: &mut [Option<u16>],
        states: &mut Vec<PidState>,
        psi: &mut [Option<Box<Section>>],
    ) {
        if s.first() != Some(&0x02) || s.len() < 16 {
            return;
        }
        let len = ((((s[1] & 0xf) as usize) << 8) | s[2] as usize).min(s.len() - 3);
        let end = (3 + len).saturating_sub(4);
        let pcr = u16::from_be_bytes([s[8], s[9]]) & 0x1fff;
        let info_len = (((s[10] & 0xf) as usize) << 8) | s[11] as usize;
        let mut prog_reg = None;
        walk_descriptors(
            s.get(12..(12 + info_len).min(end)).unwrap_or(&[]),
            |tag, d| {
                if tag == 0x05 && d.len() >= 4 {
                    prog_reg = Some([d[0], d[1], d[2], d[3]]);
                }
            },
        );
        let mut at = 12 + info_len;
        let Some(pi) = self.programs.iter().position(|p| p.number == program) else {
            return;
        };
        self.programs[pi].pcr_pid = Some(pcr);
        while at + 5 <= end {
            let stream_type = s[at];
            let pid = u16::from_be_bytes([s[at + 1], s[at + 2]]) & 0x1fff;
            let es_len = (((s[at + 3] & 0xf) as usize) << 8) | s[at + 4] as usize;
            let desc = s.get(at + 5..(at + 5 + es_len).min(end)).unwrap_or(&[]);
            at += 5 + es_len;
            if pid_map[pid as usize].is_some() {
                continue;
            }
            let mut tags = Vec::new();
            let mut reg = prog_reg;
            let mut language = None;
            walk_descriptors(desc, |tag, d| {
                tags.push(tag);
                match tag {
                    0x05 if d.len() >= 4 => reg = Some([d[0], d[1], d[2], d[3]]),
                    0x0a if d.len() >= 3 && d[..3].iter().all(|c| c.is_ascii_alphabetic()) => {
                        language = Some(String::from_utf8_lossy(&d[..3]).into_owned())
                    }
                    _ => {}
                }
            });
            let (codec, kind, framing) = classify(stream_type, reg, &tags);
            if framing == Framing::Sections && psi[pid as usize].is_none() {
                psi[pid as usize] = Some(Box::default());
            }
            self.programs[pi].pids.push(pid);
            self.streams.push(Stream {
                pid,
                stream_type,
                program,
                codec,
                kind,
                language,
                units: Units::new(),
                info: Default::default(),
                cc_errors: 0,
                framing,
            });
            // At most one state per PID: fewer than 8192.
            pid_map[pid as usize] = Some(states.len() as u16);
            states.push(PidState {
                stream: self.streams.len() - 1,
                cc: None,
                pes_hdr: Vec::new(),
                in_pes: false,
                hdr_pending: false,
                rai: false,
                pes_offset: 0,
                es: Elementary::new(framing),
            });
        }
    }

    /// Reassembles the bytes of access unit `unit` of stream `stream` (allocates).
    ///
    /// Walks the packets from the start of the unit's PES packet, so it
    /// costs up to the size of that PES (or 64 MiB): to read every unit,
    /// use [`Ts::parse_with_units`], which costs one pass in all.
    /// Returns `None` when the packets no longer hold the whole unit (or not
    /// within 64 MiB, or twice its size, of its first packet).
    pub fn unit_bytes(&self, stream: usize, unit: &Frame) -> Option<Vec<u8>> {
        let pid = self.streams.get(stream)?.pid;
        let lead = if self.packet_size == 192 { 4 } else { 0 };
        let size = usize::try_from(unit.size).ok()?;
        let mut out = Vec::with_capacity(size.min(self.data.len()));
        let mut skip = usize::try_from(unit.in_pes).ok()?;
        let mut pos = usize::try_from(unit.offset).ok()?;
        let mut first = true;
        let limit = pos.saturating_add(pes::REASSEMBLY_WINDOW.max(size.saturating_mul(2)));
        while out.len() < size && pos + lead + 188 <= self.data.len() && pos < limit {
            crate::cost::step(1);
            let p = &self.data[pos + lead..pos + lead + 188];
            pos += self.packet_size;
            if p[0] != 0x47 || ((((p[1] & 0x1f) as u16) << 8) | p[2] as u16) != pid {
                continue;
            }
            let afc = (p[3] >> 4) & 3;
            let at = if afc & 2 != 0 { 5 + p[4] as usize } else { 4 };
            if afc & 1 == 0 || at >= 188 {
                continue;
            }
            let mut payload = &p[at..];
            if p[1] & 0x40 != 0 {
                let (hlen, _, _) = pes::header(payload)?;
                payload = payload.get(hlen..).unwrap_or(&[]);
            } else if first {
                return None;
            }
            first = false;
            let n = skip.min(payload.len());
            skip -= n;
            payload = &payload[n..];
            let take = (size - out.len()).min(payload.len());
            out.extend_from_slice(&payload[..take]);
        }
        (out.len() == size).then_some(out)
    }
}

/// Recognises an audio elementary stream from the first bytes of its first PES
/// payload: a frame header whose length lands exactly on the next sync word
/// (or on the end of the payload).
fn sniff(p: &[u8]) -> Option<(&'static str, StreamKind, Framing)> {
    for (codec, framing) in [
        ("aac", Framing::Adts),
        ("ac3", Framing::Ac3),
        ("aac_latm", Framing::Latm),
    ] {
        let mut f = Framer::new(framing);
        let mut frames = Vec::new();
        f.pes_start(0, None, None, false, &mut frames);
        f.push(p, &mut frames);
        f.finish(&mut frames);
        let first_two_fit =
            frames.len() >= 2 && frames[0].es_pos == 0 && frames[1].es_pos == frames[0].size;
        let single_exact = frames.len() == 1
            && frames[0].es_pos == 0
            && f.skipped() == 0
            && frames[0].size == p.len() as u64;
        if first_two_fit || single_exact {
            return Some((codec, StreamKind::Audio, framing));
        }
    }
    None
}

/// Calls `f(tag, body)` for each descriptor in `d`.
fn walk_descriptors(mut d: &[u8], mut f: impl FnMut(u8, &[u8])) {
    while d.len() >= 2 {
        let tag = d[0];
        let len = d[1] as usize;
        let Some(body) = d.get(2..2 + len) else {
            return;
        };
        f(tag, body);
        d = &d[2 + len..];
    }
}

/// Adds a packet's payload to a PSI section buffer; returns completed sections.
fn collect_section(sec: &mut Section, payload: &[u8], pusi: bool) -> Vec<Vec<u8>> {
    let mut done = Vec::new();
    let mut data = payload;
    if pusi {
        let Some((&ptr, rest)) = data.split_first() else {
            return done;
        };
        let ptr = ptr as usize;
        if !sec.buf.is_empty() && ptr <= rest.len() {
            sec.buf.extend_from_slice(&rest[..ptr]);
            take_complete(sec, &mut done);
        }
        sec.buf.clear();
        data = rest.get(ptr..).unwrap_or(&[]);
    } else if sec.buf.is_empty() {
        return done;
    }
    sec.buf.extend_from_slice(data);
    take_complete(sec, &mut done);
    done
}

fn take_complete(sec: &mut Section, done: &mut Vec<Vec<u8>>) {
    loop {
        if sec.buf.first().is_none_or(|&t| t == 0xff) {
            sec.buf.clear();
            return;
        }
        if sec.buf.len() < 3 {
            return;
        }
        let len = 3 + ((((sec.buf[1] & 0xf) as usize) << 8) | sec.buf[2] as usize);
        if sec.buf.len() < len {
            if sec.buf.len() > 4096 + 3 {
                sec.buf.clear();
            }
            return;
        }
        done.push(sec.buf[..len].to_vec());
        sec.buf.drain(..len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_and_nothing_are_errors_not_panics() {
        assert!(Ts::parse(b"", Limits::default()).is_err());
        assert!(Ts::parse(&[0x47; 100], Limits::default()).is_err());
        let mut junk = vec![0u8; 1000];
        junk.extend(
            std::iter::repeat_n(
                [0x47u8; 1]
                    .iter()
                    .chain([0u8; 187].iter())
                    .copied()
                    .collect::<Vec<_>>(),
                6,
            )
            .flatten(),
        );
        let ts = Ts::parse(&junk, Limits::default()).unwrap();
        assert!(
            ts.warnings.iter().any(|w| w.message.contains("junk")),
            "{:?}",
            ts.warnings
        );
    }
}
