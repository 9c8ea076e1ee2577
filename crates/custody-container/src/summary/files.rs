//! The summaries of WAV/RF64, AVI, Matroska, FLV, audio files and Ogg.

use super::{Probe, ProbeOptions, SampleRow, TrackSummary};
use crate::avi::{Avi, AviKind, StreamFormat};
use crate::bmff::{MetaValue, TrackKind};
use crate::flv::{AmfValue, Flv, FlvKind};
use crate::mkv::Mkv;
use crate::names::{Codec, Container};
use crate::ogg::Ogg;
use crate::rawaudio::RawAudio;
use crate::wav::Wav;

/// A WAV, RF64 or BW64 file: one audio track (id 0) and the metadata of
/// its `bext`, `LIST/INFO` and `iXML` chunks.
pub(super) fn from_wav(w: &Wav<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(w.data.len() as u64, container);
    p.warnings = w.warnings.clone();
    p.duration_s = w.duration_seconds();
    if let Some(b) = &w.bext {
        for (key, value) in [
            ("bext:description", &b.description),
            ("bext:originator", &b.originator),
            ("bext:originator_reference", &b.originator_reference),
            ("bext:origination_date", &b.origination_date),
            ("bext:origination_time", &b.origination_time),
            ("bext:coding_history", &b.coding_history),
        ] {
            if !value.is_empty() {
                p.metadata
                    .insert(key.into(), MetaValue::Text(value.clone()));
            }
        }
        if let Some(t) = b.origination() {
            p.metadata
                .insert("bext:origination".into(), MetaValue::Text(t));
        }
        p.metadata.insert(
            "bext:time_reference".into(),
            MetaValue::Int(i64::try_from(b.time_reference).unwrap_or(i64::MAX)),
        );
    }
    for (id, value) in &w.info {
        p.metadata
            .insert(format!("INFO:{id}"), MetaValue::Text(value.clone()));
    }
    if let Some(x) = &w.ixml {
        p.metadata.insert(
            "iXML".into(),
            MetaValue::Raw {
                offset: x.start,
                bytes: x.end - x.start,
            },
        );
    }
    if w.audio.is_none() {
        return p;
    }
    let f = w.format;
    let rate = f.map_or(0, |f| f.sample_rate);
    // Packet times: sample frames before each packet, at the sample rate.
    let block = f.map_or(1, |f| f.block_align.max(1) as u64);
    let frames_per_block = match (w.sample_frames(), &w.audio) {
        (Some(n), Some(a)) if a.end > a.start => Some((n, (a.end - a.start) / block)),
        _ => None,
    };
    let start = w.audio.as_ref().map_or(0, |a| a.start);
    let time = |offset: u64| {
        frames_per_block
            .filter(|&(_, blocks)| blocks > 0)
            .map(|(n, blocks)| {
                let t = ((offset - start) / block) as u128 * n as u128 / blocks as u128;
                i64::try_from(t).unwrap_or(i64::MAX)
            })
    };
    let samples = w.packets().count() as u64;
    let rows = opts.samples.then(|| {
        w.packets()
            .map(|r| SampleRow {
                offset: r.start,
                size: r.end - r.start,
                dts: time(r.start),
                pts: time(r.start),
                keyframe: true,
            })
            .collect()
    });
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Audio,
        codec: w.codec().map(Codec::new),
        codec_tag: w.codec_tag(),
        samples,
        keyframes: samples,
        duration_s: p.duration_s,
        media_duration_s: None,
        width: None,
        height: None,
        sample_rate: (rate > 0).then_some(rate),
        channels: f.map(|f| f.channels as u32).filter(|&c| c > 0),
        language: None,
        sample_index: rows,
    });
    p
}

/// An AVI file: a track per stream (ids are the streams' numbers) and the
/// metadata of its `LIST/INFO` and `IDIT` chunks.
pub(super) fn from_avi(a: &Avi<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(a.data.len() as u64, Container::Avi);
    p.warnings = a.warnings.clone();
    p.duration_s = a.duration_seconds();
    for (id, value) in &a.info {
        p.metadata
            .insert(format!("INFO:{id}"), MetaValue::Text(value.clone()));
    }
    if let Some(d) = &a.idit {
        p.metadata.insert("IDIT".into(), MetaValue::Text(d.clone()));
    }
    p.metadata
        .insert("avi:index".into(), MetaValue::Text(a.index.into()));
    for (i, s) in a.streams.iter().enumerate() {
        let (mut samples, mut keyframes) = (0u64, 0u64);
        for pk in a.packets(i) {
            samples += 1;
            keyframes += pk.key as u64;
        }
        let rows = opts.samples.then(|| {
            a.packets(i)
                .map(|pk| {
                    let t = i64::try_from(pk.time).ok();
                    SampleRow {
                        offset: pk.offset,
                        size: pk.size as u64,
                        dts: t,
                        pts: t,
                        keyframe: pk.key,
                    }
                })
                .collect()
        });
        let (width, height) = match s.format {
            StreamFormat::Video { width, height, .. } => (Some(width), Some(height)),
            _ => (None, None),
        };
        let audio = match s.format {
            StreamFormat::Audio(f) => Some(f),
            _ => None,
        };
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: match s.kind {
                AviKind::Video => TrackKind::Video,
                AviKind::Audio => TrackKind::Audio,
                AviKind::Text => TrackKind::Subtitle,
                AviKind::Other => TrackKind::Data,
            },
            codec: s.codec().map(Codec::new),
            codec_tag: s.codec_tag(),
            samples,
            keyframes,
            duration_s: s.duration_seconds(),
            media_duration_s: None,
            width: width.filter(|&w| w > 0),
            height: height.filter(|&h| h > 0),
            sample_rate: s.sample_rate(),
            channels: audio.map(|f| f.channels as u32).filter(|&c| c > 0),
            language: None,
            sample_index: rows,
        });
    }
    p
}

/// A Matroska or WebM file: a track per `TrackEntry` (ids are their
/// positions), its `DateUTC`, title, apps, tags and chapters.
pub(super) fn from_mkv(m: &Mkv<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(m.data.len() as u64, container);
    p.warnings = m.warnings.clone();
    p.duration_s = m.duration_seconds();
    p.created = m.created_unix().map(crate::time::rfc3339_utc);
    for (key, value) in [
        ("title", &m.title),
        ("matroska:muxing_app", &m.muxing_app),
        ("matroska:writing_app", &m.writing_app),
    ] {
        if let Some(v) = value {
            p.metadata.insert(key.into(), MetaValue::Text(v.clone()));
        }
    }
    for (name, value) in &m.tags {
        p.metadata
            .entry(format!("tag:{name}"))
            .or_insert_with(|| MetaValue::Text(value.clone()));
    }
    if !m.chapters.is_empty() {
        p.metadata.insert(
            "chapters".into(),
            MetaValue::Int(i64::try_from(m.chapters.len()).unwrap_or(i64::MAX)),
        );
    }
    let unit = m.seconds_per_unit();
    for (i, t) in m.tracks.iter().enumerate() {
        let frames = t.frames();
        let default = t
            .default_duration
            .map_or(0, |ns| ns / m.timestamp_scale.max(1));
        // First time, end of the last frame and key frames, in one pass.
        let (mut first, mut end, mut keys) = (None::<i64>, None::<i64>, 0u64);
        for f in frames {
            let d = f.duration.map_or(default, u64::from);
            let d = i64::try_from(d).unwrap_or(i64::MAX);
            first = Some(first.map_or(f.time, |t| t.min(f.time)));
            end = Some(end.map_or(i64::MIN, |e| e).max(f.time.saturating_add(d)));
            keys += f.key as u64;
        }
        let rows = opts.samples.then(|| {
            frames
                .iter()
                .map(|f| SampleRow {
                    offset: f.offset,
                    size: f.size as u64,
                    dts: None,
                    pts: Some(f.time),
                    keyframe: f.key,
                })
                .collect()
        });
        let kind = match t.kind {
            1 => TrackKind::Video,
            2 => TrackKind::Audio,
            0x11 => TrackKind::Subtitle,
            _ => TrackKind::Data,
        };
        let video = kind == TrackKind::Video;
        let audio = kind == TrackKind::Audio;
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind,
            codec: t.codec().map(Codec::new),
            codec_tag: Some(t.codec_id.clone()),
            samples: frames.len() as u64,
            keyframes: keys,
            duration_s: first
                .zip(end)
                .map(|(a, b)| b.saturating_sub(a) as f64 * unit),
            media_duration_s: None,
            width: t.width.filter(|_| video),
            height: t.height.filter(|_| video),
            sample_rate: t
                .sample_rate
                .filter(|r| audio && *r >= 1.0 && *r < u32::MAX as f64)
                .map(|r| r.round() as u32),
            channels: t.channels.filter(|_| audio),
            language: t.language.clone(),
            sample_index: rows,
        });
    }
    p
}

/// An FLV file: its video and audio tracks (ids in order of appearance)
/// and its `onMetaData`.
pub(super) fn from_flv(f: &Flv<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(f.data.len() as u64, Container::Flv);
    p.warnings = f.warnings.clone();
    p.duration_s = f.duration_seconds();
    for (key, value) in &f.metadata {
        let v = match value {
            AmfValue::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => MetaValue::Int(*n as i64),
            AmfValue::Number(n) if n.is_finite() => MetaValue::Float(*n),
            AmfValue::Number(_) => continue,
            AmfValue::Bool(b) => MetaValue::Int(*b as i64),
            AmfValue::Text(t) => MetaValue::Text(t.clone()),
        };
        p.metadata.entry(format!("flv:{key}")).or_insert(v);
    }
    for (i, t) in f.tracks.iter().enumerate() {
        let packets = t.packets();
        let first = packets.iter().map(|x| x.pts).min();
        let last = packets.iter().map(|x| x.pts).max();
        // The last packet's duration: the smallest step between packets.
        let step = packets
            .windows(2)
            .map(|w| w[1].dts - w[0].dts)
            .filter(|&d| d > 0)
            .min()
            .unwrap_or(0);
        let rows = opts.samples.then(|| {
            packets
                .iter()
                .map(|x| SampleRow {
                    offset: x.offset,
                    size: x.size as u64,
                    dts: Some(x.dts),
                    pts: Some(x.pts),
                    keyframe: x.key,
                })
                .collect()
        });
        let video = t.kind == FlvKind::Video;
        let size = if video { t.picture_size() } else { None };
        let (rate, channels) = if video {
            (None, None)
        } else {
            t.audio_format()
        };
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: if video {
                TrackKind::Video
            } else {
                TrackKind::Audio
            },
            codec: t.codec().map(Codec::new),
            codec_tag: Some(format!("{:#04x}", t.codec_id)),
            samples: packets.len() as u64,
            keyframes: packets.iter().filter(|x| x.key).count() as u64,
            duration_s: first.zip(last).map(|(a, b)| (b - a + step) as f64 / 1000.0),
            media_duration_s: None,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            sample_rate: rate,
            channels,
            language: None,
            sample_index: rows,
        });
    }
    p
}

/// An AMR, MP3 or ADTS file: one audio track (id 0) and its ID3 tags.
pub(super) fn from_audio(a: &RawAudio<'_>, container: Container, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(a.data.len() as u64, container);
    p.warnings = a.warnings.clone();
    p.duration_s = a.duration_seconds();
    for (key, value) in &a.tags {
        p.metadata
            .entry(key.clone())
            .or_insert_with(|| MetaValue::Text(value.clone()));
    }
    if let Some(n) = a.declared_frames {
        p.metadata
            .insert("declared_frames".into(), MetaValue::Int(n as i64));
    }
    let frames = a.frames();
    let rows = opts.samples.then(|| {
        a.frames_timed()
            .map(|(f, t)| SampleRow {
                offset: f.offset,
                size: f.size as u64,
                dts: Some(t),
                pts: Some(t),
                keyframe: true,
            })
            .collect()
    });
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Audio,
        codec: Some(Codec::new(a.codec)),
        codec_tag: None,
        samples: frames.len() as u64,
        keyframes: frames.len() as u64,
        duration_s: p.duration_s,
        media_duration_s: None,
        width: None,
        height: None,
        sample_rate: a.sample_rate,
        channels: a.channels,
        language: None,
        sample_index: rows,
    });
    p
}

/// An Ogg file: a track per logical stream (ids in order of their first
/// page).
pub(super) fn from_ogg(o: &Ogg<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(o.data.len() as u64, Container::Ogg);
    p.warnings = o.warnings.clone();
    for (i, s) in o.streams.iter().enumerate() {
        let samples = o.packets(i).count() as u64;
        let rows = opts.samples.then(|| {
            o.packets(i)
                .map(|pk| SampleRow {
                    offset: o.offset(pk),
                    size: pk.size as u64,
                    dts: None,
                    pts: pk.granule,
                    keyframe: true,
                })
                .collect()
        });
        let duration_s = s.duration_seconds();
        if let Some(d) = duration_s {
            p.duration_s = Some(p.duration_s.map_or(d, |x: f64| x.max(d)));
        }
        let video = s.is_video();
        p.tracks.push(TrackSummary {
            id: i as u32,
            kind: if video {
                TrackKind::Video
            } else if s.codec().is_some() {
                TrackKind::Audio
            } else {
                TrackKind::Data
            },
            codec: s.codec().map(Codec::new),
            codec_tag: None,
            samples,
            keyframes: if video { 0 } else { samples },
            duration_s,
            media_duration_s: None,
            width: None,
            height: None,
            sample_rate: s.sample_rate.filter(|_| !video),
            channels: s.channels.filter(|_| !video),
            language: None,
            sample_index: rows,
        });
    }
    p
}
