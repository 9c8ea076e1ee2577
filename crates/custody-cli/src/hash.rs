//! `custody hash` and `custody locate`.

use crate::common::{Failure, print_json, print_value};
use custody_hash::tree::{ChunkTree, DEFAULT_LEAF_SIZE, valid_leaf_size};
use custody_hash::{Algorithms, DigestOptions, FileDigest};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Which digests `--algo` selects.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Algo {
    Blake3,
    Sha256,
    Both,
    All,
}

#[derive(clap::Args)]
pub(crate) struct HashArgs {
    /// Files to hash.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON (one object per file; an array for several files).
    #[arg(long)]
    json: bool,
    /// Digests to compute (`all` adds MD5).
    #[arg(long, value_enum, default_value = "both")]
    algo: Algo,
    /// Write each file's chunk tree to DIR/NAME.b3tree.
    #[arg(long, value_name = "DIR")]
    tree_out: Option<PathBuf>,
    /// Chunk-tree leaf size in bytes (a power of two, 1024 to 16777216).
    #[arg(long, default_value_t = DEFAULT_LEAF_SIZE)]
    leaf_size: u32,
    /// Print lines that `b3sum --check` accepts.
    #[arg(long)]
    b3sum: bool,
    /// Hash each track's media in a container-independent form instead.
    #[arg(long)]
    content: bool,
    /// Always stream files with read() instead of memory-mapping large files on
    /// fixed disks (files on removable media are never mapped).
    #[arg(long)]
    no_mmap: bool,
}

#[derive(clap::Args)]
pub(crate) struct LocateArgs {
    /// The file to check.
    file: PathBuf,
    /// Its chunk tree (`custody hash --tree-out`).
    tree: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    (len >= 1 << 30 && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(len);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    })
}

fn digest_file(path: &Path, args: &HashArgs) -> Result<(FileDigest, Option<ChunkTree>), Failure> {
    let algorithms = match args.algo {
        Algo::Blake3 => Algorithms::BLAKE3,
        Algo::Sha256 => Algorithms::SHA256,
        Algo::Both => Algorithms::BOTH,
        Algo::All => Algorithms::ALL,
    };
    let opts = DigestOptions {
        algorithms,
        leaf_size: args.leaf_size,
    };
    let mode = if args.no_mmap {
        custody_io::ReadMode::Read
    } else {
        custody_io::ReadMode::Auto
    };
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let pb = progress_bar(len);
    let r = custody::hash(path, opts, mode, |n| {
        if let Some(pb) = &pb {
            pb.set_position(n);
        }
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    Ok(r?)
}

fn hash_one(path: &Path, args: &HashArgs) -> Result<serde_json::Value, Failure> {
    if args.content {
        let c = custody::content_with(path, crate::common::mode(args.no_mmap))?;
        return Ok(serde_json::to_value(c).unwrap_or_default());
    }
    let (d, tree) = digest_file(path, args)?;
    let mut summary = custody::HashSummary::new(path, &d);
    if let (Some(dir), Some(tree)) = (&args.tree_out, &tree) {
        summary.tree = Some(custody::write_tree(dir, path, tree)?.display().to_string());
    }
    Ok(serde_json::to_value(summary).unwrap_or_default())
}

pub(crate) fn run(args: &HashArgs) -> ExitCode {
    if !valid_leaf_size(args.leaf_size) {
        eprintln!("custody: --leaf-size must be a power of two from 1024 to 16777216");
        return ExitCode::from(2);
    }
    if args.b3sum && !matches!(args.algo, Algo::Blake3 | Algo::Both | Algo::All) {
        eprintln!("custody: --b3sum needs BLAKE3 (--algo blake3, both or all)");
        return ExitCode::from(2);
    }
    let mut failed = false;
    let mut values = Vec::new();
    let stdout = std::io::stdout();
    for f in &args.files {
        match hash_one(f, args) {
            Ok(v) => {
                let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
                let line = if args.json || args.content {
                    None
                } else if args.b3sum {
                    Some(format!("{}  {}", s("blake3"), f.display()))
                } else {
                    Some(format!(
                        "{}  {}  {}  {}",
                        s("blake3"),
                        s("sha256"),
                        v["size"],
                        f.display()
                    ))
                };
                match line {
                    Some(l) => {
                        if writeln!(stdout.lock(), "{l}").is_err() {
                            return ExitCode::from(2);
                        }
                    }
                    None => values.push(v),
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("custody: {}: {}", e.path, e.message);
                if args.json || args.content {
                    values.push(e.json());
                }
            }
        }
    }
    if (args.json || args.content) && print_json(values, args.files.len() > 1).is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn locate(args: &LocateArgs) -> ExitCode {
    let fail = |f: Failure| {
        eprintln!("custody: {}: {}", f.path, f.message);
        if args.json {
            let _ = print_json(vec![f.json()], false);
        }
        ExitCode::from(2)
    };
    let report = match custody::locate(&args.file, &args.tree) {
        Ok(r) => r,
        Err(e) => return fail(e.into()),
    };
    if args.json {
        if print_value(&report).is_err() {
            return ExitCode::from(2);
        }
    } else if report.ok {
        println!(
            "{}: OK ({} bytes match the tree)",
            args.file.display(),
            report.size_actual
        );
    } else {
        println!(
            "{}: CHANGED (expected {} bytes, found {}{})",
            args.file.display(),
            report.size_expected,
            report.size_actual,
            if report.truncated {
                ", truncated"
            } else if report.extended {
                ", extended"
            } else {
                ""
            }
        );
        for r in &report.changed {
            println!("  bytes {}..{} differ", r.start, r.end);
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
