//! Ingest, verification and tampering, on real recorder-like trees.

use custody_evidence::ingest::{IngestOptions, Outcome, ingest};
use custody_evidence::keys::StationKey;
use custody_evidence::store::DirStore;
use custody_evidence::verify::verify_store;
use custody_testkit::mp4::synthetic_recording;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn opts() -> IngestOptions {
    IngestOptions {
        station: "st-1".into(),
        reverify: true,
        ..Default::default()
    }
}

/// A recorder dump: three consecutive segments, a photo, a voice note, a system file.
fn dump(dir: &Path) -> PathBuf {
    let root = dir.join("rec");
    let dcim = root.join("DCIM/100REC");
    std::fs::create_dir_all(&dcim).unwrap();
    for (i, secs) in [(1, 3), (2, 2), (3, 4)] {
        // Frames of about 5 KB: the segments span several 64 KiB leaves.
        let mut v = Vec::new();
        custody_testkit::mp4::write_synthetic_recording(&mut v, secs, 10, 5, 5000).unwrap();
        std::fs::write(
            dcim.join(format!("SN77_4242_2026112908300{i}_000{i}.MP4")),
            v,
        )
        .unwrap();
    }
    std::fs::write(
        dcim.join("IMG_0001.JPG"),
        [0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F'],
    )
    .unwrap();
    std::fs::write(dcim.join("VOICE.WAV"), b"RIFF\x24\0\0\0WAVEfmt ").unwrap();
    std::fs::write(root.join(".Spotlight-V100"), b"junk").unwrap();
    root
}

/// Every file's bytes and mtime under `root`.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                out.push((
                    e.path(),
                    std::fs::read(e.path()).unwrap(),
                    m.modified().unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The BLAKE3 (hex) of `bytes`, as the store names objects.
fn b3(bytes: &[u8]) -> String {
    let opts = custody_hash::DigestOptions {
        algorithms: custody_hash::Algorithms::BLAKE3,
        ..Default::default()
    };
    custody_hash::hash_bytes(bytes, opts)
        .unwrap()
        .0
        .blake3_hex()
        .unwrap()
}

/// What a store holds, counted per object, each from a source that can hold
/// duplicates: object files in any `objects/*/` shard, the objects that the
/// manifests in `manifests/` describe (read from their contents, not their
/// file names), and the `ingestion` entries of `custody.log` (each line
/// parsed as JSON).
#[derive(Debug)]
struct StoreCounts {
    objects: BTreeMap<String, usize>,
    manifests: BTreeMap<String, usize>,
    ingestions: BTreeMap<String, usize>,
}

fn store_counts(root: &Path) -> StoreCounts {
    let mut objects = BTreeMap::new();
    for shard in std::fs::read_dir(root.join("objects")).unwrap().flatten() {
        if !shard.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !name.ends_with(".b3tree") {
                *objects.entry(name).or_insert(0) += 1;
            }
        }
    }
    let mut manifests = BTreeMap::new();
    for f in std::fs::read_dir(root.join("manifests")).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
        let described = doc["manifest"]["object"]["blake3"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no object in manifest", f.path().display()))
            .to_string();
        *manifests.entry(described).or_insert(0) += 1;
    }
    let mut ingestions = BTreeMap::new();
    let log = std::fs::read_to_string(root.join("custody.log")).unwrap_or_default();
    for (i, line) in log.lines().enumerate() {
        let e: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("custody.log line {}: {err}: {line}", i + 1));
        if e["event"] == "ingestion" {
            let obj = e["object"].as_str().unwrap_or("(none)").to_string();
            *ingestions.entry(obj).or_insert(0) += 1;
        }
    }
    StoreCounts {
        objects,
        manifests,
        ingestions,
    }
}

/// Every count in `actual` that differs from `expected`, one line each.
fn mismatches(actual: &StoreCounts, expected: &StoreCounts) -> Vec<String> {
    let mut out = Vec::new();
    for (what, a, e) in [
        ("object files", &actual.objects, &expected.objects),
        ("manifests", &actual.manifests, &expected.manifests),
        (
            "ingestion log entries",
            &actual.ingestions,
            &expected.ingestions,
        ),
    ] {
        for h in a
            .keys()
            .chain(e.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let (n, want) = (a.get(h).unwrap_or(&0), e.get(h).unwrap_or(&0));
            if n != want {
                out.push(format!("{what} for {h}: {n}, expected {want}"));
            }
        }
    }
    out
}

/// Asserts that the store at `root` holds exactly `expected`.
#[track_caller]
fn assert_counts(root: &Path, expected: &StoreCounts, context: &str) {
    let wrong = mismatches(&store_counts(root), expected);
    assert!(
        wrong.is_empty(),
        "{context}: the store does not hold each object exactly as expected:\n  {}",
        wrong.join("\n  ")
    );
}

/// The counts of a store where each of `hashes` was registered exactly once.
fn exactly_once<'a>(hashes: impl IntoIterator<Item = &'a String>) -> StoreCounts {
    let ones: BTreeMap<String, usize> = hashes.into_iter().map(|h| (h.clone(), 1)).collect();
    StoreCounts {
        objects: ones.clone(),
        manifests: ones.clone(),
        ingestions: ones,
    }
}

#[test]
fn ingest_registers_verifies_and_never_touches_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let before = snapshot(&src);
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts()).unwrap();
    assert_eq!(
        (r.files, r.registered, r.skipped, r.refused),
        (5, 5, 1, 0),
        "{:?}",
        r.items
    );
    assert_eq!(snapshot(&src), before, "the source changed");
    let v = verify_store(&store, &key.public(), None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.objects_checked, 5);
    // Facts from the file name and the probe are in the manifest.
    let seg = r
        .items
        .iter()
        .find(|i| i.path.ends_with("0001.MP4"))
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&store.manifest_bytes(seg.blake3.as_ref().unwrap()).unwrap())
            .unwrap();
    assert_eq!(m["manifest"]["recording"]["device_serial"], "SN77");
    assert_eq!(m["manifest"]["recording"]["officer"], "4242");
    assert_eq!(
        m["manifest"]["recording"]["start_local"],
        "2026-11-29T08:30:01"
    );
    assert_eq!(m["manifest"]["media"]["tracks"][0]["codec"], "h264");
    assert!(m["manifest"]["media"]["tracks"][0]["content_blake3"].is_string());
    // Again: nothing new.
    // Again: nothing new, and nothing written, not even a temporary copy:
    // creating or removing a file in tmp/ would change the directory's mtime.
    let tmp_mtime = || {
        std::fs::metadata(store.root().join("tmp"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before_tmp = tmp_mtime();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = ingest(&src, &store, &key, &IngestOptions { jobs: 1, ..opts() }).unwrap();
    assert_eq!(tmp_mtime(), before_tmp, "a temporary file was written");
    assert_eq!(
        (again.registered, again.already_present, again.refused),
        (0, 5, 0),
        "{:?}",
        again.items
    );
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
}

#[cfg(unix)]
#[test]
fn hostile_trees_are_refused_or_handled() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(src.join("DCIM")).unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"outside the recorder").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), src.join("DCIM/link.MP4")).unwrap();
    std::os::unix::fs::symlink(dir.path(), src.join("DCIM/up")).unwrap();
    std::fs::write(
        src.join("DCIM/new\nline.MP4"),
        synthetic_recording(1, 10, 5),
    )
    .unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"DCIM/bad\xff\xfename.MP4");
    std::fs::write(src.join(odd), synthetic_recording(1, 10, 6)).unwrap();
    let fifo = src.join("DCIM/pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts()).unwrap();
    let outcome = |suffix: &str| {
        r.items
            .iter()
            .find(|i| i.path.ends_with(suffix))
            .map(|i| i.outcome.clone())
    };
    assert_eq!(outcome("link.MP4"), Some(Outcome::Refused));
    assert_eq!(outcome("up"), Some(Outcome::Refused));
    assert_eq!(outcome("pipe"), Some(Outcome::Refused));
    assert_eq!(outcome("new\nline.MP4"), Some(Outcome::Registered));
    assert_eq!(r.registered, 2, "{:?}", r.items);
    assert!(verify_store(&store, &key.public(), None).unwrap().ok);
}

/// The source file is cut short while ingest copies it: the copy must be
/// deferred (still being written), and nothing registered.
///
/// The cut is timed by an observable state, not a sleep: ingest takes the
/// source's size and mtime, then creates its copy `tmp/PID-N-copy.part`, reads
/// and hashes the source into it, fsyncs it, and only then compares the
/// source's size and mtime again. A truncation anywhere between the `.part`
/// file appearing and that last comparison must be caught. So the cutter
/// waits for the `.part` file, checks that it is still shorter than the
/// source (the copy loop is running, so the final comparison is still
/// ahead), and truncates at once. A FIFO or a blocking source would make
/// this exact but is refused before any copy starts, and an in-process test
/// cannot pause the ingest thread; the remaining race is the cutter's
/// reaction time (one 100 us poll, plus scheduling) against the rest of the
/// copy: hashing 64 MiB and fsyncing it take tens of milliseconds even on
/// tmpfs and far longer on a disk. Should the cutter ever arrive too late,
/// the test fails saying so, not silently. `custody-cli/tests/concurrent.rs`
/// has the fully deterministic version: it stops the ingest process with
/// SIGSTOP before truncating.
#[test]
fn a_file_that_shrinks_while_copied_is_not_registered() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    const SIZE: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    let big = src.join("BIG.MP4");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(SIZE).unwrap(); // sparse: reads fast, no disk space
    drop(f);
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let ingest_done = std::sync::Arc::new(AtomicBool::new(false));
    let cutter = {
        let (big, tmp, done) = (big.clone(), store.root().join("tmp"), ingest_done.clone());
        std::thread::spawn(move || -> Result<u64, String> {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let part = std::fs::read_dir(&tmp)
                    .unwrap()
                    .flatten()
                    .find(|e| e.file_name().to_string_lossy().ends_with(".part"));
                if let Some(part) = part {
                    // Gone already (refused or registered): too late as well.
                    let copied = part.metadata().map_or(SIZE, |m| m.len());
                    if copied >= SIZE {
                        return Err(format!(
                            "the copy was complete ({copied} bytes) when its .part file was \
                             first seen: the cut came too late"
                        ));
                    }
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&big)
                        .unwrap()
                        .set_len(1 << 20)
                        .unwrap();
                    return Ok(copied);
                }
                if done.load(Ordering::SeqCst) {
                    return Err("ingest finished before its .part file was seen".into());
                }
                if Instant::now() > deadline {
                    return Err("no .part file appeared in tmp/ within 60 s".into());
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let r = ingest(
        &src,
        &store,
        &key,
        &IngestOptions {
            reverify: false,
            ..opts()
        },
    )
    .unwrap();
    ingest_done.store(true, Ordering::SeqCst);
    let copied_when_cut = cutter.join().unwrap().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("source cut after {copied_when_cut} of {SIZE} bytes were copied");
    assert_eq!(
        r.registered, 0,
        "cut after {copied_when_cut} of {SIZE} bytes were copied: {:?}",
        r.items
    );
    assert_eq!((r.deferred, r.refused), (1, 0), "{:?}", r.items);
    assert_eq!(r.items[0].outcome, Outcome::Deferred);
    assert!(
        r.items[0]
            .reason
            .as_ref()
            .unwrap()
            .contains("still being written: changed while copying"),
        "{:?}",
        r.items
    );
    assert_eq!(
        std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
        0
    );
    assert!(store.registered().unwrap().is_empty());
    assert_counts(store.root(), &exactly_once([]), "after a refused copy");
}

/// Four ingests at once, from four recorder trees that share one file: each
/// distinct content ends up stored, described and logged as ingested exactly
/// once; the shared file is registered by one ingest and found by the others.
#[test]
fn four_ingests_into_one_store_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = std::sync::Arc::new(StationKey::generate().unwrap());
    let same = synthetic_recording(2, 5, 5);
    let mut expected = std::collections::BTreeSet::from([b3(&same)]);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let src = dir.path().join(format!("rec{t}"));
            std::fs::create_dir_all(&src).unwrap();
            for i in 0..3 {
                let bytes = synthetic_recording(1 + i, 10, 5 + t);
                expected.insert(b3(&bytes));
                std::fs::write(src.join(format!("C{t}_{i}.MP4")), bytes).unwrap();
            }
            // One file shared by every recorder tree: registered once.
            std::fs::write(src.join("SAME.MP4"), &same).unwrap();
            let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ingest(&src, &store, &key, &opts()).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(expected.len(), 13, "the trees' contents must be distinct");
    let registered: Vec<u64> = reports.iter().map(|r| r.registered).collect();
    assert_counts(
        store.root(),
        &exactly_once(&expected),
        &format!("registrations per ingest {registered:?}"),
    );
    assert_eq!(
        registered.iter().sum::<u64>(),
        13,
        "registrations per ingest: {registered:?}"
    );
    let same_outcomes: Vec<Outcome> = reports
        .iter()
        .map(|r| {
            assert_eq!((r.files, r.refused), (4, 0), "{:?}", r.items);
            r.items
                .iter()
                .find(|i| i.path == "SAME.MP4")
                .unwrap()
                .outcome
                .clone()
        })
        .collect();
    assert_eq!(
        same_outcomes
            .iter()
            .filter(|o| **o == Outcome::Registered)
            .count(),
        1,
        "SAME.MP4: {same_outcomes:?}"
    );
    assert_eq!(store.registered().unwrap().len(), 13);
    let v = verify_store(&store, &key.public(), None).unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.objects_checked, 13);
    // 13 ingestions, and a fixity check for each of the three ingests that found SAME.MP4.
    assert_eq!(v.log.entries, 16);
}

/// A realistic dump: consecutive segments with one planted gap, one overlap,
/// one truncated file, a photo and a voice note; the report finds exactly those.
#[test]
fn report_finds_exactly_the_planted_gap_overlap_and_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec/DCIM/100REC");
    std::fs::create_dir_all(&src).unwrap();
    // Different GOP lengths keep the segments' bytes distinct, as real segments are.
    let seg = |secs: u32, gop: u32| synthetic_recording(secs, 10, gop);
    // 08:00:00 + 10 s, 08:00:10 + 10 s (continuous), 08:01:00 (40 s gap), 08:01:05 (overlaps by 5 s).
    for (name, gop) in [
        ("080000_0001", 10),
        ("080010_0002", 11),
        ("080100_0003", 12),
        ("080105_0004", 13),
    ] {
        std::fs::write(
            src.join(format!("SN5_100_20261129{name}.MP4")),
            seg(10, gop),
        )
        .unwrap();
    }
    // Cut short by a power loss: the moov (at the end) never reached the card.
    let cut = seg(10, 14);
    std::fs::write(
        src.join("SN5_100_20261129080115_0005.MP4"),
        &cut[..cut.len() / 2],
    )
    .unwrap();
    std::fs::write(
        src.join("IMG_0001.JPG"),
        [0xff, 0xd8, 0xff, 0xe0, 0, 16, b'J', b'F', b'I', b'F'],
    )
    .unwrap();
    std::fs::write(src.join("VOICE001.WAV"), b"RIFF\x24\0\0\0WAVEfmt ").unwrap();
    // A real camera file from the corpus, when there is one: another device, no findings.
    let corpus = std::env::var_os("CUSTODY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let real = corpus.join("gopro/karma.mp4");
    let with_real = real.is_file();
    if with_real {
        std::fs::copy(&real, src.join("GOPR0001.MP4")).unwrap();
    } else {
        assert!(
            std::env::var_os("CUSTODY_REQUIRE_CORPUS").is_none(),
            "corpus required"
        );
    }
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&dir.path().join("rec"), &store, &key, &opts()).unwrap();
    assert_eq!(r.registered, 7 + with_real as u64, "{:?}", r.items);

    let rep =
        custody_evidence::report::report(&store, &Default::default(), &trusting(&key)).unwrap();
    assert!(rep.unverified.is_empty(), "{:?}", rep.unverified);
    let sn5 = rep
        .devices
        .iter()
        .find(|d| d.device == "SN5")
        .expect("device SN5");
    assert_eq!(sn5.gaps.len(), 1, "{:?}", sn5.gaps);
    assert!(
        sn5.gaps[0].path.ends_with("_0003.MP4")
            && (sn5.gaps[0].seconds.unwrap() - 40.0).abs() < 0.5
    );
    assert_eq!(sn5.overlaps.len(), 1, "{:?}", sn5.overlaps);
    assert!(
        sn5.overlaps[0].path.ends_with("_0004.MP4")
            && (sn5.overlaps[0].seconds.unwrap() - 5.0).abs() < 0.5
    );
    assert_eq!(sn5.truncated.len(), 1, "{:?}", sn5.truncated);
    assert!(sn5.truncated[0].path.ends_with("_0005.MP4"));
    assert!(sn5.clock_anomalies.is_empty());
    assert_eq!(sn5.recordings.len(), 2);
    assert_eq!(sn5.recordings[0].segments.len(), 2);
    let day = rep.officers.iter().find(|o| o.officer == "100").unwrap();
    assert_eq!((day.day.as_str(), day.recordings), ("2026-11-29", 2));
    assert!((day.duration_s - 35.0).abs() < 0.5, "{day:?}");
    assert_eq!(
        (day.first.as_str(), day.last.as_str()),
        ("2026-11-29T08:00:00", "2026-11-29T08:01:15")
    );
}

#[test]
fn catalog_lists_by_officer_and_day_and_rebuilds_from_manifests() {
    use custody_evidence::catalog::{Catalog, Query};
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    ingest(&src, &store, &key, &opts()).unwrap();
    let q = Query {
        officer: Some("4242".into()),
        day: Some("2026-11-29".into()),
        ..Default::default()
    };
    let trust = trusting(&key);
    let rows = Catalog::open(&store)
        .unwrap()
        .list(&store, &q, &trust)
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.verified));
    assert!(rows.windows(2).all(|w| w[0].start <= w[1].start));
    assert_eq!(rows[0].device.as_deref(), Some("SN77"));
    for f in std::fs::read_dir(store.root()).unwrap().flatten() {
        if f.file_name()
            .to_string_lossy()
            .starts_with("catalog.sqlite")
        {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    let mut cat = Catalog::open(&store).unwrap();
    assert!(cat.list(&store, &q, &trust).unwrap().is_empty());
    assert_eq!(cat.rebuild(&store, &trust).unwrap(), (5, Vec::new()));
    assert_eq!(cat.list(&store, &q, &trust).unwrap(), rows);
    // A manifest edited without re-signing is listed as unverified, and a
    // rebuild leaves it out, saying why.
    let h = &rows[0].blake3;
    let mp = store.root().join("manifests").join(format!("{h}.json"));
    let edited = std::fs::read_to_string(&mp)
        .unwrap()
        .replace("\"officer\":\"4242\"", "\"officer\":\"4243\"");
    std::fs::write(&mp, edited).unwrap();
    let listed = cat.list(&store, &q, &trust).unwrap();
    assert_eq!(
        listed.iter().map(|r| r.verified).collect::<Vec<_>>(),
        [false, true, true]
    );
    let (n, left_out) = cat.rebuild(&store, &trust).unwrap();
    assert_eq!((n, left_out.len(), &left_out[0].0), (4, 1, h));
    assert!(left_out[0].1.contains("signature"), "{left_out:?}");
}

fn trusting(key: &StationKey) -> custody_evidence::keyring::Trust {
    custody_evidence::keyring::trust(&[], &[key.public()]).0
}

/// Every manifest written validates against the shipped JSON Schema; a
/// damaged one does not.
#[test]
fn manifests_match_the_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/manifest.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    ingest(&src, &store, &key, &opts()).unwrap();
    let hashes = store.registered().unwrap();
    assert_eq!(hashes.len(), 5);
    for h in hashes {
        let doc: serde_json::Value =
            serde_json::from_slice(&store.manifest_bytes(&h).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{h}: {errors:?}");
        let mut bad = doc.clone();
        bad["manifest"]["object"]["blake3"] = "not a hash".into();
        assert!(!validator.is_valid(&bad));
    }
    // The log's lines, its head and the key records match theirs.
    let schema = |text: &str| {
        jsonschema::validator_for(&serde_json::from_str::<serde_json::Value>(text).unwrap())
            .unwrap()
    };
    let valid = |v: &jsonschema::Validator, bytes: &[u8], what: &str| {
        let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{what}: {errors:?}");
    };
    let entry = schema(include_str!("../schema/log-entry.schema.json"));
    let log = std::fs::read(store.root().join("custody.log")).unwrap();
    let lines: Vec<&[u8]> = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 5);
    for l in &lines {
        valid(&entry, l, "log entry");
    }
    let head = schema(include_str!("../schema/head.schema.json"));
    valid(&head, &store.log().anchor().unwrap().unwrap(), "head");
    let keys = schema(include_str!("../schema/key.schema.json"));
    let records = store.key_records().unwrap();
    assert_eq!(records.len(), 1);
    valid(&keys, &records[0].1, "key record");
}

#[test]
fn a_store_inside_the_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let store = DirStore::open(&src.join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let e = ingest(&src, &store, &key, &opts()).unwrap_err();
    assert!(
        e.to_string().contains("must not contain one another"),
        "{e}"
    );
}

/// One file whose parsing panics (planted through the test-only hook) is
/// refused with the panic's message; every other file is collected, nothing
/// is left half-made, and the store verifies. The hostile MPEG-PS file that
/// once panicked the parser is collected like any other.
#[test]
fn a_panic_on_one_file_refuses_that_file_and_collects_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let planted = src.join(format!(
        "DCIM/100REC/{}.MP4",
        custody_evidence::fault::PANIC_MARKER
    ));
    std::fs::write(&planted, synthetic_recording(1, 10, 9)).unwrap();
    let crasher = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/ps/pes-dts-beyond-header-length.mpg");
    std::fs::copy(&crasher, src.join("DCIM/100REC/CLIP.MPG")).unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    for jobs in [1, 3] {
        let r = ingest(&src, &store, &key, &IngestOptions { jobs, ..opts() }).unwrap();
        let refused: Vec<_> = r
            .items
            .iter()
            .filter(|i| i.outcome == Outcome::Refused)
            .collect();
        assert_eq!(refused.len(), 1, "{:?}", r.items);
        assert!(
            refused[0]
                .path
                .contains(custody_evidence::fault::PANIC_MARKER)
        );
        let reason = refused[0].reason.as_deref().unwrap();
        assert!(
            reason.contains("internal error") && reason.contains("fault injection"),
            "{reason}"
        );
        assert_eq!(r.refused, 1);
        // The first run registers the six others; the second finds them.
        let expected = if jobs == 1 { (6, 0) } else { (0, 6) };
        assert_eq!((r.registered, r.already_present), expected, "{:?}", r.items);
        // Nothing half-made: no temporary copy, and six objects, six manifests.
        assert_eq!(
            std::fs::read_dir(store.root().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(store.registered().unwrap().len(), 6);
        let v = verify_store(&store, &key.public(), None).unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!(v.objects_checked, 6);
    }
}

/// A synthetic recording whose `mvhd` says it was created at `utc` (Unix seconds).
fn recording_created_at(secs: u32, gop: u32, utc: Option<i64>) -> Vec<u8> {
    let mut v = synthetic_recording(secs, 10, gop);
    if let Some(t) = utc {
        let at = v.windows(4).position(|w| w == b"mvhd").unwrap() + 8;
        v[at..at + 4].copy_from_slice(&((t + 2_082_844_800) as u32).to_be_bytes());
    }
    v
}

/// Local times from file names are never compared with UTC times from
/// metadata: with an offset (derived or given) they are placed in UTC; without
/// one they are kept apart and said to be so. Two back-to-back 4 s segments
/// then form one recording, not a one-hour "gap".
#[test]
fn local_and_utc_times_are_never_mixed() {
    let utc_0730 = custody_evidence::parse_utc("2026-11-29T07:30:00Z").unwrap();
    let run = |name: &str, files: &[(&str, Option<i64>)], offset: Option<&str>, config: &str| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join(name);
        std::fs::create_dir_all(&src).unwrap();
        for (i, (file, utc)) in files.iter().enumerate() {
            std::fs::write(src.join(file), recording_created_at(4, 20 + i as u32, *utc)).unwrap();
        }
        let store = DirStore::open(&dir.path().join("store")).unwrap();
        let key = StationKey::generate().unwrap();
        let o = IngestOptions {
            utc_offset: offset.map(str::to_string),
            device_offsets: custody_evidence::ingest::parse_device_offsets(config).unwrap(),
            device: Some("SN5".into()),
            ..opts()
        };
        ingest(&src, &store, &key, &o).unwrap();
        let rep =
            custody_evidence::report::report(&store, &Default::default(), &trusting(&key)).unwrap();
        assert_eq!(rep.devices.len(), 1, "{rep:?}");
        (dir, rep.devices[0].clone())
    };
    // The first file holds UTC (metadata) and local (name) times: its offset
    // (+01:00) places the second, named only, in UTC right after it.
    let (_d, dev) = run(
        "derived",
        &[
            ("SN5_100_20261129083000_0001.MP4", Some(utc_0730)),
            ("SN5_100_20261129083004_0002.MP4", None),
        ],
        None,
        "",
    );
    assert_eq!(dev.utc_offset.as_deref(), Some("+01:00"));
    assert!(
        dev.gaps.is_empty() && dev.offset_unknown.is_empty(),
        "{dev:?}"
    );
    assert_eq!(dev.recordings.len(), 1, "{dev:?}");
    assert_eq!(
        (
            dev.recordings[0].start.as_str(),
            dev.recordings[0].end.as_str()
        ),
        ("2026-11-29T07:30:00Z", "2026-11-29T07:30:08Z")
    );
    // Named only, with the offset given by the caller: UTC too.
    let (_d, dev) = run(
        "given",
        &[
            ("SN5_100_20261129083000_0001.MP4", None),
            ("SN5_100_20261129083004_0002.MP4", None),
        ],
        Some("+01:00"),
        "",
    );
    assert_eq!(dev.recordings[0].start, "2026-11-29T07:30:00Z");
    assert_eq!((dev.recordings.len(), dev.gaps.len()), (1, 0));
    // Named only, with the device's offset from the station configuration.
    let (_d, dev) = run(
        "configured",
        &[
            ("SN5_100_20261129083000_0001.MP4", None),
            ("SN5_100_20261129083004_0002.MP4", None),
        ],
        None,
        "# station dock-07\nSN4 +09:00\nSN5 -02:30\n",
    );
    assert_eq!(dev.utc_offset.as_deref(), Some("-02:30"));
    assert_eq!(dev.recordings[0].start, "2026-11-29T11:00:00Z");
    // UTC from metadata for one file and only a local time for the other, no
    // offset anywhere: no gap is made up; the local one is set apart.
    let (_d, dev) = run(
        "unknown",
        &[
            ("SN5_100_0001.MP4", Some(utc_0730)),
            ("SN5_100_20261129083004_0002.MP4", None),
        ],
        None,
        "",
    );
    assert_eq!(dev.utc_offset, None);
    assert!(dev.gaps.is_empty() && dev.overlaps.is_empty(), "{dev:?}");
    assert_eq!(dev.offset_unknown.len(), 1, "{dev:?}");
    assert!(dev.offset_unknown[0].path.ends_with("0002.MP4"));
    assert_eq!(dev.recordings.len(), 2);
}

/// An absurd `jobs` is capped (four per core), said so, and the run completes.
#[test]
fn jobs_are_capped_and_the_cap_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dump(dir.path());
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(
        &src,
        &store,
        &key,
        &IngestOptions {
            jobs: 100_000,
            ..opts()
        },
    )
    .unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        r.jobs >= 1 && r.jobs <= cores * 4 && r.jobs <= 5,
        "{}",
        r.jobs
    );
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(r.notes[0].contains("jobs 100000 capped"), "{:?}", r.notes);
    assert_eq!((r.registered, r.refused), (5, 0));
}

/// Ingests one file named `name` holding `bytes`, and returns its manifest.
fn ingest_one(name: &str, bytes: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(name), bytes).unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts()).unwrap();
    assert_eq!((r.registered, r.refused), (1, 0), "{:?}", r.items);
    serde_json::from_slice(
        &store
            .manifest_bytes(r.items[0].blake3.as_ref().unwrap())
            .unwrap(),
    )
    .unwrap()
}

/// A Broadcast Wave voice recording: its audio track and content hash, and
/// the recorder's local start time from `bext`, reach the manifest.
#[test]
fn a_broadcast_wave_recordings_start_and_audio_reach_the_manifest() {
    let wav = custody_testkit::wav::write(&custody_testkit::wav::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits: 16,
        frames: 16_000,
        bext: Some(("2026-11-29", "08:30:00", 8_000 * 30_600)),
        rf64: false,
    });
    let m = ingest_one("VOICE0001.WAV", &wav);
    let rec = &m["manifest"]["recording"];
    assert_eq!(rec["start_local"], "2026-11-29T08:30:00");
    assert_eq!(rec["sources"]["start_local"], "metadata (bext)");
    let media = &m["manifest"]["media"];
    assert_eq!(media["container"], "wav");
    assert_eq!(media["duration_s"], 2.0);
    assert_eq!(media["tracks"][0]["codec"], "pcm_s16le");
    // 32 000 bytes in reads of 4096: 8 packets.
    assert_eq!(media["tracks"][0]["samples"], 8);
    let expected = custody_hash::content::content_hashes(&wav, Default::default()).unwrap();
    assert_eq!(
        media["tracks"][0]["content_blake3"],
        expected[0].content_blake3.to_string()
    );
}

/// The supervision report dates recordings in every container a recorder
/// writes: an AVI segment (its start from its name) and a Broadcast Wave
/// voice note (from `bext`) are recordings, not undated files.
#[test]
fn the_report_dates_avi_segments_and_broadcast_wave_notes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec");
    std::fs::create_dir_all(&src).unwrap();
    let wav = custody_testkit::wav::write(&custody_testkit::wav::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits: 16,
        frames: 16_000,
        bext: Some(("2026-11-29", "08:30:00", 0)),
        rf64: false,
    });
    std::fs::write(src.join("VOICE0001.WAV"), wav).unwrap();
    std::fs::write(
        src.join("SN7_0042_20261129083300_0001.AVI"),
        custody_testkit::avi::tiny_mjpeg_avi(60),
    )
    .unwrap();
    let store = DirStore::open(&dir.path().join("store")).unwrap();
    let key = StationKey::generate().unwrap();
    let r = ingest(&src, &store, &key, &opts()).unwrap();
    assert_eq!((r.registered, r.refused), (2, 0), "{:?}", r.items);
    let rep =
        custody_evidence::report::report(&store, &Default::default(), &trusting(&key)).unwrap();
    for d in &rep.devices {
        assert!(d.undated.is_empty(), "{}: {:?}", d.device, d.undated);
    }
    let runs: Vec<_> = rep.devices.iter().flat_map(|d| &d.recordings).collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let starts: Vec<&str> = runs.iter().map(|r| r.start.as_str()).collect();
    assert!(
        starts.iter().any(|s| s.starts_with("2026-11-29T08:30:00")),
        "{starts:?}"
    );
    assert!(
        starts.iter().any(|s| s.starts_with("2026-11-29T08:33:00")),
        "{starts:?}"
    );
}

/// A photo's EXIF: when (UTC, from its offset), where, make, model and
/// serial reach the manifest.
#[test]
fn a_photos_exif_reaches_the_manifest() {
    let jpeg = custody_testkit::photo::jpeg(&custody_testkit::photo::ExifSpec {
        make: "ACME",
        model: "BWC-9",
        serial: "SN77",
        taken: "2026:11:29 08:30:00",
        offset: Some("+01:00"),
        gps: Some((-33.865, 151.2093, 12.5)),
    });
    let m = ingest_one("IMG_0001.JPG", &jpeg);
    let rec = &m["manifest"]["recording"];
    assert_eq!(rec["start"], "2026-11-29T07:30:00Z");
    assert_eq!(rec["start_local"], "2026-11-29T08:30:00");
    assert_eq!(rec["make"], "ACME");
    assert_eq!(rec["model"], "BWC-9");
    assert_eq!(rec["device_serial"], "SN77");
    assert_eq!(rec["sources"]["device_serial"], "metadata (EXIF)");
    let lat = rec["location"]["lat"].as_f64().unwrap();
    let lon = rec["location"]["lon"].as_f64().unwrap();
    assert!(
        (lat + 33.865).abs() < 1e-6 && (lon - 151.2093).abs() < 1e-6,
        "{rec}"
    );
    assert_eq!(m["manifest"]["media"]["container"], "jpeg");
}
