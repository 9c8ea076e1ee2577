//! Opening inputs read-only through FFmpeg and reading their packets, with
//! every failure typed and placed.

use crate::error::{Error, Position, Result};
use crate::ffi;
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};

/// An input opened by FFmpeg's demuxer, with packet counters per stream.
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    pub(crate) ctx: ffmpeg::format::context::Input,
    /// Packets read so far, per stream.
    pub(crate) counts: Vec<u64>,
    /// Byte offset just past the last packet read whole.
    last_end: Option<u64>,
    /// A truncation FFmpeg noticed while opening (reading ahead to find
    /// the streams' parameters), reported at the end if nothing else is.
    open_damage: Option<String>,
}

/// Checks that `path` is a non-empty regular file (FIFOs and devices are
/// refused without blocking) and returns its size.
pub(crate) fn check_file(path: &Path) -> Result<u64> {
    let f = custody_io::open_regular(path).map_err(Error::io(path))?;
    let len = f.metadata().map_err(Error::io(path))?.len();
    if len == 0 {
        return Err(Error::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(len)
}

/// Size and BLAKE3 (hex) of the file at `path`: memory-mapped and hashed
/// on every core where mapping is safe (never on removable media), else
/// read with `read()`.
pub(crate) fn blake3_file(path: &Path) -> Result<(u64, String)> {
    let mut f = custody_io::open_regular(path).map_err(Error::io(path))?;
    let len = f.metadata().map_err(Error::io(path))?.len();
    let mut h = blake3::Hasher::new();
    if custody_io::map_is_safe(path, len) {
        let ev =
            custody_io::Evidence::open(path, custody_io::ReadMode::Map).map_err(Error::io(path))?;
        h.update_rayon(ev.bytes());
        return Ok((ev.bytes().len() as u64, h.finalize().to_hex().to_string()));
    }
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = std::io::Read::read(&mut f, &mut buf).map_err(Error::io(path))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, h.finalize().to_hex().to_string()))
}

impl Input {
    /// Opens `path` (a non-empty regular file) and reads its stream information.
    pub(crate) fn open(path: &Path) -> Result<Input> {
        ffi::init();
        check_file(path)?;
        ffi::clear_log();
        let ctx = ffmpeg::format::input(path).map_err(|e| {
            let log = ffi::last_log();
            let message = match &log {
                Some(l) => format!("{e} ({l})"),
                None => e.to_string(),
            };
            Error::Open {
                path: path.to_path_buf(),
                position: Position {
                    offset: log.as_deref().and_then(ffi::offset_in),
                    ..Default::default()
                },
                message,
            }
        })?;
        let n = ctx.nb_streams() as usize;
        let open_damage = ffi::last_log().filter(|l| l.contains("partial file"));
        Ok(Input {
            path: path.to_path_buf(),
            ctx,
            counts: vec![0; n],
            last_end: Some(0),
            open_damage,
        })
    }

    /// The time of `ts` in stream `index`, in seconds.
    pub(crate) fn seconds(&self, index: usize, ts: i64) -> f64 {
        let tb = self
            .ctx
            .stream(index)
            .map(|s| s.time_base())
            .unwrap_or(ffmpeg::Rational(1, 1));
        seconds(ts, tb)
    }

    /// The recording's start, in seconds (FFmpeg's `start_time`), 0 when unknown.
    pub(crate) fn start_seconds(&self) -> f64 {
        let st = ffi::start_time(&self.ctx);
        if st == ffmpeg::ffi::AV_NOPTS_VALUE {
            0.0
        } else {
            st as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
        }
    }

    /// The recording's duration in seconds, when the container says.
    pub(crate) fn duration_seconds(&self) -> Option<f64> {
        let d = self.ctx.duration();
        (d > 0 && d != ffmpeg::ffi::AV_NOPTS_VALUE)
            .then(|| d as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
    }

    /// The next packet and its number within its stream; `None` at the end.
    /// A packet that cannot be read whole, or that the demuxer flags as
    /// corrupt, is an [`Error::Corrupt`] placed as precisely as FFmpeg allows.
    pub(crate) fn next(&mut self) -> Result<Option<(ffmpeg::Packet, u64)>> {
        let mut p = ffmpeg::Packet::empty();
        ffi::clear_log();
        match p.read(&mut self.ctx) {
            Ok(()) => {
                let s = p.stream();
                let Some(count) = self.counts.get_mut(s) else {
                    // A stream that appeared after the header (MPEG-TS can do
                    // this): it is not part of what was opened; skip it.
                    return self.next();
                };
                let k = *count;
                *count += 1;
                if p.is_corrupt() {
                    let t = p.pts().or(p.dts()).map(|ts| self.seconds(s, ts));
                    let message = match ffi::last_log() {
                        Some(l) => format!("the packet is incomplete or damaged ({l})"),
                        None => "the packet is incomplete or damaged".into(),
                    };
                    return Err(Error::Corrupt {
                        path: self.path.clone(),
                        position: Position {
                            offset: u64::try_from(p.position()).ok(),
                            stream: Some(s),
                            packet: Some(k),
                            time: t,
                        },
                        message,
                    });
                }
                if let Ok(pos) = u64::try_from(p.position()) {
                    self.last_end = Some(pos + p.size() as u64);
                }
                Ok(Some((p, k)))
            }
            Err(e) => {
                let log = ffi::last_log();
                // The end, unless the demuxer logged why it stopped early
                // (MP4: a sample whose bytes lie past the end of the file).
                let log = log.or_else(|| {
                    (e == ffmpeg::Error::Eof)
                        .then(|| self.open_damage.take())
                        .flatten()
                });
                if e == ffmpeg::Error::Eof && log.is_none() {
                    return Ok(None);
                }
                let offset = log
                    .as_deref()
                    .and_then(ffi::offset_in)
                    .or(self.last_end)
                    .or_else(|| ffi::io_position(&self.ctx));
                let stream = log.as_deref().and_then(stream_in);
                let message = match log {
                    Some(l) => format!("{l} ({e})"),
                    None => e.to_string(),
                };
                Err(Error::Corrupt {
                    path: self.path.clone(),
                    position: Position {
                        offset,
                        stream,
                        packet: stream.and_then(|s| self.counts.get(s).copied()),
                        time: None,
                    },
                    message,
                })
            }
        }
    }
}

/// The stream number in an FFmpeg message such as `stream 0, offset 0x...`.
fn stream_in(message: &str) -> Option<usize> {
    let at = message.find("stream ")? + "stream ".len();
    let digits: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// `ts` ticks of `tb` in seconds.
pub(crate) fn seconds(ts: i64, tb: ffmpeg::Rational) -> f64 {
    if tb.denominator() == 0 {
        return 0.0;
    }
    ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator())
}

/// FFmpeg's name for a codec id (`h264`, `aac`, `pcm_s16le`).
pub(crate) fn codec_name(id: ffmpeg::codec::Id) -> String {
    let n = id.name();
    if n.is_empty() {
        format!("{id:?}").to_lowercase()
    } else {
        n.to_string()
    }
}

/// `video`, `audio`, `subtitle`, `data`, `attachment` or `unknown`.
pub(crate) fn kind_name(m: ffmpeg::media::Type) -> &'static str {
    match m {
        ffmpeg::media::Type::Video => "video",
        ffmpeg::media::Type::Audio => "audio",
        ffmpeg::media::Type::Subtitle => "subtitle",
        ffmpeg::media::Type::Data => "data",
        ffmpeg::media::Type::Attachment => "attachment",
        ffmpeg::media::Type::Unknown => "unknown",
    }
}
