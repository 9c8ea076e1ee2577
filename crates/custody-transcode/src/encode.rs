//! Re-encodes: the preservation master (FFV1 version 3 + lossless audio in
//! Matroska) and the access copy (H.264 + AAC in MP4).

use crate::copy::{metadata, muxer_options, refusal};
use crate::error::{Error, Position, Result};
use crate::frames::{Dec, Recorder};
use crate::gops::{self, Fail, Gops};
use crate::output::TempOutput;
use crate::provenance::Tags;
use crate::source::{Input, codec_name, kind_name, seconds};
use crate::writeback::Writeback;
use crate::{
    Action, Container, Options, Parallel, Phase, Profile, Progress, TrackOutcome, Written, ffi,
};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::codec::Id;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::{Packet, Rational, Rescale, frame, media};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What happens to one input stream.
enum Route {
    Drop,
    Copy(usize),
    Video(usize),
    Audio(usize),
}

/// The picture the encoder is set up for: a change mid-stream is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Shape {
    width: u32,
    height: u32,
    format: Pixel,
}

/// How a decoded picture is handed to the video encoder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prep {
    shape: Shape,
    /// The encoder's picture format (the `yuv*` of a `yuvj*` source, or
    /// yuv420p for an access copy).
    enc_format: Pixel,
    full_range: bool,
}

impl Prep {
    /// Refuses a picture whose size or layout differs from the first one's.
    fn check(&self, path: &Path, f: &frame::Video, pos: Position) -> Result<()> {
        let shape = Shape {
            width: f.width(),
            height: f.height(),
            format: f.format(),
        };
        if shape == self.shape {
            return Ok(());
        }
        let was = self.shape;
        Err(Error::Corrupt {
            path: path.to_path_buf(),
            position: pos,
            message: format!(
                "the picture changes from {}x{} {:?} to {}x{} {:?}; one encoder cannot follow",
                was.width, was.height, was.format, shape.width, shape.height, shape.format
            ),
        })
    }

    /// A picture converted from `from` (by the overlay or the scaler),
    /// with `from`'s colour description, range and presentation time.
    fn converted(&self, from: &frame::Video, mut out: frame::Video) -> frame::Video {
        out.set_color_range(if self.full_range {
            ffmpeg::color::Range::JPEG
        } else {
            from.color_range()
        });
        out.set_color_primaries(from.color_primaries());
        out.set_color_transfer_characteristic(from.color_transfer_characteristic());
        out.set_color_space(from.color_space());
        out.set_pts(from.timestamp());
        out.set_kind(ffmpeg::picture::Type::None);
        out
    }

    /// Labels a picture's bytes as the encoder takes them (no conversion:
    /// the same bytes), with its presentation time as its timestamp.
    fn label(&self, mut f: frame::Video) -> frame::Video {
        let pts = f.timestamp();
        f.set_format(self.enc_format);
        if self.full_range {
            f.set_color_range(ffmpeg::color::Range::JPEG);
        }
        f.set_pts(pts);
        f.set_kind(ffmpeg::picture::Type::None);
        f
    }

    /// [`Prep::check`], then [`Prep::label`].
    pub(crate) fn apply(
        &self,
        path: &Path,
        f: frame::Video,
        pos: Position,
    ) -> Result<frame::Video> {
        self.check(path, &f, pos)?;
        Ok(self.label(f))
    }
}

/// `yuvj*` is `yuv*` with full range: FFV1 and x264 take the `yuv*` layout
/// and the range as a separate property, so the bytes are kept as they are.
fn unj(f: Pixel) -> (Pixel, bool) {
    match f {
        Pixel::YUVJ420P => (Pixel::YUV420P, true),
        Pixel::YUVJ422P => (Pixel::YUV422P, true),
        Pixel::YUVJ444P => (Pixel::YUV444P, true),
        Pixel::YUVJ440P => (Pixel::YUV440P, true),
        Pixel::YUVJ411P => (Pixel::YUV411P, true),
        f => (f, false),
    }
}

/// A video stream being re-encoded.
struct VideoWork {
    o: usize,
    dec: Dec,
    prep: Prep,
    scaler: Option<ffmpeg::software::scaling::Context>,
    /// The access overlay, which also converts to yuv420p (no scaler then).
    burner: Option<crate::overlay::Burner>,
    /// With a picture hook and pictures of a layout it does not take
    /// (10-bit, semi-planar): the conversion to yuv420p, made before the
    /// hook (no scaler then).
    hook_convert: Option<crate::picture::To8Bit>,
    enc: VideoEnc,
    enc_tb: Rational,
    /// Its slot in the recorder of decoded-frame digests.
    slot: usize,
    /// One picture's duration in `enc_tb` (from the frame rate), given to
    /// packets the encoder leaves without one, so the last picture keeps
    /// its time in the output's index.
    frame_ticks: i64,
    /// Pictures decoded so far (the next one's number, presentation order).
    pictures: u64,
    /// The last picture's timestamp given to the encoder: a picture the
    /// decoder leaves without one follows it by one picture's duration.
    last_pts: Option<i64>,
    /// The video stream's start, seconds (picture times are counted from it).
    start: f64,
}

enum VideoEnc {
    Single(ffmpeg::encoder::video::Encoder),
    Pool(Pool),
    /// Runs of GOPs decoded and encoded by workers of their own; the
    /// decoder of [`VideoWork`] is not used.
    Gops(Gops),
}

/// Several FFV1 encoders on their own threads, each encoding whole frames
/// (every frame is a keyframe, so frames are independent); packets are
/// written back in order.
struct Pool {
    jobs: Option<crossbeam_channel::Sender<(u64, frame::Video)>>,
    results: crossbeam_channel::Receiver<(u64, std::result::Result<Vec<Packet>, String>)>,
    handles: Vec<std::thread::JoinHandle<()>>,
    sent: u64,
    written: u64,
    ready: BTreeMap<u64, Vec<Packet>>,
}

/// An audio stream being re-encoded (PCM to FLAC, anything to AAC).
struct AudioWork {
    o: usize,
    dec: Dec,
    /// Where its decoded frames lie on the timeline the audio edits count.
    clock: crate::audio_edit::Clock,
    graph: Option<ffmpeg::filter::Graph>,
    enc: Option<ffmpeg::encoder::audio::Encoder>,
    target: Id,
    rate: u32,
    raw_bits: i32,
    slot: usize,
}

struct Job<'a> {
    path: &'a Path,
    dest: PathBuf,
    octx: ffmpeg::format::context::Output,
    videos: Vec<VideoWork>,
    audios: Vec<AudioWork>,
    /// Input time base of each input stream.
    itbs: Vec<Rational>,
    end: f64,
    /// Packets written.
    written: u64,
    writeback: Writeback,
    /// Why GOP-parallel video must give way to one decoder, once a run
    /// failed its check.
    retry: Option<String>,
    /// Digests of the source's decoded pictures and sound, taken as they
    /// are encoded: the proof compares the output's with them (not taken
    /// when the proof is off).
    rec: Recorder,
    record: bool,
    /// The caller's picture hook (`access`).
    hook: Option<crate::PictureHook>,
    /// Time ranges muted or bleeped (`access`), and how many samples per
    /// channel each changed, every track together.
    edits: Vec<crate::AudioEdit>,
    edited: Vec<u64>,
}

fn video_encoder_options(profile: Profile, opts: &Options) -> ffmpeg::Dictionary<'static> {
    let mut d = ffmpeg::Dictionary::new();
    match profile {
        Profile::Preservation => {
            d.set("level", "3");
            d.set("slices", &opts.slices.to_string());
            d.set("slicecrc", "1");
        }
        _ => {
            d.set("crf", &opts.crf.to_string());
            d.set("preset", &opts.preset);
        }
    }
    d
}

/// The source picture's properties, from its opened decoder.
#[derive(Clone, Copy)]
struct Look {
    sar: Rational,
    range: ffmpeg::color::Range,
    space: ffmpeg::color::Space,
    primaries: ffmpeg::color::Primaries,
    transfer: ffmpeg::color::TransferCharacteristic,
}

/// Opens one video encoder for `shape` with the source's colour properties.
#[allow(clippy::too_many_arguments)]
fn open_video_encoder(
    path: &Path,
    profile: Profile,
    opts: &Options,
    st: &ffmpeg::format::stream::Stream,
    enc_format: Pixel,
    look: Look,
    shape: Shape,
    threads: usize,
    global_header: bool,
) -> Result<ffmpeg::encoder::video::Encoder> {
    let (id, name) = match profile {
        Profile::Preservation => (Id::FFV1, "ffv1"),
        _ => (Id::H264, "libx264"),
    };
    let codec = ffmpeg::encoder::find_by_name(name)
        .or_else(|| ffmpeg::encoder::find(id))
        .ok_or_else(|| Error::MissingEncoder(name.into()))?;
    let mut ctx = ffmpeg::codec::context::Context::new_with_codec(codec);
    // Slice threads for FFV1 (1 when frames run in parallel in the pool).
    // x264 runs its own threads: frame threads, as the ffmpeg CLI has them;
    // slice threads alone (FFmpeg's wrapper asks x264 for those when only
    // slices are allowed) left a third of two cores idle.
    let kinds = if id == Id::FFV1 { 2 } else { 1 | 2 };
    ffi::set_threads(&mut ctx, threads, kinds);
    let mut enc = ctx
        .encoder()
        .video()
        .map_err(|e| Error::ffmpeg(path, "setting up the video encoder", e))?;
    enc.set_width(shape.width);
    enc.set_height(shape.height);
    enc.set_format(enc_format);
    enc.set_time_base(st.time_base());
    let rate = st.avg_frame_rate();
    if rate.numerator() > 0 && rate.denominator() > 0 {
        enc.set_frame_rate(Some(rate));
    }
    if look.sar.numerator() > 0 && look.sar.denominator() > 0 {
        enc.set_aspect_ratio(look.sar);
    }
    enc.set_color_range(look.range);
    enc.set_colorspace(look.space);
    enc.set_color_primaries(look.primaries);
    enc.set_color_transfer_characteristic(look.transfer);
    if profile == Profile::Preservation {
        enc.set_gop(1);
    }
    if global_header {
        enc.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    }
    ffi::clear_log();
    enc.open_with(video_encoder_options(profile, opts))
        .map_err(|e| Error::ffmpeg(path, format!("opening the {name} encoder"), e))
}

impl Pool {
    fn new(encoders: Vec<ffmpeg::encoder::video::Encoder>) -> Pool {
        let (jobs, job_rx) = crossbeam_channel::bounded::<(u64, frame::Video)>(encoders.len() * 2);
        let (res_tx, results) = crossbeam_channel::unbounded();
        let handles = encoders
            .into_iter()
            .map(|mut enc| {
                let rx = job_rx.clone();
                let tx = res_tx.clone();
                std::thread::spawn(move || {
                    while let Ok((seq, f)) = rx.recv() {
                        let r = encode_one(&mut enc, Some(&f));
                        if tx.send((seq, r)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            results,
            handles,
            sent: 0,
            written: 0,
            ready: BTreeMap::new(),
        }
    }
}

/// Sends a frame (or the end, `None`) and collects every packet ready.
pub(crate) fn encode_one(
    enc: &mut ffmpeg::encoder::video::Encoder,
    f: Option<&frame::Video>,
) -> std::result::Result<Vec<Packet>, String> {
    let r = match f {
        Some(f) => enc.send_frame(f),
        None => enc.send_eof(),
    };
    r.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        let mut p = Packet::empty();
        match enc.receive_packet(&mut p) {
            Ok(()) => out.push(p),
            Err(ffmpeg::Error::Eof)
            | Err(ffmpeg::Error::Other {
                errno: libc::EAGAIN,
            }) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

/// Re-encodes `input` into `tmp` as `opts.profile` (preservation or access) says.
pub(crate) fn transcode(
    input: &Path,
    tmp: &TempOutput,
    container: Container,
    opts: &Options,
    tags: &mut Tags,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Written> {
    match run(input, tmp, container, opts, tags, progress, true)? {
        Some(w) => Ok(w),
        // A run of GOPs did not decode alone as it must: start again with
        // one decoder (the output is written anew).
        None => run(input, tmp, container, opts, tags, progress, false)?.ok_or_else(|| {
            Error::InvalidArgument("the one-decoder transcode asked to start again".into())
        }),
    }
}

/// [`transcode`], with GOP-parallel video where `gops_allowed` and the
/// source permits; `None` when a run of GOPs failed its check and the job
/// must start again without.
fn run(
    input: &Path,
    tmp: &TempOutput,
    container: Container,
    opts: &Options,
    tags: &mut Tags,
    progress: &mut dyn FnMut(Progress) -> bool,
    gops_allowed: bool,
) -> Result<Option<Written>> {
    let profile = opts.profile;
    let mut inp = Input::open(input)?;
    let total = inp.duration_seconds().unwrap_or(0.0);
    let mut octx = ffmpeg::format::output_as(tmp.path(), container.muxer())
        .map_err(|e| Error::ffmpeg(tmp.dest(), "creating the output", e))?;
    let fmt = octx.format();
    let global_header = fmt.flags().contains(ffmpeg::format::Flags::GLOBAL_HEADER);
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let mut routes = Vec::new();
    let mut tracks = Vec::new();
    let mut rec = Recorder::new(crate::frames::video_start(&inp));
    let mut rec_outputs = Vec::new();
    let mut videos = Vec::new();
    let mut audios = Vec::new();
    let itbs: Vec<Rational> = inp.ctx.streams().map(|s| s.time_base()).collect();
    // The audio edits' timeline: the pictures' (from the first video
    // stream's start), else the file's.
    let origin = crate::frames::video_start(&inp).unwrap_or_else(|| inp.start_seconds());
    let editing = profile == Profile::Access && !opts.audio_edits.is_empty();
    for st in inp.ctx.streams() {
        let par = st.parameters();
        let id = par.id();
        let raw = ffi::params(&par);
        let kind = par.medium();
        let mut action = Action::Copied;
        let route = if kind == media::Type::Video
            && !ffi::is_attached_pic(&st)
            && raw.width > 0
            && raw.height > 0
        {
            let dec = Dec::open(input, &st, videos.len())?;
            let crate::frames::DecKind::Video(d, _) = &dec.kind else {
                return Err(Error::InvalidArgument("not a video decoder".into()));
            };
            let src_format = d.format();
            if src_format == Pixel::None {
                // FFmpeg could not decode a picture while opening the file:
                // the first packet usually says why, and where.
                let mut probe = Input::open(input)?;
                while probe.next()?.is_some() {}
                return Err(Error::Nothing {
                    path: input.to_path_buf(),
                    reason: format!(
                        "video stream {}: FFmpeg cannot tell its pixel format",
                        st.index()
                    ),
                });
            }
            let (plain, full) = unj(src_format);
            let look = Look {
                sar: d.aspect_ratio(),
                range: if full {
                    ffmpeg::color::Range::JPEG
                } else {
                    d.color_range()
                },
                space: d.color_space(),
                primaries: d.color_primaries(),
                transfer: d.color_transfer_characteristic(),
            };
            let full_range = look.range == ffmpeg::color::Range::JPEG;
            let enc_format = match profile {
                Profile::Preservation => {
                    let supported = ffmpeg::encoder::find(Id::FFV1)
                        .and_then(|c| c.video().ok())
                        .and_then(|v| v.formats().map(|f| f.collect::<Vec<_>>()))
                        .unwrap_or_default();
                    if !supported.contains(&plain) {
                        return Err(Error::Nothing {
                            path: input.to_path_buf(),
                            reason: format!(
                                "video stream {}: FFV1 cannot hold pixel format {} exactly",
                                st.index(),
                                plain.descriptor().map(|d| d.name()).unwrap_or("?")
                            ),
                        });
                    }
                    plain
                }
                _ => Pixel::YUV420P,
            };
            let shape = Shape {
                width: raw.width as u32,
                height: raw.height as u32,
                format: src_format,
            };
            let frames_pool = profile == Profile::Preservation
                && opts.parallel == Parallel::Frames
                && threads > 1;
            // Frames in parallel: runs of GOPs on workers of their own where
            // the source's pictures allow, else one decoder feeding a pool
            // of encoders.
            let runs = if frames_pool && gops_allowed {
                // A source the plan cannot read is left to the one-decoder
                // path, which reports its damage where it lies.
                gops::plan(input, st.index()).ok().flatten()
            } else {
                None
            };
            let enc = if frames_pool {
                let mut encs = Vec::new();
                for _ in 0..threads {
                    encs.push(open_video_encoder(
                        input,
                        profile,
                        opts,
                        &st,
                        enc_format,
                        look,
                        shape,
                        1,
                        global_header,
                    )?);
                }
                let mut ost = octx
                    .add_stream(ffmpeg::encoder::find(Id::FFV1))
                    .map_err(|e| Error::ffmpeg(tmp.dest(), "adding the video stream", e))?;
                ost.set_parameters(&encs[0]);
                ost.set_time_base(st.time_base());
                ost.set_metadata(st.metadata().to_owned());
                ffi::set_disposition(&mut ost, ffi::disposition(&st));
                let o = ost.index();
                let prep = Prep {
                    shape,
                    enc_format,
                    full_range,
                };
                match runs {
                    Some(runs) => {
                        let setup = gops::Setup {
                            path: input.to_path_buf(),
                            stream: st.index(),
                            prep,
                            record: opts.prove,
                        };
                        (VideoEnc::Gops(Gops::start(setup, runs, encs)), o)
                    }
                    None => (VideoEnc::Pool(Pool::new(encs)), o),
                }
            } else {
                let e = open_video_encoder(
                    input,
                    profile,
                    opts,
                    &st,
                    enc_format,
                    look,
                    shape,
                    if profile == Profile::Preservation {
                        threads
                    } else {
                        0
                    },
                    global_header,
                )?;
                let mut ost = octx
                    .add_stream(e.codec())
                    .map_err(|e| Error::ffmpeg(tmp.dest(), "adding the video stream", e))?;
                ost.set_parameters(&e);
                ost.set_time_base(st.time_base());
                ost.set_metadata(st.metadata().to_owned());
                ffi::set_disposition(&mut ost, ffi::disposition(&st));
                let o = ost.index();
                (VideoEnc::Single(e), o)
            };
            let burner = match &opts.overlay {
                Some(o) if profile == Profile::Access => Some(crate::overlay::Burner::new(
                    input,
                    o,
                    &crate::overlay::Picture {
                        size: (shape.width, shape.height),
                        format: plain,
                        time_base: dec.tb,
                        sar: d.aspect_ratio(),
                        first: crate::frames::video_start(&inp).unwrap_or(0.0),
                    },
                )?),
                _ => None,
            };
            let hook_convert = (opts.pictures.is_some()
                && profile == Profile::Access
                && burner.is_none()
                && crate::picture::To8Bit::needed(src_format))
            .then(|| crate::picture::To8Bit::new(Some(Pixel::YUV420P)));
            let scaler = if profile == Profile::Access
                && plain != Pixel::YUV420P
                && burner.is_none()
                && hook_convert.is_none()
            {
                Some(
                    ffmpeg::software::scaling::Context::get(
                        src_format,
                        shape.width,
                        shape.height,
                        Pixel::YUV420P,
                        shape.width,
                        shape.height,
                        ffmpeg::software::scaling::Flags::BICUBIC,
                    )
                    .map_err(|e| Error::ffmpeg(input, "setting up the scaler", e))?,
                )
            } else {
                None
            };
            action = Action::Encoded {
                codec: if profile == Profile::Preservation {
                    "ffv1"
                } else {
                    "h264"
                }
                .into(),
            };
            let slot = rec.add(st.index(), true, codec_name(id), 0);
            rec_outputs.push(enc.1);
            videos.push(VideoWork {
                o: enc.1,
                slot,
                dec,
                prep: Prep {
                    shape,
                    enc_format,
                    full_range,
                },
                scaler,
                burner,
                hook_convert,
                enc: enc.0,
                enc_tb: st.time_base(),
                pictures: 0,
                last_pts: None,
                start: crate::frames::video_start(&inp).unwrap_or(0.0),
                frame_ticks: {
                    let r = st.avg_frame_rate();
                    if r.numerator() > 0 && r.denominator() > 0 {
                        1i64.rescale(Rational(r.denominator(), r.numerator()), st.time_base())
                    } else {
                        0
                    }
                },
            });
            Route::Video(videos.len() - 1)
        } else if kind == media::Type::Audio && raw.sample_rate > 0 {
            let target = match (profile, id) {
                (
                    Profile::Preservation,
                    Id::PCM_S16LE | Id::PCM_S16BE | Id::PCM_S24LE | Id::PCM_S24BE,
                ) => Some(Id::FLAC),
                (Profile::Preservation, _) => None,
                // Edited sound is encoded afresh: its samples change.
                (_, Id::AAC) if !editing => None,
                _ => Some(Id::AAC),
            };
            match target {
                Some(t) => {
                    let raw_bits = if matches!(id, Id::PCM_S24LE | Id::PCM_S24BE) {
                        24
                    } else {
                        0
                    };
                    action = Action::Encoded {
                        codec: codec_name(t),
                    };
                    audios.push(AudioWork {
                        slot: usize::MAX,
                        o: usize::MAX,
                        dec: Dec::open(input, &st, audios.len())?,
                        clock: crate::audio_edit::Clock::new(origin, seconds(1, st.time_base())),
                        graph: None,
                        enc: None,
                        target: t,
                        rate: raw.sample_rate as u32,
                        raw_bits,
                    });
                    // The encoder opens with the first decoded frame; its
                    // stream is added now with provisional parameters.
                    let a = audios.last_mut().expect("just pushed");
                    let enc = open_audio_encoder(input, a, &st, global_header)?;
                    let mut ost = octx
                        .add_stream(enc.codec())
                        .map_err(|e| Error::ffmpeg(tmp.dest(), "adding an audio stream", e))?;
                    ost.set_parameters(&enc);
                    ost.set_time_base(Rational(1, a.rate as i32));
                    ost.set_metadata(st.metadata().to_owned());
                    ffi::set_disposition(&mut ost, ffi::disposition(&st));
                    a.o = ost.index();
                    a.enc = Some(enc);
                    a.slot = rec.add(st.index(), false, codec_name(id), 0);
                    rec_outputs.push(a.o);
                    Route::Audio(audios.len() - 1)
                }
                None => match refusal(&st, &fmt, container) {
                    Some(reason) => {
                        action = Action::Dropped { reason };
                        Route::Drop
                    }
                    None => add_copy(&mut octx, &st, tmp.dest())?,
                },
            }
        } else {
            match refusal(&st, &fmt, container) {
                Some(reason) => {
                    action = Action::Dropped { reason };
                    Route::Drop
                }
                None if kind == media::Type::Video => {
                    // A cover picture attached to the file, not part of the
                    // recording; Matroska as FFmpeg 5.1 writes it would turn
                    // it into a one-picture video track.
                    action = Action::Dropped {
                        reason: format!(
                            "a cover picture, not part of the recording ({} copies keep the recording only)",
                            profile.name()
                        ),
                    };
                    Route::Drop
                }
                None if !opts.other_tracks && kind != media::Type::Audio => {
                    action = Action::Dropped {
                        reason: format!(
                            "a {} track, not pictures or sound: left out as asked (it may carry positions or other personal data)",
                            kind_name(kind)
                        ),
                    };
                    Route::Drop
                }
                None => add_copy(&mut octx, &st, tmp.dest())?,
            }
        };
        let out = match &route {
            Route::Drop => None,
            Route::Copy(o) => Some(*o),
            Route::Video(i) => Some(videos[*i].o),
            Route::Audio(i) => Some(audios[*i].o),
        };
        tracks.push(TrackOutcome {
            source: 0,
            stream: st.index(),
            kind: kind_name(kind).into(),
            codec: codec_name(id),
            action,
            output_stream: out,
        });
        routes.push(route);
    }
    if routes.iter().all(|r| matches!(r, Route::Drop)) {
        return Err(Error::Nothing {
            path: input.to_path_buf(),
            reason: format!("no track that a {} copy can hold", profile.name()),
        });
    }

    // Read ahead until every copied audio track's first packet is known
    // (its encoder delay goes into the header), then write the header.
    let mut queued: Vec<(Packet, u64)> = Vec::new();
    let mut eof = false;
    loop {
        let waiting = routes.iter().enumerate().any(|(s, r)| {
            matches!(r, Route::Copy(_))
                && inp
                    .ctx
                    .stream(s)
                    .is_some_and(|st| st.parameters().medium() == media::Type::Audio)
                && !queued.iter().any(|(p, _)| p.stream() == s)
        });
        if !waiting || queued.len() >= 256 {
            break;
        }
        match inp.next()? {
            Some(x) => queued.push(x),
            None => {
                eof = true;
                break;
            }
        }
    }
    if container == Container::Matroska {
        let mut seen = vec![false; routes.len()];
        for (p, _) in &queued {
            let s = p.stream();
            if let (Some(Route::Copy(o)), false) = (routes.get(s), seen[s]) {
                seen[s] = true;
                let skip = first_skip(p);
                if skip > 0
                    && let Some(mut ost) = octx.stream_mut(*o)
                {
                    ffi::prepare_copy(&mut ost, skip);
                }
            }
        }
    }
    octx.set_metadata(metadata(inp.ctx.metadata().to_owned(), tags.get()?));
    ffi::clear_log();
    octx.write_header_with(muxer_options(container))
        .map_err(|e| Error::ffmpeg(tmp.dest(), "writing the output's header", e))?;

    let mut job = Job {
        path: input,
        dest: tmp.dest().to_path_buf(),
        octx,
        videos,
        audios,
        itbs,
        end: 0.0,
        written: 0,
        writeback: Writeback::start(tmp.path()),
        retry: None,
        rec,
        record: opts.prove,
        hook: opts.pictures.clone(),
        edits: if editing {
            opts.audio_edits.clone()
        } else {
            Vec::new()
        },
        edited: vec![0; opts.audio_edits.len()],
    };
    let base = inp.start_seconds();
    let handle = |job: &mut Job, p: Packet, k: u64| -> Result<()> {
        let s = p.stream();
        match routes.get(s) {
            None | Some(Route::Drop) => Ok(()),
            Some(Route::Copy(o)) => job.copy(p, *o),
            Some(Route::Video(i)) => job.video(*i, &p, k),
            Some(Route::Audio(i)) => job.audio(*i, &p, k),
        }
    };
    for (p, k) in queued {
        if let Err(e) = handle(&mut job, p, k) {
            return job.retry_or(e);
        }
    }
    if !eof {
        while let Some((p, k)) = inp.next()? {
            let s = p.stream();
            if let Some(ts) = p.dts().or(p.pts()) {
                let t = seconds(ts, job.itbs[s]) - base;
                job.end = job.end.max(t);
                if !progress(Progress {
                    phase: Phase::Write,
                    done: t.max(0.0),
                    total,
                }) {
                    return Err(Error::Cancelled);
                }
            }
            if let Err(e) = handle(&mut job, p, k) {
                return job.retry_or(e);
            }
        }
    }
    if let Err(e) = job.finish() {
        return job.retry_or(e);
    }
    if job.written == 0 {
        return Err(Error::Nothing {
            path: input.to_path_buf(),
            reason: "it holds no media packet (an init segment, or an empty recording)".into(),
        });
    }
    ffi::clear_log();
    job.octx
        .write_trailer()
        .map_err(|e| Error::ffmpeg(&job.dest, "finishing the output", e))?;
    job.writeback.done();
    let duration = job.end.max(total);
    let warnings =
        crate::audio_edit::unchanged(&opts.audio_edits, &job.edited, !job.audios.is_empty());
    let Job {
        octx,
        rec,
        writeback,
        edited,
        ..
    } = job;
    drop(octx);
    Ok(Some(Written {
        tracks,
        range: None,
        chapters: Vec::new(),
        duration,
        warnings,
        audio_edited: edited,
        recorded: Some((rec, rec_outputs)),
        packets: None,
        writeback: Some(writeback),
    }))
}

fn first_skip(p: &Packet) -> i32 {
    for sd in p.side_data() {
        if sd.kind() == ffmpeg::codec::packet::side_data::Type::SkipSamples {
            let d = sd.data();
            if d.len() >= 4 {
                return i32::from_le_bytes([d[0], d[1], d[2], d[3]]).max(0);
            }
        }
    }
    0
}

fn add_copy(
    octx: &mut ffmpeg::format::context::Output,
    st: &ffmpeg::format::stream::Stream,
    dest: &Path,
) -> Result<Route> {
    let mut ost = octx
        .add_stream(ffmpeg::encoder::find(Id::None))
        .map_err(|e| Error::ffmpeg(dest, "adding an output stream", e))?;
    ost.set_parameters(st.parameters());
    ffi::prepare_copy(&mut ost, 0);
    ost.set_time_base(st.time_base());
    ost.set_metadata(st.metadata().to_owned());
    ffi::set_disposition(&mut ost, ffi::disposition(st));
    Ok(Route::Copy(ost.index()))
}

/// Opens the audio encoder of `a` from the stream's parameters.
fn open_audio_encoder(
    path: &Path,
    a: &AudioWork,
    st: &ffmpeg::format::stream::Stream,
    global_header: bool,
) -> Result<ffmpeg::encoder::audio::Encoder> {
    let par = st.parameters();
    let raw = ffi::params(&par);
    let name = if a.target == Id::FLAC { "flac" } else { "aac" };
    let codec =
        ffmpeg::encoder::find(a.target).ok_or_else(|| Error::MissingEncoder(name.into()))?;
    let ctx = ffmpeg::codec::context::Context::new_with_codec(codec);
    let mut enc = ctx
        .encoder()
        .audio()
        .map_err(|e| Error::ffmpeg(path, "setting up the audio encoder", e))?;
    let channels = raw.channels.max(1);
    enc.set_rate(raw.sample_rate);
    enc.set_channel_layout(ffmpeg::ChannelLayout::default(channels));
    enc.set_channels(channels);
    let format = if a.target == Id::FLAC {
        if a.raw_bits == 24 {
            ffmpeg::format::Sample::I32(ffmpeg::format::sample::Type::Packed)
        } else {
            ffmpeg::format::Sample::I16(ffmpeg::format::sample::Type::Packed)
        }
    } else {
        ffmpeg::format::Sample::F32(ffmpeg::format::sample::Type::Planar)
    };
    enc.set_format(format);
    enc.set_time_base(Rational(1, raw.sample_rate));
    if a.target == Id::AAC {
        enc.set_bit_rate(128_000 * channels.min(2) as usize / 2);
    }
    if a.raw_bits > 0 {
        ffi::set_raw_bits(&mut enc, a.raw_bits);
    }
    if global_header {
        enc.set_flags(ffmpeg::codec::Flags::GLOBAL_HEADER);
    }
    ffi::clear_log();
    enc.open()
        .map_err(|e| Error::ffmpeg(path, format!("opening the {name} encoder"), e))
}

impl Job<'_> {
    fn write(&mut self, mut p: Packet, tb: Rational, o: usize) -> Result<()> {
        let otb = self.octx.stream(o).map(|s| s.time_base()).unwrap_or(tb);
        p.rescale_ts(tb, otb);
        p.set_position(-1);
        p.set_stream(o);
        ffi::clear_log();
        self.written += 1;
        self.writeback.wrote(p.size() as u64);
        p.write_interleaved(&mut self.octx)
            .map_err(|e| Error::ffmpeg(&self.dest, "writing a packet", e))
    }

    fn copy(&mut self, p: Packet, o: usize) -> Result<()> {
        let tb = self.itbs[p.stream()];
        self.write(p, tb, o)
    }

    /// `Ok(None)` when GOP-parallel video must give way (the error `e` only
    /// stopped the job), else `e`.
    fn retry_or(&mut self, e: Error) -> Result<Option<Written>> {
        match self.retry.take() {
            Some(_) => Ok(None),
            None => Err(e),
        }
    }

    /// Writes the next run of GOP-parallel stream `i`, waiting for it.
    fn write_run(&mut self, i: usize) -> Result<()> {
        let VideoEnc::Gops(g) = &mut self.videos[i].enc else {
            return Ok(());
        };
        let run = match g.take() {
            Ok(r) => r,
            Err(Fail::Error(e)) => return Err(e),
            Err(Fail::Retry(why)) => {
                self.retry = Some(why);
                // Stops the job; `retry_or` turns it into a new start.
                return Err(Error::Cancelled);
            }
        };
        let v = &self.videos[i];
        let (tb, o, ticks, slot) = (v.enc_tb, v.o, v.frame_ticks, v.slot);
        if self.record {
            for (unit, text) in run.digests {
                self.rec.push_video(slot, unit, text);
            }
        }
        for mut p in run.packets {
            if p.duration() <= 0 {
                p.set_duration(ticks);
            }
            self.write(p, tb, o)?;
        }
        Ok(())
    }

    fn video(&mut self, i: usize, p: &Packet, k: u64) -> Result<()> {
        // GOP-parallel: the workers decode; each run is written once the
        // reader is past it, in step with the other tracks.
        if let VideoEnc::Gops(_) = &self.videos[i].enc {
            while matches!(&self.videos[i].enc, VideoEnc::Gops(g) if g.due(k)) {
                self.write_run(i)?;
            }
            return Ok(());
        }
        let s = p.stream();
        let tb = self.itbs[s];
        let pos = Position {
            offset: u64::try_from(p.position()).ok(),
            stream: Some(s),
            packet: Some(k),
            time: p.pts().or(p.dts()).map(|t| seconds(t, tb)),
        };
        self.videos[i].dec.send(self.path, p, pos)?;
        let frames = self.videos[i].dec.take_video(self.path, pos)?;
        for f in frames {
            self.encode_video(i, f, pos)?;
        }
        Ok(())
    }

    fn encode_video(&mut self, i: usize, f: frame::Video, pos: Position) -> Result<()> {
        let t = f.timestamp().map(|ts| seconds(ts, self.videos[i].dec.tb));
        if self.record {
            self.rec.video(self.videos[i].slot, &f, t);
        }
        let v = &mut self.videos[i];
        v.prep.check(self.path, &f, pos)?;
        let index = v.pictures;
        v.pictures += 1;
        let mut f = f;
        if let Some(c) = &mut v.hook_convert {
            f = v.prep.converted(&f, c.run(self.path, &f)?);
        }
        if let Some(hook) = &self.hook {
            let time = crate::picture::picture_time(&f, &v.dec, v.start);
            hook.apply(self.path, &mut f, index, time)?;
        }
        let f = if v.hook_convert.is_some() {
            // Converted to the encoder's layout before the hook.
            f
        } else if let Some(b) = &mut v.burner {
            let mut f = f;
            // The decoded bytes, labelled `yuv*` (the range is kept apart).
            f.set_format(unj(f.format()).0);
            let out = b.burn(&f)?;
            v.prep.converted(&f, out)
        } else if let Some(sc) = &mut v.scaler {
            let mut out = frame::Video::empty();
            sc.run(&f, &mut out)
                .map_err(|e| Error::ffmpeg(self.path, "converting a picture", e))?;
            v.prep.converted(&f, out)
        } else {
            // Same bytes, labelled with the layout the encoder takes.
            v.prep.label(f)
        };
        let mut f = f;
        if f.pts().is_none() {
            // A picture without a timestamp (the last of some AVI streams):
            // one picture after the previous, never the previous's own.
            f.set_pts(v.last_pts.map(|l| l + v.frame_ticks.max(1)));
        }
        v.last_pts = f.pts().or(v.last_pts);
        let tb = v.enc_tb;
        let o = v.o;
        let ticks = v.frame_ticks;
        let packets = match &mut v.enc {
            VideoEnc::Single(e) => encode_one(e, Some(&f)).map_err(|m| Error::Ffmpeg {
                path: self.path.to_path_buf(),
                what: "encoding a picture".into(),
                message: m,
            })?,
            VideoEnc::Pool(pool) => {
                let seq = pool.sent;
                pool.sent += 1;
                if let Some(j) = &pool.jobs
                    && j.send((seq, f)).is_err()
                {
                    return Err(Error::Ffmpeg {
                        path: self.path.to_path_buf(),
                        what: "encoding a picture".into(),
                        message: "an encoder thread stopped".into(),
                    });
                }
                collect(pool, false, self.path)?
            }
            VideoEnc::Gops(_) => {
                return Err(Error::InvalidArgument(
                    "a picture decoded on the writer's thread for a GOP-parallel stream".into(),
                ));
            }
        };
        for mut p in packets {
            if p.duration() <= 0 {
                p.set_duration(ticks);
            }
            self.write(p, tb, o)?;
        }
        Ok(())
    }

    fn audio(&mut self, i: usize, p: &Packet, k: u64) -> Result<()> {
        let s = p.stream();
        let tb = self.itbs[s];
        let pos = Position {
            offset: u64::try_from(p.position()).ok(),
            stream: Some(s),
            packet: Some(k),
            time: p.pts().or(p.dts()).map(|t| seconds(t, tb)),
        };
        self.audios[i].dec.send(self.path, p, pos)?;
        let frames = self.audios[i].dec.take_audio(self.path, pos)?;
        for mut f in frames {
            let t = f.timestamp().map(|ts| seconds(ts, tb));
            if self.record {
                self.rec.audio(self.audios[i].slot, &f, t);
            }
            self.edit_audio(i, &mut f, t)?;
            self.encode_audio(i, Some(f), tb)?;
        }
        Ok(())
    }

    /// Mutes or bleeps the samples of `f`, decoded from audio stream `i`
    /// and presented at `time` (seconds of the stream), that the audio
    /// edits cover, in the decoder's own sample format.
    fn edit_audio(&mut self, i: usize, f: &mut frame::Audio, time: Option<f64>) -> Result<()> {
        if self.edits.is_empty() {
            return Ok(());
        }
        let fail = |message: String| Error::Ffmpeg {
            path: self.path.to_path_buf(),
            what: "muting or bleeping the sound".into(),
            message,
        };
        let (rate, samples) = (f.rate(), f.samples());
        if rate == 0 {
            return Err(fail("a decoded frame has no sample rate".into()));
        }
        let first = self.audios[i].clock.place(time, rate, samples);
        if !crate::audio_edit::touches(&self.edits, first, samples, rate) {
            return Ok(());
        }
        let Some(layout) = crate::audio_edit::Layout::of(f.format(), f.channels()) else {
            return Err(fail(format!(
                "decoded sound in sample format {:?} cannot be edited",
                f.format()
            )));
        };
        if !ffi::make_writable(f) {
            return Err(fail("out of memory copying a frame of sound".into()));
        }
        let mut planes = ffi::audio_planes_mut(f);
        crate::audio_edit::apply(
            &self.edits,
            layout,
            &mut planes,
            samples,
            first,
            rate,
            &mut self.edited,
        )
        .map_err(fail)
    }

    fn encode_audio(&mut self, i: usize, f: Option<frame::Audio>, itb: Rational) -> Result<()> {
        let path = self.path.to_path_buf();
        let a = &mut self.audios[i];
        let rate = a.rate as i32;
        let atb = Rational(1, rate.max(1));
        if let Some(f) = &f
            && a.graph.is_none()
        {
            a.graph = Some(audio_graph(&path, f, a)?);
        }
        let Some(graph) = a.graph.as_mut() else {
            return Ok(());
        };
        match f {
            Some(mut f) => {
                let ts = f.timestamp().map(|t| t.rescale(itb, atb));
                f.set_pts(ts);
                graph
                    .get("in")
                    .ok_or_else(|| Error::InvalidArgument("no filter input".into()))?
                    .source()
                    .add(&f)
                    .map_err(|e| Error::ffmpeg(&path, "filtering audio", e))?;
            }
            None => {
                graph
                    .get("in")
                    .ok_or_else(|| Error::InvalidArgument("no filter input".into()))?
                    .source()
                    .flush()
                    .map_err(|e| Error::ffmpeg(&path, "filtering audio", e))?;
            }
        }
        let mut out = Vec::new();
        let mut sink = graph
            .get("out")
            .ok_or_else(|| Error::InvalidArgument("no filter output".into()))?;
        loop {
            let mut fr = frame::Audio::empty();
            match sink.sink().frame(&mut fr) {
                Ok(()) => out.push(fr),
                Err(_) => break,
            }
        }
        let enc = a
            .enc
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("no audio encoder".into()))?;
        let o = a.o;
        let mut packets = Vec::new();
        for fr in &out {
            enc.send_frame(fr)
                .map_err(|e| Error::ffmpeg(&path, "encoding audio", e))?;
            drain_audio(enc, &mut packets, &path)?;
        }
        for p in packets {
            self.write(p, atb, o)?;
        }
        Ok(())
    }

    /// Drains decoders and encoders at the end of the input.
    fn finish(&mut self) -> Result<()> {
        for i in 0..self.videos.len() {
            while matches!(&self.videos[i].enc, VideoEnc::Gops(g) if !g.done()) {
                self.write_run(i)?;
            }
            self.videos[i].dec.finish(self.path)?;
            let frames = self.videos[i]
                .dec
                .take_video(self.path, Position::default())?;
            for f in frames {
                self.encode_video(i, f, Position::default())?;
            }
            let v = &mut self.videos[i];
            let (tb, o, ticks) = (v.enc_tb, v.o, v.frame_ticks);
            let packets = match &mut v.enc {
                VideoEnc::Single(e) => encode_one(e, None).map_err(|m| Error::Ffmpeg {
                    path: self.path.to_path_buf(),
                    what: "finishing the video encoder".into(),
                    message: m,
                })?,
                VideoEnc::Pool(pool) => {
                    pool.jobs = None;
                    let p = collect(pool, true, self.path)?;
                    for h in pool.handles.drain(..) {
                        let _ = h.join();
                    }
                    p
                }
                // Intra-only FFV1 holds no picture back: nothing to drain.
                VideoEnc::Gops(_) => Vec::new(),
            };
            for mut p in packets {
                if p.duration() <= 0 {
                    p.set_duration(ticks);
                }
                self.write(p, tb, o)?;
            }
        }
        for i in 0..self.audios.len() {
            let itb = self.itbs[self.audios[i].dec.stream];
            self.audios[i].dec.finish(self.path)?;
            let frames = self.audios[i]
                .dec
                .take_audio(self.path, Position::default())?;
            for mut f in frames {
                let t = f.timestamp().map(|ts| seconds(ts, itb));
                if self.record {
                    self.rec.audio(self.audios[i].slot, &f, t);
                }
                self.edit_audio(i, &mut f, t)?;
                self.encode_audio(i, Some(f), itb)?;
            }
            self.encode_audio(i, None, itb)?;
            let path = self.path.to_path_buf();
            let a = &mut self.audios[i];
            let (o, atb) = (a.o, Rational(1, a.rate as i32));
            let mut packets = Vec::new();
            if let Some(enc) = a.enc.as_mut() {
                let _ = enc.send_eof();
                drain_audio(enc, &mut packets, &path)?;
            }
            for p in packets {
                self.write(p, atb, o)?;
            }
        }
        Ok(())
    }
}

fn drain_audio(
    enc: &mut ffmpeg::encoder::audio::Encoder,
    out: &mut Vec<Packet>,
    path: &Path,
) -> Result<()> {
    loop {
        let mut p = Packet::empty();
        match enc.receive_packet(&mut p) {
            Ok(()) => out.push(p),
            Err(ffmpeg::Error::Eof)
            | Err(ffmpeg::Error::Other {
                errno: libc::EAGAIN,
            }) => return Ok(()),
            Err(e) => return Err(Error::ffmpeg(path, "encoding audio", e)),
        }
    }
}

/// Collects the pool's finished packets in order (all of them when `all`).
fn collect(pool: &mut Pool, all: bool, path: &Path) -> Result<Vec<Packet>> {
    let mut out = Vec::new();
    loop {
        let next = if all && pool.written < pool.sent {
            pool.results.recv().ok()
        } else {
            pool.results.try_recv().ok()
        };
        let Some((seq, r)) = next else { break };
        let packets = r.map_err(|m| Error::Ffmpeg {
            path: path.to_path_buf(),
            what: "encoding a picture".into(),
            message: m,
        })?;
        pool.ready.insert(seq, packets);
        while let Some(p) = pool.ready.remove(&pool.written) {
            out.extend(p);
            pool.written += 1;
        }
        if all && pool.written >= pool.sent {
            break;
        }
    }
    if all && pool.written < pool.sent {
        return Err(Error::Ffmpeg {
            path: path.to_path_buf(),
            what: "encoding pictures".into(),
            message: format!("{} pictures were never encoded", pool.sent - pool.written),
        });
    }
    Ok(out)
}

/// `abuffer -> aformat -> abuffersink` cutting the decoded audio into the
/// encoder's frame size, converting the sample format only where the target
/// needs it (never for FLAC: PCM decodes to what FLAC encodes).
fn audio_graph(path: &Path, f: &frame::Audio, a: &AudioWork) -> Result<ffmpeg::filter::Graph> {
    let mut g = ffmpeg::filter::Graph::new();
    let layout = f.channel_layout();
    let layout = if layout.bits() == 0 {
        ffmpeg::ChannelLayout::default(i32::from(f.channels()))
    } else {
        layout
    };
    let args = format!(
        "time_base=1/{r}:sample_rate={r}:sample_fmt={fmt}:channel_layout=0x{l:x}",
        r = f.rate(),
        fmt = f.format().name(),
        l = layout.bits()
    );
    let err = |e| Error::ffmpeg(path, "setting up the audio filter", e);
    let abuffer = ffmpeg::filter::find("abuffer")
        .ok_or_else(|| Error::MissingEncoder("abuffer filter".into()))?;
    let sink = ffmpeg::filter::find("abuffersink")
        .ok_or_else(|| Error::MissingEncoder("abuffersink filter".into()))?;
    g.add(&abuffer, "in", &args).map_err(err)?;
    g.add(&sink, "out", "").map_err(err)?;
    let enc = a
        .enc
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument("no audio encoder".into()))?;
    let spec = format!(
        "aformat=sample_fmts={}:channel_layouts=0x{:x}",
        enc.format().name(),
        layout.bits()
    );
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&spec))
        .map_err(err)?;
    g.validate().map_err(err)?;
    let fs = enc.frame_size();
    if fs > 0
        && let Some(mut out) = g.get("out")
    {
        out.sink().set_frame_size(fs);
    }
    Ok(g)
}
