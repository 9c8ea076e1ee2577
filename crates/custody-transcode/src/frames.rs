//! Decoded-frame hashes and the comparison of two files by their decoded
//! pictures and sound.
//!
//! A picture's digest is the BLAKE3 of a header (width, height, pixel
//! layout, colour range, primaries, transfer, matrix) and of each plane's
//! rows (the picture bytes only, never the padding), in presentation order.
//! `yuvj*` formats count as their `yuv*` layout with full range, which is
//! what they are. Decoded audio is hashed in blocks of [`AUDIO_BLOCK`]
//! samples per channel, interleaved, so a change of packet size (PCM to
//! FLAC) does not matter but any changed sample does.

use crate::error::{Error, Position, Result};
use crate::ffi;
use crate::picture::{PictureVisitor, Pictures};
use crate::source::{Input, codec_name, seconds};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{frame, media};
use std::path::{Path, PathBuf};

/// Samples per channel in one hashed block of decoded audio.
pub const AUDIO_BLOCK: usize = 1024;

/// The digest of one decoded picture, or of one block of decoded audio.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrameDigest {
    /// Presentation time, seconds.
    pub time: Option<f64>,
    /// BLAKE3 (hex) of the header and every plane (video) or of the block's
    /// interleaved samples (audio).
    pub blake3: String,
}

/// The decoded digests of one stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamDigest {
    /// Stream index in the file.
    pub stream: usize,
    /// `video` or `audio`.
    pub kind: &'static str,
    /// The codec (FFmpeg's name).
    pub codec: String,
    /// One digest per picture, or per block of audio, in presentation order.
    pub frames: Vec<FrameDigest>,
}

/// Where two files' decoded streams first differ.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// The picture (or audio block) number, from 0, in presentation order.
    pub frame: u64,
    /// Its presentation time in the first file, seconds.
    pub time: Option<f64>,
    /// What differs: `format` (size, pixel layout, colour properties),
    /// `plane`, `samples`, or `missing` (one file has fewer frames).
    pub what: &'static str,
    /// Video: the plane (0 = luma or first plane).
    pub plane: Option<usize>,
    /// Video: the first differing pixel's column within the plane.
    pub x: Option<u32>,
    /// Video: its row within the plane.
    pub y: Option<u32>,
    /// Audio: the channel.
    pub channel: Option<u32>,
    /// Audio: the sample number within the stream.
    pub sample: Option<u64>,
    /// A readable account (both values where there are two).
    pub detail: String,
}

/// The comparison of one pair of streams.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StreamComparison {
    /// `video` or `audio`.
    pub kind: &'static str,
    /// Stream index in the first file.
    pub a_stream: usize,
    /// Stream index in the second file.
    pub b_stream: usize,
    /// Codec in the first file.
    pub a_codec: String,
    /// Codec in the second file.
    pub b_codec: String,
    /// Pictures (or audio blocks) decoded from the first file.
    pub a_frames: u64,
    /// Pictures (or audio blocks) decoded from the second file.
    pub b_frames: u64,
    /// How many differ (positions present in only one file included).
    pub differing: u64,
    /// True when every picture (or block) is identical.
    pub identical: bool,
    /// The first difference.
    pub first: Option<Difference>,
    /// Audio: leading samples of the first file left out of the comparison
    /// to align the two (an encoder's priming that one container trims and
    /// another, such as Matroska as FFmpeg 5.1 writes AAC, keeps).
    pub a_skipped: u64,
    /// Audio: leading samples of the second file left out likewise.
    pub b_skipped: u64,
}

/// The decoded comparison of two files.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// True when every paired stream decodes identically and no video or
    /// audio stream is left unpaired.
    pub identical: bool,
    /// The first file.
    pub a: PathBuf,
    /// The second file.
    pub b: PathBuf,
    /// Video streams paired in order, then audio streams in order.
    pub streams: Vec<StreamComparison>,
    /// Streams of one file with no counterpart in the other.
    pub unpaired: Vec<String>,
}

impl Comparison {
    /// True when every paired stream has the same number of pictures (or
    /// audio blocks, within one block) and nothing is unpaired: what a lossy
    /// access copy must show.
    pub fn same_frames(&self) -> bool {
        self.unpaired.is_empty()
            && self.streams.iter().all(|s| match s.kind {
                "video" => s.a_frames == s.b_frames,
                _ => s.a_frames.abs_diff(s.b_frames) <= 1,
            })
    }
}

/// The decoded digests of every video and audio stream of `path` (attached
/// cover pictures excepted).
///
/// ```no_run
/// # fn main() -> Result<(), custody_transcode::Error> {
/// let d = custody_transcode::frame_digests("CLIP.MP4", |_| true)?;
/// println!("{} pictures", d[0].frames.len());
/// # Ok(()) }
/// ```
pub fn frame_digests(
    path: impl AsRef<Path>,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<Vec<StreamDigest>> {
    ffi::init();
    let path = path.as_ref();
    let inp = Input::open(path)?;
    let streams = media_streams(&inp);
    drop(inp);
    let mut raw = digest_streams(path, &streams, &[], &mut progress)?;
    Ok(raw
        .drain(..)
        .map(|r| StreamDigest {
            stream: r.stream,
            kind: r.kind,
            codec: r.codec,
            frames: r
                .units
                .iter()
                .map(|u| FrameDigest {
                    time: u.time,
                    blake3: blake3::Hash::from(u.all).to_hex().to_string(),
                })
                .collect(),
        })
        .collect())
}

/// Compares `a` and `b` by their decoded pictures and sound: video streams
/// paired in order, then audio streams. Reports identical, or the first
/// differing frame (time, plane, position) and how many differ. The two
/// files are decoded at the same time on two threads.
///
/// ```no_run
/// # fn main() -> Result<(), custody_transcode::Error> {
/// let c = custody_transcode::compare("CLIP.MP4", "CLIP.preservation.mkv", |_| true)?;
/// if let Some(d) = c.streams.iter().find_map(|s| s.first.as_ref()) {
///     println!("frame {} differs: {}", d.frame, d.detail);
/// }
/// # Ok(()) }
/// ```
pub fn compare(
    a: impl AsRef<Path>,
    b: impl AsRef<Path>,
    mut progress: impl FnMut(f64) -> bool,
) -> Result<Comparison> {
    compare_with(a.as_ref(), b.as_ref(), b.as_ref(), &mut progress)
}

/// One picture's or audio block's hashes.
#[derive(Clone, Copy)]
pub(crate) struct Unit {
    time: Option<f64>,
    /// Header (size, layout, colour) for video; zeros for audio.
    header: [u8; 32],
    /// Planes, for video (up to 4); unused for audio.
    planes: [[u8; 32]; 4],
    /// Everything.
    all: [u8; 32],
}

struct RawDigest {
    stream: usize,
    kind: &'static str,
    codec: String,
    units: Vec<Unit>,
    /// Video: the header's readable form of the first picture (for reports).
    formats: Vec<String>,
    /// Audio: samples dropped from the start, the first samples decoded,
    /// bytes per sample frame, sample rate, and the offset of the first
    /// sample from the file's video start, in seconds.
    lead: u64,
    head: Vec<u8>,
    frame_bytes: usize,
    rate: u32,
    from_video: Option<f64>,
}

impl StreamComparison {
    /// The comparison of `da` with `db`: `differing` units, the first
    /// difference, and the leading audio samples left out of each.
    fn of(
        da: &RawDigest,
        db: &RawDigest,
        differing: u64,
        first: Option<Difference>,
        (a_skipped, b_skipped): (u64, u64),
    ) -> StreamComparison {
        StreamComparison {
            kind: da.kind,
            a_stream: da.stream,
            b_stream: db.stream,
            a_codec: da.codec.clone(),
            b_codec: db.codec.clone(),
            a_frames: da.units.len() as u64,
            b_frames: db.units.len() as u64,
            differing,
            identical: differing == 0,
            first,
            a_skipped,
            b_skipped,
        }
    }
}

/// Video (non-cover) streams, then audio streams, of an input.
fn media_streams(inp: &Input) -> Vec<usize> {
    let mut v: Vec<usize> = inp
        .ctx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Video && !ffi::is_attached_pic(s))
        .map(|s| s.index())
        .collect();
    v.extend(
        inp.ctx
            .streams()
            .filter(|s| s.parameters().medium() == media::Type::Audio)
            .map(|s| s.index()),
    );
    v
}

/// [`compare`], naming the second file `b_shown` in the report (the final
/// name of an output still being written).
pub(crate) fn compare_with(
    a: &Path,
    b: &Path,
    b_shown: &Path,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<Comparison> {
    ffi::init();
    let (ia, ib) = (Input::open(a)?, Input::open(b)?);
    let kinds = |inp: &Input, m: media::Type| -> Vec<usize> {
        media_streams(inp)
            .into_iter()
            .filter(|&i| {
                inp.ctx
                    .stream(i)
                    .is_some_and(|s| s.parameters().medium() == m)
            })
            .collect()
    };
    let mut pairs = Vec::new();
    let mut unpaired = Vec::new();
    for (m, name) in [(media::Type::Video, "video"), (media::Type::Audio, "audio")] {
        let (va, vb) = (kinds(&ia, m), kinds(&ib, m));
        for (i, (&x, &y)) in va.iter().zip(vb.iter()).enumerate() {
            let _ = i;
            pairs.push((x, y));
        }
        for &x in va.iter().skip(vb.len()) {
            unpaired.push(format!(
                "{}: {name} stream {x} has no counterpart",
                a.display()
            ));
        }
        for &y in vb.iter().skip(va.len()) {
            unpaired.push(format!(
                "{}: {name} stream {y} has no counterpart",
                b.display()
            ));
        }
    }
    drop((ia, ib));
    let sa: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let sb: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    // Decode both files at once; the first file's thread reports progress.
    let cancelled = std::sync::atomic::AtomicBool::new(false);
    let (ra, rb) = std::thread::scope(|scope| {
        let hb = scope.spawn(|| {
            digest_streams(b, &sb, &[], &mut |_| {
                !cancelled.load(std::sync::atomic::Ordering::Relaxed)
            })
        });
        let ra = digest_streams(a, &sa, &[], &mut |t| {
            let go = progress(t);
            if !go {
                cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            go
        });
        if ra.is_err() {
            cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let rb = hb.join().unwrap_or_else(|_| {
            Err(Error::Ffmpeg {
                path: b.to_path_buf(),
                what: "decoding".into(),
                message: "the decoding thread panicked".into(),
            })
        });
        (ra, rb)
    });
    let (mut ra, mut rb) = (ra?, rb?);
    // Audio that differs may only be shifted (an encoder's priming that
    // one container trims and another cannot): align it on its content.
    for k in 0..ra.len().min(rb.len()) {
        let (da, db) = (&ra[k], &rb[k]);
        if da.kind != "audio"
            || da
                .units
                .iter()
                .map(|u| u.all)
                .eq(db.units.iter().map(|u| u.all))
        {
            continue;
        }
        if let Some((la, lb)) = align(da, db)
            && (la, lb) != (0, 0)
        {
            let x = digest_streams(a, &[da.stream], &[la], &mut |_| true)?;
            let y = digest_streams(b, &[db.stream], &[lb], &mut |_| true)?;
            if let (Some(x), Some(y)) = (x.into_iter().next(), y.into_iter().next()) {
                ra[k] = x;
                rb[k] = y;
            }
        }
    }
    let mut streams = Vec::new();
    for (da, db) in ra.iter().zip(rb.iter()) {
        streams.push(compare_stream(a, b, b_shown, da, db)?);
    }
    let identical = unpaired.is_empty() && streams.iter().all(|s| s.identical);
    Ok(Comparison {
        identical,
        a: a.to_path_buf(),
        b: b_shown.to_path_buf(),
        streams,
        unpaired,
    })
}

/// The samples to drop from the start of each of two audio streams so that
/// their first [`ALIGN_SPAN`] samples are identical, choosing, among the
/// offsets that work, the one nearest what their timestamps say.
fn align(da: &RawDigest, db: &RawDigest) -> Option<(u64, u64)> {
    let fb = da.frame_bytes;
    if fb == 0 || fb != db.frame_bytes || da.rate != db.rate {
        return None;
    }
    let estimate = match (da.from_video, db.from_video) {
        (Some(x), Some(y)) => ((x - y) * f64::from(da.rate)).round() as i64,
        _ => 0,
    };
    let (ha, hb) = (&da.head, &db.head);
    let fits = |d: i64| -> bool {
        // B's sample i + d is A's sample i.
        let (sa, sb) = if d >= 0 {
            (0, d as usize)
        } else {
            ((-d) as usize, 0)
        };
        let (xa, xb) = (sa * fb, sb * fb);
        let n = ALIGN_SPAN * fb;
        match (ha.get(xa..xa + n), hb.get(xb..xb + n)) {
            (Some(p), Some(q)) => p == q,
            _ => false,
        }
    };
    let mut d = None;
    for step in 0..=2 * ALIGN_MAX {
        let c = estimate
            + if step % 2 == 0 {
                step / 2
            } else {
                -(step / 2) - 1
            };
        if c.abs() <= ALIGN_MAX && fits(c) {
            d = Some(c);
            break;
        }
    }
    let d = d?;
    Some(if d >= 0 {
        (0, d as u64)
    } else {
        ((-d) as u64, 0)
    })
}

fn compare_stream(
    a: &Path,
    b: &Path,
    b_shown: &Path,
    da: &RawDigest,
    db: &RawDigest,
) -> Result<StreamComparison> {
    let (na, nb) = (da.units.len(), db.units.len());
    let mut differing = na.abs_diff(nb) as u64;
    let mut first_at: Option<usize> = None;
    for (i, (ua, ub)) in da.units.iter().zip(db.units.iter()).enumerate() {
        if ua.all != ub.all {
            differing += 1;
            first_at.get_or_insert(i);
        }
    }
    let first = match first_at {
        Some(i) => Some(locate(a, b, b_shown, da, db, i)?),
        None if na != nb => {
            let i = na.min(nb);
            Some(Difference {
                frame: i as u64,
                time: da.units.get(i).or(db.units.get(i)).and_then(|u| u.time),
                what: "missing",
                plane: None,
                x: None,
                y: None,
                channel: None,
                sample: None,
                detail: format!(
                    "{} has {na} {unit}s, {} has {nb}",
                    a.display(),
                    b_shown.display(),
                    unit = if da.kind == "video" {
                        "picture"
                    } else {
                        "audio block"
                    }
                ),
            })
        }
        None => None,
    };
    Ok(StreamComparison::of(
        da,
        db,
        differing,
        first,
        (da.lead, db.lead),
    ))
}

/// Names the first difference at unit `i`: the header, or the plane and
/// pixel (decoding both files again up to that picture), or the channel and
/// sample.
fn locate(
    a: &Path,
    b: &Path,
    b_shown: &Path,
    da: &RawDigest,
    db: &RawDigest,
    i: usize,
) -> Result<Difference> {
    let (ua, ub) = (&da.units[i], &db.units[i]);
    let mut d = Difference {
        frame: i as u64,
        time: ua.time,
        what: if da.kind == "video" {
            "plane"
        } else {
            "samples"
        },
        plane: None,
        x: None,
        y: None,
        channel: None,
        sample: None,
        detail: String::new(),
    };
    let mut format_detail = String::new();
    if da.kind == "video" && ua.header != ub.header {
        d.what = "format";
        format_detail = format!(
            "picture {i}: {} in {}, {} in {}",
            da.formats.get(i).cloned().unwrap_or_default(),
            a.display(),
            db.formats.get(i).cloned().unwrap_or_default(),
            b_shown.display()
        );
        // Pictures of different sizes or layouts have no common position.
        let same_layout = |x: &str, y: &str| x.split(" range=").next() == y.split(" range=").next();
        if !same_layout(
            da.formats.get(i).map_or("", |s| s.as_str()),
            db.formats.get(i).map_or("", |s| s.as_str()),
        ) || ua.planes == ub.planes
        {
            d.detail = format_detail;
            return Ok(d);
        }
    }
    // Decode both again up to unit i and compare bytes.
    let fa = capture(a, da.stream, i, da.lead)?;
    let fb = capture(b, db.stream, i, db.lead)?;
    match (fa, fb) {
        (Captured::Video(fa), Captured::Video(fb)) => {
            let plane = (0..4).find(|&p| ua.planes[p] != ub.planes[p]).unwrap_or(0);
            d.plane = Some(plane);
            let fmt = normalized(fa.format()).0;
            let rb = ffi::row_bytes(fmt, fa.width(), plane);
            let h = fa.plane_height(plane) as usize;
            let bpp = bytes_per_sample(fmt, plane, fa.width(), rb);
            let (sa, sb) = (fa.stride(plane), fb.stride(plane));
            let (pa, pb) = (fa.data(plane), fb.data(plane));
            'rows: for y in 0..h {
                let (ra, rbb) = (
                    pa.get(y * sa..y * sa + rb).unwrap_or(&[]),
                    pb.get(y * sb..y * sb + rb).unwrap_or(&[]),
                );
                for (xb, (x1, x2)) in ra.iter().zip(rbb.iter()).enumerate() {
                    if x1 != x2 {
                        d.x = Some((xb / bpp.max(1)) as u32);
                        d.y = Some(y as u32);
                        d.detail = format!(
                            "picture {i}, plane {plane}, pixel ({}, {y}): byte {x1} in {}, {x2} in {}",
                            xb / bpp.max(1),
                            a.display(),
                            b_shown.display()
                        );
                        break 'rows;
                    }
                }
            }
            if d.detail.is_empty() {
                d.detail = format!("picture {i}, plane {plane} differs");
            }
            if !format_detail.is_empty() {
                d.detail = format!("{format_detail}; {}", d.detail);
            }
        }
        (Captured::Audio(xa, ca, bytes, s0), Captured::Audio(xb, _, _, _)) => {
            let at = xa.iter().zip(xb.iter()).position(|(p, q)| p != q);
            match at {
                Some(pos) => {
                    let frame_bytes = bytes * ca.max(1) as usize;
                    let s = pos / frame_bytes.max(1);
                    let ch = (pos % frame_bytes.max(1)) / bytes.max(1);
                    d.channel = Some(ch as u32);
                    d.sample = Some(s0 + s as u64);
                    d.detail = format!(
                        "audio block {i}: sample {} of channel {ch} differs",
                        s0 + s as u64
                    );
                }
                None => {
                    d.detail = format!(
                        "audio block {i}: {} sample bytes in {}, {} in {}",
                        xa.len(),
                        a.display(),
                        xb.len(),
                        b_shown.display()
                    );
                }
            }
        }
        _ => d.detail = format!("unit {i} differs"),
    }
    Ok(d)
}

fn bytes_per_sample(fmt: Pixel, plane: usize, width: u32, row_bytes: usize) -> usize {
    let _ = plane;
    if fmt.descriptor().is_some() && width > 0 {
        // Planar formats: 1 or 2 bytes a sample; packed: several.
        (row_bytes / width as usize).max(1)
    } else {
        1
    }
}

enum Captured {
    Video(frame::Video),
    /// Interleaved bytes of the block, channels, bytes a sample, first sample number.
    Audio(Vec<u8>, u32, usize, u64),
}

fn capture(path: &Path, stream: usize, unit: usize, lead: u64) -> Result<Captured> {
    let state: std::cell::RefCell<(usize, Option<Captured>)> = std::cell::RefCell::new((0, None));
    let inp = Input::open(path)?;
    let mut audio = AudioBlocks::new(lead);
    let tb = inp
        .ctx
        .stream(stream)
        .map(|s| s.time_base())
        .unwrap_or(ffmpeg::Rational(1, 1));
    drop(inp);
    let on_block = |bytes: &[u8], ch: u32, bps: usize, first: u64| {
        let mut st = state.borrow_mut();
        if st.0 == unit && st.1.is_none() {
            st.1 = Some(Captured::Audio(bytes.to_vec(), ch, bps, first));
        }
        st.0 += 1;
    };
    decode(
        path,
        &[stream],
        &mut |_, f| {
            let mut st = state.borrow_mut();
            if st.0 == unit {
                st.1 = Some(Captured::Video(f.clone()));
                return false;
            }
            st.0 += 1;
            true
        },
        &mut |_, f| {
            let bps = f.format().bytes().max(1);
            let t = f.timestamp().map(|ts| seconds(ts, tb));
            audio.push(f, t, &mut |bytes, ch, first, _| {
                on_block(bytes, ch, bps, first)
            });
            state.borrow().1.is_none()
        },
        &mut |_| true,
    )?;
    if state.borrow().1.is_none() {
        let bps = audio.bytes.max(1);
        audio.finish(&mut |bytes, ch, first, _| on_block(bytes, ch, bps, first));
    }
    state.into_inner().1.ok_or_else(|| Error::Ffmpeg {
        path: path.to_path_buf(),
        what: "decoding again".into(),
        message: format!("picture {unit} of stream {stream} did not decode the second time"),
    })
}

/// `yuvj*` is `yuv*` with full range.
fn normalized(f: Pixel) -> (Pixel, bool) {
    match f {
        Pixel::YUVJ420P => (Pixel::YUV420P, true),
        Pixel::YUVJ422P => (Pixel::YUV422P, true),
        Pixel::YUVJ444P => (Pixel::YUV444P, true),
        Pixel::YUVJ440P => (Pixel::YUV440P, true),
        Pixel::YUVJ411P => (Pixel::YUV411P, true),
        f => (f, false),
    }
}

/// The header of a picture: what it is besides its bytes.
fn video_header(f: &frame::Video) -> ([u8; 32], String) {
    let (fmt, full) = normalized(f.format());
    let range = if full {
        ffmpeg::color::Range::JPEG
    } else {
        f.color_range()
    };
    let text = format!(
        "{}x{} {} range={} primaries={:?} transfer={:?} matrix={:?}",
        f.width(),
        f.height(),
        fmt.descriptor().map(|d| d.name()).unwrap_or("?"),
        range.name().unwrap_or("unspecified"),
        f.color_primaries(),
        f.color_transfer_characteristic(),
        f.color_space()
    );
    (*blake3::hash(text.as_bytes()).as_bytes(), text)
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Bytes of padded rows gathered before each hasher update: enough 1 KiB
/// BLAKE3 chunks for its SIMD paths, few enough to stay in cache.
const GATHER: usize = 128 << 10;

/// One plane of a decoded picture as laid out in memory: `rows` rows of
/// `row_bytes` picture bytes, each `stride` bytes after the one before.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// The plane's memory, from its first row.
    pub data: &'a [u8],
    /// Bytes from the start of one row to the next.
    pub stride: usize,
    /// Picture bytes in a row (padding excluded).
    pub row_bytes: usize,
    /// Rows.
    pub rows: usize,
}

impl Plane<'_> {
    /// BLAKE3 of the plane's picture bytes, row after row, padding left
    /// out (rows the memory does not hold whole are skipped): the plane
    /// hash inside a picture's [`FrameDigest`].
    ///
    /// ```
    /// use custody_transcode::Plane;
    /// let padded = [1u8, 2, 0, 3, 4, 0];
    /// let p = Plane { data: &padded, stride: 3, row_bytes: 2, rows: 2 };
    /// assert_eq!(p.digest(), *blake3::hash(&[1, 2, 3, 4]).as_bytes());
    /// ```
    pub fn digest(&self) -> [u8; 32] {
        let (data, rb, stride) = (self.data, self.row_bytes, self.stride);
        if stride == rb {
            // One update over contiguous bytes lets BLAKE3 hash many 1 KiB
            // chunks at once (SIMD).
            let end = rb.saturating_mul(self.rows).min(data.len());
            return *blake3::hash(&data[..end]).as_bytes();
        }
        // Padded rows are gathered a block at a time: the same hash, with
        // the same SIMD paths, and the block stays in cache.
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let mut h = blake3::Hasher::new();
            sc.clear();
            for y in 0..self.rows {
                let Some(start) = y.checked_mul(stride) else {
                    break;
                };
                if let Some(row) = data.get(start..start.saturating_add(rb)) {
                    sc.extend_from_slice(row);
                }
                if sc.len() >= GATHER {
                    h.update(&sc);
                    sc.clear();
                }
            }
            h.update(&sc);
            *h.finalize().as_bytes()
        })
    }
}

/// The digest of one decoded picture presented at `time`, and its header
/// in readable form.
pub(crate) fn video_unit(f: &frame::Video, time: Option<f64>) -> (Unit, String) {
    let (header, text) = video_header(f);
    let fmt = normalized(f.format()).0;
    let mut planes = [[0u8; 32]; 4];
    let mut all = blake3::Hasher::new();
    all.update(&header);
    for (p, slot) in planes.iter_mut().enumerate().take(f.planes().min(4)) {
        *slot = Plane {
            data: f.data(p),
            stride: f.stride(p),
            row_bytes: ffi::row_bytes(fmt, f.width(), p),
            rows: f.plane_height(p) as usize,
        }
        .digest();
        all.update(slot);
    }
    (
        Unit {
            time,
            header,
            planes,
            all: *all.finalize().as_bytes(),
        },
        text,
    )
}

/// The digest of one decoded picture, hex, as a [`FrameDigest`] of it has it.
pub(crate) fn picture_digest(f: &frame::Video) -> String {
    blake3::Hash::from(video_unit(f, None).0.all)
        .to_hex()
        .to_string()
}

/// Receives one block of audio: interleaved bytes, channels, number of
/// its first sample, its time.
type Emit<'a> = dyn FnMut(&[u8], u32, u64, Option<f64>) + 'a;

/// Cuts decoded audio into blocks of AUDIO_BLOCK samples per channel,
/// interleaved, whatever the decoder's frame sizes.
#[derive(Default)]
struct AudioBlocks {
    buf: Vec<u8>,
    channels: u32,
    bytes: usize,
    rate: u32,
    /// Samples per channel emitted so far.
    emitted: u64,
    /// Time of sample 0.
    t0: Option<f64>,
    scratch: Vec<u8>,
    header: String,
    /// Samples per channel still to drop from the start (alignment).
    lead: u64,
    /// The first samples decoded (before any drop), interleaved, for alignment.
    head: Vec<u8>,
}

/// Samples per channel kept at the start of each audio stream for alignment.
const HEAD: usize = 8192;
/// Samples compared when looking for the alignment of two audio streams.
const ALIGN_SPAN: usize = 2048;
/// Largest offset, in samples, tried when aligning two audio streams.
const ALIGN_MAX: i64 = 4096;

impl AudioBlocks {
    fn new(lead: u64) -> AudioBlocks {
        AudioBlocks {
            lead,
            ..Default::default()
        }
    }

    /// Adds a decoded frame presented at `time`; `emit(bytes, channels,
    /// first sample, time)` gets each full block.
    fn push(&mut self, f: &frame::Audio, time: Option<f64>, emit: &mut Emit<'_>) {
        let fmt = f.format();
        let ch = u32::from(f.channels()).max(1);
        let bytes = fmt.bytes().max(1);
        if self.channels == 0 {
            self.channels = ch;
            self.bytes = bytes;
            self.rate = f.rate();
            self.header = format!("{} {}ch {}Hz", fmt.packed().name(), ch, f.rate());
            self.t0 = time.map(|t| t + self.lead as f64 / f64::from(self.rate.max(1)));
        }
        let n = f.samples();
        // Interleave planar data.
        self.scratch.clear();
        if f.is_planar() {
            // AVFrame holds 8 plane pointers inline; FFmpeg's decoders give
            // planar audio of at most 8 channels (more is packed).
            let planes: Vec<&[u8]> = (0..(ch as usize).min(f.planes()).min(8))
                .map(|c| f.data(c))
                .collect();
            for s in 0..n {
                for p in &planes {
                    if let Some(v) = p.get(s * bytes..(s + 1) * bytes) {
                        self.scratch.extend_from_slice(v);
                    }
                }
            }
        } else {
            let len = n * bytes * ch as usize;
            self.scratch
                .extend_from_slice(f.data(0).get(..len).unwrap_or(f.data(0)));
        }
        let frame_bytes = bytes * ch as usize;
        if self.head.len() < HEAD * frame_bytes {
            let want = HEAD * frame_bytes - self.head.len();
            self.head
                .extend_from_slice(&self.scratch[..want.min(self.scratch.len())]);
        }
        let drop_now = (self.lead as usize).min(n);
        self.lead -= drop_now as u64;
        self.buf
            .extend_from_slice(self.scratch.get(drop_now * frame_bytes..).unwrap_or(&[]));
        let block = AUDIO_BLOCK * self.bytes * self.channels as usize;
        while self.buf.len() >= block {
            let t = self.time();
            emit(&self.buf[..block], self.channels, self.emitted, t);
            self.emitted += AUDIO_BLOCK as u64;
            self.buf.drain(..block);
        }
    }

    fn time(&self) -> Option<f64> {
        self.t0
            .map(|t0| t0 + self.emitted as f64 / f64::from(self.rate.max(1)))
    }

    fn finish(&mut self, emit: &mut Emit<'_>) {
        if !self.buf.is_empty() {
            let t = self.time();
            emit(&self.buf, self.channels, self.emitted, t);
            self.buf.clear();
        }
    }
}

/// Decodes `streams` of `path`, in presentation order per stream, calling
/// `video(k, frame)` / `audio(k, frame)` with `k` the index into `streams`;
/// a callback returning false stops early.
#[allow(clippy::type_complexity)]
pub(crate) fn decode(
    path: &Path,
    streams: &[usize],
    video: &mut dyn FnMut(usize, &frame::Video) -> bool,
    audio: &mut dyn FnMut(usize, &frame::Audio) -> bool,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<()> {
    let mut inp = Input::open(path)?;
    let mut decs: Vec<Option<Dec>> = (0..inp.ctx.nb_streams()).map(|_| None).collect();
    for (k, &s) in streams.iter().enumerate() {
        let st = inp
            .ctx
            .stream(s)
            .ok_or_else(|| Error::InvalidArgument(format!("no stream {s}")))?;
        decs[s] = Some(Dec::open(path, &st, k)?);
    }
    let mut stopped = false;
    while !stopped {
        let Some((p, kpkt)) = inp.next()? else { break };
        let s = p.stream();
        let Some(Some(dec)) = decs.get_mut(s) else {
            continue;
        };
        let tb = dec.tb;
        let pos = Position {
            offset: u64::try_from(p.position()).ok(),
            stream: Some(s),
            packet: Some(kpkt),
            time: p.pts().or(p.dts()).map(|t| seconds(t, tb)),
        };
        if let Some(t) = pos.time
            && !progress(t)
        {
            return Err(Error::Cancelled);
        }
        dec.send(path, &p, pos)?;
        if !dec.drain(path, pos, video, audio)? {
            stopped = true;
        }
    }
    if !stopped {
        for d in decs.iter_mut().flatten() {
            d.finish(path)?;
            if !d.drain(path, Position::default(), video, audio)? {
                break;
            }
        }
    }
    Ok(())
}

/// One stream's decoder.
pub(crate) struct Dec {
    pub(crate) k: usize,
    /// The input stream decoded.
    pub(crate) stream: usize,
    pub(crate) tb: ffmpeg::Rational,
    pub(crate) kind: DecKind,
}

pub(crate) enum DecKind {
    Video(ffmpeg::decoder::Video, frame::Video),
    Audio(ffmpeg::decoder::Audio, frame::Audio),
}

impl Dec {
    /// Opens the decoder of `st`, with FFmpeg's own threads for video.
    pub(crate) fn open(path: &Path, st: &ffmpeg::format::stream::Stream, k: usize) -> Result<Dec> {
        Dec::open_threads(path, st, k, 0)
    }

    /// Opens the decoder of `st` with `threads` threads for video (0: one
    /// per core; 1: none besides the caller's).
    pub(crate) fn open_threads(
        path: &Path,
        st: &ffmpeg::format::stream::Stream,
        k: usize,
        threads: usize,
    ) -> Result<Dec> {
        let par = st.parameters();
        let mut ctx = ffmpeg::codec::context::Context::from_parameters(par.clone())
            .map_err(|e| Error::ffmpeg(path, "setting up a decoder", e))?;
        let video = par.medium() == media::Type::Video;
        // Frame threads for video (pictures still come out in order).
        ffi::set_threads(&mut ctx, threads, if video { 1 | 2 } else { 0 });
        let mut dec = ctx.decoder();
        dec.set_packet_time_base(st.time_base());
        dec.check(ffmpeg::codec::decoder::Check::EXPLODE);
        let kind = if video {
            let d = dec.video().map_err(|e| {
                Error::ffmpeg(
                    path,
                    format!("opening the {} decoder", codec_name(par.id())),
                    e,
                )
            })?;
            DecKind::Video(d, frame::Video::empty())
        } else {
            let d = dec.audio().map_err(|e| {
                Error::ffmpeg(
                    path,
                    format!("opening the {} decoder", codec_name(par.id())),
                    e,
                )
            })?;
            DecKind::Audio(d, frame::Audio::empty())
        };
        Ok(Dec {
            k,
            stream: st.index(),
            tb: st.time_base(),
            kind,
        })
    }

    pub(crate) fn send(&mut self, path: &Path, p: &ffmpeg::Packet, pos: Position) -> Result<()> {
        ffi::clear_log();
        let r = match &mut self.kind {
            DecKind::Video(d, _) => d.send_packet(p),
            DecKind::Audio(d, _) => d.send_packet(p),
        };
        match r {
            Ok(())
            | Err(ffmpeg::Error::Other {
                errno: libc::EAGAIN,
            }) => Ok(()),
            Err(e) => Err(corrupt(path, pos, e)),
        }
    }

    pub(crate) fn finish(&mut self, path: &Path) -> Result<()> {
        let r = match &mut self.kind {
            DecKind::Video(d, _) => d.send_eof(),
            DecKind::Audio(d, _) => d.send_eof(),
        };
        match r {
            Ok(()) | Err(ffmpeg::Error::Eof) => Ok(()),
            Err(e) => Err(corrupt(path, Position::default(), e)),
        }
    }

    /// Every frame ready, owned (for encoders).
    pub(crate) fn take_video(&mut self, path: &Path, pos: Position) -> Result<Vec<frame::Video>> {
        let mut out = Vec::new();
        loop {
            let DecKind::Video(d, _) = &mut self.kind else {
                return Ok(out);
            };
            let mut f = frame::Video::empty();
            match d.receive_frame(&mut f) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof)
                | Err(ffmpeg::Error::Other {
                    errno: libc::EAGAIN,
                }) => {
                    return Ok(out);
                }
                Err(e) => return Err(corrupt(path, pos, e)),
            }
            if ffi::frame_corrupt(&f) {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    position: Position {
                        time: f.timestamp().map(|t| seconds(t, self.tb)),
                        stream: pos.stream,
                        ..Default::default()
                    },
                    message: "the decoder concealed errors in this picture".into(),
                });
            }
            out.push(f);
        }
    }

    /// Every decoded audio frame ready, owned (for encoders).
    pub(crate) fn take_audio(&mut self, path: &Path, pos: Position) -> Result<Vec<frame::Audio>> {
        let mut out = Vec::new();
        loop {
            let DecKind::Audio(d, _) = &mut self.kind else {
                return Ok(out);
            };
            let mut f = frame::Audio::empty();
            match d.receive_frame(&mut f) {
                Ok(()) => out.push(f),
                Err(ffmpeg::Error::Eof)
                | Err(ffmpeg::Error::Other {
                    errno: libc::EAGAIN,
                }) => {
                    return Ok(out);
                }
                Err(e) => return Err(corrupt(path, pos, e)),
            }
        }
    }

    /// Passes every frame ready to the callbacks; false when one said stop.
    pub(crate) fn drain(
        &mut self,
        path: &Path,
        pos: Position,
        video: &mut dyn FnMut(usize, &frame::Video) -> bool,
        audio: &mut dyn FnMut(usize, &frame::Audio) -> bool,
    ) -> Result<bool> {
        loop {
            let r = match &mut self.kind {
                DecKind::Video(d, f) => d.receive_frame(f),
                DecKind::Audio(d, f) => d.receive_frame(f),
            };
            match r {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof)
                | Err(ffmpeg::Error::Other {
                    errno: libc::EAGAIN,
                }) => {
                    return Ok(true);
                }
                Err(e) => return Err(corrupt(path, pos, e)),
            }
            let go = match &mut self.kind {
                DecKind::Video(_, f) => {
                    if ffi::frame_corrupt(f) {
                        return Err(Error::Corrupt {
                            path: path.to_path_buf(),
                            position: Position {
                                time: f.timestamp().map(|t| seconds(t, self.tb)),
                                stream: pos.stream,
                                ..Default::default()
                            },
                            message: "the decoder concealed errors in this picture".into(),
                        });
                    }
                    video(self.k, f)
                }
                DecKind::Audio(_, f) => audio(self.k, f),
            };
            if !go {
                return Ok(false);
            }
        }
    }
}

fn corrupt(path: &Path, pos: Position, e: ffmpeg::Error) -> Error {
    let message = match ffi::last_log() {
        Some(l) => format!("{l} ({e})"),
        None => e.to_string(),
    };
    Error::Corrupt {
        path: path.to_path_buf(),
        position: pos,
        message,
    }
}

/// Digests of `streams` of `path`.
/// Decoded-frame digests of some streams, taken frame by frame as they are
/// decoded (by a proof, or by an encoder while it re-encodes a source).
pub(crate) struct Recorder {
    digests: Vec<RawDigest>,
    blocks: Vec<AudioBlocks>,
    pending: Vec<Vec<Unit>>,
    video_start: Option<f64>,
}

impl Recorder {
    pub(crate) fn new(video_start: Option<f64>) -> Recorder {
        Recorder {
            digests: Vec::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            video_start,
        }
    }

    /// Adds stream `stream` (`video` or `audio`); returns its slot.
    pub(crate) fn add(&mut self, stream: usize, video: bool, codec: String, lead: u64) -> usize {
        self.digests.push(RawDigest {
            stream,
            kind: if video { "video" } else { "audio" },
            codec,
            units: Vec::new(),
            formats: Vec::new(),
            lead,
            head: Vec::new(),
            frame_bytes: 0,
            rate: 0,
            from_video: None,
        });
        self.blocks.push(AudioBlocks::new(lead));
        self.pending.push(Vec::new());
        self.digests.len() - 1
    }

    pub(crate) fn video(&mut self, slot: usize, f: &frame::Video, time: Option<f64>) {
        let (u, text) = video_unit(f, time);
        self.push_video(slot, u, text);
    }

    /// Adds a picture's digest taken elsewhere by [`video_unit`] (on the
    /// thread that decoded it), in presentation order.
    pub(crate) fn push_video(&mut self, slot: usize, unit: Unit, text: String) {
        self.digests[slot].units.push(unit);
        self.digests[slot].formats.push(text);
    }

    pub(crate) fn audio(&mut self, slot: usize, f: &frame::Audio, time: Option<f64>) {
        let pa = &mut self.pending[slot];
        self.blocks[slot].push(f, time, &mut |bytes, _, _, t| pa.push(audio_unit(bytes, t)));
    }

    fn finish(mut self) -> Vec<RawDigest> {
        for (k, b) in self.blocks.iter_mut().enumerate() {
            let pa = &mut self.pending[k];
            b.finish(&mut |bytes, _, _, t| pa.push(audio_unit(bytes, t)));
        }
        for (k, units) in std::mem::take(&mut self.pending).into_iter().enumerate() {
            let d = &mut self.digests[k];
            if d.kind != "audio" {
                continue;
            }
            let b = &mut self.blocks[k];
            d.head = std::mem::take(&mut b.head);
            d.frame_bytes = b.bytes * b.channels as usize;
            d.rate = b.rate;
            d.from_video = match (b.t0, self.video_start) {
                (Some(t), Some(v)) => Some(t - d.lead as f64 / f64::from(b.rate.max(1)) - v),
                _ => None,
            };
            let header = b.header.clone();
            // The audio's layout is part of every block's hash.
            d.units = units
                .into_iter()
                .map(|mut u| {
                    let mut h = blake3::Hasher::new();
                    h.update(header.as_bytes());
                    h.update(&u.all);
                    u.all = *h.finalize().as_bytes();
                    u
                })
                .collect();
        }
        self.digests
    }
}

/// Digests of `streams` of `path`, dropping `leads[k]` samples from the
/// start of audio stream `k`.
fn digest_streams(
    path: &Path,
    streams: &[usize],
    leads: &[u64],
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<Vec<RawDigest>> {
    digest_visiting(path, streams, leads, None, progress)
}

/// [`digest_streams`], giving each picture of the first video stream among
/// `streams` to `visitor` as well.
fn digest_visiting(
    path: &Path,
    streams: &[usize],
    leads: &[u64],
    visitor: Option<&PictureVisitor>,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<Vec<RawDigest>> {
    let inp = Input::open(path)?;
    let start = video_start(&inp);
    let mut rec = Recorder::new(start);
    let mut visited: Option<(usize, Pictures)> = None;
    let mut tbs = Vec::new();
    for (k, &s) in streams.iter().enumerate() {
        let st = inp.ctx.stream(s);
        let par = st.as_ref().map(|s| s.parameters());
        let video = par
            .as_ref()
            .is_some_and(|p| p.medium() == media::Type::Video);
        let codec = par.map(|p| codec_name(p.id())).unwrap_or_default();
        rec.add(s, video, codec, leads.get(k).copied().unwrap_or(0));
        let tb = st
            .map(|st| st.time_base())
            .unwrap_or(ffmpeg::Rational(1, 1));
        if video && visitor.is_some() && visited.is_none() {
            visited = Some((k, Pictures::new(start.unwrap_or(0.0), tb)));
        }
        tbs.push(tb);
    }
    drop(inp);
    let rec = std::cell::RefCell::new(rec);
    let mut failed: Option<Error> = None;
    decode(
        path,
        streams,
        &mut |k, f| {
            let t = f.timestamp().map(|ts| seconds(ts, tbs[k]));
            let (unit, text) = video_unit(f, t);
            let digest = unit.all;
            rec.borrow_mut().push_video(k, unit, text);
            if let (Some(v), Some((slot, pictures))) = (visitor, visited.as_mut())
                && *slot == k
                && let Err(e) = pictures.next(path, f, Some(digest), &mut |p| v.visit(path, p))
            {
                failed = Some(e);
                return false;
            }
            true
        },
        &mut |k, f| {
            let t = f.timestamp().map(|ts| seconds(ts, tbs[k]));
            rec.borrow_mut().audio(k, f, t);
            true
        },
        progress,
    )?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(rec.into_inner().finish())
}

/// Proves a re-encode: the digests `recorded` of the source's streams,
/// taken while they were encoded, against the output's streams `outputs`
/// (same order), decoded now, each picture of the first video stream given
/// to `visitor` as well. When they differ and the copy had to be lossless,
/// the two files are compared in full to say where.
pub(crate) fn prove_reencode(
    source: &Path,
    output: &Path,
    shown: &Path,
    (recorded, outputs): (Recorder, &[usize]),
    lossless: bool,
    visitor: Option<&PictureVisitor>,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<Comparison> {
    let ra = recorded.finish();
    let rb = digest_visiting(output, outputs, &[], visitor, progress)?;
    let same = ra.len() == rb.len()
        && ra.iter().zip(rb.iter()).all(|(x, y)| {
            x.units
                .iter()
                .map(|u| u.all)
                .eq(y.units.iter().map(|u| u.all))
        });
    if !same && lossless {
        return compare_with(source, output, shown, progress);
    }
    let mut streams = Vec::new();
    for (da, db) in ra.iter().zip(rb.iter()) {
        let (na, nb) = (da.units.len(), db.units.len());
        let differing = na.abs_diff(nb) as u64
            + da.units
                .iter()
                .zip(db.units.iter())
                .filter(|(x, y)| x.all != y.all)
                .count() as u64;
        streams.push(StreamComparison::of(da, db, differing, None, (0, 0)));
    }
    Ok(Comparison {
        identical: streams.iter().all(|s| s.identical),
        a: source.to_path_buf(),
        b: shown.to_path_buf(),
        streams,
        unpaired: Vec::new(),
    })
}

/// The start of the file's first video stream, seconds (FFmpeg's stream start time).
pub(crate) fn video_start(inp: &Input) -> Option<f64> {
    let st = inp
        .ctx
        .streams()
        .find(|s| s.parameters().medium() == media::Type::Video && !ffi::is_attached_pic(s))?;
    let t = st.start_time();
    (t != ffmpeg::ffi::AV_NOPTS_VALUE).then(|| seconds(t, st.time_base()))
}

fn audio_unit(bytes: &[u8], time: Option<f64>) -> Unit {
    Unit {
        time,
        header: [0; 32],
        planes: [[0; 32]; 4],
        all: *blake3::hash(bytes).as_bytes(),
    }
}
