//! `custody archive` and `custody compare`, run by the `custody-archive`
//! binary (the only one that loads FFmpeg's libraries).

use crate::archive_args::{ArchiveArgs, CompareArgs};
use crate::common::{Failure, print_json, safe};
use custody::evidence::derive::{DeriveOptions, Outcome, Registration};
use custody::transcode::{
    Action, Archived, Comparison, Container, Options, Overlay, Parallel, Phase, Profile, Proof,
};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Ctrl-C stops the job between packets; the partial output is removed.
pub(crate) fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // A second handler cannot be installed; the job then simply runs on.
    let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
    flag
}

pub(crate) fn bar() -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(1000);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg:>8} {bar:40} {percent:>3}% eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    })
}

fn out_path(args: &ArchiveArgs, input: &Path, several: bool) -> PathBuf {
    let profile = Profile::from(args.profile);
    if several || args.output.is_dir() {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let ext = match profile {
            Profile::Join | Profile::Clip => Container::Matroska,
            p => p.default_container(),
        }
        .extension();
        args.output.join(format!("{stem}.{profile}.{ext}"))
    } else {
        args.output.clone()
    }
}

fn describe(a: &Archived) -> String {
    let mut s = format!(
        "{} -> {} ({}, {}, {} bytes)\n",
        a.sources
            .iter()
            .map(|s| safe(&s.path.display().to_string()))
            .collect::<Vec<_>>()
            .join(" + "),
        safe(&a.output.display().to_string()),
        a.profile,
        a.container.muxer(),
        a.size
    );
    for t in a.tracks.iter().filter(|t| t.source == 0) {
        let what = match &t.action {
            Action::Copied => "copied".to_string(),
            Action::Encoded { codec } => format!("-> {codec}"),
            Action::Dropped { reason } => format!("DROPPED: {reason}"),
        };
        s += &format!("  {} {} {}: {what}\n", t.kind, t.stream, t.codec);
    }
    if let Some(r) = &a.range {
        s += &format!(
            "  range: requested {}-{} s, taken {}-{} s (cut at keyframes)\n",
            r.requested_from, r.requested_to, r.from, r.to
        );
    }
    for c in &a.chapters {
        s += &format!(
            "  chapter {:.3}-{:.3} s: {}\n",
            c.start,
            c.end,
            safe(&c.title)
        );
    }
    for w in &a.warnings {
        s += &format!("  note: {}\n", safe(w));
    }
    match &a.proof {
        None => s += "  proof: not run (--no-proof)\n",
        Some(Proof::Packets(p)) => {
            s += &format!(
                "  proof: {} (packet by packet, no decoding)\n",
                if p.ok {
                    "every packet equals an original packet"
                } else {
                    "FAILED"
                }
            );
            for t in &p.tracks {
                let runs: Vec<String> = t
                    .coverage
                    .iter()
                    .map(|c| format!("{}:{}-{}", c.source, c.first, c.last))
                    .collect();
                s += &format!(
                    "    output stream {} {} ({}): {}/{} packets matched; original packets {}{}\n",
                    t.output_stream,
                    t.codec,
                    t.form,
                    t.matched,
                    t.packets,
                    runs.join(", "),
                    if t.complete { " (all)" } else { "" }
                );
            }
            for u in &p.unmatched {
                s += &format!(
                    "    output stream {} packet {} matches no original packet\n",
                    u.output_stream, u.packet
                );
            }
        }
        Some(Proof::Frames(f)) => {
            s += &format!(
                "  proof: {}\n",
                match (
                    f.lossless,
                    f.comparison.identical,
                    f.comparison.same_frames()
                ) {
                    (true, true, _) => "decodes to identical pictures and sound",
                    (true, false, _) => "FAILED: the decoded output differs",
                    (false, _, true) => "lossy copy with every picture at its time",
                    (false, _, false) => "FAILED: pictures are missing or added",
                }
            );
            s += &comparison_lines(&f.comparison);
            if let Some(p) = &f.copies {
                s += &format!(
                    "    copied tracks: {}\n",
                    if p.ok {
                        "every packet equals the original's"
                    } else {
                        "FAILED packet proof"
                    }
                );
            }
        }
    }
    if !a.kept {
        s += "  the output failed its proof and was removed\n";
    }
    s
}

fn comparison_lines(c: &Comparison) -> String {
    let mut s = String::new();
    for st in &c.streams {
        let unit = if st.kind == "video" {
            "pictures"
        } else {
            "audio blocks"
        };
        s += &format!(
            "    {} {} ({}) vs {} ({}): {} / {} {unit}, {} differ{}\n",
            st.kind,
            st.a_stream,
            st.a_codec,
            st.b_stream,
            st.b_codec,
            st.a_frames,
            st.b_frames,
            st.differing,
            if st.a_skipped + st.b_skipped > 0 {
                format!(
                    " ({} and {} leading samples left out to align)",
                    st.a_skipped, st.b_skipped
                )
            } else {
                String::new()
            }
        );
        if let Some(d) = &st.first {
            s += &format!(
                "      first difference at {} {}{}: {}\n",
                if st.kind == "video" {
                    "picture"
                } else {
                    "block"
                },
                d.frame,
                d.time.map(|t| format!(" ({t:.3} s)")).unwrap_or_default(),
                safe(&d.detail)
            );
        }
    }
    for u in &c.unpaired {
        s += &format!("    {}\n", safe(u));
    }
    s
}

/// What `--store` did with an output, for people.
pub(crate) fn registration_line(store: &Path, r: Option<&Registration>) -> String {
    let store = safe(&store.display().to_string());
    match r {
        None => format!("  not registered in {store}: the output failed its proof\n"),
        Some(r) => {
            let mut s = match r.outcome {
                Outcome::Registered => format!(
                    "  registered in {store} as {} (derived from {}; log entry {})\n",
                    r.blake3,
                    r.sources.join(" + "),
                    r.seq.map_or("-".into(), |s| s.to_string())
                ),
                Outcome::AlreadyRegistered => {
                    format!("  already registered in {store} as {}\n", r.blake3)
                }
            };
            if let Some(e) = &r.catalog_error {
                s += &format!("  note: not indexed in the catalog: {}\n", safe(e));
            }
            s
        }
    }
}

/// The overlay the arguments ask for.
fn overlay(args: &ArchiveArgs) -> Result<Option<Overlay>, Failure> {
    if !args.overlay {
        return Ok(None);
    }
    let start_utc = match &args.overlay_start {
        Some(t) => Some(custody::evidence::parse_utc(t).ok_or_else(|| {
            Failure::from(custody::Error::InvalidArgument(format!(
                "--overlay-start {t:?} is not YYYY-MM-DDThh:mm:ssZ"
            )))
        })?),
        None => None,
    };
    Ok(Some(Overlay {
        start_utc,
        device: args.overlay_device.clone(),
        officer: args.overlay_officer.clone(),
        font: args.font.clone(),
    }))
}

/// The station key a `--store` run signs with (`--key`, else
/// `$CUSTODY_KEY`, else the default path); `None` without `--store`.
pub(crate) fn station_key(
    store: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<custody::evidence::keys::StationKey>, Failure> {
    let Some(_) = store else {
        return Ok(None);
    };
    let path = key.map_or_else(custody::default_key_path, Path::to_path_buf);
    custody::load_key(&path).map(Some).map_err(Failure::from)
}

/// Ends a run that could not start: the failure, and exit 2.
pub(crate) fn cannot_start(f: &Failure, json: bool) -> ExitCode {
    let mut values = Vec::new();
    fail(f, json, &mut values);
    if json {
        let _ = print_json(values, false);
    }
    ExitCode::from(2)
}

pub(crate) fn fail(f: &Failure, json: bool, values: &mut Vec<serde_json::Value>) {
    eprintln!("custody: {}: {}", safe(&f.path), safe(&f.message));
    if json {
        values.push(f.json());
    }
}

pub(crate) fn run(args: &ArchiveArgs) -> ExitCode {
    let profile = Profile::from(args.profile);
    let time = |t: &Option<String>| -> Result<Option<f64>, Failure> {
        t.as_deref()
            .map(custody::transcode::parse_time)
            .transpose()
            .map_err(|e| Failure::from(custody::Error::InvalidArgument(e.to_string())))
    };
    let mut values = Vec::new();
    let (from, to, overlay) = match (time(&args.from), time(&args.to), overlay(args)) {
        (Ok(f), Ok(t), Ok(o)) => (f, t, o),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return cannot_start(&e, args.json),
    };
    let key = match station_key(args.store.as_deref(), args.key.as_deref()) {
        Ok(k) => k,
        Err(e) => return cannot_start(&e, args.json),
    };
    let who = DeriveOptions {
        station: args.station.clone(),
        operator: args.operator.clone(),
    };
    let opts = Options {
        profile,
        from,
        to,
        crf: args.crf,
        preset: args.preset.clone(),
        slices: args.slices,
        threads: args.threads,
        parallel: if args.slice_threads {
            Parallel::Slices
        } else {
            Parallel::Frames
        },
        prove: !args.no_proof,
        overlay,
        ..Default::default()
    };
    let stop = interrupt_flag();
    // One job per file, except a join (all files, one output).
    let jobs: Vec<Vec<PathBuf>> = if profile == Profile::Join {
        vec![args.files.clone()]
    } else {
        args.files.iter().map(|f| vec![f.clone()]).collect()
    };
    let several = jobs.len() > 1;
    let (mut failed, mut findings) = (false, false);
    for inputs in &jobs {
        let out = out_path(args, &inputs[0], several);
        let pb = bar();
        let progress = |p: custody::transcode::Progress| {
            if let Some(pb) = &pb {
                pb.set_message(match p.phase {
                    Phase::Hash => "hash",
                    Phase::Write => "write",
                    Phase::Prove => "prove",
                });
                if p.total > 0.0 {
                    pb.set_position(((p.done / p.total).clamp(0.0, 1.0) * 1000.0) as u64);
                }
            }
            !stop.load(Ordering::SeqCst)
        };
        let r = match (&args.store, &key) {
            (Some(store), Some(key)) => {
                let target = custody::StoreTarget {
                    store,
                    key,
                    who: &who,
                };
                custody::archive_to_store(inputs, &out, &opts, &target, progress)
                    .map(|s| (s.archived, Some(s.registration)))
            }
            _ => custody::archive(inputs, &out, &opts, progress).map(|a| (a, None)),
        };
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        match r {
            Ok((a, registration)) => {
                if !a.kept || a.proof.as_ref().is_some_and(|p| !p.ok()) {
                    findings = true;
                }
                if args.json {
                    let mut v = serde_json::to_value(&a).unwrap_or_default();
                    v["ok"] = serde_json::Value::Bool(a.kept);
                    if let Some(r) = &registration {
                        v["registration"] = serde_json::to_value(r).unwrap_or_default();
                    }
                    values.push(v);
                } else {
                    print!("{}", describe(&a));
                    if let (Some(store), Some(r)) = (&args.store, &registration) {
                        print!("{}", registration_line(store, r.as_ref()));
                    }
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
    } else if findings {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn compare(args: &CompareArgs) -> ExitCode {
    let stop = interrupt_flag();
    let pb = bar();
    let r = custody::compare(&args.a, &args.b, |t| {
        if let Some(pb) = &pb {
            pb.set_message(format!("{t:.1} s"));
            pb.tick();
        }
        !stop.load(Ordering::SeqCst)
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    match r {
        Ok(c) => {
            if args.json {
                if print_json(vec![serde_json::to_value(&c).unwrap_or_default()], false).is_err() {
                    return ExitCode::from(2);
                }
            } else {
                println!(
                    "{} vs {}: {}",
                    safe(&args.a.display().to_string()),
                    safe(&args.b.display().to_string()),
                    if c.identical {
                        "IDENTICAL"
                    } else {
                        "DIFFERENT"
                    }
                );
                print!("{}", comparison_lines(&c));
            }
            if c.identical {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            let mut values = Vec::new();
            fail(&e.into(), args.json, &mut values);
            if args.json {
                let _ = print_json(values, false);
            }
            ExitCode::from(2)
        }
    }
}
