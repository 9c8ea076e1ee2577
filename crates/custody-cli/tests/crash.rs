//! Crash safety: `custody ingest` killed with SIGKILL at random moments, then
//! run again, always ends with every source file registered exactly once
//! with the right hashes, a store that verifies, no temporary files, and an
//! untouched source.

#![cfg(unix)]

use custody_container::bmff::write::write_synthetic_recording;
use custody_hash::{Algorithms, DigestOptions, hash_bytes};
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

#[test]
fn sigkill_at_random_moments_never_loses_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec/DCIM");
    std::fs::create_dir_all(&src).unwrap();
    let mut expected = BTreeSet::new();
    for i in 0..6u32 {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 20 + i, 30, 30, 4000 + i * 500).unwrap();
        let (d, _) = hash_bytes(
            &v,
            DigestOptions {
                algorithms: Algorithms::BLAKE3,
                ..Default::default()
            },
        );
        expected.insert(d.blake3_hex().unwrap());
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

    // How long an uninterrupted run takes sets the window for the kills.
    let t = Instant::now();
    let probe_store = dir.path().join("timing-store");
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
    let window = t.elapsed().as_micros().max(1000) as u64;

    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let trials = 50;
    let mut killed_mid_run = 0;
    for trial in 0..trials {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
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
        std::thread::sleep(Duration::from_micros(rng % (window + window / 4)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_run += 1;
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
            "trial {trial}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = custody(&key)
            .args(["verify", "--json", "--store", store.to_str().unwrap()])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(report["ok"], true, "trial {trial}: {report}");
        let registered: BTreeSet<String> = std::fs::read_dir(store.join("manifests"))
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(
            registered, expected,
            "trial {trial}: every file registered exactly once, by its hash"
        );
        let log = std::fs::read_to_string(store.join("custody.log")).unwrap();
        for h in &expected {
            assert!(
                log.contains(&format!("\"event\":\"ingestion\",\"object\":\"{h}\"")),
                "trial {trial}: no ingestion entry for {h}"
            );
        }
        assert_eq!(temp_files(&store), Vec::<String>::new(), "trial {trial}");
    }
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
