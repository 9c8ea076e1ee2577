//! `custody key`, `custody log`, `custody ingest`, `custody verify`, `custody report`, `custody catalog`.

use crate::common::{Failure, print_json, print_value, safe};
use custody_evidence::ingest::IngestOptions;
use custody_evidence::verify::VerifyOptions;
use std::path::PathBuf;
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

/// Reports a failed job on stderr (and as the JSON error on stdout with
/// `--json`): exit code 2.
fn fail(json: bool, e: custody::Error) -> ExitCode {
    let f = Failure::from(e);
    eprintln!("custody: {}: {}", f.path, f.message);
    if json {
        let _ = print_json(vec![f.json()], false);
    }
    ExitCode::from(2)
}

/// Prints what was noticed about the store's keys.
fn warn_trust(warnings: &[String]) {
    for w in warnings {
        eprintln!("custody: warning: {w}");
    }
}

/// Whom `report` and `catalog` trust: the station key when there is one,
/// else the store's own first key.
fn station_anchors() -> Result<Vec<[u8; 32]>, custody::Error> {
    Ok(custody::station_anchor()?.into_iter().collect())
}

pub(crate) fn key(cmd: &KeyCommand) -> ExitCode {
    match cmd {
        KeyCommand::Init { key } => {
            let path = key_path(key);
            let (k, created) = match custody::init_key(&path) {
                Ok(pair) => pair,
                Err(e) => return fail(false, e),
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
            let l = match custody::list_keys(&path, store.as_ref()) {
                Ok(l) => l,
                Err(e) => return fail(*json, e),
            };
            if *json {
                return if print_value(&l).is_ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(2)
                };
            }
            match &l.station_key {
                Some(k) => println!(
                    "station key {} {} ({})",
                    k.fingerprint, k.public_key, k.path
                ),
                None => println!("no station key at {}", path.display()),
            }
            for k in l.store_keys.iter().flatten() {
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
            let (old, new) =
                match custody::rotate_key(store, key_path(key), station, operator.as_deref()) {
                    Ok(pair) => pair,
                    Err(e) => return fail(false, e),
                };
            println!("rotated {} -> {}", old.fingerprint(), new.fingerprint());
            println!("public key  {}", new.public_hex());
            ExitCode::SUCCESS
        }
    }
}

pub(crate) fn log(cmd: &LogCommand) -> ExitCode {
    match cmd {
        LogCommand::Anchor { store } => match custody::log_anchor(store) {
            Ok(head) => {
                println!("{}", String::from_utf8_lossy(&head));
                ExitCode::SUCCESS
            }
            Err(e) => fail(false, e),
        },
    }
}

/// The ingest options the arguments give (station files read).
fn ingest_options(a: &IngestArgs) -> Result<IngestOptions, custody::Error> {
    Ok(IngestOptions {
        station: a.station.clone(),
        operator: a.operator.clone(),
        officer: a.officer.clone(),
        device: a.device.clone(),
        reverify: !a.no_reverify,
        patterns: a
            .patterns
            .as_ref()
            .map(custody::read_patterns)
            .transpose()?
            .unwrap_or_default(),
        utc_offset: a.utc_offset.clone(),
        device_offsets: a
            .device_offsets
            .as_ref()
            .map(custody::read_device_offsets)
            .transpose()?
            .unwrap_or_default(),
        jobs: a.jobs,
        settle: std::time::Duration::from_secs_f64(a.settle),
        cancel: Some(ctrl_c()),
    })
}

pub(crate) fn run_ingest(a: &IngestArgs) -> ExitCode {
    let key = match custody::load_key(key_path(&a.key)) {
        Ok(k) => k,
        Err(e) => return fail(a.json, e),
    };
    let opts = match ingest_options(a) {
        Ok(o) => o,
        Err(e) => return fail(a.json, e),
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
    let result = custody::ingest(&a.src, &a.store, &key, &opts, progress);
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => return fail(a.json, e),
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

pub(crate) fn run_verify(a: &VerifyArgs) -> ExitCode {
    let anchors = match custody::trust_anchors(&a.public_key, a.trust.as_deref(), a.key.as_deref())
    {
        Ok(k) => k,
        Err(e) => return fail(a.json, e),
    };
    let anchor = match a.anchor.as_ref().map(custody::read_anchor).transpose() {
        Ok(b) => b,
        Err(e) => return fail(a.json, e),
    };
    let opts = VerifyOptions {
        anchors,
        object: a.object.clone(),
        anchor,
        fast: a.fast,
    };
    let report = match custody::verify(&a.store, &opts) {
        Ok(r) => r,
        Err(e) => return fail(a.json, e),
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

pub(crate) fn run_report(a: &ReportArgs) -> ExitCode {
    let opts = custody_evidence::report::ReportOptions {
        device: a.device.clone(),
        officer: a.officer.clone(),
        from: a.from.clone(),
        to: a.to.clone(),
        tolerance_s: a.tolerance,
    };
    let r = match station_anchors().and_then(|k| custody::report(&a.store, &opts, &k)) {
        Ok(r) => {
            warn_trust(&r.trust_warnings);
            r.value
        }
        Err(e) => return fail(a.json, e),
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
    let anchors = match station_anchors() {
        Ok(k) => k,
        Err(e) => return fail(matches!(cmd, CatalogCommand::List { json: true, .. }), e),
    };
    match cmd {
        CatalogCommand::Rebuild { store } => match custody::catalog_rebuild(store, &anchors) {
            Ok(r) => {
                warn_trust(&r.trust_warnings);
                println!("catalog rebuilt: {} registrations", r.value.registrations);
                for (h, why) in &r.value.left_out {
                    println!("UNVERIFIED {h} left out: {why}");
                }
                if r.value.left_out.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => fail(false, e),
        },
        CatalogCommand::List {
            store,
            device,
            officer,
            day,
            json,
        } => {
            let q = custody_evidence::catalog::Query {
                device: device.clone(),
                officer: officer.clone(),
                day: day.clone(),
            };
            let rows = match custody::catalog_list(store, &q, &anchors) {
                Ok(r) => {
                    warn_trust(&r.trust_warnings);
                    r.value
                }
                Err(e) => return fail(*json, e),
            };
            if *json {
                if print_value(&rows).is_err() {
                    return ExitCode::from(2);
                }
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
