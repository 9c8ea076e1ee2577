//! Decoded pictures handed to the caller: read-only to a visitor
//! ([`visit_pictures`], a detection pass), mutable to a hook applied to
//! every picture of a re-encode before the encoder ([`PictureHook`], masks).
//!
//! Pictures are numbered from 0 in presentation order and timed in seconds
//! from the video stream's start, the same way in both, so what a visitor
//! found in picture `n` can be acted on in picture `n` of a re-encode.

use crate::error::{Error, Position, Result};
use crate::ffi;
use crate::frames::Dec;
use crate::source::{Input, seconds};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{frame, media};
use std::path::Path;
use std::sync::Arc;

/// The layouts of the pictures a hook or visitor sees: 8-bit planar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PictureFormat {
    /// Y, then U and V at half width and half height (`yuv420p`, `yuvj420p`).
    Yuv420p,
    /// Y, then U and V at half width (`yuv422p`, `yuvj422p`).
    Yuv422p,
    /// Y, U and V at full size (`yuv444p`, `yuvj444p`).
    Yuv444p,
    /// Y only (`gray`).
    Gray8,
}

impl PictureFormat {
    /// The layout of FFmpeg's pixel format `f`, and whether it is the
    /// full-range (`yuvj*`) variant; `None` for any other format.
    fn of(f: Pixel) -> Option<(PictureFormat, bool)> {
        Some(match f {
            Pixel::YUV420P => (PictureFormat::Yuv420p, false),
            Pixel::YUVJ420P => (PictureFormat::Yuv420p, true),
            Pixel::YUV422P => (PictureFormat::Yuv422p, false),
            Pixel::YUVJ422P => (PictureFormat::Yuv422p, true),
            Pixel::YUV444P => (PictureFormat::Yuv444p, false),
            Pixel::YUVJ444P => (PictureFormat::Yuv444p, true),
            Pixel::GRAY8 => (PictureFormat::Gray8, false),
            _ => return None,
        })
    }

    /// How many planes the layout has.
    pub fn planes(self) -> usize {
        match self {
            PictureFormat::Gray8 => 1,
            _ => 3,
        }
    }
}

/// The matrix a picture's Y, U and V were derived from R, G and B with
/// (its stated matrix coefficients), as far as turning it back into RGB
/// needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Matrix {
    /// ITU-R BT.601 (stated as `bt470bg`, `smpte170m` or `fcc`).
    Bt601,
    /// ITU-R BT.709.
    Bt709,
    /// ITU-R BT.2020 (constant or non-constant luminance).
    Bt2020,
    /// Not stated.
    Unspecified,
    /// Another matrix (`smpte240m`, `ycgco`, ...).
    Other,
}

impl Matrix {
    /// The matrix FFmpeg's colour space `s` names.
    fn of(s: ffmpeg::color::Space) -> Matrix {
        use ffmpeg::color::Space;
        match s {
            Space::BT709 => Matrix::Bt709,
            Space::BT470BG | Space::SMPTE170M | Space::FCC => Matrix::Bt601,
            Space::BT2020NCL | Space::BT2020CL => Matrix::Bt2020,
            Space::Unspecified | Space::Reserved => Matrix::Unspecified,
            _ => Matrix::Other,
        }
    }
}

/// Where a picture lies in its video: its number and time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PictureInfo {
    /// Layout.
    pub format: PictureFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// True for full-range (JPEG) levels.
    pub full_range: bool,
    /// The matrix its Y, U and V were made with.
    pub matrix: Matrix,
    /// Its number, from 0, in presentation order.
    pub index: u64,
    /// Its presentation time, seconds from the video stream's start (0
    /// when the decoder gives no timestamp).
    pub time: f64,
}

/// A decoded picture, read-only (what a [`visit_pictures`] visitor gets).
#[derive(Clone, Copy)]
pub struct Picture<'a> {
    /// Its layout, size, number and time.
    pub info: PictureInfo,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
    /// The decoder's picture (before any conversion to 8-bit planar), when
    /// it is at hand (a visitor's), for its digest.
    decoded: Option<&'a frame::Video>,
    /// Its digest, when the decoder's caller took it already.
    digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for Picture<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("info", &self.info)
            .field("strides", &self.strides)
            .finish_non_exhaustive()
    }
}

impl<'a> Picture<'a> {
    /// The BLAKE3 (hex) of this decoded picture exactly as
    /// [`frame_digests`](crate::frame_digests) and [`compare`](crate::compare)
    /// define it (a header naming its size, layout, range, primaries,
    /// transfer and matrix, then each plane's rows without padding), so a
    /// digest taken while visiting a file can be checked against theirs.
    /// It is the decoder's picture's, before any conversion to 8-bit planar
    /// (a 10-bit picture's digest is of its 10-bit samples).
    /// `None` for a picture a [`PictureHook`] holds
    /// ([`PictureMut::as_picture`]): it is not the decoder's picture any more.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), custody_transcode::Error> {
    /// let mut digests = Vec::new();
    /// custody_transcode::visit_pictures("CLIP.MP4", |_| true, |p| {
    ///     digests.push(p.digest());
    ///     Ok(true)
    /// })?;
    /// let d = custody_transcode::frame_digests("CLIP.MP4", |_| true)?;
    /// assert_eq!(digests[0].as_deref(), Some(d[0].frames[0].blake3.as_str()));
    /// # Ok(()) }
    /// ```
    pub fn digest(&self) -> Option<String> {
        match self.digest {
            Some(d) => Some(blake3::Hash::from(d).to_hex().to_string()),
            None => self.decoded.map(crate::frames::picture_digest),
        }
    }

    /// Plane `i` (0 = luma) and its stride; an empty plane past the
    /// layout's planes.
    pub fn plane(&self, i: usize) -> (&'a [u8], usize) {
        match (self.planes.get(i), self.strides.get(i)) {
            (Some(p), Some(s)) => (p, *s),
            _ => (&[], 0),
        }
    }
}

/// A decoded picture whose samples may be changed in place (what a
/// [`PictureHook`] gets): its buffers belong to it alone, never shared with
/// the decoder's reference pictures.
#[derive(Debug)]
pub struct PictureMut<'a> {
    /// Its layout, size, number and time.
    pub info: PictureInfo,
    planes: Vec<&'a mut [u8]>,
    strides: [usize; 3],
}

impl PictureMut<'_> {
    /// Plane `i` (0 = luma), mutable, and its stride; `None` past the
    /// layout's planes.
    pub fn plane_mut(&mut self, i: usize) -> Option<(&mut [u8], usize)> {
        let s = *self.strides.get(i)?;
        self.planes.get_mut(i).map(|p| (&mut **p, s))
    }

    /// Every plane, mutable, with its stride (luma first).
    pub fn planes_mut(&mut self) -> (Vec<&mut [u8]>, Vec<usize>) {
        let n = self.planes.len();
        (
            self.planes.iter_mut().map(|p| &mut **p).collect(),
            self.strides[..n].to_vec(),
        )
    }

    /// The picture, read-only.
    pub fn as_picture(&self) -> Picture<'_> {
        let mut planes: [&[u8]; 3] = [&[], &[], &[]];
        for (d, s) in planes.iter_mut().zip(&self.planes) {
            *d = s;
        }
        Picture {
            info: self.info,
            planes,
            strides: self.strides,
            decoded: None,
            digest: None,
        }
    }
}

/// The function a [`PictureHook`] runs.
pub type PictureFn = dyn Fn(&mut PictureMut) -> std::result::Result<(), String> + Send + Sync;

/// A function applied to every decoded picture of an `access` re-encode
/// before it is encoded (to mask it, for instance), with a name for the
/// output's recorded parameters. An error it returns stops the job
/// ([`Error::Hook`]) and leaves no output.
#[derive(Clone)]
pub struct PictureHook {
    name: String,
    f: Arc<PictureFn>,
}

impl PictureHook {
    /// A hook called `name` (recorded in the output's parameters) running `f`.
    pub fn new(
        name: impl Into<String>,
        f: impl Fn(&mut PictureMut) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> PictureHook {
        PictureHook {
            name: name.into(),
            f: Arc::new(f),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies the hook to decoded picture `f`, numbered `index` and timed
    /// `time`: first makes its buffers its own (a decoder keeps references
    /// to the pictures later ones are predicted from; writing into those
    /// would corrupt every picture decoded after).
    pub(crate) fn apply(
        &self,
        path: &Path,
        f: &mut frame::Video,
        index: u64,
        time: f64,
    ) -> Result<()> {
        let (format, j) = supported(path, f.format())?;
        if !ffi::make_writable(f) {
            return Err(Error::Ffmpeg {
                path: path.to_path_buf(),
                what: "copying a picture for the picture hook".into(),
                message: "out of memory".into(),
            });
        }
        let info = PictureInfo {
            format,
            width: f.width(),
            height: f.height(),
            full_range: j || f.color_range() == ffmpeg::color::Range::JPEG,
            matrix: Matrix::of(f.color_space()),
            index,
            time,
        };
        let n = format.planes();
        let mut strides = [0; 3];
        for (i, s) in strides.iter_mut().enumerate().take(n) {
            *s = f.stride(i);
        }
        // Each plane's memory, disjoint: ffmpeg-next lends one at a time, so
        // the planes are split off a raw view of the frame through ffi.
        let planes = ffi::planes_mut(f, n);
        let mut p = PictureMut {
            info,
            planes,
            strides,
        };
        (self.f)(&mut p).map_err(|message| Error::Hook {
            path: path.to_path_buf(),
            hook: self.name.clone(),
            index,
            message,
        })
    }
}

impl std::fmt::Debug for PictureHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PictureHook")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The layout of `f`, or the error naming what the hook cannot take.
fn supported(path: &Path, f: Pixel) -> Result<(PictureFormat, bool)> {
    PictureFormat::of(f).ok_or_else(|| Error::Nothing {
        path: path.to_path_buf(),
        reason: format!(
            "its video decodes to {}; pictures are given to hooks and visitors only as 8-bit planar yuv420p, yuv422p, yuv444p (or yuvj*) or gray",
            f.descriptor().map_or("an unknown format", |d| d.name())
        ),
    })
}

/// Turns pictures of a layout hooks and visitors do not take (10- or 12-bit,
/// semi-planar `nv12`/`p010`, packed RGB) into 8-bit planar ones, with the
/// colour description and time of the original; the swscale context is made
/// for the first picture and remade when the size or layout changes.
pub(crate) struct To8Bit {
    /// The layout to convert to; `None`: the 8-bit planar layout with the
    /// source's chroma subsampling.
    target: Option<Pixel>,
    ctx: Option<(Pixel, u32, u32, ffmpeg::software::scaling::Context)>,
}

impl To8Bit {
    /// A converter to `target`, or (with `None`) to the 8-bit planar layout
    /// of each source's chroma subsampling.
    pub(crate) fn new(target: Option<Pixel>) -> To8Bit {
        To8Bit { target, ctx: None }
    }

    /// True when pictures of layout `f` need converting.
    pub(crate) fn needed(f: Pixel) -> bool {
        PictureFormat::of(f).is_none()
    }

    /// `f`, converted.
    pub(crate) fn run(&mut self, path: &Path, f: &frame::Video) -> Result<frame::Video> {
        let from = f.format();
        let (w, h) = (f.width(), f.height());
        let to = self.target.unwrap_or_else(|| eight_bit(from));
        if !self
            .ctx
            .as_ref()
            .is_some_and(|c| (c.0, c.1, c.2) == (from, w, h))
        {
            let ctx = ffmpeg::software::scaling::Context::get(
                from,
                w,
                h,
                to,
                w,
                h,
                ffmpeg::software::scaling::Flags::BICUBIC,
            )
            .map_err(|e| Error::ffmpeg(path, "setting up the picture converter", e))?;
            self.ctx = Some((from, w, h, ctx));
        }
        let mut out = frame::Video::empty();
        if let Some((_, _, _, ctx)) = self.ctx.as_mut() {
            ctx.run(f, &mut out)
                .map_err(|e| Error::ffmpeg(path, "converting a picture", e))?;
        }
        out.set_color_range(f.color_range());
        out.set_color_primaries(f.color_primaries());
        out.set_color_transfer_characteristic(f.color_transfer_characteristic());
        out.set_color_space(f.color_space());
        out.set_pts(f.timestamp());
        Ok(out)
    }
}

/// The 8-bit planar layout with `f`'s chroma subsampling (gray for a
/// single-component layout; 4:2:0 where nothing closer exists).
fn eight_bit(f: Pixel) -> Pixel {
    match f.descriptor() {
        Some(d) if d.nb_components() <= 2 => Pixel::GRAY8,
        Some(d) => match (d.log2_chroma_w(), d.log2_chroma_h()) {
            (0, 0) => Pixel::YUV444P,
            (1, 0) => Pixel::YUV422P,
            _ => Pixel::YUV420P,
        },
        None => Pixel::YUV420P,
    }
}

/// Decodes the first video stream of `path` (cover pictures excepted) and
/// gives each picture, read-only, to `visit` in presentation order with its
/// number and time (pictures of other layouts, 10-bit or semi-planar,
/// converted to 8-bit planar first); `visit` returns `Ok(false)` to stop early, an error to
/// stop with it. `progress` gets seconds decoded; returning false cancels
/// ([`Error::Cancelled`]). Returns the number of pictures visited.
///
/// ```no_run
/// # fn main() -> Result<(), custody_transcode::Error> {
/// let mut bright = 0;
/// custody_transcode::visit_pictures("CLIP.MP4", |_| true, |p| {
///     let (y, _) = p.plane(0);
///     if y[0] > 200 { bright += 1; }
///     Ok(true)
/// })?;
/// # Ok(()) }
/// ```
pub fn visit_pictures(
    path: impl AsRef<Path>,
    mut progress: impl FnMut(f64) -> bool,
    mut visit: impl FnMut(&Picture) -> Result<bool>,
) -> Result<u64> {
    ffi::init();
    let path = path.as_ref();
    let mut inp = Input::open(path)?;
    let st = inp
        .ctx
        .streams()
        .find(|s| s.parameters().medium() == media::Type::Video && !ffi::is_attached_pic(s))
        .ok_or_else(|| Error::Nothing {
            path: path.to_path_buf(),
            reason: "it holds no video stream".into(),
        })?;
    let stream = st.index();
    let start = crate::frames::video_start(&inp).unwrap_or(0.0);
    let mut dec = Dec::open(path, &st, 0)?;
    let tb = dec.tb;
    let mut pictures = Pictures::new(start, tb);
    let mut failed: Option<Error> = None;
    let mut on_picture = |f: &frame::Video| pictures.next(path, f, None, &mut visit);
    let mut video = |_: usize, f: &frame::Video| match on_picture(f) {
        Ok(go) => go,
        Err(e) => {
            failed = Some(e);
            false
        }
    };
    let mut audio = |_: usize, _: &frame::Audio| true;
    let mut stopped = false;
    while !stopped {
        let Some((p, k)) = inp.next()? else { break };
        if p.stream() != stream {
            continue;
        }
        let pos = Position {
            offset: u64::try_from(p.position()).ok(),
            stream: Some(stream),
            packet: Some(k),
            time: p.pts().or(p.dts()).map(|t| seconds(t, tb)),
        };
        if let Some(t) = pos.time
            && !progress(t - start)
        {
            return Err(Error::Cancelled);
        }
        dec.send(path, &p, pos)?;
        stopped = !dec.drain(path, pos, &mut video, &mut audio)?;
    }
    if !stopped {
        dec.finish(path)?;
        dec.drain(path, Position::default(), &mut video, &mut audio)?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(pictures.count()),
    }
}

/// Makes [`Picture`]s of the decoded pictures of one video stream, in
/// presentation order: numbered from 0, timed from the stream's `start`,
/// converted to 8-bit planar where needed. [`visit_pictures`] and the
/// proof's [`PictureVisitor`] share it, so both number and time alike.
pub(crate) struct Pictures {
    to8: To8Bit,
    start: f64,
    tb: ffmpeg::Rational,
    n: u64,
}

impl Pictures {
    /// For a stream in time base `tb` starting at `start` seconds.
    pub(crate) fn new(start: f64, tb: ffmpeg::Rational) -> Pictures {
        Pictures {
            to8: To8Bit::new(None),
            start,
            tb,
            n: 0,
        }
    }

    /// Pictures made so far.
    pub(crate) fn count(&self) -> u64 {
        self.n
    }

    /// Gives decoded picture `f` of `path` to `visit` as the next
    /// [`Picture`]; `digest`, when the caller has taken it already, is
    /// what [`Picture::digest`] returns.
    pub(crate) fn next<R>(
        &mut self,
        path: &Path,
        f: &frame::Video,
        digest: Option<[u8; 32]>,
        visit: &mut impl FnMut(&Picture) -> Result<R>,
    ) -> Result<R> {
        let decoded = f;
        let converted;
        let f = if To8Bit::needed(f.format()) {
            converted = self.to8.run(path, f)?;
            &converted
        } else {
            f
        };
        let (format, j) = supported(path, f.format())?;
        let mut planes: [&[u8]; 3] = [&[], &[], &[]];
        let mut strides = [0; 3];
        for i in 0..format.planes() {
            planes[i] = f.data(i);
            strides[i] = f.stride(i);
        }
        let pic = Picture {
            info: PictureInfo {
                format,
                width: f.width(),
                height: f.height(),
                full_range: j || f.color_range() == ffmpeg::color::Range::JPEG,
                matrix: Matrix::of(f.color_space()),
                index: self.n,
                time: f
                    .timestamp()
                    .map_or(0.0, |t| seconds(t, self.tb) - self.start),
            },
            planes,
            strides,
            decoded: Some(decoded),
            digest,
        };
        self.n += 1;
        visit(&pic)
    }
}

/// The function a [`PictureVisitor`] runs.
pub type VisitFn = dyn Fn(&Picture) -> std::result::Result<(), String> + Send + Sync;

/// A function given every picture of an `access` re-encode's output, read
/// only, as its proof decodes it (`Options::proof_pictures`): what a
/// reviewer needs of the copy (each picture's digest, thumbnails) without
/// decoding it a second time. An error it returns fails the job
/// ([`Error::Hook`]) and leaves no output.
///
/// ```
/// use custody_transcode::PictureVisitor;
/// let v = PictureVisitor::new("count", |p| {
///     if p.info.width == 0 { Err("an empty picture".into()) } else { Ok(()) }
/// });
/// assert_eq!(v.name(), "count");
/// ```
#[derive(Clone)]
pub struct PictureVisitor {
    name: String,
    f: Arc<VisitFn>,
}

impl PictureVisitor {
    /// A visitor called `name` (in its errors) running `f`.
    pub fn new(
        name: impl Into<String>,
        f: impl Fn(&Picture) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> PictureVisitor {
        PictureVisitor {
            name: name.into(),
            f: Arc::new(f),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn visit(&self, path: &Path, p: &Picture) -> Result<()> {
        (self.f)(p).map_err(|message| Error::Hook {
            path: path.to_path_buf(),
            hook: self.name.clone(),
            index: p.info.index,
            message,
        })
    }
}

impl std::fmt::Debug for PictureVisitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PictureVisitor")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The time of picture `f` of the video stream decoded by `dec`, seconds
/// from `start` (the stream's start).
pub(crate) fn picture_time(f: &frame::Video, dec: &Dec, start: f64) -> f64 {
    f.timestamp().map_or(0.0, |t| seconds(t, dec.tb) - start)
}
