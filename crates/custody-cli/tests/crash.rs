//! Crash safety: `custody ingest` killed with SIGKILL at random moments and
//! at observable points of its work, then run again, always ends with every
//! source file stored and described exactly once with the right hashes, the
//! log's ingestion entries exactly as the crash left them plus one for each
//! file the rerun registered (what the crash left half-registered is
//! completed or rolled back, and reported), a store that verifies, no
//! temporary files, and an untouched source.

#![cfg(unix)]

mod common;

use common::{assert_counts, b3, exactly_once, store_counts};
use custody_testkit::mp4::write_synthetic_recording;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn custody(key: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custody"));
    c.env("CUSTODY_KEY", key);
    c
}

fn temp_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                stack.push(e.path());
            } else if name.contains(".tmp-") || name.ends_with(".part") {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

/// When a trial kills the first run.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// After a random delay within the duration of an uninterrupted run.
    Delay(Duration),
    /// Once the n-th copy (`tmp/*.part`) has appeared: a copy in progress.
    Copy(usize),
    /// Once the log has n entries: an object in place and logged, its
    /// manifest most likely not yet written.
    LogEntries(usize),
    /// Once n manifests are written.
    Manifests(usize),
}

/// Whether the run writing `store` has reached `at`; `copies` collects the
/// names of the copies seen so far.
fn reached(at: KillAt, store: &Path, copies: &mut BTreeSet<std::ffi::OsString>) -> bool {
    let names = |d: &str| -> Vec<std::ffi::OsString> {
        std::fs::read_dir(store.join(d))
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default()
    };
    match at {
        KillAt::Delay(_) => unreachable!(),
        KillAt::Copy(n) => {
            copies.extend(
                names("tmp")
                    .into_iter()
                    .filter(|f| f.to_string_lossy().ends_with(".part")),
            );
            copies.len() >= n
        }
        KillAt::LogEntries(n) => {
            let log = std::fs::read(store.join("custody.log")).unwrap_or_default();
            log.iter().filter(|&&b| b == b'\n').count() >= n
        }
        KillAt::Manifests(n) => {
            names("manifests")
                .iter()
                .filter(|f| {
                    f.to_string_lossy().ends_with(".json") && !f.to_string_lossy().starts_with('.')
                })
                .count()
                >= n
        }
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec/DCIM");
    std::fs::create_dir_all(&src).unwrap();
    let mut expected = BTreeSet::new();
    for i in 0..6u32 {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 20 + i, 30, 30, 4000 + i * 500).unwrap();
        expected.insert(b3(&v));
        std::fs::write(src.join(format!("SN9_77_2026112910{i:02}00_{i}.MP4")), &v).unwrap();
    }
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                std::fs::read(e.path()).unwrap(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    let key = dir.path().join("station.key");
    let rec = dir.path().join("rec");
    assert!(
        custody(&key)
            .args(["key", "init"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    );

    // The fastest of three uninterrupted runs sets the window for the timed
    // kills: one slow first run (a cold cache, a busy machine) would put most
    // kills after the end.
    let window = (0..3)
        .map(|i| {
            let t = Instant::now();
            let probe_store = dir.path().join(format!("timing-store{i}"));
            assert!(
                custody(&key)
                    .args([
                        "ingest",
                        rec.to_str().unwrap(),
                        "--store",
                        probe_store.to_str().unwrap()
                    ])
                    .stdout(Stdio::null())
                    .status()
                    .unwrap()
                    .success()
            );
            t.elapsed().as_micros().max(1000) as u64
        })
        .min()
        .unwrap();

    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let trials = 50;
    let mut killed_mid_run = 0;
    // Files whose ingestion entry the killed run had logged without writing
    // the manifest (the rerun completes them from the stored object), and
    // objects it had stored without logging them (the rerun removes them,
    // then registers the file again).
    let mut completions = 0;
    let mut rollbacks = 0;
    for trial in 0..trials {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let n = 1 + (rng >> 32) as usize % expected.len();
        let at = match trial % 4 {
            0 => KillAt::Delay(Duration::from_micros(rng % (window + window / 4))),
            1 => KillAt::Copy(n),
            2 => KillAt::LogEntries(n),
            _ => KillAt::Manifests(n),
        };
        let store = dir.path().join(format!("store{trial}"));
        let mut child = custody(&key)
            .args([
                "ingest",
                rec.to_str().unwrap(),
                "--store",
                store.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if let KillAt::Delay(d) = at {
            std::thread::sleep(d);
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut copies = BTreeSet::new();
            while child.try_wait().unwrap().is_none() && !reached(at, &store, &mut copies) {
                assert!(
                    Instant::now() < deadline,
                    "trial {trial}: {at:?} not reached in 60 s"
                );
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
        }
        // What the killed run left. Its order (object, log entry, manifest)
        // means: at most one entry per object, and none without its manifest.
        let left = store_counts(&store);
        let context = format!("trial {trial} (killed at {at:?}, {status})");
        for (h, &m) in &left.manifests {
            assert_eq!(
                (m, left.ingestions.get(h), left.objects.get(h)),
                (1, Some(&1), Some(&1)),
                "{context}: a manifest for {h} without exactly one object and one log entry"
            );
        }
        for (h, &e) in &left.ingestions {
            assert_eq!(e, 1, "{context}: {h} logged {e} times");
        }
        // Run again to completion.
        let out = custody(&key)
            .args([
                "ingest",
                "--json",
                rec.to_str().unwrap(),
                "--store",
                store.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let v = custody(&key)
            .args(["verify", "--json", "--store", store.to_str().unwrap()])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(report["ok"], true, "{context}: {report}");
        // The rerun first completes the files the killed run had stored and
        // logged without a manifest (from the stored object: no new
        // ingestion entry) and rolls back objects it had stored without
        // logging them; then it registers exactly the files still without
        // a manifest, each with one new ingestion entry, and finds the others.
        let missing: Vec<&String> = expected
            .iter()
            .filter(|h| !left.manifests.contains_key(*h))
            .collect();
        let completed: Vec<&String> = missing
            .iter()
            .copied()
            .filter(|h| left.ingestions.contains_key(*h))
            .collect();
        let rolled_back: Vec<&String> = missing
            .iter()
            .copied()
            .filter(|h| left.objects.contains_key(*h) && !left.ingestions.contains_key(*h))
            .collect();
        let recovered = |action: &str| -> Vec<&String> {
            let mut v: Vec<&String> = again["recovered"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["action"] == action)
                .map(|r| {
                    expected
                        .iter()
                        .find(|h| r["blake3"] == h.as_str())
                        .expect("a recovered object is one of the source's")
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            (recovered("completed"), recovered("rolled_back")),
            (completed.clone(), rolled_back.clone()),
            "{context}: {again}"
        );
        let registered = missing.len() - completed.len();
        assert_eq!(
            (&again["registered"], &again["already_present"]),
            (&registered.into(), &(expected.len() - registered).into()),
            "{context}: {again}"
        );
        let mut want = exactly_once(&expected);
        want.ingestions = left.ingestions.clone();
        for h in missing.iter().filter(|h| !completed.contains(h)) {
            *want.ingestions.entry((*h).clone()).or_insert(0) += 1;
        }
        assert!(want.ingestions.values().all(|&n| n == 1), "{context}");
        completions += completed.len();
        rollbacks += rolled_back.len();
        assert_counts(&store, &want, &context);
        assert_eq!(temp_files(&store), Vec::<String>::new(), "{context}");
    }
    eprintln!(
        "{killed_mid_run} of {trials} runs killed mid-run; {completions} files logged by the \
         killed run without a manifest were completed by the rerun, {rollbacks} objects stored \
         without a log entry were rolled back"
    );
    assert!(
        killed_mid_run >= trials / 3,
        "only {killed_mid_run} of {trials} runs were killed before finishing"
    );
    let after: Vec<(Vec<u8>, std::time::SystemTime)> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                std::fs::read(e.path()).unwrap(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    assert!(before == after, "the source changed");
}
