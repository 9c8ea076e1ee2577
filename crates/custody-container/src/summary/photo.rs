//! The summary of a photo: its picture, EXIF fields, time and place.

use super::{Probe, TrackSummary};
use crate::bmff::{MetaValue, TrackKind};
use crate::exif::ExifValue;
use crate::names::{Codec, Container};
use crate::photo::Photo;

/// A photo: one picture (track 0), its EXIF fields (`exif:` keys, by
/// exiftool's names), when it was taken and where.
pub(super) fn from_photo(ph: &Photo, container: Container) -> Probe {
    let mut p = Probe::new(ph.picture.end, container);
    p.warnings = ph.warnings.clone();
    if let Some(e) = &ph.exif {
        for (name, value) in &e.tags {
            let v = match value {
                ExifValue::Text(t) => MetaValue::Text(t.clone()),
                ExifValue::Ints(v) if v.len() == 1 => MetaValue::Int(v[0]),
                ExifValue::Numbers(v) if v.len() == 1 && v[0].is_finite() => MetaValue::Float(v[0]),
                ExifValue::Ints(v) => MetaValue::Text(
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                ExifValue::Numbers(v) => MetaValue::Text(
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            p.metadata.entry(format!("exif:{name}")).or_insert(v);
        }
        p.location = e.location();
        if let Some((local, offset)) = e.taken() {
            p.metadata
                .insert("exif:taken".into(), MetaValue::Text(local.clone()));
            // With its offset the camera's time is UTC; without, it stays local.
            p.created = offset.and_then(|o| {
                let secs = crate::time::parse_local(&local)?;
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let h: i64 = o.get(1..3)?.parse().ok()?;
                let m: i64 = o.get(4..6)?.parse().ok()?;
                Some(crate::time::rfc3339_utc(secs - sign * (h * 3600 + m * 60)))
            });
        }
    }
    if let Some(t) = &ph.modified {
        p.metadata
            .insert("png:tIME".into(), MetaValue::Text(t.clone()));
    }
    for (k, v) in &ph.text {
        p.metadata
            .entry(format!("png:{k}"))
            .or_insert_with(|| MetaValue::Text(v.clone()));
    }
    if let Some(x) = &ph.xmp {
        p.metadata.insert(
            "xmp".into(),
            MetaValue::Raw {
                offset: x.start,
                bytes: x.end - x.start,
            },
        );
    }
    p.tracks.push(TrackSummary {
        id: 0,
        kind: TrackKind::Video,
        codec: Some(Codec::new(ph.codec)),
        codec_tag: None,
        samples: 1,
        keyframes: 1,
        duration_s: None,
        media_duration_s: None,
        width: (ph.width > 0).then_some(ph.width),
        height: (ph.height > 0).then_some(ph.height),
        sample_rate: None,
        channels: None,
        language: None,
        sample_index: None,
    });
    p
}
