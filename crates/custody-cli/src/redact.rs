//! `custody detect` and `custody redact`, run by the `custody-archive`
//! binary (the one that loads FFmpeg's libraries and the models).

use crate::archive::{bar, cannot_start, fail, interrupt_flag, registration_line, station_key};
use crate::common::{print_json, safe};
use crate::redact_args::{DetectArgs, DetectorArgs, MaskArg, RedactArgs, ShapeArg};
use custody::evidence::derive::DeriveOptions;
use custody::redact::mask::{Shape, Style};
use custody::redact::redact::{FrameDetections, Phase, Progress, RedactOptions, Redacted};
use custody::transcode::{AudioEdit, AudioEditKind};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

fn options(d: &DetectorArgs) -> RedactOptions {
    RedactOptions {
        faces: d.faces,
        plates: d.plates,
        models: d.models.clone(),
        every: d.every,
        detect_width: d.detect_width,
        ..Default::default()
    }
}

/// A progress callback for `pb` that stops when `stop` is set.
fn progress<'a>(
    pb: &'a Option<indicatif::ProgressBar>,
    stop: &'a AtomicBool,
) -> impl FnMut(Progress) -> bool + 'a {
    move |p: Progress| {
        if let Some(pb) = pb {
            pb.set_message(match p.phase {
                Phase::Detect => "detect",
                Phase::Hash => "hash",
                Phase::Write => "write",
                Phase::Prove => "check",
                Phase::Review => "review",
            });
            if p.total > 0.0 {
                pb.set_position(((p.done / p.total).clamp(0.0, 1.0) * 1000.0) as u64);
            }
        }
        !stop.load(Ordering::SeqCst)
    }
}

/// A class as the log names it (`face`, `plate`, a custom name).
fn class(c: &custody::redact::Class) -> String {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => safe(&v.to_string()),
        Err(_) => String::new(),
    }
}

fn detections_text(file: &str, frames: &[FrameDetections]) -> String {
    let mut s = String::new();
    let found: usize = frames.iter().map(|f| f.detections.len()).sum();
    s += &format!(
        "{}: {} pictures looked at, {found} detections\n",
        safe(file),
        frames.len()
    );
    for f in frames.iter().filter(|f| !f.detections.is_empty()) {
        for d in &f.detections {
            let b = &d.detection.bbox;
            s += &format!(
                "  picture {} {:.3} s: {} {} {:.2} at ({:.0}, {:.0})-({:.0}, {:.0})\n",
                f.frame,
                f.time,
                safe(&d.detector),
                class(&d.detection.class),
                d.detection.score,
                b.x0,
                b.y0,
                b.x1,
                b.y1
            );
        }
    }
    s
}

pub(crate) fn detect(args: &DetectArgs) -> ExitCode {
    let d = &args.detectors;
    if !d.faces && !d.plates {
        return cannot_start(
            &custody::Error::InvalidArgument(
                "nothing to detect: give --faces and/or --plates".into(),
            )
            .into(),
            args.json,
        );
    }
    let stop = interrupt_flag();
    let several = args.files.len() > 1;
    let (mut values, mut failed) = (Vec::new(), false);
    for file in &args.files {
        let mut opts = options(d);
        let pb = bar();
        let r = custody::detect(file, &mut opts, progress(&pb, &stop));
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        match r {
            Ok((frames, stats)) => {
                if args.json {
                    values.push(serde_json::json!({
                        "file": file.display().to_string(),
                        "every": d.every,
                        "stats": stats,
                        "frames": frames,
                    }));
                } else {
                    print!("{}", detections_text(&file.display().to_string(), &frames));
                }
            }
            Err(e) => {
                failed = true;
                fail(&e.into(), args.json, &mut values);
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    if args.json && print_json(values, several).is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn describe(r: &Redacted) -> String {
    let mut s = format!(
        "{} -> {} ({} bytes)\n",
        safe(&r.source.path.display().to_string()),
        safe(&r.output.path.display().to_string()),
        r.output.size
    );
    s += &format!(
        "  {} tracks, {} regions; {} of {} pictures masked ({} masks)\n",
        r.counts.tracks, r.counts.regions, r.counts.masked_frames, r.counts.frames, r.counts.masks
    );
    for t in &r.tracks {
        s += &format!(
            "  track {} {} by {}: {:.3}-{:.3} s, detected in {} pictures\n",
            t.id,
            class(&t.class),
            safe(&t.detector),
            t.first_time,
            t.last_time,
            t.frames
        );
    }
    s += &format!("  audio: {}\n", safe(&r.audio));
    for t in &r.streams {
        if let custody::transcode::Action::Dropped { reason } = &t.action {
            s += &format!(
                "  {} {} {}: DROPPED: {}\n",
                t.kind,
                t.stream,
                t.codec,
                safe(reason)
            );
        }
    }
    for w in &r.warnings {
        s += &format!("  note: {}\n", safe(w));
    }
    s += &format!(
        "  check: {}\n",
        if r.proof.as_ref().is_some_and(|p| p.ok()) {
            "every picture of the original is in the copy at its time"
        } else {
            "FAILED"
        }
    );
    s += &format!(
        "  log: {}\n  tracks: {}\n  frames: {}\n",
        safe(&r.log.display().to_string()),
        safe(&r.tracks_csv.display().to_string()),
        safe(&r.frames_csv.path.display().to_string())
    );
    if let Some(c) = &r.contact_sheet {
        s += &format!("  contact sheet: {}\n", safe(&c.path.display().to_string()));
    }
    s
}

/// The ranges of `--mute` and `--bleep`, in that order.
fn audio_edits(args: &RedactArgs) -> custody::Result<Vec<AudioEdit>> {
    let mut out = Vec::new();
    for (kind, ranges) in [
        (AudioEditKind::Mute, &args.mute),
        (AudioEditKind::Bleep, &args.bleep),
    ] {
        for r in ranges {
            let bad = |e: custody::transcode::Error| {
                custody::Error::InvalidArgument(format!("--{} {e}", kind.name()))
            };
            let (from, to) = custody::transcode::parse_range(r).map_err(bad)?;
            out.push(AudioEdit::new(kind, from, to).map_err(bad)?);
        }
    }
    Ok(out)
}

pub(crate) fn redact(args: &RedactArgs) -> ExitCode {
    let audio_edits = match audio_edits(args) {
        Ok(e) => e,
        Err(e) => return cannot_start(&e.into(), args.json),
    };
    let key = match station_key(args.store.as_deref(), args.key.as_deref()) {
        Ok(k) => k,
        Err(e) => return cannot_start(&e, args.json),
    };
    let who = DeriveOptions {
        station: args.station.clone(),
        operator: args.operator.clone(),
    };
    let mut opts = RedactOptions {
        regions: args.regions.clone(),
        style: match args.mask {
            MaskArg::Blur => Style::Blur,
            MaskArg::Pixelate => Style::Pixelate,
            MaskArg::Fill => Style::Fill,
        },
        shape: match args.shape {
            ShapeArg::Rectangle => Shape::Rectangle,
            ShapeArg::Ellipse => Shape::Ellipse,
        },
        crf: args.crf,
        preset: args.preset.clone(),
        threads: args.threads,
        keep_other_tracks: args.keep_other_tracks,
        audio_edits,
        ..options(&args.detectors)
    };
    let stop = interrupt_flag();
    let pb = bar();
    let r = match (&args.store, &key) {
        (Some(store), Some(key)) => {
            let target = custody::StoreTarget {
                store,
                key,
                who: &who,
            };
            custody::redact_to_store(
                &args.input,
                &args.output,
                &mut opts,
                &target,
                progress(&pb, &stop),
            )
            .map(|s| (s.redacted, Some(s.registration)))
        }
        _ => custody::redact(&args.input, &args.output, &mut opts, progress(&pb, &stop))
            .map(|r| (r, None)),
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    match r {
        Ok((r, registration)) => {
            let ok = r.proof.as_ref().is_some_and(|p| p.ok());
            if args.json {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                v["ok"] = serde_json::Value::Bool(ok);
                if let Some(reg) = &registration {
                    v["registration"] = serde_json::to_value(reg).unwrap_or_default();
                }
                if print_json(vec![v], false).is_err() {
                    return ExitCode::from(2);
                }
            } else {
                print!("{}", describe(&r));
                if let (Some(store), Some(reg)) = (&args.store, &registration) {
                    print!("{}", registration_line(store, reg.as_ref()));
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => cannot_start(&e.into(), args.json),
    }
}
