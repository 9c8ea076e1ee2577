//! The `custody` command. Each subcommand parses its arguments, calls the
//! library and prints the result; it holds no logic of its own.

use clap::{Parser, Subcommand};
use custody_container::summary::{Probe, ProbeOptions};
use custody_container::{Limits, probe, probe_segment};
use custody_io::{Evidence, ReadMode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "custody",
    version,
    about = "Evidence-grade tools for law-enforcement recorder media"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe recordings: container, tracks, codecs, sample counts, metadata.
    Probe(ProbeArgs),
}

#[derive(clap::Args)]
struct ProbeArgs {
    /// Files to probe.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (one object per file; an array for several files).
    #[arg(long)]
    json: bool,
    /// Include each track's sample index (offset, size, dts, pts, keyframe).
    #[arg(long)]
    samples: bool,
    /// Include the ISO-BMFF box tree.
    #[arg(long)]
    boxes: bool,
    /// Treat every recoverable problem as an error.
    #[arg(long)]
    strict: bool,
    /// Init segment for media segments (.m4s).
    #[arg(long, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Read files into memory instead of mapping them (use for removable media).
    #[arg(long)]
    no_mmap: bool,
}

/// A failure to report: exit code 2.
struct Failure {
    path: String,
    offset: Option<u64>,
    box_path: Option<String>,
    message: String,
}

impl Failure {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "path": self.path,
            "offset": self.offset,
            "box": self.box_path,
            "message": self.message,
        }})
    }
}

fn open(path: &Path, no_mmap: bool) -> Result<Evidence, Failure> {
    let mode = if no_mmap {
        ReadMode::Read
    } else {
        ReadMode::Auto
    };
    Evidence::open(path, mode).map_err(|e| Failure {
        path: path.display().to_string(),
        offset: None,
        box_path: None,
        message: format!("cannot read: {e}"),
    })
}

fn probe_one(
    path: &Path,
    init: Option<&Evidence>,
    opts: ProbeOptions,
    no_mmap: bool,
) -> Result<Probe, Failure> {
    let ev = open(path, no_mmap)?;
    let result = match init {
        Some(init) => probe_segment(init.bytes(), ev.bytes(), opts),
        None => probe(ev.bytes(), opts),
    };
    let mut p = result.map_err(|e| Failure {
        path: path.display().to_string(),
        offset: Some(e.offset),
        box_path: (!e.path.is_empty()).then(|| e.path.clone()),
        message: e.to_string(),
    })?;
    p.path = Some(path.display().to_string());
    Ok(p)
}

fn fmt_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
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
            "video" if t.width.is_some() => format!("{}x{}", fmt_opt(t.width), fmt_opt(t.height)),
            "audio" => format!("{} Hz {} ch", fmt_opt(t.sample_rate), fmt_opt(t.channels)),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {:>6}  {:<8} {:<12} {:<6} {:>8} {:>6} {:>10}  {} {}",
            t.id,
            t.kind,
            t.codec.unwrap_or("-"),
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

fn run_probe(args: &ProbeArgs) -> ExitCode {
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
    let mut values = Vec::new();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for f in files {
        match probe_one(f, init_ev.as_ref(), opts, no_mmap) {
            Ok(p) => {
                if json {
                    values.push(serde_json::to_value(&p).unwrap_or(serde_json::Value::Null));
                } else if print_table(&mut out, &p).is_err() {
                    return ExitCode::from(2);
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("custody: {}: {}", e.path, e.message);
                if json {
                    values.push(e.json());
                }
            }
        }
    }
    if json {
        let doc = if files.len() == 1 {
            values.pop().unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Array(values)
        };
        if serde_json::to_writer(&mut out, &doc).is_err() || writeln!(out).is_err() {
            return ExitCode::from(2);
        }
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Probe(args) => run_probe(args),
    }
}
