//! WAV, RF64 and BW64: the `fmt ` chunk (with `WAVE_FORMAT_EXTENSIBLE`),
//! the `data` chunk (64-bit sizes from `ds64`), the Broadcast Wave `bext`
//! chunk (origination date and time, time reference), `LIST/INFO`, `iXML`
//! and `fact`; zero-copy and bounded: the parse keeps offsets and the
//! chunk's own slices, never the audio.
//!
//! Audio is listed as FFmpeg reads it: packets of whole blocks
//! (`block_align` bytes) up to 4096 bytes, the last one shorter where the
//! data ends, so packet counts agree with `ffprobe -count_packets`.
//!
//! ```
//! use custody_container::{Limits, wav::Wav};
//! // 16-bit stereo at 8 kHz, 1 000 sample frames.
//! let mut f = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
//! f.extend_from_slice(&[1, 0, 2, 0, 0x40, 0x1f, 0, 0, 0, 0x7d, 0, 0, 4, 0, 16, 0]);
//! f.extend_from_slice(b"data");
//! f.extend_from_slice(&4000u32.to_le_bytes());
//! f.resize(f.len() + 4000, 0);
//! let wav = Wav::parse(&f, Limits::default()).unwrap();
//! assert_eq!(wav.codec(), Some("pcm_s16le"));
//! assert_eq!(wav.packets().count(), 1); // 4000 bytes: one 4096-byte read
//! assert_eq!(wav.duration_seconds(), Some(0.125));
//! ```

use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::fourcc::FourCC;
use crate::riff::{le16, le32, le64, text};
use std::ops::Range;

/// The bytes FFmpeg's WAV demuxer reads per packet (rounded down to whole blocks).
const PACKET_BYTES: u64 = 4096;

/// The `fmt ` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveFormat {
    /// `wFormatTag`; for `WAVE_FORMAT_EXTENSIBLE` (0xFFFE), the sub-format's tag.
    pub tag: u16,
    /// Whether the chunk is `WAVE_FORMAT_EXTENSIBLE`.
    pub extensible: bool,
    /// Channels.
    pub channels: u16,
    /// Sample frames per second.
    pub sample_rate: u32,
    /// Average bytes per second.
    pub byte_rate: u32,
    /// Bytes per block (one sample frame for PCM).
    pub block_align: u16,
    /// Bits per sample as stored.
    pub bits_per_sample: u16,
    /// Valid bits per sample (extensible only).
    pub valid_bits: Option<u16>,
    /// Speaker positions (extensible only).
    pub channel_mask: Option<u32>,
}

/// The Broadcast Wave Format `bext` chunk (EBU Tech 3285).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bext {
    /// Free-text description.
    pub description: String,
    /// The originating organisation or device.
    pub originator: String,
    /// The originator's unique reference.
    pub originator_reference: String,
    /// `yyyy-mm-dd` (any separator), local to the recorder.
    pub origination_date: String,
    /// `hh:mm:ss` (any separator), local to the recorder.
    pub origination_time: String,
    /// Sample frames since midnight at the first sample.
    pub time_reference: u64,
    /// Version of the chunk.
    pub version: u16,
    /// Coding history lines.
    pub coding_history: String,
}

impl Bext {
    /// The origination date and time as `YYYY-MM-DDTHH:MM:SS` (the
    /// recorder's local time; the chunk holds no zone), when both parse.
    pub fn origination(&self) -> Option<String> {
        let digits = |s: &str, n: usize| -> Option<Vec<u32>> {
            let parts: Vec<u32> = s
                .split(|c: char| !c.is_ascii_digit())
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            (parts.len() == n).then_some(parts)
        };
        let d = digits(&self.origination_date, 3)?;
        let t = digits(&self.origination_time, 3)?;
        let valid = (1..=12).contains(&d[1])
            && (1..=31).contains(&d[2])
            && d[0] <= 9999
            && t[0] < 24
            && t[1] < 60
            && t[2] < 61;
        valid.then(|| {
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d[0], d[1], d[2], t[0], t[1], t[2]
            )
        })
    }
}

/// One chunk as found in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Chunk id.
    pub id: FourCC,
    /// Offset of the chunk's header.
    pub offset: u64,
    /// Declared size of the body (from `ds64` where the header says 0xFFFFFFFF).
    pub size: u64,
}

/// A parsed WAV, RF64 or BW64 file.
#[derive(Debug, Clone)]
pub struct Wav<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// `RIFF`, `RF64` or `BW64`.
    pub riff: FourCC,
    /// The top-level chunks, in file order.
    pub chunks: Vec<Chunk>,
    /// The `fmt ` chunk.
    pub format: Option<WaveFormat>,
    /// The audio bytes present (the `data` chunk's body, cut at the file's end).
    pub audio: Option<Range<u64>>,
    /// Sample frames the `fact` chunk (or `ds64`) declares.
    pub fact_samples: Option<u64>,
    /// The `bext` chunk.
    pub bext: Option<Bext>,
    /// `LIST/INFO` items (`INAM`, `ICRD`, `ISFT`, ...), in file order.
    pub info: Vec<(FourCC, String)>,
    /// The `iXML` chunk's body.
    pub ixml: Option<Range<u64>>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

impl<'a> Wav<'a> {
    /// Parses a WAV, RF64 or BW64 file. Damage that leaves the audio usable
    /// (a `data` chunk cut short, a size of 0 or 0xFFFFFFFF from a recorder
    /// that never finished the file, a malformed optional chunk) is a
    /// warning; in strict mode an error.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<Wav<'a>> {
        let mut diag = Diag::new(limits.strict);
        let head = data.get(..12).ok_or_else(|| {
            Error::new(
                0,
                "RIFF",
                ErrorKind::Truncated {
                    needed: 12,
                    available: data.len() as u64,
                },
            )
        })?;
        let riff = FourCC(head[..4].try_into().expect("4 bytes"));
        if !matches!(&riff.0, b"RIFF" | b"RF64" | b"BW64") || &head[8..12] != b"WAVE" {
            return Err(Error::new(0, "", ErrorKind::Unrecognised));
        }
        let mut wav = Wav {
            data,
            riff,
            chunks: Vec::new(),
            format: None,
            audio: None,
            fact_samples: None,
            bext: None,
            info: Vec::new(),
            ixml: None,
            warnings: Vec::new(),
        };
        let len = data.len() as u64;
        let mut ds64_data: Option<u64> = None;
        let mut at = 12u64;
        while at + 8 <= len {
            let a = at as usize;
            crate::cost::step(1);
            let id = FourCC(data[a..a + 4].try_into().expect("4 bytes"));
            let declared = le32(data, a + 4).expect("8 bytes present") as u64;
            let body = at + 8;
            // Named only where a warning needs it (no allocation per chunk).
            let path = || format!("{riff}/{id}");
            let mut size = declared;
            if id.0 == *b"data" {
                if declared == u32::MAX as u64 && ds64_data.is_some() {
                    size = ds64_data.unwrap_or(0);
                } else if declared == u32::MAX as u64
                    || (declared == 0 && body < len && !looks_like_chunk(&data[body as usize..]))
                {
                    // A recorder that lost power before finishing the header.
                    diag.note(
                        at,
                        &path(),
                        format!(
                            "data chunk size {declared:#x}: the audio is taken to the end of the file"
                        ),
                    )?;
                    size = len - body;
                }
            }
            wav.chunks.push(Chunk {
                id,
                offset: at,
                size,
            });
            let end = body.saturating_add(size);
            let present = end.min(len);
            let b = &data[body as usize..present as usize];
            match &id.0 {
                b"ds64" if riff.0 != *b"RIFF" => {
                    // riffSize, dataSize, sampleCount (each u64), then a table.
                    match (le64(b, 8), le64(b, 16)) {
                        (Some(d), Some(samples)) => {
                            ds64_data = Some(d);
                            if samples > 0 {
                                wav.fact_samples = Some(samples);
                            }
                        }
                        _ => {
                            diag.note(at, &path(), "ds64 chunk shorter than its 24 fixed bytes")?
                        }
                    }
                }
                b"fmt " => match parse_format(b) {
                    Some(f) => wav.format = Some(f),
                    None => {
                        return Err(Error::new(
                            at,
                            path(),
                            ErrorKind::Invalid(format!(
                                "fmt chunk of {} bytes: at least 16 needed",
                                b.len()
                            )),
                        ));
                    }
                },
                b"fact" => {
                    if let Some(n) = le32(b, 0)
                        && wav.fact_samples.is_none()
                    {
                        wav.fact_samples = Some(n as u64);
                    }
                }
                b"data" => {
                    if wav.audio.is_some() {
                        diag.note(at, &path(), "a second data chunk is ignored")?;
                    } else {
                        if present < end {
                            diag.note(
                                at,
                                &path(),
                                format!(
                                    "data chunk declares {size} bytes, {} present (truncated recording)",
                                    present - body
                                ),
                            )?;
                        }
                        wav.audio = Some(body..present);
                    }
                }
                b"bext" => match parse_bext(b) {
                    Some(x) => wav.bext = Some(x),
                    None => diag.note(
                        at,
                        &path(),
                        format!("bext chunk of {} bytes: 602 needed", b.len()),
                    )?,
                },
                b"LIST" if b.get(..4) == Some(b"INFO") => {
                    parse_info(&b[4..], body + 4, &path(), &mut wav.info, &mut diag)?;
                }
                b"iXML" => wav.ixml = Some(body..present),
                _ => {}
            }
            if end > len {
                break;
            }
            // Chunks are padded to an even size.
            at = end + (size & 1);
        }
        if wav.format.is_none() {
            return Err(Error::new(12, riff.to_string(), ErrorKind::Missing("fmt ")));
        }
        if wav.audio.is_none() {
            diag.note(
                len,
                &riff.to_string(),
                "no data chunk: the file holds no audio",
            )?;
        }
        wav.warnings = diag.warnings;
        Ok(wav)
    }

    /// FFmpeg's name for the codec, `None` for a format tag it does not know.
    pub fn codec(&self) -> Option<&'static str> {
        self.format
            .and_then(|f| codec_name(f.tag, f.bits_per_sample))
    }

    /// The format tag as probe output shows it (`0x0001`).
    pub fn codec_tag(&self) -> Option<String> {
        self.format.map(|f| format!("{:#06x}", f.tag))
    }

    /// Bytes per packet: whole blocks, up to 4096 bytes (at least one block).
    fn packet_bytes(&self) -> u64 {
        let block = self.format.map_or(1, |f| f.block_align.max(1) as u64);
        (PACKET_BYTES / block).max(1) * block
    }

    /// The audio's packets as byte ranges, as FFmpeg's demuxer reads them.
    pub fn packets(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        let step = self.packet_bytes();
        let Range { start, end } = self.audio.clone().unwrap_or(0..0);
        (0..(end - start).div_ceil(step)).map(move |i| {
            let a = start + i * step;
            a..(a + step).min(end)
        })
    }

    /// Sample frames in the audio present: from the bytes where each
    /// sample has a fixed size, else from `fact`, else from the byte rate.
    pub fn sample_frames(&self) -> Option<u64> {
        let f = self.format?;
        let bytes = self.audio.as_ref().map_or(0, |r| r.end - r.start);
        let codec = self.codec();
        let exact = codec.and_then(exact_bits);
        match (exact, self.fact_samples) {
            (Some(bits), _) if f.channels > 0 => Some(bytes * 8 / (f.channels as u64 * bits)),
            (None, Some(n)) => Some(n),
            _ => {
                let bits = codec.and_then(coded_bits)?;
                (f.channels > 0).then(|| bytes * 8 / (f.channels as u64 * bits))
            }
        }
    }

    /// Duration of the audio present, in seconds.
    pub fn duration_seconds(&self) -> Option<f64> {
        let f = self.format?;
        if f.sample_rate == 0 {
            return None;
        }
        match self.sample_frames() {
            Some(n) => Some(n as f64 / f.sample_rate as f64),
            None if f.byte_rate > 0 => {
                let bytes = self.audio.as_ref().map_or(0, |r| r.end - r.start);
                Some(bytes as f64 / f.byte_rate as f64)
            }
            None => None,
        }
    }

    /// Packet bytes: a slice of the input.
    pub fn bytes(&self, r: &Range<u64>) -> &'a [u8] {
        &self.data[r.start as usize..r.end as usize]
    }
}

/// Whether `b` starts with a chunk header (an id of printable ASCII).
fn looks_like_chunk(b: &[u8]) -> bool {
    b.len() >= 8 && b[..4].iter().all(|c| (0x20..0x7f).contains(c))
}

/// The `fmt ` chunk's fields (16 bytes, or 40 for `WAVE_FORMAT_EXTENSIBLE`).
pub(crate) fn parse_format(b: &[u8]) -> Option<WaveFormat> {
    let mut f = WaveFormat {
        tag: le16(b, 0)?,
        extensible: false,
        channels: le16(b, 2)?,
        sample_rate: le32(b, 4)?,
        byte_rate: le32(b, 8)?,
        block_align: le16(b, 12)?,
        bits_per_sample: le16(b, 14)?,
        valid_bits: None,
        channel_mask: None,
    };
    if f.tag == 0xfffe
        && let (Some(valid), Some(mask), Some(sub)) = (le16(b, 18), le32(b, 20), le16(b, 24))
    {
        f.extensible = true;
        f.valid_bits = Some(valid);
        f.channel_mask = Some(mask);
        f.tag = sub;
    }
    Some(f)
}

/// The `bext` chunk's fields (602 fixed bytes, then the coding history).
fn parse_bext(b: &[u8]) -> Option<Bext> {
    if b.len() < 602 {
        return None;
    }
    let low = le32(b, 338)? as u64;
    let high = le32(b, 342)? as u64;
    Some(Bext {
        description: text(&b[..256]),
        originator: text(&b[256..288]),
        originator_reference: text(&b[288..320]),
        origination_date: text(&b[320..330]),
        origination_time: text(&b[330..338]),
        time_reference: high << 32 | low,
        version: le16(b, 346)?,
        coding_history: text(&b[602..]),
    })
}

/// Items of a `LIST/INFO` chunk (its body after `INFO`, at `base`).
fn parse_info(
    b: &[u8],
    base: u64,
    path: &str,
    out: &mut Vec<(FourCC, String)>,
    diag: &mut Diag,
) -> Result<()> {
    let mut at = 0usize;
    while at + 8 <= b.len() {
        let id = FourCC(b[at..at + 4].try_into().expect("4 bytes"));
        let size = le32(b, at + 4).expect("8 bytes present") as usize;
        let Some(v) = b.get(at + 8..(at + 8).saturating_add(size)) else {
            diag.note(
                base + at as u64,
                &format!("{path}/INFO/{id}"),
                "item runs past its list",
            )?;
            break;
        };
        out.push((id, text(v)));
        at += 8 + size + (size & 1);
    }
    Ok(())
}

/// FFmpeg's codec for a WAVE format tag (as `libavformat/riff.c` maps it).
pub(crate) fn codec_name(tag: u16, bits: u16) -> Option<&'static str> {
    let bytes = bits.div_ceil(8);
    Some(match tag {
        0x0001 => match bytes {
            1 => "pcm_u8",
            2 => "pcm_s16le",
            3 => "pcm_s24le",
            4 => "pcm_s32le",
            8 => "pcm_s64le",
            _ => return None,
        },
        0x0003 => match bytes {
            4 => "pcm_f32le",
            8 => "pcm_f64le",
            _ => return None,
        },
        0x0002 => "adpcm_ms",
        0x0006 => "pcm_alaw",
        0x0007 => "pcm_mulaw",
        0x0011 => "adpcm_ima_wav",
        0x0020 => "adpcm_yamaha",
        0x0022 => "truespeech",
        0x0031 | 0x0032 => "gsm_ms",
        0x0040 | 0x0045 | 0x0064 => "adpcm_g726",
        0x0050 => "mp2",
        0x0055 => "mp3",
        0x0092 | 0x2000 => "ac3",
        0x00ff | 0x1610 | 0x706d => "aac",
        0x0160 => "wmav1",
        0x0161 => "wmav2",
        0x0162 => "wmapro",
        0x2001 => "dts",
        0xf1ac => "flac",
        _ => return None,
    })
}

/// Bits per sample of codecs whose every sample has that size (PCM, G.711).
fn exact_bits(codec: &str) -> Option<u64> {
    Some(match codec {
        "pcm_u8" | "pcm_alaw" | "pcm_mulaw" => 8,
        "pcm_s16le" => 16,
        "pcm_s24le" => 24,
        "pcm_s32le" | "pcm_f32le" => 32,
        "pcm_s64le" | "pcm_f64le" => 64,
        _ => return None,
    })
}

/// Nominal bits per sample of ADPCM codecs (FFmpeg's estimate when no
/// `fact` chunk gives the sample count).
fn coded_bits(codec: &str) -> Option<u64> {
    Some(match codec {
        "adpcm_ms" | "adpcm_ima_wav" | "adpcm_yamaha" => 4,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }

    fn pcm16(channels: u16, rate: u32) -> Vec<u8> {
        let block = 2 * channels;
        let mut f = Vec::new();
        f.extend_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * block as u32).to_le_bytes());
        f.extend_from_slice(&block.to_le_bytes());
        f.extend_from_slice(&16u16.to_le_bytes());
        f
    }

    fn bext(date: &str, time: &str, reference: u64) -> Vec<u8> {
        let mut b = vec![0u8; 602];
        b[..5].copy_from_slice(b"scene");
        b[256..262].copy_from_slice(b"BWC-12");
        b[320..320 + date.len()].copy_from_slice(date.as_bytes());
        b[330..330 + time.len()].copy_from_slice(time.as_bytes());
        b[338..346].copy_from_slice(&reference.to_le_bytes());
        b[346] = 1;
        b.extend_from_slice(b"A=PCM,F=48000\r\n");
        b
    }

    fn wav(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        for (id, body) in chunks {
            chunk(&mut out, id, body);
        }
        let size = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&size.to_le_bytes());
        out
    }

    #[test]
    fn bwf_chunks_are_read() {
        let mut list = b"INFO".to_vec();
        chunk(&mut list, b"ISFT", b"Recorder 2.1\0");
        let f = wav(&[
            (b"fmt ", pcm16(2, 48_000)),
            (b"bext", bext("2026-03-01", "14:05:09", 48_000 * 3600)),
            (b"LIST", list),
            (b"data", vec![0; 48_000 * 4]),
        ]);
        let w = Wav::parse(&f, Limits::default()).unwrap();
        let b = w.bext.as_ref().unwrap();
        assert_eq!(b.description, "scene");
        assert_eq!(b.originator, "BWC-12");
        assert_eq!(b.origination().as_deref(), Some("2026-03-01T14:05:09"));
        assert_eq!(b.time_reference, 48_000 * 3600);
        assert_eq!(b.coding_history, "A=PCM,F=48000");
        assert_eq!(w.info, vec![(FourCC(*b"ISFT"), "Recorder 2.1".into())]);
        assert_eq!(w.duration_seconds(), Some(1.0));
        // 192 000 bytes in reads of 4096 (1024 blocks of 4).
        assert_eq!(w.packets().count(), 47);
        assert!(w.packets().all(|p| (p.end - p.start) % 4 == 0));
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    }

    #[test]
    fn cut_and_unfinished_data_chunks_keep_the_audio_present() {
        let mut f = wav(&[(b"fmt ", pcm16(1, 8_000)), (b"data", vec![7; 1600])]);
        f.truncate(f.len() - 600);
        let w = Wav::parse(&f, Limits::default()).unwrap();
        assert_eq!(w.audio.as_ref().map(|r| r.end - r.start), Some(1000));
        assert_eq!(w.duration_seconds(), Some(500.0 / 8000.0));
        assert!(w.warnings[0].message.contains("truncated"));
        assert!(
            Wav::parse(
                &f,
                Limits {
                    strict: true,
                    ..Limits::default()
                }
            )
            .is_err()
        );
        // A size never written: the audio runs to the end of the file.
        let mut g = wav(&[(b"fmt ", pcm16(1, 8_000)), (b"data", vec![7; 1600])]);
        let at = g.len() - 1600 - 4;
        g[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        let w = Wav::parse(&g, Limits::default()).unwrap();
        assert_eq!(w.audio.as_ref().map(|r| r.end - r.start), Some(1600));
    }

    #[test]
    fn rf64_sizes_come_from_ds64() {
        let mut ds64 = Vec::new();
        ds64.extend_from_slice(&0u64.to_le_bytes());
        ds64.extend_from_slice(&800u64.to_le_bytes());
        ds64.extend_from_slice(&400u64.to_le_bytes());
        ds64.extend_from_slice(&0u32.to_le_bytes());
        let mut f = wav(&[(b"ds64", ds64), (b"fmt ", pcm16(1, 8_000))]);
        f[..4].copy_from_slice(b"RF64");
        f.extend_from_slice(b"data");
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&[1; 800]);
        let w = Wav::parse(&f, Limits::default()).unwrap();
        assert_eq!(w.audio.as_ref().map(|r| r.end - r.start), Some(800));
        assert_eq!(w.fact_samples, Some(400));
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    }

    #[test]
    fn hostile_headers_give_typed_errors() {
        assert_eq!(
            Wav::parse(b"RIFF\0\0", Limits::default()).unwrap_err().kind,
            ErrorKind::Truncated {
                needed: 12,
                available: 6
            }
        );
        let f = wav(&[(b"data", vec![0; 8])]);
        assert_eq!(
            Wav::parse(&f, Limits::default()).unwrap_err().kind,
            ErrorKind::Missing("fmt ")
        );
        let f = wav(&[(b"fmt ", vec![1, 0, 1])]);
        assert!(matches!(
            Wav::parse(&f, Limits::default()).unwrap_err().kind,
            ErrorKind::Invalid(_)
        ));
        // A chunk claiming 4 GB in a tiny file ends the walk, bounded.
        let mut f = wav(&[(b"fmt ", pcm16(1, 8_000))]);
        f.extend_from_slice(b"JUNK\xff\xff\xff\x7f");
        let w = Wav::parse(&f, Limits::default()).unwrap();
        assert_eq!(w.chunks.len(), 2);
        // Zero channels or block size never divide by zero.
        let mut fmt = pcm16(0, 0);
        fmt[12] = 0;
        let f = wav(&[(b"fmt ", fmt), (b"data", vec![0; 9])]);
        let w = Wav::parse(&f, Limits::default()).unwrap();
        assert_eq!(w.duration_seconds(), None);
        assert_eq!(w.packets().count(), 1);
    }
}
