//! `custody ingest` racing other processes: several ingests of one source
//! into one store at once, and a source file cut short while a (stopped)
//! ingest copies it.

#![cfg(unix)]

mod common;

use common::{assert_counts, b3, exactly_once};
use custody_testkit::mp4::write_synthetic_recording;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn custody() -> Command {
    Command::new(env!("CARGO_BIN_EXE_custody"))
}

/// Creates the station key at `key` and returns its public key (hex).
fn key_init(key: &Path) -> String {
    let out = custody()
        .args(["key", "init", "--key", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("public key").map(|h| h.trim().to_string()))
        .expect("a public key line")
}

/// `custody verify --json` with the public key given on the command line.
fn verify(store: &Path, public_key: &str) -> (Output, serde_json::Value) {
    let out = custody()
        .args([
            "verify",
            "--json",
            "--store",
            store.to_str().unwrap(),
            "--public-key",
            public_key,
        ])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

/// Four `custody ingest` processes started together on one source and one
/// store: each file's bytes are stored, described and logged as ingested
/// exactly once; one process registers each file and the others find it.
#[test]
fn several_ingest_processes_on_one_source_register_each_file_once() {
    const PROCESSES: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("rec/DCIM");
    std::fs::create_dir_all(&src).unwrap();
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..5u32 {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 2 + i, 30, 30, 3000 + i * 400).unwrap();
        expected.insert(b3(&v));
        std::fs::write(src.join(format!("SN9_77_2026112910{i:02}00_{i}.MP4")), &v).unwrap();
    }
    assert_eq!(expected.len(), 5, "the files' contents must be distinct");
    let key = dir.path().join("station.key");
    let public_key = key_init(&key);
    let store = dir.path().join("store");
    let rec = dir.path().join("rec");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            custody()
                .args(["ingest", rec.to_str().unwrap(), "--store"])
                .arg(&store)
                .arg("--key")
                .arg(&key)
                .arg("--json")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<serde_json::Value> = children
        .into_iter()
        .enumerate()
        .map(|(p, c)| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "process {p}: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let per_process: Vec<(u64, u64, u64)> = reports
        .iter()
        .map(|r| {
            (
                r["registered"].as_u64().unwrap(),
                r["already_present"].as_u64().unwrap(),
                r["refused"].as_u64().unwrap(),
            )
        })
        .collect();
    let context = format!("(registered, already present, refused) per process: {per_process:?}");
    let (out, report) = verify(&store, &public_key);
    assert!(
        out.status.success() && report["ok"] == true,
        "{context}: {report}"
    );
    assert_eq!(report["objects_checked"], 5, "{context}: {report}");
    assert_counts(&store, &exactly_once(&expected), &context);
    let registered: u64 = per_process.iter().map(|p| p.0).sum();
    let found: u64 = per_process.iter().map(|p| p.1).sum();
    assert_eq!(
        (registered, found),
        (5, 5 * (PROCESSES as u64 - 1)),
        "{context}"
    );
    // Every tmp/ copy was moved into place or removed.
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "{context}"
    );
}

/// True when every thread of process `pid` is stopped (Linux `/proc`).
fn all_threads_stopped(pid: u32) -> bool {
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default();
    !tasks.is_empty()
        && tasks.iter().all(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['T', 't']))
        })
}

fn signal(sig: &str, pid: u32) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// The deterministic version of `a_file_that_shrinks_while_copied_is_not_registered`
/// (custody-evidence): ingest reads the source's size and mtime, creates its
/// copy `tmp/PID-N-copy.part`, copies into it, fsyncs it, and only then reads
/// the source's size and mtime again. The test waits for the `.part` file,
/// stops the process with SIGSTOP, waits until every thread is stopped, and
/// checks that the copy is still shorter than the source: the final check is
/// then certainly still ahead. Only then is the source truncated and the
/// process continued, so the cut always lands mid-copy, however slow or
/// loaded the machine. The copy must be deferred (still being written) and
/// nothing registered.
#[cfg(target_os = "linux")]
#[test]
fn a_source_cut_short_while_a_stopped_ingest_copies_it_is_deferred() {
    const SIZE: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("station.key");
    let public_key = key_init(&key);
    let mut late = Vec::new();
    for attempt in 0..5 {
        let src = dir.path().join(format!("rec{attempt}"));
        std::fs::create_dir_all(&src).unwrap();
        let big = src.join("BIG.MP4");
        std::fs::File::create(&big).unwrap().set_len(SIZE).unwrap(); // sparse
        let store = dir.path().join(format!("store{attempt}"));
        let mut child = custody()
            .args(["ingest", "--json", "--no-reverify", "--key"])
            .arg(&key)
            .arg("--store")
            .arg(&store)
            .arg(&src)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        let part = loop {
            let part = std::fs::read_dir(store.join("tmp"))
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .find(|p| p.extension().is_some_and(|x| x == "part"))
                })
                .unwrap_or(None);
            if let Some(p) = part {
                signal("-STOP", pid);
                break Some(p);
            }
            if child.try_wait().unwrap().is_some() {
                break None; // finished before its .part file was seen
            }
            assert!(Instant::now() < deadline, "no .part file appeared in 60 s");
            std::thread::sleep(Duration::from_micros(100));
        };
        // How much was copied once every thread had stopped (None: the copy
        // or the process was gone by then).
        let copied = match &part {
            None => None,
            Some(p) => loop {
                if all_threads_stopped(pid) {
                    break std::fs::metadata(p).ok().map(|m| m.len());
                }
                if child.try_wait().unwrap().is_some() {
                    break None;
                }
                assert!(Instant::now() < deadline, "ingest did not stop in 60 s");
                std::thread::sleep(Duration::from_micros(100));
            },
        };
        let mid_copy = copied.is_some_and(|n| n < SIZE);
        if mid_copy {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&big)
                .unwrap()
                .set_len(1 << 20)
                .unwrap();
        }
        if part.is_some() {
            // It may have exited already; then there is nothing to continue.
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        let out = child.wait_with_output().unwrap();
        if !mid_copy {
            // Stopped too late to prove anything: the copy was complete (or
            // gone). Nothing was cut, so this run must simply have succeeded.
            assert!(out.status.success(), "attempt {attempt}: {out:?}");
            late.push(copied);
            continue;
        }
        let copied = copied.unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let context = format!("source cut after {copied} of {SIZE} bytes were copied: {report}");
        assert_eq!(out.status.code(), Some(1), "{context}");
        // Not refused: deferred, as still being written (exit 1: not fully
        // collected), so a docking script collects it again later.
        assert_eq!(
            (
                &report["registered"],
                &report["deferred"],
                &report["refused"]
            ),
            (&0.into(), &1.into(), &0.into()),
            "{context}"
        );
        assert_eq!(report["items"][0]["outcome"], "deferred", "{context}");
        assert!(
            report["items"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("changed while copying")),
            "{context}"
        );
        assert_counts(&store, &exactly_once([]), &context);
        assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
        let (v, vr) = verify(&store, &public_key);
        assert!(v.status.success() && vr["ok"] == true, "{vr}");
        eprintln!("attempt {attempt}: source cut after {copied} of {SIZE} bytes were copied");
        return;
    }
    panic!("the copy was never caught mid-way in 5 attempts (bytes copied when stopped: {late:?})");
}
