//! `custody probe`.

use crate::ProbeArgs;
use crate::common::{Failure, fmt_opt, job_failure, mode, open};
use custody_container::bmff::TrackKind;
use custody_container::summary::{Probe, ProbeOptions};
use custody_container::{Limits, probe_segment};
use custody_io::Evidence;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn probe_one(
    path: &Path,
    init: Option<&Evidence>,
    opts: ProbeOptions,
    no_mmap: bool,
) -> Result<Probe, Failure> {
    let Some(init) = init else {
        let req = custody::ProbeRequest {
            options: opts,
            mode: mode(no_mmap),
        };
        return custody::probe(path, &req).map_err(job_failure);
    };
    let ev = open(path, no_mmap)?;
    let mut p = probe_segment(init.bytes(), ev.bytes(), opts).map_err(|e| Failure {
        path: path.display().to_string(),
        offset: Some(e.offset),
        box_path: (!e.path.is_empty()).then(|| e.path.clone()),
        message: e.to_string(),
    })?;
    p.path = Some(path.display().to_string());
    Ok(p)
}

fn print_table(out: &mut impl Write, p: &Probe) -> std::io::Result<()> {
    writeln!(out, "{}", p.path.as_deref().unwrap_or("-"))?;
    writeln!(
        out,
        "  container {}  brand {}  size {}  duration {}  created {}{}",
        p.container,
        p.brand.as_deref().unwrap_or("-"),
        p.size,
        fmt_opt(p.duration_s.map(|d| format!("{d:.3}s"))),
        p.created.as_deref().unwrap_or("-"),
        if p.fragmented { "  fragmented" } else { "" }
    )?;
    if let Some(l) = p.location {
        writeln!(
            out,
            "  location {:.5}, {:.5}{}",
            l.lat,
            l.lon,
            fmt_alt(l.alt)
        )?;
    }
    if !p.tracks.is_empty() {
        writeln!(
            out,
            "  {:>6}  {:<8} {:<12} {:<6} {:>8} {:>6} {:>10}  details",
            "id", "kind", "codec", "tag", "samples", "keys", "duration"
        )?;
    }
    for t in &p.tracks {
        let details = match t.kind {
            TrackKind::Video if t.width.is_some() => {
                format!("{}x{}", fmt_opt(t.width), fmt_opt(t.height))
            }
            TrackKind::Audio => format!("{} Hz {} ch", fmt_opt(t.sample_rate), fmt_opt(t.channels)),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:>6}  {:<8} {:<12} {:<6} {:>8} {:>6} {:>10}  {} {}",
            t.id,
            t.kind,
            t.codec.map_or("-", |c| c.as_str()),
            t.codec_tag.as_deref().unwrap_or("-"),
            t.samples,
            t.keyframes,
            fmt_opt(t.duration_s.map(|d| format!("{d:.3}s"))),
            details,
            t.language.as_deref().unwrap_or("")
        )?;
    }
    for (k, v) in &p.metadata {
        writeln!(
            out,
            "  meta {k}: {}",
            serde_json::to_string(v).unwrap_or_default()
        )?;
    }
    for w in &p.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    if let Some(boxes) = &p.boxes {
        writeln!(out, "  boxes:")?;
        print_boxes(out, boxes, 2)?;
    }
    Ok(())
}

fn print_boxes(
    out: &mut impl Write,
    nodes: &[custody_container::bmff::BoxNode],
    depth: usize,
) -> std::io::Result<()> {
    for n in nodes {
        writeln!(
            out,
            "{:indent$}{} @ {} size {}",
            "",
            n.kind,
            n.offset,
            n.size,
            indent = depth * 2
        )?;
        print_boxes(out, &n.children, depth + 1)?;
    }
    Ok(())
}

fn fmt_alt(alt: Option<f64>) -> String {
    alt.map(|a| format!(", {a} m")).unwrap_or_default()
}

pub(crate) fn run(args: &ProbeArgs) -> ExitCode {
    let ProbeArgs {
        files,
        json,
        no_mmap,
        ..
    } = args;
    let (json, no_mmap) = (*json, *no_mmap);
    let opts = ProbeOptions {
        limits: Limits {
            strict: args.strict,
            ..Limits::default()
        },
        samples: args.samples,
        boxes: args.boxes,
    };
    let init = args.init.as_deref();
    let init_ev = match init.map(|p| open(p, no_mmap)).transpose() {
        Ok(e) => e,
        Err(f) => {
            eprintln!("custody: {}: {}", f.path, f.message);
            if json {
                println!("{}", f.json());
            }
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // JSON is written as it is serialised (one object, or an array for several
    // files), never held as a `serde_json::Value`: that costs ~100x the index.
    let array = json && files.len() != 1;
    if array && write!(out, "[").is_err() {
        return ExitCode::from(2);
    }
    for (i, f) in files.iter().enumerate() {
        if array && i > 0 && write!(out, ",").is_err() {
            return ExitCode::from(2);
        }
        let written = match probe_one(f, init_ev.as_ref(), opts, no_mmap) {
            Ok(p) if json => serde_json::to_writer(&mut out, &p).map_err(|_| ()),
            Ok(p) => print_table(&mut out, &p).map_err(|_| ()),
            Err(e) => {
                failed = true;
                eprintln!("custody: {}: {}", e.path, e.message);
                match json {
                    true => serde_json::to_writer(&mut out, &e.json()).map_err(|_| ()),
                    false => Ok(()),
                }
            }
        };
        if written.is_err() {
            return ExitCode::from(2);
        }
    }
    if json && ((array && write!(out, "]").is_err()) || writeln!(out).is_err()) {
        return ExitCode::from(2);
    }
    if out.flush().is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
