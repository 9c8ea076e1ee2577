//! `custody key`, `custody log`, `custody ingest`, `custody verify`, `custody report`, `custody catalog`.

use crate::common::{print_json, print_value, safe};
use custody_evidence::ingest::{IngestOptions, ingest_with_progress};
use custody_evidence::keyring;
use custody_evidence::keys::{KeyError, StationKey, public_from_hex};
use custody_evidence::store::DirStore;
use custody_evidence::verify::{VerifyOptions, verify_with};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `custody key ...`
#[derive(clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Create the station key pair (never replaces one) and print its public key and fingerprint.
    Init {
        /// Key file (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the station key's public half and, with --store, the store's keys.
    Show {
        /// Key file (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Also list this store's keys (from, until, introduced by).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the station key: the new key is introduced to the store by the
    /// old one (signed and logged); the old secret is kept as KEY.retired-FINGERPRINT.
    Rotate {
        /// Key file (default: $CUSTODY_KEY, else ~/.config/custody/station.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The store the new key is introduced to.
        #[arg(long)]
        store: PathBuf,
        /// Station identifier for the log entry.
        #[arg(long, default_value = "station")]
        station: String,
        /// Operator for the log entry.
        #[arg(long)]
        operator: Option<String>,
    },
}

/// `custody log ...`
#[derive(clap::Subcommand)]
pub(crate) enum LogCommand {
    /// Print the log's signed head (canonical JSON) to keep elsewhere; `verify
    /// --anchor FILE` later proves the log still holds that entry unchanged.
    Anchor {
        /// The evidence store directory.
        #[arg(long)]
        store: PathBuf,
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
    /// The recorder's UTC offset (+HH:MM), for start times known only in local time (file names).
    #[arg(long, value_name = "+HH:MM", allow_hyphen_values = true)]
    utc_offset: Option<String>,
    /// Per-device UTC offsets: a file of `SERIAL +HH:MM` lines (# comments).
    #[arg(long, value_name = "FILE")]
    device_offsets: Option<PathBuf>,
    /// Skip re-reading each copy before registering it.
    #[arg(long)]
    no_reverify: bool,
    /// Files collected at once; 1 reads strictly sequentially (one USB recorder, spinning disks).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Settle time in seconds: a file is collected only once it has stood
    /// still this long (by its modification time, or watched from the start
    /// of the run); one that moves meanwhile, or during its copy, is deferred
    /// as still being written. A run waits at most this long in all.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_settle)]
    settle: f64,
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

/// `custody verify`
#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// The evidence store directory.
    #[arg(long)]
    store: PathBuf,
    /// Verify only this object (BLAKE3 hex).
    #[arg(long)]
    object: Option<String>,
    /// A trusted station public key (64 hex digits); may be repeated.
    #[arg(long)]
    public_key: Vec<String>,
    /// A file of trusted public keys, one per line (64 hex digits; # comments).
    #[arg(long, value_name = "FILE")]
    trust: Option<PathBuf>,
    /// Key file whose public key is trusted (default: $CUSTODY_KEY, else
    /// ~/.config/custody/station.key, when it exists).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A log head kept elsewhere (`custody log anchor`): the log must still hold that entry.
    #[arg(long, value_name = "FILE")]
    anchor: Option<PathBuf>,
    /// Skip SHA-256 (BLAKE3 alone still decides whether bytes changed).
    #[arg(long)]
    fast: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// A settle time: seconds, from 0 to one hour.
fn parse_settle(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds from 0 to 3600")),
    }
}

/// A flag Ctrl-C sets: ingest stops between files (the files begun finish;
/// the others are reported deferred, and the exit code is 1).
fn ctrl_c() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = flag.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        f.store(true, std::sync::atomic::Ordering::SeqCst);
    }) {
        eprintln!(
            "custody: warning: Ctrl-C cannot be caught ({e}): it will stop the ingest at once"
        );
    }
    flag
}

/// The station key file: `--key`, else the library's default place.
fn key_path(arg: &Option<PathBuf>) -> PathBuf {
    arg.clone().unwrap_or_else(custody::default_key_path)
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

/// Opens (or creates) a store for writing, or reports why not (exit 2).
fn open_store(path: &Path, json: bool) -> Result<DirStore, ExitCode> {
    DirStore::open(path).map_err(|e| fail(json, path, format!("cannot open store: {e}")))
}

/// Opens an existing store for reading only, or reports why not (exit 2).
fn open_existing(path: &Path, json: bool) -> Result<DirStore, ExitCode> {
    DirStore::open_existing(path).map_err(|e| fail(json, path, format!("cannot open store: {e}")))
}

pub(crate) fn key(cmd: &KeyCommand) -> ExitCode {
    match cmd {
        KeyCommand::Init { key } => {
            let path = key_path(key);
            let (k, created) = match StationKey::init(&path) {
                Ok(k) => (k, true),
                Err(KeyError::Exists(_)) => match StationKey::load(&path) {
                    Ok(k) => (k, false),
                    Err(e) => return fail(false, &path, e.to_string()),
                },
                Err(e) => return fail(false, &path, e.to_string()),
            };
            println!(
                "{} {}",
                if created { "created" } else { "exists" },
                path.display()
            );
            println!("public key  {}", k.public_hex());
            println!("fingerprint {}", k.fingerprint());
            ExitCode::SUCCESS
        }
        KeyCommand::Show { key, store, json } => {
            let path = key_path(key);
            let station = StationKey::load(&path).ok().map(|k| {
                serde_json::json!({"path": path.display().to_string(), "public_key": k.public_hex(), "fingerprint": k.fingerprint()})
            });
            let keys = match store {
                Some(dir) => {
                    let s = match open_existing(dir, *json) {
                        Ok(s) => s,
                        Err(code) => return code,
                    };
                    match keyring::list(&s) {
                        Ok(k) => Some(k),
                        Err(e) => return fail(*json, dir, format!("cannot read keys: {e}")),
                    }
                }
                None => None,
            };
            if *json {
                let v = serde_json::json!({"station_key": station, "store_keys": keys});
                return if print_value(&v).is_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                };
            }
            match &station {
                Some(v) => println!(
                    "station key {} {} ({})",
                    v["fingerprint"].as_str().unwrap_or_default(),
                    v["public_key"].as_str().unwrap_or_default(),
                    path.display()
                ),
                None => println!("no station key at {}", path.display()),
            }
            for k in keys.iter().flatten() {
                println!(
                    "store key   {} {}  from {} until {}  (introduced by {})",
                    k.fingerprint,
                    k.public_key,
                    k.from,
                    k.until.as_deref().unwrap_or("-"),
                    k.introduced_by
                );
            }
            ExitCode::SUCCESS
        }
        KeyCommand::Rotate {
            key,
            store,
            station,
            operator,
        } => {
            let path = key_path(key);
            let s = match open_store(store, false) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let (old, new) = match keyring::rotate_key_file(&s, &path, station, operator.as_deref())
            {
                Ok(pair) => pair,
                Err(e) => return fail(false, &path, e.to_string()),
            };
            println!("rotated {} -> {}", old.fingerprint(), new.fingerprint());
            println!("public key  {}", new.public_hex());
            ExitCode::SUCCESS
        }
    }
}

pub(crate) fn log(cmd: &LogCommand) -> ExitCode {
    match cmd {
        LogCommand::Anchor { store } => {
            let s = match open_existing(store, false) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match s.log().anchor() {
                Ok(Some(head)) => {
                    println!("{}", String::from_utf8_lossy(&head));
                    ExitCode::SUCCESS
                }
                Ok(None) => fail(false, store, "the log is empty: nothing to anchor".into()),
                Err(e) => fail(false, store, format!("cannot read the log head: {e}")),
            }
        }
    }
}

pub(crate) fn run_ingest(a: &IngestArgs) -> ExitCode {
    let kp = key_path(&a.key);
    let key = match StationKey::load(&kp) {
        Ok(k) => k,
        Err(e) => return fail(a.json, &kp, e.to_string()),
    };
    let store = match open_store(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let patterns = match &a.patterns {
        Some(p) => match custody_evidence::names::read_patterns(p) {
            Ok(list) => list,
            Err(e) => return fail(a.json, p, format!("cannot read patterns: {e}")),
        },
        None => Vec::new(),
    };
    let device_offsets = match &a.device_offsets {
        Some(p) => match custody_io::read_regular_text(p)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                custody_evidence::ingest::parse_device_offsets(&t).map_err(|e| e.to_string())
            }) {
            Ok(m) => m,
            Err(e) => return fail(a.json, p, format!("device offsets: {e}")),
        },
        None => Default::default(),
    };
    let opts = IngestOptions {
        station: a.station.clone(),
        operator: a.operator.clone(),
        officer: a.officer.clone(),
        device: a.device.clone(),
        reverify: !a.no_reverify,
        patterns,
        utc_offset: a.utc_offset.clone(),
        device_offsets,
        jobs: a.jobs,
        settle: std::time::Duration::from_secs_f64(a.settle),
        cancel: Some(ctrl_c()),
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
    for n in &report.notes {
        eprintln!("custody: note: {n}");
    }
    for c in &report.catalog_errors {
        eprintln!(
            "custody: warning: catalog: {c} (the registration holds; `custody catalog rebuild` restores the index)"
        );
    }
    if a.json {
        if print_value(&report).is_err() {
            return ExitCode::from(2);
        }
    } else {
        let name = |v: serde_json::Result<serde_json::Value>| {
            v.ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        for r in &report.recovered {
            println!(
                "{:<20} {}{}  ({})",
                format!("recovery: {}", name(serde_json::to_value(r.action))),
                r.blake3,
                r.path
                    .as_ref()
                    .map(|p| format!(" {}", safe(p)))
                    .unwrap_or_default(),
                safe(&r.detail)
            );
        }
        for i in &report.items {
            let why = match (&i.reason, &i.supersedes) {
                (Some(r), _) => format!("  ({})", safe(r)),
                (None, Some(old)) => {
                    format!("  (supersedes {old}: its bytes are the start of these)")
                }
                (None, None) => String::new(),
            };
            println!(
                "{:<20} {}{}",
                name(serde_json::to_value(&i.outcome)),
                safe(&i.path),
                why
            );
        }
        println!(
            "{} files, {} bytes: {} registered, {} already present, {} deferred, {} refused, {} skipped; {:.1} s, {:.1} MB/s",
            report.files,
            report.bytes,
            report.registered,
            report.already_present,
            report.deferred,
            report.refused,
            report.skipped,
            report.seconds,
            report.mb_per_s
        );
    }
    // A docking script must know when a recorder was not fully collected:
    // something refused, deferred (still being written), or an earlier
    // run's leftovers that could not be completed or rolled back.
    if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The trust anchors a verifier gave: --public-key, --trust, and the
/// station key file when it exists.
fn anchors(a: &VerifyArgs) -> Result<Vec<[u8; 32]>, (PathBuf, String)> {
    let mut out = Vec::new();
    let mut add = |hex: &str, from: &Path| match public_from_hex(hex.trim()) {
        Some(k) => {
            out.push(k);
            Ok(())
        }
        None => Err((
            from.to_path_buf(),
            format!("{hex:?} is not a public key (64 hex digits)"),
        )),
    };
    for h in &a.public_key {
        add(h, Path::new("--public-key"))?;
    }
    if let Some(f) = &a.trust {
        let keys = keyring::read_trust_file(f).map_err(|e| (f.clone(), e.to_string()))?;
        out.extend(keys);
    }
    let kp = key_path(&a.key);
    if a.key.is_some() || kp.is_file() {
        let k = StationKey::load(&kp).map_err(|e| (kp.clone(), e.to_string()))?;
        out.push(k.public());
    }
    Ok(out)
}

pub(crate) fn run_verify(a: &VerifyArgs) -> ExitCode {
    let anchors = match anchors(a) {
        Ok(k) => k,
        Err((path, m)) => return fail(a.json, &path, m),
    };
    let anchor = match &a.anchor {
        Some(p) => match custody_io::read_regular(p) {
            Ok(b) => Some(b),
            Err(e) => return fail(a.json, p, format!("cannot read the anchor: {e}")),
        },
        None => None,
    };
    let store = match open_existing(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let opts = VerifyOptions {
        anchors,
        object: a.object.clone(),
        anchor,
        fast: a.fast,
    };
    let report = match verify_with(&store, &opts) {
        Ok(r) => r,
        Err(e) => return fail(a.json, &a.store, format!("verify failed: {e}")),
    };
    if a.json {
        if print_value(&report).is_err() {
            return ExitCode::from(2);
        }
    } else {
        println!(
            "{} objects checked ({}); trusted keys: {} ({})",
            report.objects_checked,
            if report.sha256_checked {
                "BLAKE3 and SHA-256"
            } else {
                "BLAKE3 only: --fast"
            },
            report
                .trust
                .keys
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if report.trust.source == "anchor" {
                "chained to the keys given"
            } else {
                "the store's own key"
            },
        );
        if report.derivations_checked > 0 {
            println!(
                "{} derivatives: each one's link to its sources checked",
                report.derivations_checked
            );
        }
        for (label, list) in [("FAILED", &report.failures), ("warning", &report.warnings)] {
            for f in list {
                let ranges: Vec<String> = f
                    .changed
                    .iter()
                    .map(|r| format!("{}..{}", r.start, r.end))
                    .collect();
                println!(
                    "{label} {}{}{}: {} {}",
                    f.name,
                    f.object
                        .as_deref()
                        .map(|o| format!(" {o}"))
                        .unwrap_or_default(),
                    f.seq.map(|s| format!(" entry {s}")).unwrap_or_default(),
                    f.message,
                    ranges.join(" ")
                );
            }
        }
        if report.log.ok {
            println!(
                "custody log: {} entries, signed and chained",
                report.log.entries
            );
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

/// Whom `report` and `catalog` trust: the station key when there is one,
/// else the store's own first key (said on stderr).
fn read_trust(store: &DirStore, dir: &Path, json: bool) -> Result<keyring::Trust, ExitCode> {
    let anchors: Vec<[u8; 32]> = StationKey::load(&key_path(&None))
        .map(|k| vec![k.public()])
        .unwrap_or_default();
    let (trust, _, warnings) = keyring::trust_store(store, &anchors)
        .map_err(|e| fail(json, dir, format!("cannot read the store's keys: {e}")))?;
    for w in warnings {
        eprintln!("custody: warning: {}", w.message);
    }
    Ok(trust)
}

pub(crate) fn run_report(a: &ReportArgs) -> ExitCode {
    let store = match open_existing(&a.store, a.json) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let trust = match read_trust(&store, &a.store, a.json) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let opts = custody_evidence::report::ReportOptions {
        device: a.device.clone(),
        officer: a.officer.clone(),
        from: a.from.clone(),
        to: a.to.clone(),
        tolerance_s: a.tolerance,
    };
    let r = match custody_evidence::report::report(&store, &opts, &trust) {
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
            "device {}: {} dated segments, {} recordings{}",
            safe(&d.device),
            d.segments,
            d.recordings.len(),
            d.utc_offset
                .as_deref()
                .map(|o| format!(", UTC offset {o}"))
                .unwrap_or_default()
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
            ("no offset", &d.offset_unknown),
        ] {
            for f in list {
                println!(
                    "  {label:<9} {}: {}{}",
                    safe(&f.path),
                    safe(&f.message),
                    f.after
                        .as_ref()
                        .map(|p| format!(" (after {})", safe(p)))
                        .unwrap_or_default()
                );
            }
        }
        if !d.undated.is_empty() {
            println!("  undated   {}", safe(&d.undated.join(", ")));
        }
    }
    for u in &r.unverified {
        println!("UNVERIFIED {} left out: {}", u.object, u.reason);
    }
    if !r.officers.is_empty() {
        println!(
            "{:<12} {:<10} {:>10} {:>10}  first .. last",
            "officer", "day", "recordings", "seconds"
        );
        for o in &r.officers {
            println!(
                "{:<12} {:<10} {:>10} {:>10.0}  {} .. {}",
                safe(&o.officer),
                o.day,
                o.recordings,
                o.duration_s,
                o.first,
                o.last
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
    let opened = match cmd {
        CatalogCommand::Rebuild { .. } => open_store(store_dir, json),
        CatalogCommand::List { .. } => open_existing(store_dir, json),
    };
    let store = match opened {
        Ok(s) => s,
        Err(code) => return code,
    };
    let trust = match read_trust(&store, store_dir, json) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut cat = match Catalog::open(&store) {
        Ok(c) => c,
        Err(e) => return fail(json, store_dir, format!("cannot open catalog: {e}")),
    };
    match cmd {
        CatalogCommand::Rebuild { .. } => match cat.rebuild(&store, &trust) {
            Ok((n, left_out)) => {
                println!("catalog rebuilt: {n} registrations");
                for (h, why) in &left_out {
                    println!("UNVERIFIED {h} left out: {why}");
                }
                if left_out.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
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
            let rows = match cat.list(&store, &q, &trust) {
                Ok(r) => r,
                Err(e) => return fail(json, store_dir, format!("query failed: {e}")),
            };
            if json {
                let _ = print_value(&rows);
            } else {
                for r in rows {
                    println!(
                        "{:<20} {:<8} {:<8} {:>8} {:<8} {}  {}{}",
                        r.start.as_deref().unwrap_or("-"),
                        safe(r.device.as_deref().unwrap_or("-")),
                        safe(r.officer.as_deref().unwrap_or("-")),
                        r.duration_s.map_or("-".into(), |d| format!("{d:.1}s")),
                        r.kind.as_deref().unwrap_or("-"),
                        r.blake3.get(..16).unwrap_or(&r.blake3),
                        safe(&r.path),
                        if r.verified { "" } else { "  UNVERIFIED" }
                    );
                }
            }
            ExitCode::SUCCESS
        }
    }
}
