//! An MPEG-TS writer: packets of 188, 192 (M2TS) or 204 bytes with
//! continuity counters kept per PID, PSI sections with their CRC, and PES
//! packets split across as many packets as they need.

use std::collections::BTreeMap;

/// The size of each packet written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketSize {
    /// 188 bytes: plain MPEG-TS.
    Ts188,
    /// 192 bytes: M2TS, a 4-byte arrival timestamp before each packet.
    M2ts192,
    /// 204 bytes: 16 parity bytes (written as zeros) after each packet.
    Fec204,
}

impl PacketSize {
    /// The packet size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            PacketSize::Ts188 => 188,
            PacketSize::M2ts192 => 192,
            PacketSize::Fec204 => 204,
        }
    }

    /// The packet size for `bytes` (188, 192 or 204), `None` for others.
    pub fn from_bytes(bytes: usize) -> Option<PacketSize> {
        match bytes {
            188 => Some(PacketSize::Ts188),
            192 => Some(PacketSize::M2ts192),
            204 => Some(PacketSize::Fec204),
            _ => None,
        }
    }
}

/// The arrival timestamp written before each M2TS packet.
const M2TS_LEAD: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// Writes a transport stream packet by packet.
#[derive(Debug, Clone)]
pub struct TsWriter {
    out: Vec<u8>,
    size: PacketSize,
    random_access: bool,
    cc: BTreeMap<u16, u8>,
}

impl TsWriter {
    /// An empty stream of `size` packets.
    pub fn new(size: PacketSize) -> TsWriter {
        TsWriter {
            out: Vec::new(),
            size,
            random_access: false,
            cc: BTreeMap::new(),
        }
    }

    /// Sets the random-access indicator on every packet that starts a unit
    /// and has an adaptation field (a payload shorter than 184 bytes).
    pub fn with_random_access(mut self) -> TsWriter {
        self.random_access = true;
        self
    }

    /// One packet on `pid` carrying `payload` (at most 184 bytes; a shorter
    /// payload is preceded by adaptation-field stuffing). `start` sets the
    /// payload-unit-start indicator.
    ///
    /// # Panics
    ///
    /// When `payload` is longer than 184 bytes.
    pub fn packet(&mut self, pid: u16, start: bool, payload: &[u8]) {
        assert!(payload.len() <= 184, "a TS packet holds 184 payload bytes");
        if self.size == PacketSize::M2ts192 {
            self.out.extend_from_slice(&M2TS_LEAD);
        }
        let cc = self.cc.entry(pid).or_insert(0);
        let out = &mut self.out;
        out.push(0x47);
        out.push(if start { 0x40 } else { 0 } | (pid >> 8) as u8 & 0x1f);
        out.push(pid as u8);
        let stuffing = 184 - payload.len();
        out.push(if stuffing > 0 { 0x30 } else { 0x10 } | *cc);
        *cc = (*cc + 1) & 0xf;
        if stuffing > 0 {
            out.push(stuffing as u8 - 1);
            if stuffing > 1 {
                out.push(if start && self.random_access { 0x40 } else { 0 });
                out.extend(std::iter::repeat_n(0xff, stuffing - 2));
            }
        }
        out.extend_from_slice(payload);
        if self.size == PacketSize::Fec204 {
            out.extend_from_slice(&[0; 16]);
        }
    }

    /// A PSI section (table id through the last byte before the CRC) on
    /// `pid`, in one packet: a zero pointer field, the section, its CRC.
    ///
    /// # Panics
    ///
    /// When the section does not fit in one packet.
    pub fn psi(&mut self, pid: u16, section: &[u8]) {
        let mut payload = vec![0u8];
        payload.extend_from_slice(section);
        payload.extend(crc32_mpeg(section).to_be_bytes());
        self.packet(pid, true, &payload);
    }

    /// A PES packet on `pid`, split into packets of 184 payload bytes (the
    /// last one stuffed).
    pub fn pes(&mut self, pid: u16, pes: &[u8]) {
        for (i, chunk) in pes.chunks(184).enumerate() {
            self.packet(pid, i == 0, chunk);
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The stream written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// MPEG CRC-32 of a PSI section.
pub fn crc32_mpeg(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A 5-byte PES timestamp (33 bits of `t`, 90 kHz) with the 4-bit `marker`
/// prefix (2: PTS alone, 3: PTS followed by DTS, 1: that DTS).
pub fn pes_timestamp(marker: u8, t: u64) -> [u8; 5] {
    [
        (marker << 4) | ((((t >> 30) & 7) as u8) << 1) | 1,
        (t >> 22) as u8,
        ((((t >> 15) & 0x7f) as u8) << 1) | 1,
        (t >> 7) as u8,
        (((t & 0x7f) as u8) << 1) | 1,
    ]
}

/// A PAT listing one program whose PMT is on `pmt_pid`.
pub fn pat(pmt_pid: u16) -> Vec<u8> {
    vec![
        0x00,
        0xb0,
        13,
        0,
        1,
        0xc1,
        0,
        0,
        0,
        1,
        0xe0 | (pmt_pid >> 8) as u8,
        pmt_pid as u8,
    ]
}

/// A PMT for program 1 with the PCR on the first stream, listing
/// `(stream_type, pid)` elementary streams without descriptors.
pub fn pmt(streams: &[(u8, u16)]) -> Vec<u8> {
    let pcr = streams.first().map_or(0x1fff, |s| s.1);
    let mut s = vec![
        0x02,
        0xb0,
        0,
        0,
        1,
        0xc1,
        0,
        0,
        0xe0 | (pcr >> 8) as u8,
        pcr as u8,
        0xf0,
        0,
    ];
    for &(stream_type, pid) in streams {
        s.extend([stream_type, 0xe0 | (pid >> 8) as u8, pid as u8, 0xf0, 0]);
    }
    // Section length: what follows the length field, CRC included.
    s[2] = (s.len() - 3 + 4) as u8;
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_container::{Limits, ts::Ts};

    #[test]
    fn every_packet_size_parses_back() {
        for size in [PacketSize::Ts188, PacketSize::M2ts192, PacketSize::Fec204] {
            let mut w = TsWriter::new(size).with_random_access();
            w.psi(0, &pat(0x100));
            w.psi(0x100, &pmt(&[(0x1b, 0x101)]));
            for i in 0..3u64 {
                let mut pes = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
                pes.extend(pes_timestamp(2, 3000 * i));
                pes.extend([0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88]);
                pes.extend(vec![0x80; 300]);
                w.pes(0x101, &pes);
            }
            assert_eq!(w.len() % size.bytes(), 0);
            assert_eq!(PacketSize::from_bytes(size.bytes()), Some(size));
            let data = w.into_bytes();
            let ts = Ts::parse(&data, Limits::default()).unwrap();
            assert_eq!(ts.packet_size, size.bytes());
            assert_eq!(ts.streams.len(), 1);
            assert_eq!(ts.streams[0].codec, Some("h264"));
            assert!(ts.warnings.is_empty(), "{:?}", ts.warnings);
        }
    }
}
