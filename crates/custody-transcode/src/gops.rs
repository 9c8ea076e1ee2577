//! GOP-parallel video for a preservation master.
//!
//! FFV1 with GOP 1 codes every picture alone, so the source's video can be
//! cut into runs of packets that each begin at a picture decodable on its
//! own (an H.264 or H.265 IDR picture, or any picture of an intra-only
//! codec); each run is decoded and encoded by a worker of its own, with no
//! threads inside the codecs and no picture crossing threads, while the
//! calling thread writes the runs' packets in order with the other tracks.
//!
//! A decoder started at such a picture gives exactly the pictures a decoder
//! started at the beginning gives from there on (nothing after an IDR
//! picture refers to anything before it). Each run is checked all the
//! same: as many pictures as packets, presented in the order of the
//! packets' timestamps; a run that fails the check stops the job with
//! [`Fail::Retry`], and the job starts again with one decoder.
//!
//! Memory: at most [`PER_WORKER`] runs per worker are being encoded or
//! wait to be written.

use crate::canon::Form;
use crate::encode::{Prep, encode_one};
use crate::error::{Error, Position, Result};
use crate::ffi;
use crate::frames::{Dec, Unit, video_unit};
use crate::source::{Input, seconds};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::codec::Id;
use ffmpeg_next::{Packet, frame};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Packets in a run, at least (runs end only where a picture stands alone).
pub(crate) const MIN_RUN: u64 = 30;

/// Runs handed out and not yet written, at most, per worker: one being
/// encoded and one done or waiting, so that no worker idles while the
/// writer waits for a slower one.
pub(crate) const PER_WORKER: usize = 2;

/// Runs decoded and encoded, counted for the tests.
#[cfg(test)]
pub(crate) static RUNS_DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A run of consecutive packets of the video stream, the first of them a
/// picture decodable on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// Number of its first packet within the stream.
    pub(crate) first: u64,
    /// Packets in the run.
    pub(crate) count: u64,
    /// The first packet's decode and presentation times and byte offset,
    /// to find it again after a seek.
    dts: Option<i64>,
    pts: Option<i64>,
    pos: Option<i64>,
}

/// Why a run was not encoded.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Decoding the run alone did not give the pictures it must (or its
    /// first packet could not be found again): encode with one decoder.
    Retry(String),
    /// An error of the source or of FFmpeg, as the sequential job reports it.
    Error(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Error(e)
    }
}

/// What one run became: the encoder's packets and, when the proof is on,
/// each decoded picture's digest, in presentation order.
pub(crate) struct Encoded {
    pub(crate) packets: Vec<Packet>,
    pub(crate) digests: Vec<(Unit, String)>,
}

/// How to tell the pictures that stand alone in a stream.
#[derive(Clone, Copy)]
enum Standalone {
    /// H.264 (`hevc` false) or H.265 IDR access units.
    Idr { hevc: bool, length_size: Option<u8> },
    /// Every picture (an intra-only codec).
    Every,
}

/// Cuts video stream `stream` of `path` into runs of at least [`MIN_RUN`]
/// packets, each beginning at a picture decodable on its own, by reading
/// its packets once; `None` when the codec's pictures cannot be told
/// (anything but H.264, H.265 and intra-only codecs) or there are fewer
/// than two runs.
pub(crate) fn plan(path: &Path, stream: usize) -> Result<Option<Vec<Run>>> {
    let mut inp = Input::open(path)?;
    let Some(st) = inp.ctx.stream(stream) else {
        return Ok(None);
    };
    let par = st.parameters();
    let id = par.id();
    let standalone = match (id, Form::of(id, &ffi::params(&par).extradata)) {
        (Id::H264 | Id::HEVC, Form::Nal { hevc, length_size }) => {
            Standalone::Idr { hevc, length_size }
        }
        (id, _) if ffi::is_intra_only(id) => Standalone::Every,
        _ => return Ok(None),
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut n = 0u64;
    while let Some((p, k)) = inp.next()? {
        if p.stream() != stream {
            continue;
        }
        n = k + 1;
        let start = match runs.last() {
            None => true,
            Some(r) => {
                k - r.first >= MIN_RUN
                    && match standalone {
                        Standalone::Every => true,
                        Standalone::Idr { hevc, length_size } => {
                            p.is_key() && is_idr(p.data().unwrap_or(&[]), hevc, length_size)
                        }
                    }
            }
        };
        if start {
            if let Some(r) = runs.last_mut() {
                r.count = k - r.first;
            }
            runs.push(Run {
                first: k,
                count: 0,
                dts: p.dts(),
                pts: p.pts(),
                pos: (p.position() >= 0).then_some(p.position() as i64),
            });
        }
    }
    if let Some(r) = runs.last_mut() {
        r.count = n - r.first;
    }
    Ok((runs.len() >= 2).then_some(runs))
}

/// True when the access unit `data` holds an IDR picture (NAL type 5 in
/// H.264; 19 or 20 in H.265), its NAL units prefixed by `length_size`-byte
/// lengths or, when `None`, by Annex B start codes.
pub(crate) fn is_idr(data: &[u8], hevc: bool, length_size: Option<u8>) -> bool {
    let idr = |header: u8| {
        if hevc {
            matches!((header >> 1) & 0x3f, 19 | 20)
        } else {
            header & 0x1f == 5
        }
    };
    match length_size {
        Some(ls) => {
            let ls = usize::from(ls);
            let mut i = 0usize;
            while i + ls <= data.len() {
                let n = data[i..i + ls]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                i += ls;
                if n == 0 || n > data.len() - i {
                    return false;
                }
                if idr(data[i]) {
                    return true;
                }
                i += n;
            }
            false
        }
        None => data
            .windows(4)
            .any(|w| w[0] == 0 && w[1] == 0 && w[2] == 1 && idr(w[3])),
    }
}

/// The workers and the runs in flight.
pub(crate) struct Gops {
    path: PathBuf,
    runs: Arc<Vec<Run>>,
    jobs: Option<crossbeam_channel::Sender<usize>>,
    results: crossbeam_channel::Receiver<(usize, std::result::Result<Encoded, Fail>)>,
    handles: Vec<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    /// Runs handed out so far.
    submitted: usize,
    /// The next run to write.
    next: usize,
    /// Runs done, waiting for the ones before them.
    ready: BTreeMap<usize, std::result::Result<Encoded, Fail>>,
    limit: usize,
}

/// What a worker needs to decode and encode runs of one stream.
pub(crate) struct Setup {
    pub(crate) path: PathBuf,
    pub(crate) stream: usize,
    pub(crate) prep: Prep,
    /// Take each picture's digest (for the proof).
    pub(crate) record: bool,
}

impl Gops {
    /// Starts one worker per encoder (FFV1 encoders, one thread each, all
    /// alike) on `runs`.
    pub(crate) fn start(
        setup: Setup,
        runs: Vec<Run>,
        encoders: Vec<ffmpeg::encoder::video::Encoder>,
    ) -> Gops {
        let runs = Arc::new(runs);
        let limit = PER_WORKER * encoders.len().max(1);
        // Both queues hold at most `limit` runs: `fill` never hands out more.
        let (jobs, job_rx) = crossbeam_channel::bounded::<usize>(limit);
        let (res_tx, results) = crossbeam_channel::bounded(limit);
        let path = setup.path.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let setup = Arc::new(setup);
        let handles = encoders
            .into_iter()
            .map(|enc| {
                let mut w = Worker {
                    setup: setup.clone(),
                    enc,
                    input: None,
                    stop: stop.clone(),
                };
                let (rx, tx, runs) = (job_rx.clone(), res_tx.clone(), runs.clone());
                std::thread::spawn(move || {
                    while let Ok(i) = rx.recv() {
                        let r = w.run(&runs[i]);
                        if tx.send((i, r)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        let mut g = Gops {
            path,
            runs,
            jobs: Some(jobs),
            results,
            handles,
            stop,
            submitted: 0,
            next: 0,
            ready: BTreeMap::new(),
            limit,
        };
        g.fill();
        g
    }

    /// Hands out runs up to the limit of runs in flight.
    fn fill(&mut self) {
        while self.submitted < self.runs.len() && self.submitted < self.next + self.limit {
            match &self.jobs {
                Some(j) if j.send(self.submitted).is_ok() => self.submitted += 1,
                _ => return,
            }
        }
    }

    /// True when the next run to write ends before packet `k` of the
    /// stream (the reader has gone past it).
    pub(crate) fn due(&self, k: u64) -> bool {
        self.runs
            .get(self.next)
            .is_some_and(|r| k >= r.first + r.count)
    }

    /// True when every run was written.
    pub(crate) fn done(&self) -> bool {
        self.next >= self.runs.len()
    }

    /// Waits for the next run and returns it.
    pub(crate) fn take(&mut self) -> std::result::Result<Encoded, Fail> {
        loop {
            if let Some(r) = self.ready.remove(&self.next) {
                self.next += 1;
                self.fill();
                return r;
            }
            match self.results.recv() {
                Ok((i, r)) => {
                    self.ready.insert(i, r);
                }
                Err(_) => {
                    return Err(Fail::Error(Error::Ffmpeg {
                        path: self.path.clone(),
                        what: "encoding pictures".into(),
                        message: "an encoder thread stopped".into(),
                    }));
                }
            }
        }
    }
}

impl Drop for Gops {
    fn drop(&mut self) {
        // Workers stop at their next packet and skip the runs still queued;
        // the result queue has room for every run handed out, so none
        // blocks sending.
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        for h in std::mem::take(&mut self.handles) {
            let _ = h.join();
        }
    }
}

/// One worker: its own reader of the source, a decoder per run, and its
/// encoder.
struct Worker {
    setup: Arc<Setup>,
    enc: ffmpeg::encoder::video::Encoder,
    input: Option<Input>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    /// Decodes and encodes one run.
    fn run(&mut self, run: &Run) -> std::result::Result<Encoded, Fail> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Fail::Error(Error::Cancelled));
        }
        let setup = self.setup.clone();
        let (path, s) = (setup.path.as_path(), setup.stream);
        let first = self.locate(run)?;
        let Some(inp) = self.input.as_mut() else {
            return Err(Fail::Retry("no reader".into()));
        };
        let st = inp
            .ctx
            .stream(s)
            .ok_or_else(|| Error::InvalidArgument(format!("no stream {s}")))?;
        let tb = st.time_base();
        let mut dec = Dec::open_threads(path, &st, 0, 1)?;
        let mut out = Encoded {
            packets: Vec::new(),
            digests: Vec::new(),
        };
        // The packets' presentation times, and the pictures'.
        let mut pts_in: Vec<Option<i64>> = Vec::new();
        let mut pts_out: Vec<Option<i64>> = Vec::new();
        let mut pending = Some(first);
        let mut n = 0u64;
        while n < run.count {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Fail::Error(Error::Cancelled));
            }
            let p = match pending.take() {
                Some(p) => p,
                None => match inp.next()? {
                    Some((p, _)) if p.stream() == s => p,
                    Some(_) => continue,
                    None => break,
                },
            };
            let pos = Position {
                offset: u64::try_from(p.position()).ok(),
                stream: Some(s),
                packet: Some(run.first + n),
                time: p.pts().or(p.dts()).map(|t| seconds(t, tb)),
            };
            pts_in.push(p.pts());
            dec.send(path, &p, pos)?;
            for f in dec.take_video(path, pos)? {
                pts_out.push(f.pts());
                encode(&mut self.enc, &setup, f, pos, tb, &mut out)?;
            }
            n += 1;
        }
        if n < run.count {
            return Err(Fail::Retry(format!(
                "the run from packet {} ended after {n} of {} packets",
                run.first, run.count
            )));
        }
        dec.finish(path)?;
        for f in dec.take_video(path, Position::default())? {
            pts_out.push(f.pts());
            encode(&mut self.enc, &setup, f, Position::default(), tb, &mut out)?;
        }
        check(run, pts_in, &pts_out)?;
        #[cfg(test)]
        RUNS_DONE.fetch_add(1, Ordering::Relaxed);
        // FFV1 holds no picture back: one packet each, or some were lost.
        if out.packets.len() != pts_out.len() {
            return Err(Fail::Error(Error::Ffmpeg {
                path: setup.path.clone(),
                what: "encoding pictures".into(),
                message: format!(
                    "{} packets for {} pictures from packet {}",
                    out.packets.len(),
                    pts_out.len(),
                    run.first
                ),
            }));
        }
        Ok(out)
    }

    /// Moves this worker's reader to the run's first packet and returns it.
    fn locate(&mut self, run: &Run) -> std::result::Result<Packet, Fail> {
        let path = self.setup.path.clone();
        let s = self.setup.stream;
        let is_first = |p: &Packet| {
            p.dts() == run.dts
                && p.pts() == run.pts
                && (run.pos.is_none() || p.position() < 0 || Some(p.position() as i64) == run.pos)
        };
        // A seek to the nearest keyframe at or before it, when the run is
        // not the first and the demuxer can.
        if run.first > 0
            && let Some(inp) = self.input.as_mut()
            && let Some(ts) = run.dts.or(run.pts)
            && ffi::seek_stream(&mut inp.ctx, s, ts)
        {
            while let Some((p, _)) = inp.next()? {
                if p.stream() != s {
                    continue;
                }
                if is_first(&p) {
                    inp.counts[s] = run.first + 1;
                    return Ok(p);
                }
                // Past it: the seek landed after the run's start.
                if let (Some(a), Some(b)) = (p.dts().or(p.pts()), run.dts.or(run.pts))
                    && a > b
                {
                    break;
                }
            }
        }
        // Otherwise from the beginning, counting packets.
        let mut inp = Input::open(&path)?;
        while let Some((p, k)) = inp.next()? {
            if p.stream() != s || k < run.first {
                continue;
            }
            if !is_first(&p) {
                break;
            }
            self.input = Some(inp);
            return Ok(p);
        }
        Err(Fail::Retry(format!(
            "packet {} of stream {s} was not found again",
            run.first
        )))
    }
}

/// Hashes (when recording), prepares and encodes one decoded picture.
fn encode(
    enc: &mut ffmpeg::encoder::video::Encoder,
    setup: &Setup,
    f: frame::Video,
    pos: Position,
    tb: ffmpeg::Rational,
    out: &mut Encoded,
) -> Result<()> {
    if setup.record {
        let t = f.timestamp().map(|ts| seconds(ts, tb));
        out.digests.push(video_unit(&f, t));
    }
    let f = setup.prep.apply(&setup.path, f, pos)?;
    let packets = encode_one(enc, Some(&f)).map_err(|m| Error::Ffmpeg {
        path: setup.path.clone(),
        what: "encoding a picture".into(),
        message: m,
    })?;
    out.packets.extend(packets);
    Ok(())
}

/// A run decoded alone must give one picture per packet, presented in the
/// order of the packets' presentation times.
fn check(
    run: &Run,
    mut pts_in: Vec<Option<i64>>,
    pts_out: &[Option<i64>],
) -> std::result::Result<(), Fail> {
    if pts_out.len() as u64 != run.count {
        return Err(Fail::Retry(format!(
            "the run from packet {} gave {} pictures for {} packets",
            run.first,
            pts_out.len(),
            run.count
        )));
    }
    if pts_in.iter().all(Option::is_some) {
        pts_in.sort_unstable();
        if pts_in != pts_out {
            return Err(Fail::Retry(format!(
                "the run from packet {} presents its pictures out of order",
                run.first
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{Options, Parallel, Profile, archive, compare, prove_copy};

    /// A `seconds`-long 320x240 30 fps H.264 + AAC clip in MP4, an IDR
    /// picture every `gop` pictures and B-pictures between (so pictures are
    /// reordered), made by the ffmpeg CLI.
    pub(crate) fn clip(dir: &Path, seconds: u32, gop: u32) -> PathBuf {
        let path = dir.join(format!("clip-{seconds}s-g{gop}.mp4"));
        let d = seconds.to_string();
        let g = gop.to_string();
        let out = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=s=320x240:r=30:d={d}"))
            .args(["-f", "lavfi", "-i"])
            .arg(format!("sine=f=440:r=48000:d={d}"))
            .args(["-c:v", "libx264", "-preset", "veryfast", "-bf", "2"])
            .args(["-g", &g, "-keyint_min", &g, "-sc_threshold", "0"])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
            .arg(&path)
            .output()
            .expect("ffmpeg is installed (scripts/setup.sh)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    #[test]
    fn runs_decoded_alone_give_the_one_decoder_pictures_and_packets() {
        let dir = tempfile::tempdir().unwrap();
        let src = clip(dir.path(), 4, 30);
        let runs = plan(&src, 0).unwrap().expect("four GOPs make runs");
        let firsts: Vec<u64> = runs.iter().map(|r| r.first).collect();
        assert_eq!(firsts, [0, 30, 60, 90]);
        assert!(runs.iter().all(|r| r.count == 30));

        let before = RUNS_DONE.load(Ordering::Relaxed);
        let gop_out = dir.path().join("gops.mkv");
        let opts = Options {
            profile: Profile::Preservation,
            threads: 2,
            ..Default::default()
        };
        let a = archive(&[&src], &gop_out, &opts, |_| true).unwrap();
        assert!(a.proof.as_ref().is_some_and(|p| p.ok()), "{:?}", a.proof);
        assert!(
            RUNS_DONE.load(Ordering::Relaxed) - before >= 4,
            "the runs were not used"
        );
        // Compared again from scratch, both files decoded in full.
        assert!(compare(&src, &gop_out, |_| true).unwrap().identical);
        // One decoder, FFmpeg's slice threads: the very same packets.
        let one = dir.path().join("one.mkv");
        let slices = Options {
            parallel: Parallel::Slices,
            prove: false,
            ..opts
        };
        archive(&[&src], &one, &slices, |_| true).unwrap();
        let same = prove_copy(&[&gop_out], &one, true).unwrap();
        assert!(same.ok, "{:?}", same.unmatched);
    }

    #[test]
    fn idr_access_units_are_told_in_both_framings() {
        // Length-prefixed: an SEI (type 6), then an IDR slice (type 5).
        let avcc = [0, 0, 0, 2, 0x06, 0x05, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        assert!(is_idr(&avcc, false, Some(4)));
        // A non-IDR slice (type 1).
        let p = [0, 0, 0, 3, 0x41, 0x9a, 0x00];
        assert!(!is_idr(&p, false, Some(4)));
        // A length running past the end is not read.
        assert!(!is_idr(&[0, 0, 0, 9, 0x65], false, Some(4)));
        // Annex B.
        assert!(is_idr(
            &[0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88],
            false,
            None
        ));
        assert!(!is_idr(&[0, 0, 0, 1, 0x41, 0x9a], false, None));
        // H.265: IDR_W_RADL (19) is, CRA (21) is not.
        assert!(is_idr(&[0, 0, 0, 2, 19 << 1, 1], true, Some(4)));
        assert!(!is_idr(&[0, 0, 0, 2, 21 << 1, 1], true, Some(4)));
    }

    #[test]
    fn a_run_must_give_one_picture_per_packet_in_order() {
        let run = Run {
            first: 30,
            count: 3,
            dts: Some(0),
            pts: Some(1),
            pos: None,
        };
        let ok = check(
            &run,
            vec![Some(3), Some(1), Some(2)],
            &[Some(1), Some(2), Some(3)],
        );
        assert!(ok.is_ok());
        let short = check(&run, vec![Some(3), Some(1), Some(2)], &[Some(1), Some(3)]);
        assert!(matches!(short, Err(Fail::Retry(_))));
        let disorder = check(
            &run,
            vec![Some(3), Some(1), Some(2)],
            &[Some(2), Some(1), Some(3)],
        );
        assert!(matches!(disorder, Err(Fail::Retry(_))));
    }
}
