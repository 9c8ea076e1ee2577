//! Sample entries (`stsd` children): codec identity and decoder configuration.

use super::boxes::BoxRef;
use crate::bytes::{Cursor, be16, be32};
use crate::fourcc::FourCC;

/// Decoder configuration bytes, as a slice of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config<'a> {
    /// The box the bytes came from: `avcC`, `hvcC`, `av1C`, `vpcC`, `dOps`, `dac3`, `dec3`,
    /// `dfLa`, `pcmC`, or `esds` (whose bytes are the DecoderSpecificInfo, for AAC
    /// the AudioSpecificConfig).
    pub kind: FourCC,
    /// The configuration payload.
    pub bytes: &'a [u8],
}

/// One sample description.
#[derive(Debug, Clone)]
pub struct SampleEntry<'a> {
    /// The sample entry's four-cc (`avc1`, `mp4a`, `sowt`, ...).
    pub format: FourCC,
    /// FFmpeg's name for the codec, when known.
    pub codec: Option<&'static str>,
    /// Decoder configuration.
    pub config: Option<Config<'a>>,
    /// For protected entries (`encv`, `enca`), the original format from `sinf/frma`.
    pub original_format: Option<FourCC>,
    /// MPEG-4 object type indication from `esds`, when present.
    pub object_type: Option<u8>,
    /// Coded width (visual entries).
    pub width: Option<u32>,
    /// Coded height (visual entries).
    pub height: Option<u32>,
    /// Sample rate in Hz (audio entries).
    pub sample_rate: Option<u32>,
    /// Channel count (audio entries).
    pub channels: Option<u32>,
    /// Bits per sample (audio entries).
    pub bits: Option<u32>,
    /// The whole entry payload.
    pub raw: &'a [u8],
}

impl<'a> SampleEntry<'a> {
    fn new(format: FourCC, raw: &'a [u8]) -> Self {
        SampleEntry {
            format,
            codec: None,
            config: None,
            original_format: None,
            object_type: None,
            width: None,
            height: None,
            sample_rate: None,
            channels: None,
            bits: None,
            raw,
        }
    }
}

/// Which family of sample entry layout a handler implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Visual,
    Audio,
    Other,
}

/// Parses one `stsd` child.
pub(crate) fn parse_entry<'a>(b: &BoxRef<'a>, layout: Layout) -> SampleEntry<'a> {
    let mut e = SampleEntry::new(b.kind, b.payload);
    let p = b.payload;
    let layout = match &b.kind.0 {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" | b"av01" | b"vp08" | b"vp09"
        | b"mp4v" | b"encv" | b"jpeg" | b"mjpa" | b"s263" => Layout::Visual,
        b"mp4a" | b"Opus" | b"fLaC" | b"ac-3" | b"ec-3" | b"twos" | b"sowt" | b"ipcm" | b"lpcm"
        | b"samr" | b"sawb" | b"enca" | b"ulaw" | b"alaw" | b"in24" | b"in32" | b"fl32"
        | b"fl64" | b"raw " | b".mp3" => Layout::Audio,
        _ => layout,
    };
    let children_at = match layout {
        Layout::Visual => {
            e.width = be16(p, 24).map(u32::from);
            e.height = be16(p, 26).map(u32::from);
            78
        }
        Layout::Audio => {
            let version = be16(p, 8).unwrap_or(0);
            e.channels = be16(p, 16).map(u32::from);
            e.bits = be16(p, 18).map(u32::from);
            e.sample_rate = be32(p, 24).map(|r| r >> 16);
            match version {
                1 => 28 + 16,
                2 => {
                    // QuickTime SoundDescriptionV2: 64-bit float rate, 32-bit channel count.
                    if let Some(bits) = crate::bytes::be64(p, 32) {
                        let rate = f64::from_bits(bits);
                        if rate.is_finite() && rate > 0.0 && rate < 1e9 {
                            e.sample_rate = Some(rate.round() as u32);
                        }
                    }
                    e.channels = be32(p, 40);
                    e.bits = be32(p, 48);
                    28 + 36
                }
                _ => 28,
            }
        }
        Layout::Other => 8,
    };
    let mut lpcm_flags = be32(p, 52);
    let mut little_endian_pcm = None;
    for child in b.children(children_at).flatten() {
        match &child.kind.0 {
            b"avcC" | b"hvcC" | b"av1C" | b"vpcC" | b"dOps" | b"dac3" | b"dec3" | b"dfLa" => {
                e.config = Some(Config {
                    kind: child.kind,
                    bytes: child.payload,
                });
            }
            b"pcmC" => {
                // version/flags, format_flags (bit 0: little endian), sample size.
                little_endian_pcm = child.payload.get(4).map(|f| f & 1 == 1);
                if let Some(&bits) = child.payload.get(5) {
                    e.bits = Some(bits as u32);
                }
                e.config = Some(Config {
                    kind: child.kind,
                    bytes: child.payload,
                });
            }
            b"enda" => little_endian_pcm = be16(child.payload, 0).map(|v| v != 0),
            b"esds" => parse_esds(child.payload, &mut e),
            b"wave" => {
                // QuickTime wraps esds (and enda) in a `wave` box.
                for w in child.children(0).flatten() {
                    match &w.kind.0 {
                        b"esds" => parse_esds(w.payload, &mut e),
                        b"enda" => little_endian_pcm = be16(w.payload, 0).map(|v| v != 0),
                        _ => {}
                    }
                }
            }
            b"srat" => e.sample_rate = be32(child.payload, 4),
            b"sinf" => {
                for s in child.children(0).flatten() {
                    if &s.kind.0 == b"frma"
                        && let Some(f) = s.payload.get(..4)
                    {
                        e.original_format = Some(FourCC([f[0], f[1], f[2], f[3]]));
                    }
                }
            }
            _ => {}
        }
    }
    if layout != Layout::Audio || be16(p, 8) != Some(2) {
        lpcm_flags = None;
    }
    e.codec = codec_name(&e, little_endian_pcm, lpcm_flags);
    // For AAC the AudioSpecificConfig's channel configuration is authoritative
    // (writers often put 2 in the sample entry whatever the stream holds).
    if e.codec == Some("aac")
        && let Some(ch) = asc_channels(&e)
    {
        e.channels = Some(ch);
    }
    e
}

/// Parses an `esds` payload: object type and DecoderSpecificInfo bytes.
fn parse_esds<'a>(payload: &'a [u8], e: &mut SampleEntry<'a>) {
    let mut c = Cursor::new(payload);
    if c.skip(4).is_none() {
        return;
    }
    // Walk descriptors: ES_Descr (3) > DecoderConfigDescr (4) > DecSpecificInfo (5).
    let mut guard = 0;
    while c.remaining() > 0 && guard < 16 {
        guard += 1;
        let Some(tag) = c.u8() else { return };
        let mut len: usize = 0;
        for _ in 0..4 {
            let Some(b) = c.u8() else { return };
            len = (len << 7) | (b & 0x7f) as usize;
            if b & 0x80 == 0 {
                break;
            }
        }
        match tag {
            3 => {
                let Some(_id) = c.u16() else { return };
                let Some(flags) = c.u8() else { return };
                if flags & 0x80 != 0 && c.skip(2).is_none() {
                    return;
                }
                if flags & 0x40 != 0 {
                    let Some(n) = c.u8() else { return };
                    if c.skip(n as usize).is_none() {
                        return;
                    }
                }
                if flags & 0x20 != 0 && c.skip(2).is_none() {
                    return;
                }
            }
            4 => {
                e.object_type = c.u8();
                if c.skip(12).is_none() {
                    return;
                }
            }
            5 => {
                let bytes = c.rest();
                e.config = Some(Config {
                    kind: FourCC(*b"esds"),
                    bytes: &bytes[..len.min(bytes.len())],
                });
                return;
            }
            _ => {
                if c.skip(len).is_none() {
                    return;
                }
            }
        }
    }
}

/// FFmpeg's codec name for an entry.
fn codec_name(
    e: &SampleEntry<'_>,
    little_endian: Option<bool>,
    lpcm_flags: Option<u32>,
) -> Option<&'static str> {
    let bits = e.bits.unwrap_or(16);
    let pcm_be = |bits: u32| match bits {
        8 => "pcm_s8",
        24 => "pcm_s24be",
        32 => "pcm_s32be",
        _ => "pcm_s16be",
    };
    let pcm_le = |bits: u32| match bits {
        8 => "pcm_s8",
        24 => "pcm_s24le",
        32 => "pcm_s32le",
        _ => "pcm_s16le",
    };
    Some(match &e.original_format.unwrap_or(e.format).0 {
        b"avc1" | b"avc3" => "h264",
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => "hevc",
        b"av01" => "av1",
        b"vp08" => "vp8",
        b"vp09" => "vp9",
        b"s263" | b"h263" => "h263",
        b"jpeg" | b"mjpa" | b"mjpb" => "mjpeg",
        b"mjp2" => "jpeg2000",
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "prores",
        b"mp4a" if e.object_type == Some(0x40) && audio_object_type(e) == Some(36) => "mp4als",
        b"mp4v" | b"mp4a" => return e.object_type.and_then(object_type_codec),
        b"Opus" => "opus",
        b"fLaC" => "flac",
        b"ac-3" => "ac3",
        b"ec-3" => "eac3",
        b".mp3" => "mp3",
        b"samr" => "amr_nb",
        b"sawb" => "amr_wb",
        b"ulaw" => "pcm_mulaw",
        b"alaw" => "pcm_alaw",
        b"raw " => "pcm_u8",
        b"twos" => {
            if little_endian == Some(true) {
                pcm_le(bits)
            } else {
                pcm_be(bits)
            }
        }
        b"sowt" => pcm_le(bits),
        b"in24" => {
            if little_endian == Some(true) {
                "pcm_s24le"
            } else {
                "pcm_s24be"
            }
        }
        b"in32" => {
            if little_endian == Some(true) {
                "pcm_s32le"
            } else {
                "pcm_s32be"
            }
        }
        b"fl32" => {
            if little_endian == Some(true) {
                "pcm_f32le"
            } else {
                "pcm_f32be"
            }
        }
        b"fl64" => {
            if little_endian == Some(true) {
                "pcm_f64le"
            } else {
                "pcm_f64be"
            }
        }
        b"ipcm" => {
            if little_endian == Some(true) {
                pcm_le(bits)
            } else {
                pcm_be(bits)
            }
        }
        b"fpcm" => {
            let le = little_endian == Some(true);
            match (bits, le) {
                (64, true) => "pcm_f64le",
                (64, false) => "pcm_f64be",
                (_, true) => "pcm_f32le",
                (_, false) => "pcm_f32be",
            }
        }
        b"lpcm" => {
            // kAudioFormatFlagIsFloat = 1, IsBigEndian = 2, IsSignedInteger = 4.
            let f = lpcm_flags.unwrap_or(0);
            let float = f & 1 != 0;
            let be = f & 2 != 0;
            match (float, be, bits) {
                (true, true, 64) => "pcm_f64be",
                (true, false, 64) => "pcm_f64le",
                (true, true, _) => "pcm_f32be",
                (true, false, _) => "pcm_f32le",
                (false, true, b) => pcm_be(b),
                (false, false, b) => pcm_le(b),
            }
        }
        b"tx3g" | b"text" => "mov_text",
        b"wvtt" => "webvtt",
        b"stpp" => "ttml",
        b"c608" => "eia_608",
        b"gpmd" => "bin_data",
        _ => return None,
    })
}

/// The channel configuration of an AudioSpecificConfig, when it is a plain count (1..=6).
fn asc_channels(e: &SampleEntry<'_>) -> Option<u32> {
    let asc = e.config.filter(|c| &c.kind.0 == b"esds")?.bytes;
    let v = u32::from_be_bytes([
        *asc.first()?,
        *asc.get(1)?,
        asc.get(2).copied().unwrap_or(0),
        asc.get(3).copied().unwrap_or(0),
    ]);
    let (aot_bits, aot) = if v >> 27 == 31 {
        (11, 32 + ((v >> 21) & 0x3f))
    } else {
        (5, v >> 27)
    };
    let _ = aot;
    let sfi = (v >> (32 - aot_bits - 4)) & 0xf;
    if sfi == 15 {
        // An explicit 24-bit rate pushes the channel field beyond the first 32 bits.
        return None;
    }
    let ch = (v >> (32 - aot_bits - 8)) & 0xf;
    (1..=6).contains(&ch).then_some(ch)
}

/// The audio object type at the start of an AudioSpecificConfig.
fn audio_object_type(e: &SampleEntry<'_>) -> Option<u8> {
    let asc = e.config?.bytes;
    let first = asc.first()? >> 3;
    if first == 31 {
        let b = be16(asc, 0)?;
        Some(32 + ((b >> 5) & 0x3f) as u8)
    } else {
        Some(first)
    }
}

/// Codec name for an MPEG-4 object type indication.
fn object_type_codec(oti: u8) -> Option<&'static str> {
    Some(match oti {
        0x20 => "mpeg4",
        0x21 => "h264",
        0x23 => "hevc",
        0x40 | 0x66 | 0x67 | 0x68 => "aac",
        0x60..=0x65 => "mpeg2video",
        0x69 | 0x6b => "mp3",
        0x6a => "mpeg1video",
        0x6c => "mjpeg",
        0xa5 => "ac3",
        0xa6 => "eac3",
        0xa9 => "dts",
        0xad => "opus",
        0xdd => "vorbis",
        _ => return None,
    })
}
