//! Audio frame headers, as elementary streams and raw audio files carry
//! them: AAC in ADTS and LATM, MPEG audio layers I-III, AC-3 and E-AC-3,
//! and AMR frame sizes. Each reader takes the header's first bytes and
//! gives the frame's length, samples and what the header says of the
//! stream.
//!
//! ```
//! use custody_container::codec::audio;
//! // MPEG-1 layer II, 192 kbit/s, 44.1 kHz, no padding.
//! let h = audio::mpeg(&[0xff, 0xfd, 0xa0, 0x04]).unwrap();
//! assert_eq!((h.len, h.samples, h.sample_rate, h.layer), (626, 1152, Some(44_100), Some(2)));
//! ```

use super::video::Bits;

/// One audio frame's header, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The frame's length in bytes, header included.
    pub len: u64,
    /// Samples per channel the frame decodes to.
    pub samples: u32,
    /// Sample rate, where the header tells it.
    pub sample_rate: Option<u32>,
    /// Channels, where the header tells them.
    pub channels: Option<u32>,
    /// MPEG audio layer (1, 2 or 3).
    pub layer: Option<u8>,
    /// An E-AC-3 (rather than AC-3) frame.
    pub eac3: bool,
}

/// The sampling frequencies MPEG-4 audio indexes (ADTS headers,
/// AudioSpecificConfig, StreamMuxConfig).
pub const AAC_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Bytes of each AMR-NB frame (header byte included) by frame type.
pub const AMR_NB: [u8; 16] = [13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1];
/// Bytes of each AMR-WB frame (header byte included) by frame type.
pub const AMR_WB: [u8; 16] = [18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1];

/// An ADTS header (7 bytes).
pub fn adts(h: &[u8]) -> Option<Header> {
    let h = h.get(..7)?;
    if h[0] != 0xff || h[1] & 0xf6 != 0xf0 {
        return None;
    }
    let sr = AAC_RATES.get(((h[2] >> 2) & 0xf) as usize).copied()?;
    let len = ((h[3] as u64 & 3) << 11) | ((h[4] as u64) << 3) | (h[5] as u64 >> 5);
    let blocks = (h[6] & 3) as u32 + 1;
    Some(Header {
        len,
        samples: 1024 * blocks,
        sample_rate: Some(sr),
        channels: Some((((h[2] & 1) << 2) | (h[3] >> 6)) as u32),
        ..Header::default()
    })
}

/// An AC-3 or E-AC-3 sync frame header (7 bytes).
pub fn ac3(h: &[u8]) -> Option<Header> {
    let h = h.get(..7)?;
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
        return Some(Header {
            len: words * 2,
            samples: 256 * blocks,
            sample_rate: Some(sr),
            eac3: true,
            ..Header::default()
        });
    }
    let fscod = (h[4] >> 6) as usize;
    let code = (h[4] & 0x3f) as usize;
    if fscod == 3 || code >= 38 {
        return None;
    }
    let words = AC3_WORDS[fscod][code / 2] as u64 + if fscod == 1 { (code & 1) as u64 } else { 0 };
    Some(Header {
        len: words * 2,
        samples: 1536,
        sample_rate: Some([48_000, 44_100, 32_000][fscod]),
        ..Header::default()
    })
}

/// A LOAS AudioSyncStream header (3 bytes) and, when the AudioMuxElement
/// carries its StreamMuxConfig, the sample rate and channels (read from
/// the bytes after it).
pub fn latm(h: &[u8]) -> Option<Header> {
    let s = h.get(..3)?;
    if s[0] != 0x56 || s[1] & 0xe0 != 0xe0 {
        return None;
    }
    let len = (((s[1] as u64) & 0x1f) << 8) | s[2] as u64;
    let config = latm_config(&h[3..]);
    Some(Header {
        len: len + 3,
        samples: 1024,
        sample_rate: config.map(|c| c.0),
        channels: config.map(|c| c.1),
        ..Header::default()
    })
}

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
        *AAC_RATES.get(sfi as usize)?
    };
    let ch = b.u(4)?;
    Some((sr, ch))
}

/// An MPEG audio (layer I, II or III) frame header (4 bytes).
pub fn mpeg(h: &[u8]) -> Option<Header> {
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
    Some(Header {
        len,
        samples,
        sample_rate: Some(sr as u32),
        channels: Some(channels),
        layer: Some(layer),
        eac3: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpeg_audio_frame_length() {
        // MPEG-1 layer II, 192 kbit/s, 44.1 kHz, no padding: 626 bytes, 1152 samples.
        let h = mpeg(&[0xff, 0xfd, 0xa0, 0x04]).unwrap();
        assert_eq!(
            (h.len, h.samples, h.sample_rate, h.layer),
            (626, 1152, Some(44_100), Some(2))
        );
    }

    #[test]
    fn short_headers_are_none() {
        assert_eq!(adts(&[0xff, 0xf1]), None);
        assert_eq!(ac3(&[0x0b, 0x77, 0]), None);
        assert_eq!(mpeg(&[0xff]), None);
        assert_eq!(latm(&[0x56]), None);
    }
}
