//! A docking station in a few lines: watches a folder where recorders
//! appear (each new sub-folder stands for a recorder's mount point),
//! collects each arrival into the store, and prints the supervision report.
//! Ctrl-C stops it between recorders: nothing is left half-collected.
//!
//! `cargo run --example station_watch -- WATCHED_DIR STORE [STATION.KEY]`
//!
//! Exit 0 when every arrival was fully collected, 1 otherwise, 2 on error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn arrivals(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (watched, store) = match &args[..] {
        [w, s] | [w, s, _] => (w.clone(), s.clone()),
        _ => {
            eprintln!("usage: station_watch WATCHED_DIR STORE [STATION.KEY]");
            return ExitCode::from(2);
        }
    };
    let key_path = args
        .get(2)
        .cloned()
        .unwrap_or_else(custody::default_key_path);
    let key = match custody::load_key(&key_path) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("station_watch: {e} (create one with `custody key init`)");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst)) {
        eprintln!("station_watch: {e}");
        return ExitCode::from(2);
    }
    let opts = custody::evidence::ingest::IngestOptions {
        station: "station-watch".into(),
        reverify: true,
        ..Default::default()
    };
    let mut seen = arrivals(&watched); // recorders docked before we started are not ours
    let mut incomplete = false;
    eprintln!("station_watch: watching {}", watched.display());
    while !stop.load(Ordering::SeqCst) {
        let now = arrivals(&watched);
        for recorder in now.difference(&seen) {
            match custody::ingest(recorder, &store, &key, &opts, |_, _| {}) {
                Ok(r) => {
                    println!(
                        "{}: {} registered, {} already present, {} refused",
                        recorder.display(),
                        r.registered,
                        r.already_present,
                        r.refused
                    );
                    incomplete |= r.refused > 0;
                }
                Err(e) => {
                    eprintln!("station_watch: {e}");
                    incomplete = true;
                }
            }
            match custody::report(&store, &Default::default(), &[key.public()]) {
                Ok(rep) => println!("{}", serde_json::to_string(&rep.value).unwrap_or_default()),
                Err(e) => eprintln!("station_watch: report: {e}"),
            }
        }
        seen = now;
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("station_watch: stopped");
    if incomplete {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
