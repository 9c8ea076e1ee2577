//! The examples run as a user runs them (the binaries `cargo test` builds).

use custody_testkit::mp4::write_synthetic_recording;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let p = dir.join(name);
    assert!(p.is_file(), "{} was not built", p.display());
    p
}

fn recorder(dir: &Path, n: u32) {
    std::fs::create_dir_all(dir.join("DCIM")).unwrap();
    for i in 0..n {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 4, 30, 30, 3000 + i).unwrap();
        std::fs::write(
            dir.join(format!("DCIM/SN3_8_2026113009{i:02}00_{i}.MP4")),
            v,
        )
        .unwrap();
    }
}

#[test]
fn verify_clip_checks_a_range_of_a_copy_against_the_sealed_original() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    recorder(&rec, 1);
    let key = custody::evidence::keys::StationKey::init(&dir.path().join("k")).unwrap();
    let store = dir.path().join("store");
    let r = custody::ingest(&rec, &store, &key, &Default::default(), |_, _| {}).unwrap();
    let b3 = r.items[0].blake3.clone().unwrap();
    let original = std::fs::read(rec.join("DCIM/SN3_8_20261130090000_0.MP4")).unwrap();
    let copy = dir.path().join("copy.mp4");
    let run = |bytes: &[u8], range: (u64, u64), blake3: &str| {
        std::fs::write(&copy, bytes).unwrap();
        let o = Command::new(example("verify_clip"))
            .arg(&store)
            .arg(blake3)
            .arg(&copy)
            .args([range.0.to_string(), range.1.to_string()])
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = run(&original, (70_000, 80_000), &b3);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("are the sealed original's"), "{out}");
    // Only the range is read: a copy cut short after it still verifies ...
    assert_eq!(run(&original[..140_000], (70_000, 80_000), &b3).0, Some(0));
    // ... and a change inside it does not.
    let mut changed = original.clone();
    changed[75_000] ^= 1;
    assert_eq!(run(&changed, (70_000, 80_000), &b3).0, Some(1));
    assert_eq!(
        run(&changed, (0, 60_000), &b3).0,
        Some(0),
        "outside the change"
    );
    assert_eq!(run(&original, (0, 10), "../../etc/passwd").0, Some(2));
}

#[test]
fn station_watch_collects_each_arrival_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("mnt");
    std::fs::create_dir_all(&watched).unwrap();
    let key = dir.path().join("station.key");
    custody::evidence::keys::StationKey::init(&key).unwrap();
    let store = dir.path().join("store");
    let child = Command::new(example("station_watch"))
        .arg(&watched)
        .arg(&store)
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // A recorder appears: built aside, then mounted (renamed) at once.
    let staged = dir.path().join("staged");
    recorder(&staged, 2);
    std::fs::rename(&staged, watched.join("cam-1")).unwrap();
    let start = Instant::now();
    let manifests = || {
        std::fs::read_dir(store.join("manifests"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    };
    while manifests() < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(manifests(), 2);
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("cam-1: 2 registered, 0 already present, 0 refused"),
        "{out}"
    );
    assert!(out.contains("\"devices\""), "the report follows: {out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("stopped"));
    let v = custody::verify(
        &store,
        &custody::evidence::verify::VerifyOptions {
            anchors: vec![custody::load_key(&key).unwrap().public()],
            ..Default::default()
        },
    )
    .unwrap();
    assert!(v.ok);
}
