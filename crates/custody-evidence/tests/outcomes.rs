//! Every entry under a source ends with an outcome, and the store is left
//! whole: entries that cannot be examined, trees deeper than PATH_MAX, files
//! still being written (deferred, and superseded once complete), and a store
//! that fills between the steps of a registration (finished by the next run).

#![cfg(unix)]

use custody_evidence::fault::{FULL_AFTER_LOG_MARKER, FULL_AFTER_OBJECT_MARKER, STAT_MARKER};
use custody_evidence::ingest::{IngestOptions, IngestReport, Outcome, ingest};
use custody_evidence::keys::StationKey;
use custody_evidence::recover::Action;
use custody_evidence::store::DirStore;
use custody_evidence::verify::verify_store;
use custody_testkit::mp4::synthetic_recording;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn opts(settle_ms: u64) -> IngestOptions {
    IngestOptions {
        station: "st-1".into(),
        reverify: true,
        settle: Duration::from_millis(settle_ms),
        ..Default::default()
    }
}

fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The item for the path ending in `suffix`.
#[track_caller]
fn item<'a>(r: &'a IngestReport, suffix: &str) -> &'a custody_evidence::ingest::Item {
    r.items
        .iter()
        .find(|i| i.path.ends_with(suffix))
        .unwrap_or_else(|| panic!("no item for {suffix}: {:#?}", r.items))
}

/// Every log entry, parsed.
fn log_entries(store: &DirStore) -> Vec<serde_json::Value> {
    std::fs::read_to_string(store.root().join("custody.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The names of verification's failures.
fn failures(store: &DirStore, key: &StationKey) -> BTreeSet<&'static str> {
    verify_store(store, &key.public(), None)
        .unwrap()
        .failures
        .iter()
        .map(|f| f.name)
        .collect()
}

/// An entry whose `stat` fails (as one in a directory that can be listed
/// but not searched does, for anyone but root: injected here, since tests
/// run as root; `custody-cli/tests/faults.rs` has the real one) is refused
/// by name with the reason, never dropped; the rest is collected.
#[test]
fn an_entry_that_cannot_be_examined_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(src.join("DCIM")).unwrap();
    std::fs::write(src.join("DCIM/A.MP4"), synthetic_recording(1, 10, 5)).unwrap();
    let hidden = format!("DCIM/{STAT_MARKER}.MP4");
    std::fs::write(src.join(&hidden), synthetic_recording(1, 10, 6)).unwrap();
    // A whole directory that cannot be examined: nothing below it is seen.
    std::fs::create_dir_all(src.join(format!("{STAT_MARKER}-dir/sub"))).unwrap();
    std::fs::write(
        src.join(format!("{STAT_MARKER}-dir/sub/B.MP4")),
        synthetic_recording(1, 10, 7),
    )
    .unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts(0)).unwrap();
    for name in [hidden.as_str(), &format!("{STAT_MARKER}-dir")] {
        let i = item(&r, name);
        assert_eq!(i.outcome, Outcome::Refused, "{i:?}");
        assert!(
            i.reason
                .as_deref()
                .unwrap()
                .contains("cannot be examined (stat failed: Permission denied"),
            "{i:?}"
        );
    }
    assert_eq!(item(&r, "A.MP4").outcome, Outcome::Registered);
    assert_eq!((r.registered, r.refused), (1, 2), "{:#?}", r.items);
    assert!(!r.complete());
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
}

/// Makes `levels` nested directories named `name` under `root` and writes
/// `bytes` to `file` at the bottom, working relative to each new directory
/// (a shell's `cd`): the absolute path may exceed PATH_MAX. Returns the path
/// of the file relative to `root`.
fn deep_file(root: &Path, name: &str, levels: usize, file: &str, bytes: &[u8]) -> PathBuf {
    let data = root.join(".deep-data");
    std::fs::write(&data, bytes).unwrap();
    let status = std::process::Command::new("bash")
        .args([
            "-c",
            r#"cd "$1" && for _ in $(seq "$3"); do mkdir -p "$2" && cd "$2" || exit 1; done && cat "$4" > "$5""#,
            "deep",
        ])
        .arg(root)
        .arg(name)
        .arg(levels.to_string())
        .arg(&data)
        .arg(file)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&data).unwrap();
    let mut rel = PathBuf::new();
    for _ in 0..levels {
        rel.push(name);
    }
    rel.join(file)
}

/// A real tree whose paths are longer than PATH_MAX (4096 bytes) is walked,
/// copied and registered like any other: nothing under it vanishes.
#[test]
fn files_deeper_than_path_max_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    let name = "d".repeat(250);
    let deep = synthetic_recording(1, 10, 8);
    let rel = deep_file(&src, &name, 20, "DEEP.MP4", &deep);
    let middle = synthetic_recording(1, 10, 9);
    let mid_rel = deep_file(&src, &name, 10, "MID.MP4", &middle);
    std::fs::write(src.join("TOP.MP4"), synthetic_recording(1, 10, 4)).unwrap();
    let full = src.join(&rel);
    assert!(full.as_os_str().len() > 4096, "{}", full.as_os_str().len());
    // The kernel refuses the path whole: a walk by paths cannot reach it.
    assert_eq!(
        std::fs::metadata(&full).unwrap_err().raw_os_error(),
        Some(36), // ENAMETOOLONG
    );
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts(0)).unwrap();
    assert_eq!(
        (r.files, r.registered, r.refused),
        (3, 3, 0),
        "{:#?}",
        r.items
    );
    let i = item(&r, "DEEP.MP4");
    assert_eq!(i.path, rel.to_string_lossy());
    assert_eq!(i.blake3.as_deref(), Some(b3(&deep).as_str()));
    assert_eq!(
        item(&r, "MID.MP4").path,
        mid_rel.to_string_lossy(),
        "{:#?}",
        r.items
    );
    let m: serde_json::Value =
        serde_json::from_slice(&store.manifest_bytes(&b3(&deep)).unwrap()).unwrap();
    assert_eq!(
        m["manifest"]["original"]["path"],
        rel.to_string_lossy().as_ref()
    );
    assert!(r.complete());
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
    // Again: found, by hashing the deep file through its directory handles.
    let again = ingest(&src, &store, &key, &opts(0)).unwrap();
    assert_eq!(
        (again.already_present, again.refused),
        (3, 0),
        "{:#?}",
        again.items
    );
}

/// Appends `chunk` to `path` every `every` until `stop` is set.
fn writer(
    path: PathBuf,
    chunk: Vec<u8>,
    every: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            f.write_all(&chunk).unwrap();
            n += 1;
            std::thread::sleep(every);
        }
        n
    })
}

/// A file a writer thread keeps appending to while ingest runs is deferred
/// as still being written (not registered as a truncated object, not
/// refused), the others are collected; once the writer has stopped and the
/// file has settled, the next run registers it whole.
#[test]
fn a_file_still_being_written_is_deferred_then_collected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("DONE.MP4"), synthetic_recording(1, 10, 5)).unwrap();
    let growing = src.join("GROWING.MP4");
    std::fs::write(&growing, synthetic_recording(1, 10, 6)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(
        growing.clone(),
        vec![0x5a; 4096],
        Duration::from_millis(20),
        stop.clone(),
    );
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts(500)).unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let appends = w.join().unwrap();
    let g = item(&r, "GROWING.MP4");
    assert_eq!(
        g.outcome,
        Outcome::Deferred,
        "{:#?} ({appends} appends)",
        r.items
    );
    assert!(
        g.reason
            .as_deref()
            .unwrap()
            .starts_with("still being written"),
        "{g:?}"
    );
    assert_eq!(item(&r, "DONE.MP4").outcome, Outcome::Registered);
    assert_eq!((r.registered, r.deferred, r.refused), (1, 1, 0));
    assert!(!r.complete(), "a deferred file: not fully collected");
    assert_eq!(
        store.registered().unwrap().len(),
        1,
        "nothing truncated registered"
    );
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );

    std::thread::sleep(Duration::from_millis(600));
    let whole = std::fs::read(&growing).unwrap();
    let again = ingest(&src, &store, &key, &opts(500)).unwrap();
    let g = item(&again, "GROWING.MP4");
    assert_eq!(g.outcome, Outcome::Registered, "{:#?}", again.items);
    assert_eq!(g.blake3.as_deref(), Some(b3(&whole).as_str()));
    assert!(again.complete());
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
}

/// A recorder pauses (longer than the settle time) in the middle of a file:
/// the part written so far is registered. When it has finished, the whole
/// file is registered as a new object whose ingestion entry (signed, in the
/// log) says it supersedes the earlier one; the earlier object and its
/// manifest are kept. A different file later found at the same path (not
/// an extension of the earlier bytes) supersedes nothing.
#[test]
fn a_completed_file_supersedes_its_truncated_registration_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    let full = {
        let mut v = synthetic_recording(3, 10, 5);
        v.extend_from_slice(&[0x33; 70_000]);
        v
    };
    let path = src.join("SEG.MP4");
    let half = full.len() / 2 + 12_345;
    std::fs::write(&path, &full[..half]).unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    // Settled: the recorder paused for longer than the settle time.
    let first = ingest(&src, &store, &key, &opts(100)).unwrap();
    let truncated = b3(&full[..half]);
    assert_eq!(
        item(&first, "SEG.MP4").blake3.as_deref(),
        Some(truncated.as_str())
    );
    assert_eq!(item(&first, "SEG.MP4").supersedes, None);

    // The recorder finishes the file (a real append), then it settles.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&full[half..]).unwrap();
    }
    let second = ingest(&src, &store, &key, &opts(100)).unwrap();
    let whole = b3(&full);
    let s = item(&second, "SEG.MP4");
    assert_eq!(
        (
            s.outcome.clone(),
            s.blake3.as_deref(),
            s.supersedes.as_deref()
        ),
        (
            Outcome::Registered,
            Some(whole.as_str()),
            Some(truncated.as_str())
        ),
        "{:#?}",
        second.items
    );
    let entry = log_entries(&store)
        .into_iter()
        .find(|e| e["event"] == "ingestion" && e["object"] == whole.as_str())
        .unwrap();
    assert_eq!(
        entry["details"]["supersedes"],
        truncated.as_str(),
        "{entry}"
    );
    assert_eq!(entry["details"]["source"], "SEG.MP4");
    // Nothing registered is lost: both objects and manifests are there.
    assert_eq!(
        store
            .registered()
            .unwrap()
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([truncated.clone(), whole.clone()])
    );
    let m: serde_json::Value =
        serde_json::from_slice(&store.manifest_bytes(&whole).unwrap()).unwrap();
    assert!(
        m["manifest"]["events"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("supersedes {truncated}")),
        "{m}"
    );
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);

    // Another recording at the same path: registered, superseding nothing.
    let other = synthetic_recording(4, 10, 7);
    std::fs::write(&path, &other).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let third = ingest(&src, &store, &key, &opts(100)).unwrap();
    let t = item(&third, "SEG.MP4");
    assert_eq!(
        (t.outcome.clone(), t.supersedes.as_deref()),
        (Outcome::Registered, None),
        "{t:?}"
    );
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
}

/// The store fills up after a file's object is in place (its log entry
/// fails) and after another's log entry (its manifest fails): both files
/// are refused saying what was left, verification names the two orphans,
/// and the next ingest completes the logged one from its stored object and
/// rolls back the unlogged one, reporting both, and then collects the
/// files again: the store verifies, each object registered exactly once.
#[test]
fn a_store_that_fills_mid_registration_is_reported_and_finished_by_the_next_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    let (a, b, c) = (
        synthetic_recording(1, 10, 5),
        synthetic_recording(1, 10, 6),
        synthetic_recording(1, 10, 7),
    );
    let after_object = format!("{FULL_AFTER_OBJECT_MARKER}.MP4");
    let after_log = format!("{FULL_AFTER_LOG_MARKER}.MP4");
    std::fs::write(src.join(&after_object), &a).unwrap();
    std::fs::write(src.join(&after_log), &b).unwrap();
    std::fs::write(src.join("OK.MP4"), &c).unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts(0)).unwrap();
    let (ia, ib) = (item(&r, &after_object), item(&r, &after_log));
    assert_eq!(
        (&ia.outcome, &ib.outcome),
        (&Outcome::Refused, &Outcome::Refused)
    );
    assert!(
        ia.reason
            .as_deref()
            .unwrap()
            .contains("stored, but its log entry could not be written: No space left on device"),
        "{ia:?}"
    );
    assert!(
        ib.reason.as_deref().unwrap().contains(
            "stored and logged, but its manifest could not be written: No space left on device"
        ),
        "{ib:?}"
    );
    assert_eq!(item(&r, "OK.MP4").outcome, Outcome::Registered);
    assert!(!r.complete());
    // Verification names both orphans.
    let v = verify_store(&store, &key.public(), None).unwrap();
    let named: BTreeSet<(&str, Option<&str>)> = v
        .failures
        .iter()
        .map(|f| (f.name, f.object.as_deref()))
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            ("object_without_manifest", Some(b3(&a).as_str())),
            ("manifest_missing", Some(b3(&b).as_str())),
        ]),
        "{v:#?}"
    );

    // Space again (the files renamed: the markers would fail them again).
    std::fs::rename(src.join(&after_object), src.join("A.MP4")).unwrap();
    std::fs::rename(src.join(&after_log), src.join("B.MP4")).unwrap();
    let next = ingest(&src, &store, &key, &opts(0)).unwrap();
    let recovered: BTreeSet<(String, Action, Option<String>)> = next
        .recovered
        .iter()
        .map(|x| (x.blake3.clone(), x.action, x.path.clone()))
        .collect();
    assert_eq!(
        recovered,
        BTreeSet::from([
            (b3(&a), Action::RolledBack, None),
            (b3(&b), Action::Completed, Some(after_log.clone())),
        ]),
        "{:#?}",
        next.recovered
    );
    // The completed manifest names the path its log entry recorded.
    let m: serde_json::Value =
        serde_json::from_slice(&store.manifest_bytes(&b3(&b)).unwrap()).unwrap();
    assert_eq!(m["manifest"]["original"]["path"], after_log.as_str());
    assert_eq!(item(&next, "A.MP4").outcome, Outcome::Registered);
    assert_eq!(item(&next, "B.MP4").outcome, Outcome::AlreadyRegistered);
    assert_eq!(item(&next, "OK.MP4").outcome, Outcome::AlreadyRegistered);
    assert!(next.complete(), "{next:#?}");
    assert_eq!(failures(&store, &key), BTreeSet::new());
    let entries = log_entries(&store);
    let events = |h: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["object"] == h)
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(events(&b3(&a)), ["deletion", "ingestion"]);
    assert_eq!(events(&b3(&b)), ["ingestion", "recovery", "fixity check"]);
    // Nothing left to do.
    let third = ingest(&src, &store, &key, &opts(0)).unwrap();
    assert!(third.recovered.is_empty() && third.complete(), "{third:#?}");
}
