//! Audio files that are one elementary stream: AMR (narrowband and
//! wideband storage format, RFC 4867), MP3 and MPEG audio (with ID3v2 and
//! ID3v1 tags and the Xing/Info or VBRI frame), and AAC in ADTS. Frames
//! are found with the same framers the transport-stream demuxer uses
//! ([`crate::codec::framer::Framer`]); the index holds 16 bytes per frame.
//!
//! ```
//! use custody_container::{Limits, rawaudio::RawAudio};
//! // AMR-NB: the magic, then two 12.2 kbit/s frames (32 bytes each).
//! let mut f = b"#!AMR\n".to_vec();
//! for _ in 0..2 {
//!     f.push(0x3c);
//!     f.extend_from_slice(&[0; 31]);
//! }
//! let a = RawAudio::parse(&f, Limits::default()).unwrap();
//! assert_eq!((a.codec, a.sample_rate, a.frames().len()), ("amr_nb", Some(8000), 2));
//! assert_eq!(a.duration_seconds(), Some(0.04));
//! ```

use crate::codec::audio::{AMR_NB, AMR_WB};
use crate::codec::framer::{Framer, Framing};
use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::es::Frame;

/// One audio frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFrame {
    /// Offset of the frame (header included).
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Samples per channel it decodes to.
    pub samples: u32,
}

/// A parsed AMR, MP3 or ADTS file.
#[derive(Debug, Clone)]
pub struct RawAudio<'a> {
    /// The whole input.
    pub data: &'a [u8],
    /// FFmpeg's codec name: `amr_nb`, `amr_wb`, `mp3`, `mp2`, `mp1` or `aac`.
    pub codec: &'static str,
    /// Sample rate.
    pub sample_rate: Option<u32>,
    /// Channels.
    pub channels: Option<u32>,
    /// ID3 text frames (`TIT2`, `TDRC`, ...; ID3v1 fields as `ID3v1:title`).
    pub tags: Vec<(String, String)>,
    /// Frames the Xing/Info or VBRI header declares.
    pub declared_frames: Option<u32>,
    frames: Vec<AudioFrame>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

/// Bytes pushed to the framer at a time.
const FEED: usize = 4 << 10;

impl<'a> RawAudio<'a> {
    /// Parses an AMR, MP3 or ADTS file. Bytes between frames that are not
    /// a frame are skipped with a warning; a frame cut by the end of the
    /// file is not kept.
    pub fn parse(data: &'a [u8], limits: Limits) -> Result<RawAudio<'a>> {
        let mut diag = Diag::new(limits.strict);
        let mut a = RawAudio {
            data,
            codec: "",
            sample_rate: None,
            channels: None,
            tags: Vec::new(),
            declared_frames: None,
            frames: Vec::new(),
            warnings: Vec::new(),
        };
        if data.starts_with(b"#!AMR") {
            a.amr(&mut diag)?;
        } else {
            a.mpeg(&mut diag)?;
        }
        a.warnings = diag.warnings;
        Ok(a)
    }

    fn amr(&mut self, diag: &mut Diag) -> Result<()> {
        let d = self.data;
        let (magic, sizes, rate, codec): (&[u8], _, _, _) = if d.starts_with(b"#!AMR-WB\n") {
            (b"#!AMR-WB\n", &AMR_WB, 16_000, "amr_wb")
        } else if d.starts_with(b"#!AMR\n") {
            (b"#!AMR\n", &AMR_NB, 8_000, "amr_nb")
        } else {
            return Err(Error::new(
                0,
                "amr",
                ErrorKind::Unsupported("multichannel AMR storage".into()),
            ));
        };
        self.codec = codec;
        self.sample_rate = Some(rate);
        self.channels = Some(1);
        let mut at = magic.len();
        while at < d.len() {
            crate::cost::step(1);
            let size = sizes[(d[at] >> 3 & 0xf) as usize] as usize;
            if at + size > d.len() {
                diag.note(
                    at as u64,
                    "amr",
                    "last frame cut by the end of the file (truncated recording)",
                )?;
                break;
            }
            self.frames.push(AudioFrame {
                offset: at as u64,
                size: size as u32,
                samples: rate / 50,
            });
            at += size;
        }
        Ok(())
    }

    fn mpeg(&mut self, diag: &mut Diag) -> Result<()> {
        let d = self.data;
        let mut start = 0usize;
        // ID3v2 tags (there may be several), each with an optional footer.
        while d.get(start..start + 3) == Some(b"ID3") && d.len() >= start + 10 {
            let h = &d[start..start + 10];
            let size = h[6..10]
                .iter()
                .fold(0usize, |a, &b| a << 7 | (b & 0x7f) as usize);
            let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
            let end = (start + 10 + size + footer).min(d.len());
            id3v2(
                &d[start + 10..end.min(start + 10 + size)],
                h[3],
                &mut self.tags,
            );
            start = end;
        }
        let mut end = d.len();
        if end >= start + 128 && &d[end - 128..end - 125] == b"TAG" {
            id3v1(&d[end - 128..end], &mut self.tags);
            end -= 128;
        }
        let head = d.get(start..start + 2).unwrap_or(&[]);
        let adts = head.len() == 2 && head[0] == 0xff && head[1] & 0xf6 == 0xf0;
        let mut framer = Framer::new(if adts {
            Framing::Adts
        } else {
            Framing::MpegAudio
        });
        // The frames are taken from the framer a window at a time, so that
        // no more than a window's worth of them is held beside the index.
        let mut found: Vec<Frame> = Vec::new();
        framer.pes_start(start as u64, None, None, false, &mut found);
        let mut at = start;
        while at < end {
            let next = (at + FEED).min(end);
            framer.push(&d[at..next], &mut found);
            at = next;
            self.index_frames(&mut found, start, end, diag)?;
        }
        framer.finish(&mut found);
        self.index_frames(&mut found, start, end, diag)?;
        if framer.skipped() > 0 {
            diag.note(
                start as u64,
                "audio",
                format!("{} bytes that are no frame were skipped", framer.skipped()),
            )?;
        }
        self.sample_rate = framer.info.sample_rate;
        self.channels = framer.info.channels;
        self.codec = if adts {
            "aac"
        } else {
            match framer.info.mpeg_audio_layer {
                Some(1) => "mp1",
                Some(2) => "mp2",
                _ => "mp3",
            }
        };
        // The first MPEG audio frame may be a Xing/Info or VBRI header: no audio.
        if !adts
            && let Some(first) = self.frames.first()
            && let Some(n) = vbr_header(&d[first.offset as usize..][..first.size as usize])
        {
            self.declared_frames = Some(n);
            self.frames.remove(0);
        }
        Ok(())
    }

    /// Moves the frames a framer emitted (`found`, elementary-stream
    /// positions from `start`) into the index.
    fn index_frames(
        &mut self,
        found: &mut Vec<Frame>,
        start: usize,
        end: usize,
        diag: &mut Diag,
    ) -> Result<()> {
        for f in found.drain(..) {
            let offset = start as u64 + f.es_pos;
            if offset + f.size > end as u64 || f.size == 0 {
                diag.note(offset, "audio", "last frame cut by the end of the file")?;
                continue;
            }
            self.frames.push(AudioFrame {
                offset,
                size: f.size as u32,
                samples: f.samples,
            });
        }
        Ok(())
    }

    /// The frames, in file order.
    pub fn frames(&self) -> &[AudioFrame] {
        &self.frames
    }

    /// Each frame with its start in samples (the samples of the frames
    /// before it).
    pub fn frames_timed(&self) -> impl Iterator<Item = (&AudioFrame, i64)> + '_ {
        self.frames.iter().scan(0i64, |t, f| {
            let at = *t;
            *t += f.samples as i64;
            Some((f, at))
        })
    }

    /// A frame's bytes: a slice of the input.
    pub fn bytes(&self, f: &AudioFrame) -> &'a [u8] {
        &self.data[f.offset as usize..(f.offset + f.size as u64) as usize]
    }

    /// Duration of the frames present.
    pub fn duration_seconds(&self) -> Option<f64> {
        let rate = self.sample_rate.filter(|&r| r > 0)?;
        let samples: u64 = self.frames.iter().map(|f| f.samples as u64).sum();
        Some(samples as f64 / rate as f64)
    }
}

/// The frame count of a Xing/Info or VBRI header frame, if it is one.
fn vbr_header(frame: &[u8]) -> Option<u32> {
    let be32 = |at: usize| Some(u32::from_be_bytes(frame.get(at..at + 4)?.try_into().ok()?));
    // Xing/Info sits after the side information (17 or 32 bytes after the
    // header for MPEG-1, 9 or 17 for MPEG-2); VBRI 32 bytes after it.
    for at in [4 + 32, 4 + 17, 4 + 9] {
        if let Some(tag) = frame.get(at..at + 4)
            && (tag == b"Xing" || tag == b"Info")
        {
            let flags = be32(at + 4)?;
            return Some(if flags & 1 != 0 { be32(at + 8)? } else { 0 });
        }
    }
    if frame.get(36..40) == Some(b"VBRI") {
        return be32(36 + 14);
    }
    None
}

/// Text frames of an ID3v2 tag body (`version`: 2, 3 or 4).
fn id3v2(b: &[u8], version: u8, out: &mut Vec<(String, String)>) {
    let (id_len, header) = if version == 2 { (3, 6) } else { (4, 10) };
    let mut at = 0;
    while at + header <= b.len() && out.len() < 256 {
        let id = &b[at..at + id_len];
        if id[0] == 0 {
            break;
        }
        let size = if version == 2 {
            b[at + 3..at + 6]
                .iter()
                .fold(0usize, |a, &x| a << 8 | x as usize)
        } else if version == 4 {
            b[at + 4..at + 8]
                .iter()
                .fold(0usize, |a, &x| a << 7 | (x & 0x7f) as usize)
        } else {
            b[at + 4..at + 8]
                .iter()
                .fold(0usize, |a, &x| a << 8 | x as usize)
        };
        let Some(body) = b.get(at + header..at + header + size) else {
            break;
        };
        if id[0] == b'T' && id != b"TXXX" && id != b"TXX" {
            out.push((String::from_utf8_lossy(id).into_owned(), id3_text(body)));
        }
        at += header + size;
    }
}

/// An ID3v2 text frame's value (encoding byte, then the text).
fn id3_text(b: &[u8]) -> String {
    let Some((&enc, rest)) = b.split_first() else {
        return String::new();
    };
    let s = match enc {
        1 | 2 => {
            let (big, body) = match rest {
                [0xfe, 0xff, r @ ..] => (true, r),
                [0xff, 0xfe, r @ ..] => (false, r),
                r => (enc == 2, r),
            };
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| {
                    if big {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                })
                .collect();
            String::from_utf16_lossy(&units)
        }
        3 => String::from_utf8_lossy(rest).into_owned(),
        _ => rest.iter().map(|&c| c as char).collect(),
    };
    s.trim_end_matches('\0').to_string()
}

/// The fields of an ID3v1 tag (128 bytes, `TAG` first).
fn id3v1(b: &[u8], out: &mut Vec<(String, String)>) {
    let field = |r: std::ops::Range<usize>| {
        let s = &b[r];
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        s[..end]
            .iter()
            .map(|&c| c as char)
            .collect::<String>()
            .trim()
            .to_string()
    };
    for (name, r) in [
        ("ID3v1:title", 3..33),
        ("ID3v1:artist", 33..63),
        ("ID3v1:album", 63..93),
        ("ID3v1:year", 93..97),
    ] {
        let v = field(r);
        if !v.is_empty() {
            out.push((name.into(), v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id3_tags_are_read_and_kept_out_of_the_frames() {
        // ID3v2.3 with TIT2 "Scene 4", then two MPEG-1 layer III frames
        // (128 kbit/s, 44.1 kHz: 417 bytes), then ID3v1.
        let mut f = b"ID3\x03\0\0\0\0\0\x12".to_vec();
        f.extend_from_slice(b"TIT2\0\0\0\x08\0\0\x03Scene 4");
        let frame = {
            let mut v = vec![0xff, 0xfb, 0x90, 0x00];
            v.resize(417, 0x55);
            v
        };
        f.extend_from_slice(&frame);
        f.extend_from_slice(&frame);
        let mut v1 = b"TAG".to_vec();
        v1.extend_from_slice(b"Interview");
        v1.resize(128, 0);
        f.extend_from_slice(&v1);
        let a = RawAudio::parse(&f, Limits::default()).unwrap();
        assert_eq!(a.codec, "mp3");
        assert_eq!(a.frames().len(), 2);
        assert_eq!(a.frames()[0].offset, 28);
        assert!(a.tags.contains(&("TIT2".into(), "Scene 4".into())));
        assert!(a.tags.contains(&("ID3v1:title".into(), "Interview".into())));
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        for cut in 0..f.len() {
            let _ = RawAudio::parse(&f[..cut], Limits::default());
        }
    }
}
