//! Supervision: how recorders are used. Segments of each device are grouped
//! into recordings (the next segment starts where the previous ended, within
//! a tolerance); gaps, overlaps, truncated or damaged files and clock
//! anomalies are listed; each officer's day is summarised.

use crate::keyring::Trust;
use crate::manifest::SignedManifest;
use crate::store::DirStore;
use std::collections::BTreeMap;

/// Report filters and tolerance.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Only this device.
    pub device: Option<String>,
    /// Only this officer.
    pub officer: Option<String>,
    /// Only segments starting at or after (RFC 3339, UTC or recorder-local).
    pub from: Option<String>,
    /// Only segments starting before.
    pub to: Option<String>,
    /// Seconds of slack between consecutive segments.
    pub tolerance_s: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            device: None,
            officer: None,
            from: None,
            to: None,
            tolerance_s: 2.0,
        }
    }
}

/// Consecutive segments forming one recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingRun {
    /// Start of the first segment.
    pub start: String,
    /// End of the last segment.
    pub end: String,
    /// Total duration.
    pub duration_s: f64,
    /// Segment paths in order.
    pub segments: Vec<String>,
}

/// A finding between two segments, or about one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// The segment concerned (the later one for gaps and overlaps).
    pub path: String,
    /// The segment before it, where relevant.
    pub after: Option<String>,
    /// Seconds of gap or overlap.
    pub seconds: Option<f64>,
    /// What is wrong.
    pub message: String,
}

/// One device's findings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceReport {
    /// Device serial (`unknown` when no source named it).
    pub device: String,
    /// Segments with a start time.
    pub segments: usize,
    /// Recordings.
    pub recordings: Vec<RecordingRun>,
    /// Gaps between segments longer than the tolerance.
    pub gaps: Vec<Finding>,
    /// Segments starting before the previous one ended.
    pub overlaps: Vec<Finding>,
    /// Cut-short or unparseable files.
    pub truncated: Vec<Finding>,
    /// Start times in the future or before the previous segment.
    pub clock_anomalies: Vec<Finding>,
    /// The device's UTC offset, when one is known (local starts are then
    /// placed in UTC with it).
    pub utc_offset: Option<String>,
    /// Segments known only in recorder-local time, with no known UTC offset,
    /// while others of the device are in UTC: they are compared only with
    /// one another, never with UTC times (no false gaps).
    pub offset_unknown: Vec<Finding>,
    /// Files without a start time (photos, damaged files).
    pub undated: Vec<String>,
}

/// One officer's day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OfficerDay {
    /// Officer number.
    pub officer: String,
    /// Day (`YYYY-MM-DD`).
    pub day: String,
    /// Recordings that day.
    pub recordings: usize,
    /// Total recorded seconds.
    pub duration_s: f64,
    /// First start.
    pub first: String,
    /// Last end.
    pub last: String,
}

/// The supervision report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// Per device.
    pub devices: Vec<DeviceReport>,
    /// Per officer per day.
    pub officers: Vec<OfficerDay>,
    /// Manifests left out because they do not verify with the trusted keys
    /// (object, reason): the report rests only on verified manifests.
    pub unverified: Vec<Unverified>,
}

/// A manifest the report left out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unverified {
    /// The object it is filed under.
    pub object: String,
    /// Why it does not verify.
    pub reason: String,
}

struct Seg {
    path: String,
    officer: Option<String>,
    /// Seconds and text; in UTC when `utc`, else in the recorder's local time.
    start: Option<(i64, String)>,
    utc: bool,
    /// The recorder's UTC offset in seconds, when the manifest knows it.
    offset: Option<i64>,
    duration: f64,
    truncated: Option<String>,
}

/// Segments being joined into one recording.
struct Run {
    start: i64,
    end: f64,
    paths: Vec<String>,
    text: String,
    officer: Option<String>,
}

/// An officer's day so far.
struct DayTotals {
    recordings: usize,
    seconds: f64,
    first: String,
    last: String,
}

type Days = BTreeMap<(String, String), DayTotals>;

/// Ends a recording: records it on the device and in its officer's day.
fn close_run(run: Option<Run>, d: &mut DeviceReport, days: &mut Days) {
    let Some(r) = run else { return };
    let utc = r.text.ends_with('Z');
    let end_text = fmt_time(r.end.round() as i64, utc);
    let duration = r.end - r.start as f64;
    if let Some(o) = r.officer {
        let day = r.text[..10].to_string();
        let e = days.entry((o, day)).or_insert(DayTotals {
            recordings: 0,
            seconds: 0.0,
            first: r.text.clone(),
            last: end_text.clone(),
        });
        e.recordings += 1;
        e.seconds += duration;
        if r.text < e.first {
            e.first = r.text.clone();
        }
        if end_text > e.last {
            e.last = end_text.clone();
        }
    }
    d.recordings.push(RecordingRun {
        start: r.text,
        end: end_text,
        duration_s: duration,
        segments: r.paths,
    });
}

/// A `--from`/`--to` bound: a day (its midnight) or a time, in seconds.
fn parse_bound(b: &str) -> Option<i64> {
    let b = b.trim_end_matches('Z');
    if b.len() == 10 {
        crate::parse_utc(&format!("{b}T00:00:00Z"))
    } else if b.len() == 19 {
        crate::parse_utc(&format!("{b}Z"))
    } else {
        None
    }
}

fn fmt_time(t: i64, utc: bool) -> String {
    let s = custody_container::time::rfc3339_utc(t);
    if utc {
        s
    } else {
        s.trim_end_matches('Z').to_string()
    }
}

/// Builds the report from the store's manifests that verify with `trust`;
/// the others are listed in [`Report::unverified`].
pub fn report(store: &DirStore, opts: &ReportOptions, trust: &Trust) -> std::io::Result<Report> {
    for (name, bound) in [("from", &opts.from), ("to", &opts.to)] {
        if let Some(b) = bound
            && parse_bound(b).is_none()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name} {b:?} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[Z]"),
            ));
        }
    }
    let mut by_device: BTreeMap<String, Vec<Seg>> = BTreeMap::new();
    let mut unverified = Vec::new();
    for h in store.registered()? {
        let verified = store
            .manifest_bytes(&h)
            .map_err(|e| e.to_string())
            .and_then(|b| SignedManifest::verify_json(&b, trust).map_err(|e| e.to_string()))
            .and_then(|s| {
                if s.manifest.object.blake3 == h {
                    Ok(s)
                } else {
                    Err("filed under another object".to_string())
                }
            });
        let m = match verified {
            Ok(s) => s.manifest,
            Err(reason) => {
                unverified.push(Unverified { object: h, reason });
                continue;
            }
        };
        // A derivative (archival or access copy) shows a recording its
        // source already stands for: it is not a segment of its own.
        if m.derivation.is_some() {
            continue;
        }
        let device = m
            .recording
            .device_serial
            .clone()
            .unwrap_or_else(|| "unknown".into());
        if opts.device.as_ref().is_some_and(|d| *d != device)
            || opts
                .officer
                .as_ref()
                .is_some_and(|o| m.recording.officer.as_ref() != Some(o))
        {
            continue;
        }
        let (start_text, utc) = match (&m.recording.start, &m.recording.start_local) {
            (Some(s), _) => (Some(s.clone()), true),
            (None, Some(l)) => (Some(format!("{l}Z")), false),
            _ => (None, false),
        };
        let start = start_text
            .as_deref()
            .and_then(crate::parse_utc)
            .map(|t| (t, fmt_time(t, utc)));
        let in_range = |bound: &Option<String>, after: bool| {
            bound.as_deref().and_then(parse_bound).is_none_or(|b| {
                start
                    .as_ref()
                    .is_none_or(|(t, _)| if after { *t >= b } else { *t < b })
            })
        };
        if !in_range(&opts.from, true) || !in_range(&opts.to, false) {
            continue;
        }
        let media = m.media.as_ref();
        // Recordings (video or audio, whatever the container); photos and
        // unknown files take no part in continuity.
        let is_media = media.is_some_and(|x| {
            matches!(
                x.container.as_str(),
                "mp4"
                    | "mov"
                    | "3gp"
                    | "mpegts"
                    | "m2ts"
                    | "mpegps"
                    | "matroska"
                    | "webm"
                    | "avi"
                    | "wav"
                    | "rf64"
                    | "flv"
                    | "amr"
                    | "adts"
                    | "mp3"
                    | "ogg"
            )
        });
        let truncated = match media {
            Some(x) if x.error.is_some() && is_media => {
                Some(format!("damaged: {}", x.error.clone().unwrap_or_default()))
            }
            Some(x) if x.missing_samples > 0 => Some(format!(
                "truncated: {} samples are missing",
                x.missing_samples
            )),
            _ => None,
        };
        by_device.entry(device).or_default().push(Seg {
            path: m.original.path.clone(),
            officer: m.recording.officer.clone(),
            // Damaged files and non-recordings do not take part in continuity.
            start: if is_media && media.is_some_and(|x| x.error.is_none()) {
                start
            } else {
                None
            },
            utc,
            offset: m
                .recording
                .utc_offset
                .as_deref()
                .and_then(crate::parse_offset),
            duration: media.and_then(|x| x.duration_s).unwrap_or(0.0),
            truncated,
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut devices = Vec::new();
    // officer -> day -> (recordings, seconds, first, last)
    let mut days: Days = BTreeMap::new();
    for (device, mut segs) in by_device {
        let mut d = DeviceReport {
            device,
            segments: 0,
            recordings: Vec::new(),
            gaps: Vec::new(),
            overlaps: Vec::new(),
            truncated: Vec::new(),
            clock_anomalies: Vec::new(),
            utc_offset: None,
            offset_unknown: Vec::new(),
            undated: Vec::new(),
        };
        // One known offset for the device places its local starts in UTC.
        let offsets: std::collections::BTreeSet<i64> =
            segs.iter().filter_map(|s| s.offset).collect();
        if let [offset] = offsets.iter().copied().collect::<Vec<_>>()[..] {
            d.utc_offset = Some(crate::format_offset(offset));
            for s in segs.iter_mut().filter(|s| !s.utc) {
                if let Some((t, _)) = s.start.take() {
                    s.start = Some((t - offset, fmt_time(t - offset, true)));
                    s.utc = true;
                }
            }
        }
        for s in &segs {
            if let Some(t) = &s.truncated {
                d.truncated.push(Finding {
                    path: s.path.clone(),
                    after: None,
                    seconds: None,
                    message: t.clone(),
                });
            }
            if s.start.is_none() {
                d.undated.push(s.path.clone());
            }
        }
        // Clock anomalies in recording order (by path, which recorders number in sequence).
        segs.sort_by(|a, b| a.path.cmp(&b.path));
        let mut prev_start: Option<(i64, &str, bool)> = None;
        for s in &segs {
            let Some((t, _)) = &s.start else { continue };
            if *t > now + 86_400 {
                d.clock_anomalies.push(Finding {
                    path: s.path.clone(),
                    after: None,
                    seconds: None,
                    message: "starts in the future".into(),
                });
            }
            if let Some((p, pp, utc)) = prev_start
                && utc == s.utc
                && *t < p
            {
                d.clock_anomalies.push(Finding {
                    path: s.path.clone(),
                    after: Some(pp.to_string()),
                    seconds: Some((p - t) as f64),
                    message: "starts before the segment recorded before it".into(),
                });
            }
            prev_start = Some((*t, &s.path, s.utc));
        }
        let dated = |utc: bool| -> Vec<&Seg> {
            let mut v: Vec<&Seg> = segs
                .iter()
                .filter(|s| s.start.is_some() && s.utc == utc)
                .collect();
            v.sort_by_key(|s| s.start.as_ref().map(|x| x.0));
            v
        };
        let (utc, local) = (dated(true), dated(false));
        d.segments = utc.len() + local.len();
        if !utc.is_empty() {
            for s in &local {
                d.offset_unknown.push(Finding {
                    path: s.path.clone(),
                    after: None,
                    seconds: None,
                    message: "recorder-local start and no known UTC offset: not compared with the \
                              device's UTC segments (give --utc-offset at ingest)"
                        .into(),
                });
            }
        }
        join(utc, &mut d, &mut days, opts.tolerance_s);
        join(local, &mut d, &mut days, opts.tolerance_s);
        devices.push(d);
    }
    let officers = days
        .into_iter()
        .map(|((officer, day), t)| OfficerDay {
            officer,
            day,
            recordings: t.recordings,
            duration_s: t.seconds,
            first: t.first,
            last: t.last,
        })
        .collect();
    Ok(Report {
        devices,
        officers,
        unverified,
    })
}

/// Joins segments of one time domain, sorted by start, into recordings,
/// noting gaps and overlaps beyond `tolerance` seconds.
fn join(dated: Vec<&Seg>, d: &mut DeviceReport, days: &mut Days, tolerance: f64) {
    let mut run: Option<Run> = None;
    let mut prev: Option<(&Seg, f64)> = None;
    for s in dated {
        let (t, text) = s.start.clone().unwrap_or_default();
        let end = t as f64 + s.duration;
        let continues = match prev {
            Some((p, pend)) => {
                let delta = t as f64 - pend;
                if delta > tolerance {
                    d.gaps.push(Finding {
                        path: s.path.clone(),
                        after: Some(p.path.clone()),
                        seconds: Some(delta),
                        message: format!("{delta:.1} s gap"),
                    });
                    false
                } else if delta < -tolerance {
                    d.overlaps.push(Finding {
                        path: s.path.clone(),
                        after: Some(p.path.clone()),
                        seconds: Some(-delta),
                        message: format!("starts {:.1} s before the previous segment ends", -delta),
                    });
                    true
                } else {
                    true
                }
            }
            None => false,
        };
        if continues && let Some(r) = run.as_mut() {
            r.end = r.end.max(end);
            r.paths.push(s.path.clone());
        } else {
            close_run(run.take(), d, days);
            run = Some(Run {
                start: t,
                end,
                paths: vec![s.path.clone()],
                text,
                officer: s.officer.clone(),
            });
        }
        prev = Some((s, prev.map_or(end, |(_, pe)| pe.max(end))));
    }
    close_run(run.take(), d, days);
}
