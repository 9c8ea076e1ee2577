//! The packet proof of a stream copy: every packet of the output, in the
//! container-independent form of [`crate::canon`], equals a packet of the
//! original(s), in order; and the result says which original packets the
//! output covers. Nothing is decoded.

use crate::canon::Form;
use crate::error::Result;
use crate::ffi;
use crate::source::{Input, codec_name, seconds};
use ffmpeg_next as ffmpeg;
use std::path::{Path, PathBuf};

/// A run of consecutive original packets that the output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// The source (index into [`PacketProof::sources`]).
    pub source: usize,
    /// First packet (number within its stream, from 0).
    pub first: u64,
    /// Last packet (inclusive).
    pub last: u64,
}

/// The proof of one output track.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackProof {
    /// The output stream.
    pub output_stream: usize,
    /// Its codec (FFmpeg's name).
    pub codec: String,
    /// How packets were compared: `h264-vcl`, `hevc-vcl`, `aac-raw`,
    /// `bytes` (per packet), or `pcm-stream` (the samples as one stream,
    /// since demuxers regroup raw PCM freely).
    pub form: &'static str,
    /// Packets in the output track.
    pub packets: u64,
    /// Output packets matched to original packets, in order.
    pub matched: u64,
    /// The original stream they came from (same index in every source).
    pub source_stream: Option<usize>,
    /// The original packets covered, as runs.
    pub coverage: Vec<Coverage>,
    /// Packets of that original stream in each source.
    pub source_packets: Vec<u64>,
    /// True when every packet of the original stream is covered.
    pub complete: bool,
}

/// An output packet that equals no original packet in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unmatched {
    /// The output stream.
    pub output_stream: usize,
    /// The output packet (number within its stream).
    pub packet: u64,
    /// Its time in the output, seconds, when it has one.
    pub time: Option<f64>,
}

/// The packet proof of a stream copy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PacketProof {
    /// True when every output packet matched, in order, and (when
    /// completeness was asked for) every packet of every copied original
    /// track is covered; for a clip, when each track's coverage is one run.
    pub ok: bool,
    /// The output.
    pub output: PathBuf,
    /// The original(s), in order.
    pub sources: Vec<PathBuf>,
    /// One entry per output track.
    pub tracks: Vec<TrackProof>,
    /// The first output packets that matched nothing (at most 16), per track.
    pub unmatched: Vec<Unmatched>,
}

/// What is known of one output track before reading the originals.
struct OutTrack {
    id: ffmpeg::codec::Id,
    medium: ffmpeg::media::Type,
    form: Form,
    hashes: Vec<[u8; 32]>,
    times: Vec<Option<f64>>,
    /// PCM: the whole stream's length, hash and first bytes.
    pcm_len: u64,
    pcm_hash: blake3::Hasher,
    pcm_prefix: Vec<u8>,
}

/// One way of reading an output track as a subsequence of an original stream.
struct Candidate {
    stream: usize,
    next: usize,
    coverage: Vec<Coverage>,
    /// PCM candidates: (coverage, bytes consumed, hasher) for each start tried.
    pcm: Vec<PcmTry>,
    pcm_done: Option<Vec<Coverage>>,
    /// Clips: contiguous runs being tried (next output packet, coverage),
    /// and the first run that matched the whole output track.
    runs: Vec<(usize, Vec<Coverage>)>,
    run_done: Option<Vec<Coverage>>,
}

/// Runs tried at once when matching a clip (repeated content, such as
/// silent audio frames, can start many).
const MAX_RUNS: usize = 64;

struct PcmTry {
    coverage: Vec<Coverage>,
    consumed: u64,
    hasher: blake3::Hasher,
}

const PREFIX: usize = 64;
const MAX_TRIES: usize = 8;

fn add(cov: &mut Vec<Coverage>, source: usize, k: u64) {
    if let Some(c) = cov.last_mut()
        && c.source == source
        && c.last + 1 == k
    {
        c.last = k;
        return;
    }
    cov.push(Coverage {
        source,
        first: k,
        last: k,
    });
}

/// Proves that `output` is a stream copy of `sources` (one file, or the
/// segments of a join in order): every output packet equals an original
/// packet in container-independent form, in order. With `complete`, every
/// packet of each copied original stream must also be covered (remux,
/// join); without it, each track's coverage must be one run (a clip).
///
/// ```no_run
/// # fn main() -> Result<(), custody_transcode::Error> {
/// let p = custody_transcode::prove_copy(&["CLIP.MP4"], "CLIP.mkv", true)?;
/// assert!(p.ok, "{:?}", p.unmatched);
/// # Ok(()) }
/// ```
pub fn prove_copy<P: AsRef<Path>>(
    sources: &[P],
    output: impl AsRef<Path>,
    complete: bool,
) -> Result<PacketProof> {
    let sources: Vec<PathBuf> = sources.iter().map(|p| p.as_ref().to_path_buf()).collect();
    prove(&sources, output.as_ref(), None, complete, &mut |_| true)
}

/// The source side of a packet proof taken while the copy read the
/// originals (so the proof does not read them again): every packet's
/// canonical hash, in the order read, per source.
#[derive(Debug, Clone)]
pub(crate) struct SourcePackets {
    /// The kind of each stream of the first source.
    pub(crate) kinds: Vec<ffmpeg::media::Type>,
    /// Per source, in the order read: (stream, canonical hash).
    pub(crate) packets: Vec<Vec<(u32, [u8; 32])>>,
}

/// [`prove_copy`] of the output streams `only` (all when `None`).
pub(crate) fn prove(
    sources: &[PathBuf],
    output: &Path,
    only: Option<&[usize]>,
    complete: bool,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<PacketProof> {
    prove_against(sources, output, only, complete, None, progress)
}

/// [`prove`], taking the originals' packets from `recorded` when given
/// (hashed as the copy read them) instead of reading the originals again.
/// The output is always read back from the file written.
pub(crate) fn prove_against(
    sources: &[PathBuf],
    output: &Path,
    only: Option<&[usize]>,
    complete: bool,
    recorded: Option<SourcePackets>,
    progress: &mut dyn FnMut(f64) -> bool,
) -> Result<PacketProof> {
    ffi::init();
    // The output: every packet's canonical hash, per track.
    let mut out = Input::open(output)?;
    let mut tracks: Vec<OutTrack> = out
        .ctx
        .streams()
        .map(|s| {
            let par = s.parameters();
            let raw = ffi::params(&par);
            OutTrack {
                id: par.id(),
                medium: par.medium(),
                form: Form::of(par.id(), &raw.extradata),
                hashes: Vec::new(),
                times: Vec::new(),
                pcm_len: 0,
                pcm_hash: blake3::Hasher::new(),
                pcm_prefix: Vec::new(),
            }
        })
        .collect();
    let tbs: Vec<_> = out.ctx.streams().map(|s| s.time_base()).collect();
    while let Some((p, _)) = out.next()? {
        let s = p.stream();
        if only.is_some_and(|only| !only.contains(&s)) {
            continue;
        }
        let data = p.data().unwrap_or(&[]);
        let t = &mut tracks[s];
        if t.form == Form::Pcm {
            t.pcm_len += data.len() as u64;
            t.pcm_hash.update(data);
            if t.pcm_prefix.len() < PREFIX {
                let need = PREFIX - t.pcm_prefix.len();
                t.pcm_prefix
                    .extend_from_slice(&data[..need.min(data.len())]);
            }
            t.hashes.push([0; 32]);
        } else {
            t.hashes.push(t.form.hash(data));
        }
        let time = p.pts().or(p.dts()).map(|ts| seconds(ts, tbs[s]));
        t.times.push(time);
        if recorded.is_some()
            && let Some(time) = time
            && !progress(time)
        {
            return Err(crate::Error::Cancelled);
        }
    }
    drop(out);

    let mut cands: Vec<Vec<Candidate>> = Vec::new();
    let mut src_packets: Vec<Vec<u64>> = Vec::new();
    // PCM is matched as one byte stream, which a recording does not keep.
    let pcm = tracks.iter().any(|t| t.form == Form::Pcm);
    if let Some(rec) = recorded.filter(|r| r.packets.len() == sources.len() && !pcm) {
        // The originals as the copy read them.
        cands = candidates(&tracks, &rec.kinds, only);
        for (i, packets) in rec.packets.iter().enumerate() {
            let mut counts = vec![0u64; rec.kinds.len()];
            for &(s, h) in packets {
                let s = s as usize;
                let Some(count) = counts.get_mut(s) else {
                    continue;
                };
                let k = *count;
                *count += 1;
                for (o, cs) in cands.iter_mut().enumerate() {
                    let t = &tracks[o];
                    for c in cs.iter_mut().filter(|c| c.stream == s) {
                        step(c, t, h, i, k, complete);
                    }
                }
            }
            src_packets.push(counts);
        }
    } else {
        // The originals, streamed once, in order.
        for (i, path) in sources.iter().enumerate() {
            let mut inp = Input::open(path)?;
            if i == 0 {
                // Candidates: every original stream of the same kind (codec
                // names may change between containers: MPEG audio is `mp2` in
                // MPEG-TS and `mp3` in MP4); the content decides.
                let kinds: Vec<_> = inp.ctx.streams().map(|s| s.parameters().medium()).collect();
                cands = candidates(&tracks, &kinds, only);
            }
            let src_forms: Vec<Form> = inp
                .ctx
                .streams()
                .map(|s| {
                    let par = s.parameters();
                    Form::of(par.id(), &ffi::params(&par).extradata)
                })
                .collect();
            let itbs: Vec<_> = inp.ctx.streams().map(|s| s.time_base()).collect();
            let mut last_t = 0.0f64;
            while let Some((p, k)) = inp.next()? {
                let s = p.stream();
                let data = p.data().unwrap_or(&[]);
                let mut hash: Option<[u8; 32]> = None;
                for (o, cs) in cands.iter_mut().enumerate() {
                    let t = &tracks[o];
                    for c in cs.iter_mut().filter(|c| c.stream == s) {
                        if t.form == Form::Pcm {
                            pcm_step(c, t, data, i, k);
                            continue;
                        }
                        let h = *hash.get_or_insert_with(|| {
                            src_forms.get(s).copied().unwrap_or(Form::Bytes).hash(data)
                        });
                        step(c, t, h, i, k, complete);
                    }
                }
                if let Some(ts) = p.pts().or(p.dts()) {
                    last_t = last_t.max(seconds(ts, itbs[s]));
                    if !progress(last_t) {
                        return Err(crate::Error::Cancelled);
                    }
                }
            }
            src_packets.push(inp.counts.clone());
        }
    }

    // Each output track's best reading.
    let mut result = Vec::new();
    let mut unmatched = Vec::new();
    let mut ok = true;
    for (o, t) in tracks.iter().enumerate() {
        if only.is_some_and(|only| !only.contains(&o)) {
            continue;
        }
        let n = t.hashes.len() as u64;
        let best = cands[o].iter().max_by_key(|c| {
            if t.form == Form::Pcm {
                u64::from(c.pcm_done.is_some())
            } else {
                c.next as u64
            }
        });
        let (matched, coverage, stream) = match best {
            Some(c) if t.form == Form::Pcm => match &c.pcm_done {
                Some(cov) => (n, cov.clone(), Some(c.stream)),
                None if t.pcm_len == 0 => (n, Vec::new(), Some(c.stream)),
                None => (0, Vec::new(), Some(c.stream)),
            },
            Some(c) => (c.next as u64, c.coverage.clone(), Some(c.stream)),
            None => (0, Vec::new(), None),
        };
        let per_source: Vec<u64> = stream
            .map(|s| {
                src_packets
                    .iter()
                    .map(|c| c.get(s).copied().unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default();
        let covered: u64 = coverage.iter().map(|c| c.last - c.first + 1).sum();
        let all = per_source.iter().sum::<u64>();
        let full = covered == all;
        if matched < n {
            ok = false;
            if unmatched.len() < 16 {
                let k = matched as usize;
                unmatched.push(Unmatched {
                    output_stream: o,
                    packet: matched,
                    time: t.times.get(k).copied().flatten(),
                });
            }
        }
        if complete && !full {
            ok = false;
        }
        if !complete && coverage.len() > 1 {
            // A clip takes one run per source; joined clips do not exist.
            ok = false;
        }
        result.push(TrackProof {
            output_stream: o,
            codec: codec_name(t.id),
            form: match t.form {
                Form::Nal { hevc: false, .. } => "h264-vcl",
                Form::Nal { hevc: true, .. } => "hevc-vcl",
                Form::Aac => "aac-raw",
                Form::Pcm => "pcm-stream",
                Form::Bytes => "bytes",
            },
            packets: n,
            matched,
            source_stream: stream,
            coverage,
            source_packets: per_source,
            complete: full,
        });
    }
    Ok(PacketProof {
        ok,
        output: output.to_path_buf(),
        sources: sources.to_vec(),
        tracks: result,
        unmatched,
    })
}

/// The candidate original streams of each output track: every stream of
/// the same kind (`kinds`: the first original's streams).
fn candidates(
    tracks: &[OutTrack],
    kinds: &[ffmpeg::media::Type],
    only: Option<&[usize]>,
) -> Vec<Vec<Candidate>> {
    tracks
        .iter()
        .enumerate()
        .map(|(o, t)| {
            if only.is_some_and(|only| !only.contains(&o)) {
                return Vec::new();
            }
            kinds
                .iter()
                .enumerate()
                .filter(|(_, m)| **m == t.medium)
                .map(|(s, _)| Candidate {
                    stream: s,
                    next: 0,
                    coverage: Vec::new(),
                    pcm: Vec::new(),
                    pcm_done: None,
                    runs: Vec::new(),
                    run_done: None,
                })
                .collect()
        })
        .collect()
}

/// Feeds packet `k` of source `source`, of canonical hash `h`, to candidate
/// `c` of output track `t`.
fn step(c: &mut Candidate, t: &OutTrack, h: [u8; 32], source: usize, k: u64, complete: bool) {
    if complete {
        // Remux, join: the output is the whole original stream(s); greedy
        // in-order matching is exact.
        if c.next < t.hashes.len() && h == t.hashes[c.next] {
            c.next += 1;
            add(&mut c.coverage, source, k);
        }
        return;
    }
    // Clip: one contiguous run of original packets.
    if c.run_done.is_some() || t.hashes.is_empty() {
        return;
    }
    let mut done = None;
    c.runs.retain_mut(|(next, cov)| {
        if h != t.hashes[*next] {
            return false;
        }
        *next += 1;
        add(cov, source, k);
        if *next == t.hashes.len() && done.is_none() {
            done = Some(cov.clone());
        }
        *next < t.hashes.len()
    });
    if done.is_none() && h == t.hashes[0] && c.runs.len() < MAX_RUNS {
        let mut cov = Vec::new();
        add(&mut cov, source, k);
        if t.hashes.len() == 1 {
            done = Some(cov);
        } else {
            c.runs.push((1, cov));
        }
    }
    // Keep the longest partial run for the report.
    if let Some(best) = c.runs.iter().max_by_key(|r| r.0)
        && best.0 > c.next
    {
        c.next = best.0;
        c.coverage = best.1.clone();
    }
    if let Some(d) = done {
        c.next = t.hashes.len();
        c.coverage = d.clone();
        c.run_done = Some(d);
        c.runs.clear();
    }
}

/// Feeds one original PCM packet to the tries of candidate `c`, starting a
/// new try where the packet begins with the output's first bytes.
fn pcm_step(c: &mut Candidate, t: &OutTrack, data: &[u8], source: usize, k: u64) {
    if c.pcm_done.is_some() || t.pcm_len == 0 {
        return;
    }
    let m = t.pcm_prefix.len().min(data.len());
    if c.pcm.len() < MAX_TRIES && data[..m] == t.pcm_prefix[..m] {
        c.pcm.push(PcmTry {
            coverage: Vec::new(),
            consumed: 0,
            hasher: blake3::Hasher::new(),
        });
    }
    let mut done = None;
    c.pcm.retain_mut(|tr| {
        let left = t.pcm_len - tr.consumed;
        let take = (data.len() as u64).min(left) as usize;
        tr.hasher.update(&data[..take]);
        tr.consumed += take as u64;
        add(&mut tr.coverage, source, k);
        if tr.consumed < t.pcm_len {
            return true;
        }
        // The whole output stream consumed: it must end with this packet.
        if take == data.len() && tr.hasher.finalize() == t.pcm_hash.finalize() && done.is_none() {
            done = Some(tr.coverage.clone());
        }
        false
    });
    if done.is_some() {
        c.pcm_done = done;
        c.pcm.clear();
    }
}
