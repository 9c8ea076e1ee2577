//! `custody key`, `custody ingest`, `custody verify`.

use crate::common::{print_json, print_value};
use custody_evidence::ingest::{IngestOptions, ingest_with_progress};
use custody_evidence::keys::{StationKey, from_hex};
use custody_evidence::store::DirStore;
use custody_evidence::verify::verify_store;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `custody key ...`
#[derive(clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Create the station key pair (if absent) and print its public key and fingerprint.
    Init {
        /// Key file (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub(crate) struct IngestArgs {
    /// The recorder's mounted file system (never written to).
    src: PathBuf,
    /// The evidence store directory.
    #[arg(long)]
    store: PathBuf,
    /// Officer number (overrides file names and metadata).
    #[arg(long)]
    officer: Option<String>,
    /// Device serial number (overrides file names and metadata).
    #[arg(long)]
    device: Option<String>,
    /// Station identifier.
    #[arg(long, default_value = "station")]
    station: String,
    /// Operator name.
    #[arg(long)]
    operator: Option<String>,
    /// Skip re-reading each copy before registering it.
    #[arg(long)]
    no_reverify: bool,
    /// Files collected at once; 1 reads strictly sequentially (one USB recorder, spinning disks).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// A file of file-name patterns, one per line (default: the built-in set).
    #[arg(long)]
    patterns: Option<PathBuf>,
    /// Key file (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print the JSON summary.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The evidence store directory.
    #[arg(long)]
    store: PathBuf,
    /// Verify only this object (BLAKE3 hex).
    #[arg(long)]
    object: Option<String>,
    /// The trusted station public key (hex); default: the key file's.
    #[arg(long)]
    public_key: Option<String>,
    /// Key file whose public key is trusted (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn key_path(arg: &Option<PathBuf>) -> PathBuf {
    if let Some(p) = arg {
        return p.clone();
    }
    if let Some(p) = std::env::var_os("CUSTODY_KEY") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("custody/station.key")
}

fn fail(json: bool, path: &Path, message: String) -> ExitCode {
    eprintln!("custody: {}: {message}", path.display());
    if json {
        let _ = print_json(
            vec![
                serde_json::json!({"error": {"path": path.display().to_string(), "message": message}}),
            ],
            false,
        );
    }
    ExitCode::from(2)
}

/// Opens a store, or reports why not (exit 2).
fn open_store(path: &Path, json: bool) -> Result<DirStore, ExitCode> {
    DirStore::open(path).map_err(|e| fail(json, path, format!("cannot open store: {e}")))
}

pub(crate) fn key(cmd: &KeyCommand) -> ExitCode {
    match cmd {
        KeyCommand::Init { key } => {
            let path = key_path(key);
            match StationKey::load_or_init(&path) {
                Ok((k, created)) => {
                    println!(
                        "{} {}",
                        if created { "created" } else { "exists" },
                        path.display()
                    );
                    println!("public key  {}", k.public_hex());
                    println!("fingerprint {}", k.fingerprint());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(false, &path, e.to_string()),
            }
        }
    }
}

pub(crate) fn run_ingest(a: &IngestArgs) -> ExitCode {
    let kp = key_path(&a.key);
    let key = match StationKey::load_or_init(&kp) {
        Ok((k, _)) => k,
        Err(e) => return fail(a.json, &kp, e.to_string()),
    };
    let store = match open_store(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let patterns = match &a.patterns {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
            Err(e) => return fail(a.json, p, format!("cannot read patterns: {e}")),
        },
        None => Vec::new(),
    };
    let opts = IngestOptions {
        station: a.station.clone(),
        operator: a.operator.clone(),
        officer: a.officer.clone(),
        device: a.device.clone(),
        reverify: !a.no_reverify,
        patterns,
        jobs: a.jobs,
    };
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let progress = |done: usize, total: usize| {
        if let Some(pb) = &bar {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    };
    let result = ingest_with_progress(&a.src, &store, &key, &opts, &progress);
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(a.json, &a.src, format!("ingest failed: {e}")),
    };
    if a.json {
        if print_value(&report).is_err() {
            return ExitCode::from(2);
        }
    } else {
        for i in &report.items {
            let outcome = serde_json::to_value(&i.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            println!(
                "{:<20} {}{}",
                outcome,
                i.path,
                i.reason
                    .as_ref()
                    .map(|r| format!("  ({r})"))
                    .unwrap_or_default()
            );
        }
        println!(
            "{} files, {} bytes: {} registered, {} already present, {} refused, {} skipped; {:.1} s, {:.1} MB/s",
            report.files,
            report.bytes,
            report.registered,
            report.already_present,
            report.refused,
            report.skipped,
            report.seconds,
            report.mb_per_s
        );
    }
    // A docking script must know when a recorder was not fully collected.
    if report.refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) fn run_verify(a: &VerifyArgs) -> ExitCode {
    let trusted = match &a.public_key {
        Some(h) => match from_hex(h).filter(|b| b.len() == 32) {
            Some(b) => {
                let mut k = [0u8; 32];
                k.copy_from_slice(&b);
                k
            }
            None => {
                return fail(
                    a.json,
                    &a.store,
                    "--public-key must be 64 hex digits".into(),
                );
            }
        },
        None => {
            let kp = key_path(&a.key);
            if !kp.is_file() {
                return fail(
                    a.json,
                    &kp,
                    "no station key: give --public-key or --key".into(),
                );
            }
            match StationKey::load_or_init(&kp) {
                Ok((k, _)) => k.public(),
                Err(e) => return fail(a.json, &kp, e.to_string()),
            }
        }
    };
    let store = match open_store(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let report = match verify_store(&store, &trusted, a.object.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(a.json, &a.store, format!("verify failed: {e}")),
    };
    if a.json {
        if print_value(&report).is_err() {
            return ExitCode::from(2);
        }
    } else {
        println!("{} objects checked", report.objects_checked);
        for o in &report.objects_failed {
            let ranges: Vec<String> = o
                .changed
                .iter()
                .map(|r| format!("{}..{}", r.start, r.end))
                .collect();
            println!(
                "OBJECT FAILED {}: {} {}",
                o.hash,
                o.message,
                ranges.join(" ")
            );
        }
        for m in &report.manifests_failed {
            println!("MANIFEST FAILED {}: {}", m.hash, m.message);
        }
        match &report.log.message {
            None => println!("custody log: {} entries, chain intact", report.log.entries),
            Some(m) => println!(
                "CUSTODY LOG FAILED at entry {}: {m}",
                report.log.first_bad_seq.unwrap_or(0)
            ),
        }
        println!("{}", if report.ok { "OK" } else { "FAILED" });
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// The evidence store directory.
    #[arg(long)]
    store: PathBuf,
    /// Only this device serial.
    #[arg(long)]
    device: Option<String>,
    /// Only this officer.
    #[arg(long)]
    officer: Option<String>,
    /// Only segments starting at or after this time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Only segments starting before this time.
    #[arg(long)]
    to: Option<String>,
    /// Seconds of slack between consecutive segments.
    #[arg(long, default_value_t = 2.0)]
    tolerance: f64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_report(a: &ReportArgs) -> ExitCode {
    let store = match open_store(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let opts = custody_evidence::report::ReportOptions {
        device: a.device.clone(),
        officer: a.officer.clone(),
        from: a.from.clone(),
        to: a.to.clone(),
        tolerance_s: a.tolerance,
    };
    let r = match custody_evidence::report::report(&store, &opts) {
        Ok(r) => r,
        Err(e) => return fail(a.json, &a.store, format!("report failed: {e}")),
    };
    if a.json {
        return if print_value(&r).is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    for d in &r.devices {
        println!(
            "device {}: {} dated segments, {} recordings",
            d.device,
            d.segments,
            d.recordings.len()
        );
        for rec in &d.recordings {
            println!(
                "  recording {} .. {} ({:.0} s, {} segments)",
                rec.start,
                rec.end,
                rec.duration_s,
                rec.segments.len()
            );
        }
        for (label, list) in [
            ("gap", &d.gaps),
            ("overlap", &d.overlaps),
            ("truncated", &d.truncated),
            ("clock", &d.clock_anomalies),
        ] {
            for f in list {
                println!(
                    "  {label:<9} {}: {}{}",
                    f.path,
                    f.message,
                    f.after
                        .as_ref()
                        .map(|p| format!(" (after {p})"))
                        .unwrap_or_default()
                );
            }
        }
        if !d.undated.is_empty() {
            println!("  undated   {}", d.undated.join(", "));
        }
    }
    if !r.officers.is_empty() {
        println!(
            "{:<12} {:<10} {:>10} {:>10}  first .. last",
            "officer", "day", "recordings", "seconds"
        );
        for o in &r.officers {
            println!(
                "{:<12} {:<10} {:>10} {:>10.0}  {} .. {}",
                o.officer, o.day, o.recordings, o.duration_s, o.first, o.last
            );
        }
    }
    ExitCode::SUCCESS
}

/// `custody catalog ...`
#[derive(clap::Subcommand)]
pub(crate) enum CatalogCommand {
    /// Recreate the catalog from the signed manifests.
    Rebuild {
        /// The evidence store directory.
        #[arg(long)]
        store: PathBuf,
    },
    /// List registrations, by device, officer and day.
    List {
        /// The evidence store directory.
        #[arg(long)]
        store: PathBuf,
        /// Device serial.
        #[arg(long)]
        device: Option<String>,
        /// Officer.
        #[arg(long)]
        officer: Option<String>,
        /// Day, YYYY-MM-DD.
        #[arg(long)]
        day: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn catalog(cmd: &CatalogCommand) -> ExitCode {
    use custody_evidence::catalog::{Catalog, Query};
    let (store_dir, json) = match cmd {
        CatalogCommand::Rebuild { store } => (store, false),
        CatalogCommand::List { store, json, .. } => (store, *json),
    };
    let store = match open_store(store_dir, json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut cat = match Catalog::open(&store) {
        Ok(c) => c,
        Err(e) => return fail(json, store_dir, format!("cannot open catalog: {e}")),
    };
    match cmd {
        CatalogCommand::Rebuild { .. } => match cat.rebuild(&store) {
            Ok(n) => {
                println!("catalog rebuilt: {n} registrations");
                ExitCode::SUCCESS
            }
            Err(e) => fail(false, store_dir, format!("rebuild failed: {e}")),
        },
        CatalogCommand::List {
            device,
            officer,
            day,
            ..
        } => {
            let q = Query {
                device: device.clone(),
                officer: officer.clone(),
                day: day.clone(),
            };
            let rows = match cat.list(&q) {
                Ok(r) => r,
                Err(e) => return fail(json, store_dir, format!("query failed: {e}")),
            };
            if json {
                let _ = print_value(&rows);
            } else {
                for r in rows {
                    println!(
                        "{:<20} {:<8} {:<8} {:>8} {:<8} {}  {}",
                        r.start.as_deref().unwrap_or("-"),
                        r.device.as_deref().unwrap_or("-"),
                        r.officer.as_deref().unwrap_or("-"),
                        r.duration_s.map_or("-".into(), |d| format!("{d:.1}s")),
                        r.kind.as_deref().unwrap_or("-"),
                        &r.blake3[..16],
                        r.path
                    );
                }
            }
            ExitCode::SUCCESS
        }
    }
}
