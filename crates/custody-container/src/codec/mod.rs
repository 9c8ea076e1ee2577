//! Everything codec-level, shared by every demuxer and the content hashes:
//! configuration records every container carries the same way (`avcC` /
//! `hvcC` decoder configurations: parameter sets and the NAL length size;
//! MPEG-4 AudioSpecificConfig), parameter sets ([`video`]), audio frame
//! headers ([`audio`]), and the splitting of elementary streams into
//! access units ([`framer`]).
//!
//! ```
//! use custody_container::codec::{audio_specific_config, parameter_sets};
//! // AAC-LC, 48 kHz, stereo.
//! let asc = audio_specific_config(&[0x11, 0x90]).unwrap();
//! assert_eq!((asc.object_type, asc.sample_rate, asc.channels), (2, 48_000, Some(2)));
//! // avcC with one SPS and one PPS, 4-byte lengths.
//! let avcc = [1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee];
//! let (sets, n) = parameter_sets(b"avcC", &avcc);
//! assert_eq!((sets, n), (vec![&[0x67, 0x64][..], &[0x68, 0xee][..]], 4));
//! ```

pub mod audio;
pub mod framer;
pub mod video;

use crate::bytes::be16;

/// The parameter sets of an `avcC` or `hvcC` record, in record order, and
/// the size of each NAL unit's length prefix (4 when the record is cut
/// before it). A record cut short gives the sets before the cut.
pub fn parameter_sets<'c>(kind: &[u8; 4], c: &'c [u8]) -> (Vec<&'c [u8]>, u8) {
    let mut out = Vec::new();
    // `cnt` units at `*at`, each a 16-bit length and its bytes; false when
    // the record ends first.
    let mut units = |at: &mut usize, cnt: usize| {
        for _ in 0..cnt {
            let len = be16(c, *at).map(usize::from);
            let Some(p) = len.and_then(|len| c.get(*at + 2..*at + 2 + len)) else {
                return false;
            };
            out.push(p);
            *at += 2 + p.len();
        }
        true
    };
    let n = match kind {
        b"avcC" => {
            // SPS (count in the low 5 bits), then PPS.
            let mut at = 5;
            for round in 0..2 {
                let Some(&cnt) = c.get(at) else { break };
                let cnt = if round == 0 { cnt & 0x1f } else { cnt };
                at += 1;
                if !units(&mut at, cnt as usize) {
                    break;
                }
            }
            c.get(4)
        }
        _ => {
            // Arrays of one NAL type each: type byte, 16-bit count, units.
            let mut at = 23;
            for _ in 0..c.get(22).copied().unwrap_or(0) {
                let Some(cnt) = be16(c, at + 1) else { break };
                at += 3;
                if !units(&mut at, cnt as usize) {
                    break;
                }
            }
            c.get(21)
        }
    };
    (out, n.map_or(4, |b| (b & 3) + 1))
}

/// The picture size from the first SPS of an `avcC` or `hvcC` record.
pub fn picture_size(kind: &[u8; 4], c: &[u8]) -> Option<(u32, u32)> {
    let (sets, _) = parameter_sets(kind, c);
    sets.iter().find_map(|p| match kind {
        b"avcC" if p.first().is_some_and(|h| h & 0x1f == 7) => video::h264_sps_size(p),
        b"hvcC" if p.first().is_some_and(|h| (h >> 1) & 0x3f == 33) => video::hevc_sps_size(p),
        _ => None,
    })
}

/// What an MPEG-4 AudioSpecificConfig says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioConfig {
    /// Audio object type (2: AAC-LC, 5: SBR, 29: PS, ...).
    pub object_type: u8,
    /// Sampling frequency of the core.
    pub sample_rate: u32,
    /// Channels, when the configuration is a plain count (1 to 6, 8).
    pub channels: Option<u32>,
}

/// Reads an MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1).
pub fn audio_specific_config(c: &[u8]) -> Option<AudioConfig> {
    let mut bits = 0u64;
    for i in 0..8 {
        bits = bits << 8 | *c.get(i).unwrap_or(&0) as u64;
    }
    let avail = c.len().min(8) * 8;
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<u32> {
        if at + n > avail {
            return None;
        }
        let v = (bits >> (64 - at - n)) & ((1 << n) - 1);
        at += n;
        Some(v as u32)
    };
    let mut object_type = take(5)?;
    if object_type == 31 {
        object_type = 32 + take(6)?;
    }
    let index = take(4)? as usize;
    let sample_rate = if index == 15 {
        take(24)?
    } else {
        *audio::AAC_RATES.get(index)?
    };
    let channels = match take(4)? {
        c @ 1..=6 => Some(c),
        7 => Some(8),
        _ => None,
    };
    Some(AudioConfig {
        object_type: object_type as u8,
        sample_rate,
        channels,
    })
}
