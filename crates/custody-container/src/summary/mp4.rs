//! The summary of an MP4/MOV/3GP: tracks from the sample tables, metadata
//! from `moov`.

use super::{Probe, ProbeOptions, SampleRow, TrackSummary};
use crate::bmff::{MetaValue, Mp4, TrackKind};
use crate::error::Warning;
use crate::names::Codec;

pub(super) fn from_mp4(mp4: &Mp4<'_>, opts: ProbeOptions) -> Probe {
    let mut p = Probe::new(mp4.data.len() as u64, mp4.container());
    p.brand = mp4.major_brand.map(|b| b.to_string());
    p.fragmented = mp4.fragmented;
    p.duration_s = mp4.duration_seconds();
    p.created = crate::time::from_1904(mp4.metadata.created);
    p.metadata = mp4.metadata.items.clone();
    // For a media segment the XMP may come from the init segment, which is not
    // in `mp4.data`: it has no offset there.
    if let Some(xmp) = mp4.metadata.xmp
        && let Some(offset) = (xmp.as_ptr() as usize).checked_sub(mp4.data.as_ptr() as usize)
        && offset + xmp.len() <= mp4.data.len()
    {
        p.metadata.insert(
            "xmp".into(),
            MetaValue::Raw {
                offset: offset as u64,
                bytes: xmp.len() as u64,
            },
        );
    }
    p.location = mp4.metadata.location;
    p.warnings = mp4.warnings.clone();
    for t in &mp4.tracks {
        let mut samples = 0u64;
        let mut keyframes = 0u64;
        let mut it = t.samples();
        for s in it.by_ref() {
            samples += 1;
            keyframes += s.keyframe as u64;
        }
        // The listing, sized to the samples present (counted above).
        let rows = opts.samples.then(|| {
            let mut rows = Vec::with_capacity(samples as usize);
            rows.extend(t.samples().map(|s| SampleRow {
                offset: s.offset,
                size: s.size as u64,
                dts: Some(s.dts),
                pts: Some(s.pts),
                keyframe: s.keyframe,
            }));
            rows
        });
        if it.missing() > 0 {
            p.warnings.push(Warning {
                offset: t.data_len_hint(),
                path: t.path.clone(),
                message: format!(
                    "{} of {} samples lie beyond the end of the file (truncated recording)",
                    it.missing(),
                    t.declared_samples()
                ),
            });
        }
        let e = t.entries.first();
        let visual = t.kind == TrackKind::Video;
        let audio = t.kind == TrackKind::Audio;
        p.tracks.push(TrackSummary {
            id: t.id,
            kind: t.kind,
            codec: t.codec().map(Codec::new),
            codec_tag: t.codec_tag().map(|c| c.to_string()),
            samples,
            keyframes,
            duration_s: t.duration_seconds(mp4.movie.map_or(0, |m| m.timescale)),
            media_duration_s: t.media_duration_seconds(),
            width: e.and_then(|e| e.width).filter(|_| visual),
            height: e.and_then(|e| e.height).filter(|_| visual),
            sample_rate: e.and_then(|e| e.sample_rate).filter(|_| audio),
            channels: e.and_then(|e| e.channels).filter(|_| audio),
            language: t.language.clone(),
            sample_index: rows,
        });
    }
    p
}
