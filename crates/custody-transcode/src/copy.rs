//! Stream copies: remux (every track the target holds), join (consecutive
//! segments, chapters at the boundaries) and clip (a range cut at keyframes).

use crate::error::{Error, Result};
use crate::output::TempOutput;
use crate::provenance::Tags;
use crate::source::{Input, codec_name, kind_name, seconds};
use crate::source_hashes::SourceHasher;
use crate::writeback::Writeback;
use crate::{
    Action, Chapter, ClipRange, Container, Options, Phase, Profile, Progress, TrackOutcome,
    Written, ffi,
};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::{Packet, Rational, Rescale, Rounding, media};
use std::path::PathBuf;

/// The output stream of each input stream (`None`: dropped), decided from
/// the first input.
pub(crate) struct Plan {
    pub(crate) map: Vec<Option<usize>>,
    pub(crate) tracks: Vec<TrackOutcome>,
}

/// Why a stream of the given kind and codec cannot go into `fmt`, if it cannot.
pub(crate) fn refusal(
    stream: &ffmpeg::format::stream::Stream,
    fmt: &ffmpeg::format::Output,
    container: Container,
) -> Option<String> {
    let par = stream.parameters();
    let id = par.id();
    let kind = par.medium();
    let raw = ffi::params(&par);
    if id == ffmpeg::codec::Id::None {
        return Some(format!(
            "FFmpeg has no codec for this {} track, so {} cannot hold it",
            kind_name(kind),
            container.muxer()
        ));
    }
    match kind {
        media::Type::Video if raw.width <= 0 || raw.height <= 0 => {
            return Some("the track has no picture size (an empty track)".into());
        }
        media::Type::Audio if raw.sample_rate <= 0 => {
            return Some("the track has no sample rate (an empty track)".into());
        }
        media::Type::Video | media::Type::Audio | media::Type::Subtitle => {}
        _ => {
            if ffi::can_hold(fmt, id) != Some(true) {
                return Some(format!(
                    "{} cannot hold {} tracks ({})",
                    container.muxer(),
                    kind_name(kind),
                    codec_name(id)
                ));
            }
        }
    }
    if ffi::can_hold(fmt, id) == Some(false) {
        return Some(format!(
            "{} cannot hold {} ({})",
            container.muxer(),
            codec_name(id),
            kind_name(kind)
        ));
    }
    None
}

/// Compares a segment's streams with the first segment's, naming the first
/// difference a stream copy cannot join.
fn same_layout(first: &Input, other: &Input) -> std::result::Result<(), String> {
    let (a, b) = (first.ctx.nb_streams(), other.ctx.nb_streams());
    if a != b {
        return Err(format!("{b} streams where the first segment has {a}"));
    }
    for (sa, sb) in first.ctx.streams().zip(other.ctx.streams()) {
        let (pa, pb) = (sa.parameters(), sb.parameters());
        let i = sa.index();
        let what = format!("stream {i} ({})", kind_name(pa.medium()));
        if pa.medium() != pb.medium() {
            return Err(format!(
                "stream {i} is {} where the first segment's is {}",
                kind_name(pb.medium()),
                kind_name(pa.medium())
            ));
        }
        if pa.id() != pb.id() {
            return Err(format!(
                "{what}: codec {} where the first segment's is {}",
                codec_name(pb.id()),
                codec_name(pa.id())
            ));
        }
        let (ra, rb) = (ffi::params(&pa), ffi::params(&pb));
        let checks: [(&str, i32, i32); 8] = [
            ("width", ra.width, rb.width),
            ("height", ra.height, rb.height),
            ("pixel/sample format", ra.format, rb.format),
            ("sample rate", ra.sample_rate, rb.sample_rate),
            ("channels", ra.channels, rb.channels),
            ("profile", ra.profile, rb.profile),
            ("colour range", ra.color_range, rb.color_range),
            ("matrix", ra.color_space, rb.color_space),
        ];
        for (name, x, y) in checks {
            if x != y {
                return Err(format!(
                    "{what}: {name} {y} where the first segment's is {x}"
                ));
            }
        }
        if ra.extradata != rb.extradata {
            return Err(format!(
                "{what}: decoder configuration (parameter sets) differs ({} bytes vs {} in the first segment)",
                rb.extradata.len(),
                ra.extradata.len()
            ));
        }
    }
    Ok(())
}

/// Adds the output streams of `plan` for `input` to `octx`, with metadata
/// and dispositions; `padding` is each input stream's encoder delay.
pub(crate) fn plan_streams(
    input: &Input,
    octx: &mut ffmpeg::format::context::Output,
    container: Container,
    source_index: usize,
) -> Result<Plan> {
    let fmt = octx.format();
    let mut map = Vec::new();
    let mut tracks = Vec::new();
    for st in input.ctx.streams() {
        let par = st.parameters();
        let refused = refusal(&st, &fmt, container);
        let out = if refused.is_none() {
            let mut ost = octx
                .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
                .map_err(|e| Error::ffmpeg(&input.path, "adding an output stream", e))?;
            ost.set_parameters(par.clone());
            ffi::prepare_copy(&mut ost, 0);
            ost.set_time_base(st.time_base());
            ost.set_metadata(st.metadata().to_owned());
            ffi::set_disposition(&mut ost, ffi::disposition(&st));
            Some(ost.index())
        } else {
            None
        };
        map.push(out);
        tracks.push(TrackOutcome {
            source: source_index,
            stream: st.index(),
            kind: kind_name(par.medium()).into(),
            codec: codec_name(par.id()),
            action: match refused {
                None => Action::Copied,
                Some(reason) => Action::Dropped { reason },
            },
            output_stream: out,
        });
    }
    Ok(Plan { map, tracks })
}

/// Global metadata of the source (`source`, its own) plus Custody's
/// provenance tags.
pub(crate) fn metadata(
    mut d: ffmpeg::Dictionary<'static>,
    tags: &[(String, String)],
) -> ffmpeg::Dictionary<'static> {
    for (k, v) in tags {
        d.set(k, v);
    }
    d
}

/// Muxer options: MP4 and MOV get their index first and keep every tag.
pub(crate) fn muxer_options(container: Container) -> ffmpeg::Dictionary<'static> {
    let mut d = ffmpeg::Dictionary::new();
    if matches!(container, Container::Mp4 | Container::Mov) {
        d.set("movflags", "+faststart+use_metadata_tags");
    }
    d
}

/// The encoder delay (skipped samples) announced on a packet, if any.
fn skip_samples(p: &Packet) -> i32 {
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

/// Sets the encoder delay of the output streams whose first packets, among
/// `queued`, announce one (Matroska then records it as CodecDelay, so
/// decoders skip the same samples as they do in the source).
fn carry_padding(
    octx: &mut ffmpeg::format::context::Output,
    plan: &Plan,
    queued: &[(Packet, Rational, usize)],
    container: Container,
) {
    if container != Container::Matroska {
        return;
    }
    let mut seen = vec![false; plan.map.len()];
    for (p, _, _) in queued {
        let s = p.stream();
        if seen.get(s).copied().unwrap_or(true) {
            continue;
        }
        seen[s] = true;
        let skip = skip_samples(p);
        if let (Some(Some(o)), true) = (plan.map.get(s), skip > 0)
            && let Some(mut ost) = octx.stream_mut(*o)
        {
            ffi::prepare_copy(&mut ost, skip);
        }
    }
}

/// One stream copy: remux, join or clip, as `opts.profile` says.
pub(crate) fn stream_copy(
    inputs: &[PathBuf],
    tmp: &TempOutput,
    container: Container,
    opts: &Options,
    tags: &mut Tags,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Written> {
    let first = Input::open(&inputs[0])?;
    // Join: every segment must have the first one's streams and parameters.
    let mut total = first.duration_seconds().unwrap_or(0.0);
    for p in &inputs[1..] {
        let other = Input::open(p)?;
        if let Err(detail) = same_layout(&first, &other) {
            return Err(Error::Mismatch {
                path: p.clone(),
                first: inputs[0].clone(),
                detail,
            });
        }
        total += other.duration_seconds().unwrap_or(0.0);
    }
    let out_path = tmp.path();
    let mut octx = ffmpeg::format::output_as(out_path, container.muxer())
        .map_err(|e| Error::ffmpeg(tmp.dest(), "creating the output", e))?;
    let plan = plan_streams(&first, &mut octx, container, 0)?;
    if plan.map.iter().all(Option::is_none) {
        return Err(Error::Nothing {
            path: inputs[0].clone(),
            reason: format!("no track that {} can hold", container.muxer()),
        });
    }
    let mut tracks = plan.tracks.clone();
    for (i, p) in inputs.iter().enumerate().skip(1) {
        // Same layout: the same tracks, mapped the same way.
        for t in &plan.tracks {
            tracks.push(TrackOutcome {
                source: i,
                ..t.clone()
            });
        }
        let _ = p;
    }
    let source_metadata = first.ctx.metadata().to_owned();

    let clip = match (opts.profile, opts.from, opts.to) {
        (Profile::Clip, Some(f), Some(t)) => {
            if let Some(d) = first.duration_seconds()
                && f >= d
            {
                return Err(Error::Nothing {
                    path: inputs[0].clone(),
                    reason: format!(
                        "the clip starts at {f} s, after the recording's end ({d:.3} s)"
                    ),
                });
            }
            total = (t.min(total.max(t)) - f).max(0.0);
            Some(Clipper::new(&first, &plan, f, t))
        }
        _ => None,
    };

    let mut w = Writer {
        octx,
        header: false,
        queued: Vec::new(),
        path: tmp.dest().to_path_buf(),
        container,
        end: f64::NEG_INFINITY,
        done: 0.0,
        last_dts: Vec::new(),
        written: 0,
        repaired: 0,
        first_repair: None,
        writeback: Writeback::start(out_path),
        tags,
        source_metadata,
    };
    // Remux and join read every original packet: the proof's side of the
    // originals is hashed now, on another thread, instead of read again.
    let mut hasher = if opts.prove && clip.is_none() {
        SourceHasher::start(&first)
    } else {
        None
    };
    let mut chapters = Vec::new();
    let mut range = None;
    let mut input = Some(first);
    for (i, path) in inputs.iter().enumerate() {
        let mut inp = match input.take() {
            Some(x) => x,
            None => Input::open(path)?,
        };
        if let Some(h) = &mut hasher {
            h.source(&inp);
        }
        let tbs: Vec<Rational> = inp.ctx.streams().map(|s| s.time_base()).collect();
        // Join: each segment starts where the previous one ended. Its start
        // is its earliest decode time (an audio track's priming packet can
        // precede the container's start), read ahead.
        let mut base = inp.start_seconds();
        let mut ahead = Vec::new();
        if i > 0 {
            let kept: Vec<usize> = (0..plan.map.len())
                .filter(|&s| plan.map[s].is_some())
                .collect();
            while ahead.len() < QUEUE_MAX
                && !kept
                    .iter()
                    .all(|&s| ahead.iter().any(|(p, _): &(Packet, u64)| p.stream() == s))
            {
                match read(&mut inp, &mut hasher)? {
                    Some(x) => ahead.push(x),
                    None => break,
                }
            }
            for (p, _) in &ahead {
                let s = p.stream();
                if let (Some(Some(_)), Some(ts)) = (plan.map.get(s), p.dts().or(p.pts())) {
                    base = base.min(seconds(ts, tbs[s]));
                }
            }
        }
        let shift_us = if i == 0 || !w.end.is_finite() {
            0
        } else {
            ((w.end - base) * 1e6).ceil() as i64 + 1
        };
        let chapter_start = if i == 0 { base } else { w.end.max(base) };
        let done_before = w.done;
        let shifts: Vec<i64> = inp
            .ctx
            .streams()
            .map(|s| shift_us.rescale_with(Rational(1, 1_000_000), s.time_base(), Rounding::Up))
            .collect();
        let mut ahead = ahead.into_iter();
        match &clip {
            Some(c) => {
                let mut c = c.clone();
                range = Some(c.run(&mut inp, &plan, &tbs, &mut w, &mut *progress, total)?);
            }
            None => loop {
                let next = match ahead.next() {
                    Some(x) => Some(x),
                    None => read(&mut inp, &mut hasher)?,
                };
                let Some((p, k)) = next else { break };
                let s = p.stream();
                let Some(Some(o)) = plan.map.get(s).copied() else {
                    continue;
                };
                let t = p.dts().or(p.pts()).map(|ts| seconds(ts, tbs[s]));
                w.push(p, k, tbs[s], o, shifts[s], &plan)?;
                if let Some(t) = t {
                    w.done = w.done.max(done_before + (t - base).max(0.0));
                }
                if !progress(Progress {
                    phase: Phase::Write,
                    done: w.done,
                    total,
                }) {
                    return Err(Error::Cancelled);
                }
            },
        }
        w.flush_queue(&plan)?;
        if inputs.len() > 1 {
            chapters.push(Chapter {
                start: chapter_start,
                end: w.end.max(chapter_start),
                title: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            });
        }
    }
    if !w.header {
        w.start(&plan)?;
    }
    if w.written == 0 {
        return Err(Error::Nothing {
            path: inputs[0].clone(),
            reason: "it holds no media packet (an init segment, or an empty recording)".into(),
        });
    }
    let mut warnings = Vec::new();
    if let Some(first) = &w.first_repair {
        warnings.push(format!(
            "{} packet(s) with invalid timestamps in the source were given repaired ones (the bytes are untouched); first: {first}",
            w.repaired
        ));
    }
    for (n, c) in chapters.iter().enumerate() {
        let us = |s: f64| (s * 1e6).round() as i64;
        w.octx
            .add_chapter(
                n as i64 + 1,
                Rational(1, 1_000_000),
                us(c.start),
                us(c.end),
                &c.title,
            )
            .map_err(|e| Error::ffmpeg(&w.path, "adding a chapter", e))?;
    }
    ffi::clear_log();
    w.octx
        .write_trailer()
        .map_err(|e| Error::ffmpeg(&w.path, "finishing the output", e))?;
    w.writeback.done();
    let duration = if w.end.is_finite() { w.end } else { 0.0 };
    let Writer { writeback, .. } = w;
    Ok(Written {
        tracks,
        range,
        chapters,
        duration,
        warnings,
        audio_edited: Vec::new(),
        recorded: None,
        packets: hasher.and_then(SourceHasher::finish),
        writeback: Some(writeback),
    })
}

/// The next packet of `inp`, handed to the hasher of the originals too.
fn read(inp: &mut Input, hasher: &mut Option<SourceHasher>) -> Result<Option<(Packet, u64)>> {
    let next = inp.next()?;
    if let (Some(h), Some((p, _))) = (hasher.as_mut(), &next) {
        h.packet(p);
    }
    Ok(next)
}

/// The output side of a copy: the header is written once the first packets
/// of every audio track are known (their encoder delay goes into it).
struct Writer<'t, 's> {
    octx: ffmpeg::format::context::Output,
    header: bool,
    /// Packets read before the header: packet (input stream index kept),
    /// its time base, its output stream.
    queued: Vec<(Packet, Rational, usize)>,
    path: PathBuf,
    container: Container,
    /// End of what was written (source seconds after the shift).
    end: f64,
    done: f64,
    /// Last decode time written per output stream (output time base).
    last_dts: Vec<Option<i64>>,
    /// Packets written.
    written: u64,
    /// Timestamps the source gets wrong, repaired as the ffmpeg CLI does.
    repaired: u64,
    first_repair: Option<String>,
    writeback: Writeback,
    /// The output's tags, waited for when the header is written.
    tags: &'t mut Tags<'s>,
    /// The source's global metadata, written with the tags.
    source_metadata: ffmpeg::Dictionary<'static>,
}

/// Packets read before the header is written, at most.
const QUEUE_MAX: usize = 256;

impl Writer<'_, '_> {
    /// Writes `p` (from a stream of time base `itb`) shifted by `shift`
    /// ticks of `itb` into output stream `o`. A decode time after the
    /// presentation time (invalid in the source) is replaced by the median
    /// of the two and the previous decode time plus one, as the ffmpeg CLI
    /// does; the bytes are never touched.
    fn emit(&mut self, mut p: Packet, itb: Rational, o: usize, shift: i64) -> Result<()> {
        let otb = self.octx.stream(o).map(|s| s.time_base()).unwrap_or(itb);
        if shift != 0 {
            p.set_pts(p.pts().map(|t| t.saturating_add(shift)));
            p.set_dts(p.dts().map(|t| t.saturating_add(shift)));
        }
        p.rescale_ts(itb, otb);
        if o >= self.last_dts.len() {
            self.last_dts.resize(o + 1, None);
        }
        if let (Some(pts), Some(dts)) = (p.pts(), p.dts())
            && dts > pts
        {
            let next = self.last_dts[o].map_or(i64::MIN, |d| d.saturating_add(1));
            let mut v = [pts, dts, next];
            v.sort_unstable();
            if self.first_repair.is_none() {
                self.first_repair = Some(format!(
                    "output stream {o}: decode time {dts} after presentation time {pts}; both set to {}",
                    v[1]
                ));
            }
            self.repaired += 1;
            p.set_pts(Some(v[1]));
            p.set_dts(Some(v[1]));
        }
        if let Some(d) = p.dts() {
            self.last_dts[o] = Some(d);
        }
        p.set_position(-1);
        p.set_stream(o);
        ffi::clear_log();
        self.written += 1;
        self.writeback.wrote(p.size() as u64);
        p.write_interleaved(&mut self.octx)
            .map_err(|e| Error::ffmpeg(&self.path, "writing a packet", e))
    }

    fn start(&mut self, plan: &Plan) -> Result<()> {
        let tags = self.tags.get()?;
        self.octx
            .set_metadata(metadata(self.source_metadata.clone(), tags));
        carry_padding(&mut self.octx, plan, &self.queued, self.container);
        ffi::clear_log();
        self.octx
            .write_header_with(muxer_options(self.container))
            .map_err(|e| Error::ffmpeg(&self.path, "writing the output's header", e))?;
        self.header = true;
        Ok(())
    }

    /// Queues or writes `p`; `shift` is in ticks of `itb`.
    fn push(
        &mut self,
        mut p: Packet,
        k: u64,
        itb: Rational,
        o: usize,
        shift: i64,
        plan: &Plan,
    ) -> Result<()> {
        if let (Some(pts), d) = (p.pts(), p.duration())
            && pts != ffmpeg::ffi::AV_NOPTS_VALUE
        {
            let e = seconds(pts.saturating_add(shift).saturating_add(d.max(0)), itb);
            if e > self.end {
                self.end = e;
            }
        }
        if !self.header {
            if shift != 0 {
                p.set_pts(p.pts().map(|t| t.saturating_add(shift)));
                p.set_dts(p.dts().map(|t| t.saturating_add(shift)));
            }
            let _ = k;
            self.queued.push((p, itb, o));
            let audio_waiting = plan.tracks.iter().any(|t| {
                t.kind == "audio"
                    && t.output_stream.is_some()
                    && !self.queued.iter().any(|(q, _, _)| q.stream() == t.stream)
            });
            if !audio_waiting || self.queued.len() >= QUEUE_MAX {
                self.flush_queue(plan)?;
            }
            return Ok(());
        }
        self.emit(p, itb, o, shift)
    }

    fn flush_queue(&mut self, plan: &Plan) -> Result<()> {
        if !self.header {
            self.start(plan)?;
        }
        for (p, itb, o) in std::mem::take(&mut self.queued) {
            self.emit(p, itb, o, 0)?;
        }
        Ok(())
    }
}

/// Cuts a range at keyframes: from the last video keyframe at or before
/// `from` to the first video keyframe at or after `to` (or the end);
/// other tracks' packets are kept when they start inside that range.
#[derive(Clone)]
struct Clipper {
    from: f64,
    to: f64,
    requested: (f64, f64),
    video: Option<usize>,
    attached: Vec<bool>,
}

impl Clipper {
    fn new(input: &Input, plan: &Plan, from: f64, to: f64) -> Clipper {
        let base = input.start_seconds();
        let attached: Vec<bool> = input
            .ctx
            .streams()
            .map(|s| ffi::is_attached_pic(&s))
            .collect();
        let video = input
            .ctx
            .streams()
            .find(|s| {
                s.parameters().medium() == media::Type::Video
                    && !attached[s.index()]
                    && plan.map[s.index()].is_some()
            })
            .map(|s| s.index());
        Clipper {
            from: base + from,
            to: base + to,
            requested: (from, to),
            video,
            attached,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        inp: &mut Input,
        plan: &Plan,
        tbs: &[Rational],
        w: &mut Writer<'_, '_>,
        progress: &mut dyn FnMut(Progress) -> bool,
        total: f64,
    ) -> Result<ClipRange> {
        let base = inp.start_seconds();
        let time = |p: &Packet| p.pts().or(p.dts()).map(|t| seconds(t, tbs[p.stream()]));
        // Packets since the latest start candidate (at most a GOP).
        let mut held: Vec<(Packet, u64)> = Vec::new();
        let mut start: Option<f64> = None;
        let mut started = false;
        let mut end: Option<f64> = None;
        // Packets of other tracks at or after `to`, until the end keyframe is known.
        let mut pending: Vec<(Packet, u64)> = Vec::new();
        let mut shifts: Vec<i64> = vec![0; tbs.len()];
        let mut last = f64::NEG_INFINITY;
        let mut first_taken: Option<f64> = None;
        let held_limit = 1 << 20;
        while let Some((p, k)) = inp.next()? {
            let s = p.stream();
            let Some(Some(o)) = plan.map.get(s).copied() else {
                continue;
            };
            let t = time(&p);
            if let Some(t) = t {
                last = last.max(t + seconds(p.duration().max(0), tbs[s]));
            }
            if self.attached[s] {
                held.push((p, k));
                continue;
            }
            if !started {
                let is_ref = Some(s) == self.video;
                let key = p.is_key();
                match (self.video, t) {
                    // Audio only: every packet can start the clip.
                    (None, Some(t)) => {
                        if t >= self.from && t < self.to {
                            start = Some(t);
                            started = true;
                        } else {
                            continue;
                        }
                    }
                    (Some(_), Some(t)) if is_ref && key && t <= self.from => {
                        held.retain(|(q, _)| self.attached[q.stream()]);
                        start = Some(t);
                        held.push((p, k));
                        continue;
                    }
                    (Some(_), Some(t)) if is_ref && (t > self.from) => {
                        if start.is_none() {
                            if !key {
                                continue;
                            }
                            start = Some(t);
                        }
                        started = true;
                    }
                    _ => {
                        if start.is_some() || !is_ref {
                            held.push((p, k));
                            if held.len() > held_limit {
                                return Err(Error::Nothing {
                                    path: inp.path.clone(),
                                    reason: "no keyframe near the clip's start".into(),
                                });
                            }
                        }
                        continue;
                    }
                }
                // The start is known: shift so the clip begins at 0, then
                // write what was held.
                let st = start.unwrap_or(self.from);
                first_taken = Some(st);
                for (i, tb) in tbs.iter().enumerate() {
                    shifts[i] = -((st * 1e6).round() as i64).rescale(Rational(1, 1_000_000), *tb);
                }
                for (q, kq) in std::mem::take(&mut held) {
                    let qs = q.stream();
                    let keep = self.attached[qs]
                        || Some(qs) == self.video
                        || time(&q).is_some_and(|tq| tq >= st);
                    if let (true, Some(Some(oq))) = (keep, plan.map.get(qs).copied()) {
                        w.push(q, kq, tbs[qs], oq, shifts[qs], plan)?;
                    }
                }
            }
            let st = start.unwrap_or(self.from);
            let is_ref = Some(s) == self.video;
            if is_ref {
                if end.is_none() && p.is_key() && t.is_some_and(|t| t >= self.to && t > st) {
                    let e = t.unwrap_or(self.to);
                    end = Some(e);
                    for (q, kq) in std::mem::take(&mut pending) {
                        if time(&q).is_some_and(|tq| tq < e) {
                            let qs = q.stream();
                            if let Some(Some(oq)) = plan.map.get(qs).copied() {
                                w.push(q, kq, tbs[qs], oq, shifts[qs], plan)?;
                            }
                        }
                    }
                    continue;
                }
                if end.is_some() {
                    // Past the end keyframe: stop once other tracks are past it too.
                    if t.is_some_and(|t| t > end.unwrap_or(t) + 5.0) {
                        break;
                    }
                    continue;
                }
                w.push(p, k, tbs[s], o, shifts[s], plan)?;
            } else {
                match (t, end) {
                    (Some(t), _) if t < st => {}
                    (Some(t), Some(e)) if t >= e => {
                        if t > e + 5.0 {
                            break;
                        }
                    }
                    (Some(t), None) if self.video.is_some() && t >= self.to => {
                        pending.push((p, k));
                    }
                    (Some(t), None) if self.video.is_none() && t >= self.to => {
                        end = Some(t);
                        break;
                    }
                    _ => w.push(p, k, tbs[s], o, shifts[s], plan)?,
                }
            }
            if let Some(t) = t {
                w.done = (t - st).max(w.done);
            }
            if !progress(Progress {
                phase: Phase::Write,
                done: w.done,
                total,
            }) {
                return Err(Error::Cancelled);
            }
        }
        if !started {
            // The file ended before a packet past `from`: take the held GOP.
            let Some(st) = start else {
                return Err(Error::Nothing {
                    path: inp.path.clone(),
                    reason: format!(
                        "no packet in the range {} s to {} s",
                        self.requested.0, self.requested.1
                    ),
                });
            };
            first_taken = Some(st);
            for (i, tb) in tbs.iter().enumerate() {
                shifts[i] = -((st * 1e6).round() as i64).rescale(Rational(1, 1_000_000), *tb);
            }
            for (q, kq) in std::mem::take(&mut held) {
                let qs = q.stream();
                let keep = self.attached[qs]
                    || Some(qs) == self.video
                    || time(&q).is_some_and(|tq| tq >= st);
                if let (true, Some(Some(oq))) = (keep, plan.map.get(qs).copied()) {
                    w.push(q, kq, tbs[qs], oq, shifts[qs], plan)?;
                }
            }
        }
        let st = first_taken.unwrap_or(self.from);
        let e = match end {
            Some(e) => e,
            None => {
                // Reached the end of the file: what was pending is inside.
                for (q, kq) in std::mem::take(&mut pending) {
                    let qs = q.stream();
                    if let Some(Some(oq)) = plan.map.get(qs).copied() {
                        w.push(q, kq, tbs[qs], oq, shifts[qs], plan)?;
                    }
                }
                last
            }
        };
        // Microseconds: no float noise in what is reported.
        let us = |x: f64| (x * 1e6).round() / 1e6;
        Ok(ClipRange {
            requested_from: self.requested.0,
            requested_to: self.requested.1,
            from: us(st - base),
            to: us((e - base).max(st - base)),
        })
    }
}
