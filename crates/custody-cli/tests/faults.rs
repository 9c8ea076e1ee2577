//! Fault injection for `custody ingest`, run as a docking script would run
//! it: a full disk (a small tmpfs where this machine lets the test mount
//! one; an injected "no space left on device" at the two steps a real disk
//! cannot be made to fill at), a read-only store, sources that vanish and
//! grow while they are collected, entries nobody may read, 10,000 small
//! files, hard links, and two ingest processes into one store.
//!
//! After each: every entry of the source is named in the report (registered,
//! already registered, deferred or refused with its reason), the exit code
//! says whether the recorder was fully collected (0) or not (1), and
//! `custody verify` passes, or names exactly what an interrupted
//! registration left until the next run finishes it.

#![cfg(target_os = "linux")]

mod common;

use common::{assert_counts, b3, exactly_once};
use custody_evidence::fault::{FULL_AFTER_LOG_MARKER, FULL_AFTER_OBJECT_MARKER};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn custody() -> Command {
    Command::new(env!("CARGO_BIN_EXE_custody"))
}

/// A temporary directory with a station key.
struct Station {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: String,
}

impl Station {
    fn new() -> Station {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("station.key");
        let out = custody()
            .args(["key", "init", "--key"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let public = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("public key").map(|h| h.trim().to_string()))
            .unwrap();
        Station { dir, key, public }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `custody ingest --json SRC --store STORE EXTRA...`: exit code and report.
    fn ingest(&self, src: &Path, store: &Path, extra: &[&str]) -> (i32, Value) {
        let out = self.ingest_command(src, store, extra).output().unwrap();
        report(out)
    }

    fn ingest_command(&self, src: &Path, store: &Path, extra: &[&str]) -> Command {
        let mut c = custody();
        c.args(["ingest", "--json", "--key"])
            .arg(&self.key)
            .arg("--store")
            .arg(store)
            .args(extra)
            .arg(src);
        c
    }

    /// `custody verify --json`: exit code and the names of its failures.
    fn verify(&self, store: &Path) -> (i32, BTreeSet<String>, Value) {
        let out = custody()
            .args(["verify", "--json", "--public-key", &self.public, "--store"])
            .arg(store)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        let names = v["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect();
        (out.status.code().unwrap(), names, v)
    }

    /// Asserts that the store verifies (exit 0, no failure).
    #[track_caller]
    fn verified(&self, store: &Path, context: &str) {
        let (code, names, v) = self.verify(store);
        assert_eq!((code, names), (0, BTreeSet::new()), "{context}: {v}");
    }
}

fn report(out: std::process::Output) -> (i32, Value) {
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ingest printed no JSON ({e}, {:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

/// Each item's path -> (outcome, reason).
fn outcomes(r: &Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for i in r["items"].as_array().unwrap() {
        let path = i["path"].as_str().unwrap().to_string();
        let o = (
            i["outcome"].as_str().unwrap().to_string(),
            i["reason"].as_str().unwrap_or("").to_string(),
        );
        assert!(out.insert(path.clone(), o).is_none(), "{path} listed twice");
    }
    out
}

/// Every entry under `src` that a collection must account for (paths
/// relative to `src`): files, and entries a walk cannot look inside
/// (unreadable directories, links, special files) as themselves.
fn entries(src: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let rel = e
                .path()
                .strip_prefix(src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

/// Asserts that the report names every one of `paths`, and nothing else.
#[track_caller]
fn accounts_for(r: &Value, paths: &BTreeSet<String>) {
    let named: BTreeSet<String> = outcomes(r).into_keys().collect();
    assert_eq!(&named, paths, "{r}");
}

/// Distinct bytes: a small header, then `len` bytes seeded by `seed`.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = format!("custody test file {seed}\n").into_bytes();
    v.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    v
}

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A file system mounted for a test, unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// A tmpfs of `size` (e.g. `1m`) at `at`, when this machine allows it.
    fn tmpfs(at: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                at.to_str().unwrap(),
            ],
        )
        .then(|| Mount(at.to_path_buf()))
    }

    /// `at` mounted over itself, read-only, when this machine allows it.
    fn read_only(at: &Path) -> Option<Mount> {
        let p = at.to_str().unwrap();
        if !run("mount", &["--bind", p, p]) {
            return None;
        }
        let m = Mount(at.to_path_buf());
        run("mount", &["-o", "remount,bind,ro", p]).then_some(m)
    }

    fn remount(&self, options: &str) {
        assert!(run(
            "mount",
            &[
                "-o",
                &format!("remount,{options}"),
                self.0.to_str().unwrap()
            ]
        ));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", self.0.to_str().unwrap()]);
    }
}

/// A real full disk: a 1 MiB tmpfs store and 2 MiB of recordings. Each
/// file is registered or refused by name with the disk's error (exit 1);
/// verification passes or names only what an interrupted registration left
/// (and the catalog that could not be updated); once there is room, the
/// next run finishes: everything registered, exit 0, the store verifies.
#[test]
fn a_full_disk_refuses_files_by_name_and_the_next_run_finishes() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(src.join("DCIM")).unwrap();
    let mut expected = BTreeSet::new();
    for i in 0..8u64 {
        let v = bytes(i, 256 << 10);
        expected.insert(b3(&v));
        std::fs::write(src.join(format!("DCIM/CLIP{i:02}.MP4")), v).unwrap();
    }
    let store = st.path("store");
    let Some(disk) = Mount::tmpfs(&store, "1m") else {
        eprintln!(
            "skipped: this machine cannot mount a tmpfs; the injected full store is \
             `a_store_that_fills_mid_registration_...` below"
        );
        return;
    };
    let (code, r) = st.ingest(&src, &store, &["--settle", "0", "--jobs", "1"]);
    accounts_for(&r, &entries(&src));
    let o = outcomes(&r);
    let refused: Vec<&String> = o.keys().filter(|p| o[*p].0 == "refused").collect();
    assert!(!refused.is_empty(), "a 1 MiB disk took 2 MiB: {r}");
    for p in &refused {
        assert!(
            o[*p].1.contains("No space left on device"),
            "{p}: {:?}",
            o[*p]
        );
    }
    assert!(
        o.values().all(|(x, _)| x == "registered" || x == "refused"),
        "{r}"
    );
    assert_eq!(code, 1, "{r}");
    let (_, names, v) = st.verify(&store);
    let allowed: BTreeSet<String> = [
        "manifest_missing",
        "object_without_manifest",
        "catalog_mismatch",
    ]
    .map(String::from)
    .into();
    assert!(names.is_subset(&allowed), "{v}");

    disk.remount("size=64m");
    let (code, r) = st.ingest(&src, &store, &["--settle", "0"]);
    assert_eq!(code, 0, "{r}");
    let o = outcomes(&r);
    assert!(
        o.values()
            .all(|(x, _)| x == "registered" || x == "already_registered"),
        "{r}"
    );
    st.verified(&store, "after the disk was grown");
    assert_counts(&store, &exactly_once(&expected), "after the disk was grown");
}

/// The disk fills at the two steps a real disk cannot be made to fill at
/// on purpose (injected): after a file's object is stored (no log entry)
/// and after its log entry (no manifest). Both files are refused saying
/// what was left (exit 1), verification names both orphans (exit 1), and
/// the next run completes one and rolls the other back, says so, collects
/// the files (exit 0), and the store verifies.
#[test]
fn a_store_that_fills_mid_registration_is_finished_by_the_next_run() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(&src).unwrap();
    let (a, b) = (bytes(1, 5000), bytes(2, 5000));
    let after_object = format!("{FULL_AFTER_OBJECT_MARKER}.MP4");
    let after_log = format!("{FULL_AFTER_LOG_MARKER}.MP4");
    std::fs::write(src.join(&after_object), &a).unwrap();
    std::fs::write(src.join(&after_log), &b).unwrap();
    std::fs::write(src.join("OK.MP4"), bytes(3, 5000)).unwrap();
    let store = st.path("store");
    let (code, r) = st.ingest(&src, &store, &["--settle", "0"]);
    accounts_for(&r, &entries(&src));
    let o = outcomes(&r);
    assert_eq!(code, 1, "{r}");
    assert_eq!(o[&after_object].0, "refused");
    assert!(
        o[&after_object]
            .1
            .contains("its log entry could not be written"),
        "{r}"
    );
    assert!(
        o[&after_log]
            .1
            .contains("its manifest could not be written"),
        "{r}"
    );
    let (code, names, v) = st.verify(&store);
    assert_eq!(
        (code, names),
        (
            1,
            ["manifest_missing", "object_without_manifest"]
                .map(String::from)
                .into()
        ),
        "{v}"
    );
    // Human output names what the next run did.
    std::fs::rename(src.join(&after_object), src.join("A.MP4")).unwrap();
    std::fs::rename(src.join(&after_log), src.join("B.MP4")).unwrap();
    let out = custody()
        .args(["ingest", "--settle", "0", "--key"])
        .arg(&st.key)
        .arg("--store")
        .arg(&store)
        .arg(&src)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("recovery: completed  {} {after_log}", b3(&b))),
        "{text}"
    );
    assert!(
        text.contains(&format!("recovery: rolled_back {}", b3(&a))),
        "{text}"
    );
    st.verified(&store, "after the next run");
}

/// A read-only store: every file is refused by name with the file system's
/// error (exit 1), including files whose bytes it holds already (their
/// sighting cannot be logged), and the store still verifies; writable
/// again, the next run collects everything (exit 0).
#[test]
fn a_read_only_store_refuses_every_file_by_name() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("A.MP4"), bytes(1, 3000)).unwrap();
    std::fs::write(src.join("B.MP4"), bytes(2, 3000)).unwrap();
    let store = st.path("store");
    let (code, r) = st.ingest(&src, &store, &["--settle", "0"]);
    assert_eq!(code, 0, "{r}");
    std::fs::write(src.join("C.MP4"), bytes(3, 3000)).unwrap();
    let root = nix_uid() == 0;
    let guard = if root {
        match Mount::read_only(&store) {
            Some(m) => Some(m),
            None => {
                eprintln!("skipped: this machine cannot mount the store read-only");
                return;
            }
        }
    } else {
        // Without root, permissions hold: a store nobody may write to.
        assert!(run("chmod", &["-R", "a-w", store.to_str().unwrap()]));
        None
    };
    let (code, r) = st.ingest(&src, &store, &["--settle", "0"]);
    accounts_for(&r, &entries(&src));
    for (p, (outcome, reason)) in outcomes(&r) {
        assert_eq!(outcome, "refused", "{p}: {r}");
        let expected = if root {
            "Read-only file system"
        } else {
            "Permission denied"
        };
        assert!(reason.contains(expected), "{p}: {reason}");
    }
    assert_eq!(code, 1, "{r}");
    st.verified(&store, "read-only");
    drop(guard);
    if !root {
        assert!(run("chmod", &["-R", "u+w", store.to_str().unwrap()]));
    }
    let (code, r) = st.ingest(&src, &store, &["--settle", "0"]);
    assert_eq!(code, 0, "{r}");
    st.verified(&store, "writable again");
}

fn nix_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// While ingest runs, one file vanishes (refused: vanished) and a writer
/// keeps appending to another (deferred: still being written); the rest is
/// registered, the exit code is 1 and the store verifies. With the writer
/// stopped, the next run registers the grown file whole: exit 0.
#[test]
fn vanishing_and_growing_sources_are_refused_and_deferred() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..3 {
        std::fs::write(src.join(format!("S{i}.MP4")), bytes(i, 20_000)).unwrap();
    }
    std::fs::write(src.join("V.MP4"), bytes(10, 20_000)).unwrap();
    std::fs::write(src.join("G.MP4"), bytes(11, 20_000)).unwrap();
    let listed = entries(&src);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (g, stop) = (src.join("G.MP4"), stop.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(g).unwrap();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                f.write_all(&[7u8; 1000]).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let store = st.path("store");
    // The files are fresh, so nothing is copied for 3 s (the settle time);
    // the catalog appears once the source has been listed.
    let child = st
        .ingest_command(&src, &store, &["--settle", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.join("catalog.sqlite").exists() {
        assert!(Instant::now() < deadline, "ingest never listed the source");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(src.join("V.MP4")).unwrap();
    let (code, r) = report(child.wait_with_output().unwrap());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    accounts_for(&r, &listed);
    let o = outcomes(&r);
    assert_eq!(o["V.MP4"].0, "refused", "{r}");
    assert!(o["V.MP4"].1.contains("vanished"), "{r}");
    assert_eq!(o["G.MP4"].0, "deferred", "{r}");
    assert!(o["G.MP4"].1.starts_with("still being written"), "{r}");
    for i in 0..3 {
        assert_eq!(o[&format!("S{i}.MP4")].0, "registered", "{r}");
    }
    assert_eq!(
        (code, &r["deferred"], &r["refused"]),
        (1, &1.into(), &1.into()),
        "{r}"
    );
    st.verified(&store, "vanished and growing");

    std::thread::sleep(Duration::from_millis(600));
    let (code, r) = st.ingest(&src, &store, &["--settle", "0.5"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(outcomes(&r)["G.MP4"].0, "registered", "{r}");
    let grown = std::fs::read(src.join("G.MP4")).unwrap();
    assert_eq!(
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"] == "G.MP4")
            .unwrap()["blake3"],
        b3(&grown).as_str()
    );
    st.verified(&store, "grown file collected");
}

/// Entries nobody but root may read, for real: ingest runs as an ordinary
/// user (`setpriv`, when the tests run as root). A directory that can be
/// listed but not searched (its entries cannot be examined), one that
/// cannot be listed, and a file that cannot be opened are each refused by
/// name with the system's reason; the rest is registered; exit 1; the
/// store verifies.
#[test]
fn unreadable_entries_are_refused_by_name() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(src.join("locked")).unwrap();
    std::fs::create_dir_all(src.join("sealed")).unwrap();
    std::fs::write(src.join("OK.MP4"), bytes(1, 3000)).unwrap();
    std::fs::write(src.join("SECRET.MP4"), bytes(2, 3000)).unwrap();
    std::fs::write(src.join("locked/L1.MP4"), bytes(3, 3000)).unwrap();
    std::fs::write(src.join("locked/L2.MP4"), bytes(4, 3000)).unwrap();
    std::fs::write(src.join("sealed/S.MP4"), bytes(5, 3000)).unwrap();
    let store = st.path("store");
    std::fs::create_dir_all(&store).unwrap();
    let root = nix_uid() == 0;
    if root {
        if !run(
            "setpriv",
            &["--reuid=65534", "--regid=65534", "--clear-groups", "true"],
        ) {
            eprintln!("skipped: setpriv cannot run a command as another user here");
            return;
        }
        for p in [st.dir.path(), &st.path("rec")] {
            assert!(run("chmod", &["0755", p.to_str().unwrap()]));
        }
        for p in [&st.key, &store] {
            assert!(run("chown", &["65534:65534", p.to_str().unwrap()]));
        }
    }
    let listed = entries(&src);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(src.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("locked", 0o644); // listable, not searchable
    mode("sealed", 0o000);
    mode("SECRET.MP4", 0o000);
    let cmd = st.ingest_command(&src, &store, &["--settle", "0"]);
    let out = if root {
        // As nobody: the key and the store are theirs, the rest readable.
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .output()
    } else {
        { cmd }.output()
    }
    .unwrap();
    mode("locked", 0o755);
    mode("sealed", 0o755);
    mode("SECRET.MP4", 0o644);
    let (code, r) = report(out);
    let o = outcomes(&r);
    let expected: BTreeSet<String> = listed
        .iter()
        .filter(|p| !p.starts_with("sealed/"))
        .cloned()
        .chain(["sealed".to_string()])
        .collect();
    accounts_for(&r, &expected);
    for p in ["locked/L1.MP4", "locked/L2.MP4"] {
        assert_eq!(o[p].0, "refused", "{r}");
        assert!(
            o[p].1
                .contains("cannot be examined (stat failed: Permission denied"),
            "{r}"
        );
    }
    assert!(
        o["sealed"]
            .1
            .contains("directory cannot be read: Permission denied"),
        "{r}"
    );
    assert!(
        o["SECRET.MP4"].1.contains("cannot open: Permission denied"),
        "{r}"
    );
    assert_eq!(o["OK.MP4"].0, "registered", "{r}");
    assert_eq!((code, &r["refused"]), (1, &4.into()), "{r}");
    st.verified(&store, "unreadable entries");
}

/// 10,000 small files in 100 folders: each registered once (one object,
/// one manifest, one ingestion entry), the store verifies all of them; a
/// second run finds each (exit 0) and writes nothing but one sighting entry
/// per file.
///
/// (`custody ingest` of these 10,000 files: about 14 s on a tmpfs store and
/// 38 s on this machine's disk, 2 cores.)
#[test]
fn ten_thousand_small_files() {
    let st = Station::new();
    let src = st.path("rec");
    let mut expected = BTreeSet::new();
    for d in 0..100u64 {
        let dir = src.join(format!("DCIM/{d:03}REC"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100u64 {
            let v = bytes(d * 100 + f, 64);
            expected.insert(b3(&v));
            std::fs::write(dir.join(format!("F{f:03}.JPG")), v).unwrap();
        }
    }
    assert_eq!(expected.len(), 10_000);
    let store = st.path("store");
    // On a tmpfs where this machine allows it: some 100,000 fsyncs make the
    // disk, not the work counted here, the cost.
    let _fast = Mount::tmpfs(&store, "512m");
    let (code, r) = st.ingest(&src, &store, &["--jobs", "4"]);
    assert_eq!(
        (code, &r["registered"], &r["files"]),
        (0, &10_000.into(), &10_000.into())
    );
    accounts_for(&r, &entries(&src));
    assert_counts(&store, &exactly_once(&expected), "10,000 files");
    let (code, names, v) = st.verify(&store);
    assert_eq!(
        (code, names, &v["objects_checked"]),
        (0, BTreeSet::new(), &10_000.into())
    );
    let lines = |s: &Path| {
        std::fs::read_to_string(s.join("custody.log"))
            .unwrap()
            .lines()
            .count()
    };
    let before = lines(&store);
    let (code, r) = st.ingest(&src, &store, &["--jobs", "4", "--settle", "0"]);
    assert_eq!(
        (code, &r["already_present"]),
        (0, &10_000.into()),
        "{}",
        r["notes"]
    );
    assert_eq!(
        lines(&store) - before,
        10_000,
        "one sighting entry per file"
    );
    assert_counts(&store, &exactly_once(&expected), "10,000 files again");
}

/// The same bytes under three paths (a hard link and a copy) collected at
/// once: one object, one manifest, one ingestion entry, and a signed
/// sighting (`fixity check`) entry for each other path; exit 0.
#[test]
fn hard_links_and_copies_are_one_registration_with_every_sighting_logged() {
    let st = Station::new();
    let src = st.path("rec");
    std::fs::create_dir_all(src.join("DCIM")).unwrap();
    let v = bytes(42, 100_000);
    std::fs::write(src.join("DCIM/A.MP4"), &v).unwrap();
    std::fs::hard_link(src.join("DCIM/A.MP4"), src.join("DCIM/LINK.MP4")).unwrap();
    std::fs::write(src.join("COPY.MP4"), &v).unwrap();
    let store = st.path("store");
    let (code, r) = st.ingest(&src, &store, &["--jobs", "3", "--settle", "0"]);
    assert_eq!(code, 0, "{r}");
    accounts_for(&r, &entries(&src));
    assert_eq!(
        (&r["registered"], &r["already_present"]),
        (&1.into(), &2.into()),
        "{r}"
    );
    let h = b3(&v);
    assert_counts(&store, &exactly_once([&h]), "one content, three paths");
    let log = std::fs::read_to_string(store.join("custody.log")).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut sources: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["object"] == h.as_str())
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["details"]["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    sources.sort();
    let paths: BTreeSet<String> = sources.iter().map(|s| s.1.clone()).collect();
    assert_eq!(
        paths,
        ["COPY.MP4", "DCIM/A.MP4", "DCIM/LINK.MP4"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        sources.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["fixity check", "fixity check", "ingestion"]
    );
    st.verified(&store, "hard links");
}

/// Two ingest processes into one store at once, from two recorders that
/// share one file: each names every one of its files (exit 0), each
/// distinct content is registered exactly once, and the store verifies.
#[test]
fn two_ingest_processes_into_one_store() {
    let st = Station::new();
    let shared = bytes(100, 50_000);
    let mut expected = BTreeSet::from([b3(&shared)]);
    let srcs: Vec<PathBuf> = (0..2u64)
        .map(|n| {
            let src = st.path(&format!("rec{n}"));
            std::fs::create_dir_all(&src).unwrap();
            std::fs::write(src.join("SHARED.MP4"), &shared).unwrap();
            for i in 0..20 {
                let v = bytes(n * 1000 + i, 30_000);
                expected.insert(b3(&v));
                std::fs::write(src.join(format!("F{i:02}.MP4")), v).unwrap();
            }
            src
        })
        .collect();
    let store = st.path("store");
    let children: Vec<_> = srcs
        .iter()
        .map(|s| {
            st.ingest_command(s, &store, &["--settle", "0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut registered = 0;
    for (src, c) in srcs.iter().zip(children) {
        let (code, r) = report(c.wait_with_output().unwrap());
        assert_eq!(code, 0, "{r}");
        accounts_for(&r, &entries(src));
        registered += r["registered"].as_u64().unwrap();
    }
    assert_eq!(registered, expected.len() as u64);
    assert_counts(&store, &exactly_once(&expected), "two processes");
    st.verified(&store, "two processes");
}
