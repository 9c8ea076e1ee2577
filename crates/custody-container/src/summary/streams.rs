//! The summary of a transport or program stream: tracks from the units
//! the demuxer indexed, durations from their timestamps.

use super::{Probe, ProbeOptions, SampleRow, TrackSummary};
use crate::error::Warning;
use crate::es::{Frame, Units};
use crate::names::{Codec, Container};
use crate::pes::StreamKind;

pub(super) struct StreamView<'s> {
    pub(super) id: u32,
    pub(super) kind: StreamKind,
    pub(super) codec: Option<&'static str>,
    pub(super) tag: Option<String>,
    pub(super) language: Option<String>,
    pub(super) units: &'s Units,
    pub(super) info: crate::codec::framer::StreamInfo,
}

/// The typical video frame duration (90 kHz): the commonest step between
/// consecutive decode times (the larger on a tie), 0 when there is none.
fn video_duration(units: &Units) -> i64 {
    let mut steps: Vec<i64> = Vec::new();
    let mut last: Option<i64> = None;
    for f in units.iter() {
        if let Some(d) = f.dts.or(f.pts) {
            if let Some(l) = last
                && d > l
            {
                steps.push(d - l);
            }
            last = Some(d);
        } else {
            last = None;
        }
    }
    steps.sort_unstable();
    let mut best = (0i64, 0usize);
    for run in steps.chunk_by(|a, b| a == b) {
        if run.len() >= best.1 {
            best = (run[0], run.len());
        }
    }
    best.0
}

/// A stream's units with their timestamps, gaps filled: (unit, dts, pts,
/// duration) in 90 kHz. Typical frame duration: audio from samples per
/// frame, video from the commonest DTS step.
fn timeline(
    units: &Units,
    sample_rate: Option<u32>,
) -> impl Iterator<Item = (Frame, Option<i64>, Option<i64>, i64)> + '_ {
    let audio_dur = move |f: &Frame| match sample_rate {
        Some(sr) if sr > 0 && f.samples > 0 => Some(f.samples as i64 * 90_000 / sr as i64),
        _ => None,
    };
    let video_dur = video_duration(units);
    let mut next: Option<i64> = None;
    units.iter().map(move |f| {
        let dur = audio_dur(&f).unwrap_or(video_dur);
        let dts = f.dts.or(f.pts).or(next);
        let pts = f.pts.or(if f.dts.is_none() { dts } else { None });
        next = dts.map(|d| d + dur);
        (f, dts, pts, dur)
    })
}

pub(super) fn from_streams<'s>(
    size: u64,
    container: Container,
    streams: impl Iterator<Item = StreamView<'s>>,
    warnings: Vec<Warning>,
    opts: ProbeOptions,
) -> Probe {
    let mut p = Probe::new(size, container);
    p.warnings = warnings;
    let mut start = i64::MAX;
    let mut end = i64::MIN;
    for s in streams {
        let mut first = i64::MAX;
        let mut last_end = i64::MIN;
        let mut keyframes = 0u64;
        for (f, _, pts, dur) in timeline(s.units, s.info.sample_rate) {
            keyframes += f.keyframe as u64;
            if let Some(t) = pts {
                first = first.min(t);
                last_end = last_end.max(t + dur);
            }
        }
        let duration_s =
            (first <= last_end && first != i64::MAX).then(|| (last_end - first) as f64 / 90_000.0);
        if first != i64::MAX {
            start = start.min(first);
            end = end.max(last_end);
        }
        let rows = opts.samples.then(|| {
            let mut rows = Vec::with_capacity(s.units.len());
            rows.extend(
                timeline(s.units, s.info.sample_rate).map(|(f, dts, pts, _)| SampleRow {
                    offset: f.offset,
                    size: f.size,
                    dts,
                    pts,
                    keyframe: f.keyframe,
                }),
            );
            rows
        });
        let video = s.kind == StreamKind::Video;
        let audio = s.kind == StreamKind::Audio;
        p.tracks.push(TrackSummary {
            id: s.id,
            kind: s.kind.into(),
            codec: s.codec.map(Codec::new),
            codec_tag: s.tag,
            samples: s.units.len() as u64,
            keyframes,
            duration_s,
            media_duration_s: None,
            width: s.info.width.filter(|_| video),
            height: s.info.height.filter(|_| video),
            sample_rate: s.info.sample_rate.filter(|_| audio),
            channels: s.info.channels.filter(|_| audio),
            language: s.language,
            sample_index: rows,
        });
    }
    if start <= end && start != i64::MAX {
        p.duration_s = Some((end - start) as f64 / 90_000.0);
    }
    p
}
