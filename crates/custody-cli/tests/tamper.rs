//! The tamper matrix: each case on a fresh copy of one store, each caught by
//! `custody verify` with the right names, and the same verdict reached by the
//! third-party verifier written from docs/FORMAT.md alone
//! (`tests/third_party/verify_store.py`). Verification leaves every byte
//! and timestamp of the store unchanged.

use custody_testkit::mp4::write_synthetic_recording;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn custody(key: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custody"));
    c.env("CUSTODY_KEY", key);
    c
}

fn ok(o: &Output) -> &Output {
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The third-party verifier's interpreter: `CUSTODY_PYTHON`, else the
/// virtual environment `scripts/setup.sh` makes. Required when
/// `CUSTODY_REQUIRE_TOOLS` is set.
fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = std::env::var_os("CUSTODY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/pyenv/bin/python3"));
    if p.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "the third-party verifier needs {} (scripts/setup.sh makes it)",
        p.display()
    );
    eprintln!(
        "note: no {}: the third-party verifier is not compared",
        p.display()
    );
    None
}

/// A recorder dump ingested into a store, with its key and public key.
struct Fixture {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: String,
    store: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec/DCIM");
        std::fs::create_dir_all(&rec).unwrap();
        for i in 0..4u32 {
            let mut v = Vec::new();
            write_synthetic_recording(&mut v, 2 + i, 30, 30, 2500 + i * 300).unwrap();
            std::fs::write(rec.join(format!("SN5_77_2026112909{i:02}00_{i}.MP4")), v).unwrap();
        }
        let key = dir.path().join("keys/station.key");
        let out = ok(&custody(&key).args(["key", "init"]).output().unwrap())
            .stdout
            .clone();
        let public = String::from_utf8(out)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("public key").map(|k| k.trim().to_string()))
            .unwrap();
        let store = dir.path().join("store");
        ok(&custody(&key)
            .args([
                "ingest",
                dir.path().join("rec").to_str().unwrap(),
                "--store",
            ])
            .arg(&store)
            .output()
            .unwrap());
        Fixture {
            dir,
            key,
            public,
            store,
        }
    }

    /// A fresh, writable copy of the pristine store.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.dir.path().join(format!("case-{name}"));
        ok(&Command::new("cp")
            .arg("-a")
            .arg(&self.store)
            .arg(&to)
            .output()
            .unwrap());
        ok(&Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&to)
            .output()
            .unwrap());
        to
    }

    fn verify(&self, store: &Path, extra: &[&str]) -> (Option<i32>, Value) {
        let o = custody(&self.key)
            .args(["verify", "--json", "--public-key", &self.public, "--store"])
            .arg(store)
            .args(extra)
            .output()
            .unwrap();
        let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        });
        (o.status.code(), v)
    }
}

fn names(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn objects(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(store.join("objects")).unwrap().flatten() {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            if f.path().extension().is_none() {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn log_lines(store: &Path) -> Vec<String> {
    std::fs::read_to_string(store.join("custody.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(store: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(store.join("custody.log"), text).unwrap();
}

fn manifest_path(store: &Path, object: &Path) -> PathBuf {
    let h = object.file_name().unwrap().to_str().unwrap();
    store.join("manifests").join(format!("{h}.json"))
}

fn canonical(v: &Value) -> Vec<u8> {
    custody_evidence::canonical::canonical_value(v).unwrap()
}

/// Every file's bytes and modification time, and every directory's listing.
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let meta = std::fs::symlink_metadata(&d).unwrap();
        out.push((d.clone(), Vec::new(), meta.modified().unwrap()));
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
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

#[test]
fn every_tampering_is_caught_by_name_by_both_verifiers() {
    let fx = Fixture::new();
    let python = python();
    let third_party =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/third_party/verify_store.py");
    let key = |name| {
        custody_evidence::keys::StationKey::generate().unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let stranger = key("stranger");

    // The pristine store verifies, and verification changes nothing in it.
    let before = snapshot(&fx.store);
    let (code, v) = fx.verify(&fx.store, &[]);
    assert_eq!((code, &v["ok"]), (Some(0), &Value::Bool(true)), "{v}");
    assert_eq!(v["objects_checked"], 4);
    assert_eq!(snapshot(&fx.store), before, "verify changed the store");

    type Tamper<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Tamper, &[&str])> = vec![
        (
            "flipped-byte",
            Box::new(|s: &Path| {
                let p = &objects(s)[0];
                let mut b = std::fs::read(p).unwrap();
                b[70_000] ^= 1;
                std::fs::write(p, b).unwrap();
            }),
            &["object_changed"],
        ),
        (
            "truncated-object",
            Box::new(|s: &Path| {
                let p = &objects(s)[1];
                let b = std::fs::read(p).unwrap();
                std::fs::write(p, &b[..b.len() / 2]).unwrap();
            }),
            &["object_changed"],
        ),
        (
            "swapped-objects",
            Box::new(|s: &Path| {
                let o = objects(s);
                let (a, b) = (std::fs::read(&o[0]).unwrap(), std::fs::read(&o[1]).unwrap());
                std::fs::write(&o[0], b).unwrap();
                std::fs::write(&o[1], a).unwrap();
            }),
            &["object_changed"],
        ),
        (
            "edited-manifest",
            Box::new(|s: &Path| {
                let p = manifest_path(s, &objects(s)[0]);
                let t = std::fs::read_to_string(&p).unwrap();
                assert!(t.contains("\"officer\":\"77\""));
                std::fs::write(&p, t.replace("\"officer\":\"77\"", "\"officer\":\"78\"")).unwrap();
            }),
            &["manifest_signature"],
        ),
        (
            "manifest-resigned-by-a-stranger",
            Box::new(|s: &Path| {
                let p = manifest_path(s, &objects(s)[0]);
                let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let sig = stranger.sign(&canonical(&v["manifest"]));
                v["signature"]["key"] = stranger.fingerprint().into();
                v["signature"]["value"] = custody_hash::tree::hex(&sig).into();
                std::fs::write(&p, canonical(&v)).unwrap();
            }),
            &["manifest_untrusted_key"],
        ),
        (
            "extra-member-in-manifest",
            Box::new(|s: &Path| {
                let p = manifest_path(s, &objects(s)[0]);
                let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                v["manifest"]["recording"]["note"] = "added later".into();
                std::fs::write(&p, canonical(&v)).unwrap();
            }),
            &["manifest_format"],
        ),
        (
            "null-optional-in-manifest",
            Box::new(|s: &Path| {
                let p = manifest_path(s, &objects(s)[0]);
                let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                v["manifest"]["object"]["device_md5"] = Value::Null;
                std::fs::write(&p, canonical(&v)).unwrap();
            }),
            &["manifest_format"],
        ),
        (
            "deleted-log-line",
            Box::new(|s: &Path| {
                let mut l = log_lines(s);
                l.remove(1);
                write_lines(s, &l);
            }),
            &["log_sequence"],
        ),
        (
            "swapped-log-lines",
            Box::new(|s: &Path| {
                let mut l = log_lines(s);
                l.swap(1, 2);
                write_lines(s, &l);
            }),
            &["log_sequence"],
        ),
        (
            "edited-log-line",
            Box::new(|s: &Path| {
                let mut l = log_lines(s);
                l[1] = l[1].replace("\"station\":\"station\"", "\"station\":\"elsewhere\"");
                write_lines(s, &l);
            }),
            &["log_signature"],
        ),
        (
            "forged-appended-line",
            Box::new(|s: &Path| {
                let mut l = log_lines(s);
                let mut e: Value = serde_json::from_str(l.last().unwrap()).unwrap();
                e["seq"] = (l.len() as u64 + 1).into();
                e["prev"] = blake3::hash(l.last().unwrap().as_bytes())
                    .to_hex()
                    .to_string()
                    .into();
                e["event"] = "fixity check".into();
                l.push(String::from_utf8(canonical(&e)).unwrap());
                write_lines(s, &l);
            }),
            &["log_signature"],
        ),
        (
            "rechained-log",
            Box::new(|s: &Path| {
                // Entry 1 rewritten, every line re-chained and re-signed by a stranger.
                let mut prev = "0".repeat(64);
                let mut out = Vec::new();
                for (i, line) in log_lines(s).iter().enumerate() {
                    let mut e: Value = serde_json::from_str(line).unwrap();
                    if i == 0 {
                        e["details"]["source"] = "DCIM/ELSEWHERE.MP4".into();
                    }
                    e["prev"] = prev.clone().into();
                    e["key"] = stranger.fingerprint().into();
                    e.as_object_mut().unwrap().remove("signature");
                    let sig = stranger.sign(&canonical(&e));
                    e["signature"] = custody_hash::tree::hex(&sig).into();
                    let text = String::from_utf8(canonical(&e)).unwrap();
                    prev = blake3::hash(text.as_bytes()).to_hex().to_string();
                    out.push(text);
                }
                write_lines(s, &out);
            }),
            &["log_untrusted_key"],
        ),
        (
            "deleted-manifest",
            Box::new(|s: &Path| {
                std::fs::remove_file(manifest_path(s, &objects(s)[0])).unwrap();
            }),
            &["manifest_missing", "catalog_mismatch"],
        ),
        (
            "deleted-object",
            Box::new(|s: &Path| {
                std::fs::remove_file(&objects(s)[0]).unwrap();
            }),
            &["object_missing"],
        ),
        (
            "deleted-registration",
            Box::new(|s: &Path| {
                let o = objects(s)[0].clone();
                std::fs::remove_file(manifest_path(s, &o)).unwrap();
                std::fs::remove_file(o.with_extension("b3tree")).unwrap();
                std::fs::remove_file(&o).unwrap();
            }),
            &["registration_missing", "catalog_mismatch"],
        ),
        (
            "emptied-catalog",
            Box::new(|s: &Path| {
                // An empty catalog made by a fresh store replaces the real one.
                let scratch = s.with_extension("scratch");
                let empty = custody_evidence::store::DirStore::open(&scratch).unwrap();
                drop(custody_evidence::catalog::Catalog::open(&empty).unwrap());
                std::fs::copy(scratch.join("catalog.sqlite"), s.join("catalog.sqlite")).unwrap();
            }),
            &["catalog_mismatch"],
        ),
    ];
    for (name, tamper, expected) in &cases {
        let s = fx.copy(name);
        tamper(&s);
        let before = snapshot(&s);
        let (code, v) = fx.verify(&s, &[]);
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            (code, &v["ok"], names(&v["failures"])),
            (Some(1), &Value::Bool(false), expected.clone()),
            "{name}: {v}"
        );
        assert_eq!(snapshot(&s), before, "{name}: verify changed the store");
        if let Some(py) = &python {
            let o = Command::new(py)
                .arg(&third_party)
                .arg(&s)
                .args(["--public-key", &fx.public])
                .output()
                .unwrap();
            let theirs: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
                panic!(
                    "{name}: third party: {e}: {}",
                    String::from_utf8_lossy(&o.stderr)
                )
            });
            assert_eq!(
                (o.status.code(), &theirs["ok"], names(&theirs["failures"])),
                (Some(1), &Value::Bool(false), expected),
                "{name}: the third-party verifier disagrees: {theirs}"
            );
            assert_eq!(
                snapshot(&s),
                before,
                "{name}: the third-party verifier changed the store"
            );
        }
    }

    // A flipped byte is located to its 64 KiB leaf.
    let s = fx.dir.path().join("case-flipped-byte");
    let (_, v) = fx.verify(&s, &[]);
    assert_eq!(
        v["failures"][0]["changed"],
        serde_json::json!([{"start": 65536, "end": 131072}])
    );
}

#[test]
fn a_rolled_back_tail_is_caught_only_with_an_anchor() {
    let fx = Fixture::new();
    let s = fx.copy("rollback");
    let old_log = std::fs::read(s.join("custody.log")).unwrap();
    let old_head = std::fs::read(s.join("custody.log.head")).unwrap();
    // One more registration, then the anchor a supervisor keeps elsewhere.
    let more = fx.dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    let mut v = Vec::new();
    write_synthetic_recording(&mut v, 1, 30, 30, 999).unwrap();
    std::fs::write(more.join("LATE.MP4"), v).unwrap();
    ok(&custody(&fx.key)
        .arg("ingest")
        .arg(&more)
        .arg("--store")
        .arg(&s)
        .output()
        .unwrap());
    let anchor = fx.dir.path().join("anchor.json");
    let out = ok(&custody(&fx.key)
        .args(["log", "anchor", "--store"])
        .arg(&s)
        .output()
        .unwrap())
    .stdout
    .clone();
    std::fs::write(&anchor, String::from_utf8(out).unwrap().trim_end()).unwrap();
    let (code, v) = fx.verify(&s, &["--anchor", anchor.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    // Roll back the log and its head together, and remove what the entry registered.
    std::fs::write(s.join("custody.log"), &old_log).unwrap();
    std::fs::write(s.join("custody.log.head"), &old_head).unwrap();
    let late: Vec<_> = objects(&s)
        .into_iter()
        .filter(|o| !fx.store.join(o.strip_prefix(&s).unwrap()).exists())
        .collect();
    assert_eq!(late.len(), 1);
    std::fs::remove_file(manifest_path(&s, &late[0])).unwrap();
    std::fs::remove_file(late[0].with_extension("b3tree")).unwrap();
    std::fs::remove_file(&late[0]).unwrap();
    let catalog = fx.store.join("catalog.sqlite");
    std::fs::copy(&catalog, s.join("catalog.sqlite")).unwrap();
    let (code, v) = fx.verify(&s, &[]);
    assert_eq!(
        code,
        Some(0),
        "without an anchor the rollback is invisible: {v}"
    );
    let (code, v) = fx.verify(&s, &["--anchor", anchor.to_str().unwrap()]);
    assert_eq!(
        (code, names(&v["failures"])),
        (Some(1), ["anchor_mismatch".to_string()].into()),
        "{v}"
    );
    if let Some(py) = python() {
        let third_party =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/third_party/verify_store.py");
        let o = Command::new(py)
            .arg(&third_party)
            .arg(&s)
            .args(["--public-key", &fx.public, "--anchor"])
            .arg(&anchor)
            .output()
            .unwrap();
        let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            names(&theirs["failures"]),
            ["anchor_mismatch".to_string()].into(),
            "{theirs}"
        );
    }
}

#[test]
fn verify_is_read_only_and_refuses_bad_arguments() {
    let fx = Fixture::new();
    let before = snapshot(&fx.store);
    // A mistyped store path: exit 2, and nothing is created.
    let missing = fx.dir.path().join("no-such-store");
    let o = custody(&fx.key)
        .args(["verify", "--store"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!missing.exists(), "verify created a store");
    // A directory that is not a store: exit 2.
    let o = custody(&fx.key)
        .args(["verify", "--store"])
        .arg(fx.dir.path().join("rec"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // Hash arguments are validated: no panic, no path outside the store.
    for bad in ["€abc", "../../../etc/passwd", &"A".repeat(64)] {
        let o = custody(&fx.key)
            .args(["verify", "--store"])
            .arg(&fx.store)
            .args(["--object", bad])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // A temporary file left by a crashed ingest is neither removed nor reported.
    let left = fx.store.join("tmp/999999-0-copy.part");
    std::fs::write(&left, b"partial").unwrap();
    let before_tmp = snapshot(&fx.store);
    let (code, v) = fx.verify(&fx.store, &[]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(snapshot(&fx.store), before_tmp);
    std::fs::remove_file(&left).unwrap();
    // Without a trust anchor it says loudly whom it trusts.
    let o = Command::new(env!("CARGO_BIN_EXE_custody"))
        .env("CUSTODY_KEY", fx.dir.path().join("absent.key"))
        .args(["verify", "--json", "--store"])
        .arg(&fx.store)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (o.status.code(), &v["trust"]["source"]),
        (Some(0), &Value::from("store"))
    );
    assert!(names(&v["warnings"]).contains("trust_store_key"), "{v}");
    assert_eq!(snapshot(&fx.store).len(), before.len());
}

#[test]
fn only_key_init_creates_a_key_and_a_stranger_key_cannot_join_a_store() {
    let fx = Fixture::new();
    // Ingest with a missing key file: exit 2, no key created, store untouched.
    let absent = fx.dir.path().join("typo/station.key");
    let before = snapshot(&fx.store);
    let o = custody(&absent)
        .arg("ingest")
        .arg(fx.dir.path().join("rec"))
        .arg("--store")
        .arg(&fx.store)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("custody key init"));
    assert!(!absent.exists() && !absent.parent().unwrap().exists());
    assert_eq!(snapshot(&fx.store), before);
    // Another station's key cannot sign into this store.
    let other = fx.dir.path().join("other.key");
    ok(&custody(&other).args(["key", "init"]).output().unwrap());
    let o = custody(&other)
        .arg("ingest")
        .arg(fx.dir.path().join("rec"))
        .arg("--store")
        .arg(&fx.store)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a key of the store"));
    // Rotation: the new key is introduced by the old one, logged, and trusted
    // through the old public key.
    let o = ok(&custody(&fx.key)
        .args(["key", "rotate", "--store"])
        .arg(&fx.store)
        .output()
        .unwrap())
    .stdout
    .clone();
    assert!(String::from_utf8_lossy(&o).starts_with("rotated "));
    let more = fx.dir.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    let mut v = Vec::new();
    write_synthetic_recording(&mut v, 1, 30, 30, 4242).unwrap();
    std::fs::write(more.join("AFTER.MP4"), v).unwrap();
    ok(&custody(&fx.key)
        .arg("ingest")
        .arg(&more)
        .arg("--store")
        .arg(&fx.store)
        .output()
        .unwrap());
    let o = Command::new(env!("CARGO_BIN_EXE_custody"))
        .env("CUSTODY_KEY", fx.dir.path().join("absent.key"))
        .args(["verify", "--json", "--public-key", &fx.public, "--store"])
        .arg(&fx.store)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            o.status.code(),
            v["trust"]["keys"].as_object().unwrap().len()
        ),
        (Some(0), 2),
        "{v}"
    );
    let shown = ok(&custody(&fx.key)
        .args(["key", "show", "--json", "--store"])
        .arg(&fx.store)
        .output()
        .unwrap())
    .stdout
    .clone();
    let shown: Value = serde_json::from_slice(&shown).unwrap();
    let keys = shown["store_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys[0]["until"].is_string() && keys[1]["until"].is_null(),
        "{shown}"
    );
}

/// The wider comparison (about 140 cases of tampering, rotation, anchors and
/// odd files, `tests/third_party/tamper_compare.py`): the third-party
/// verifier and `custody verify` reach the same verdict on every one.
#[test]
fn the_third_party_verifier_agrees_on_every_case_of_the_wider_matrix() {
    let Some(py) = python() else { return };
    let work = tempfile::tempdir().unwrap();
    let harness =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/third_party/tamper_compare.py");
    let o = Command::new(py)
        .arg(harness)
        .args(["--custody", env!("CARGO_BIN_EXE_custody"), "--work"])
        .arg(work.path().join("cases"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{}",
        out.lines()
            .filter(|l| l.starts_with("DIFF") || l.contains("matched"))
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains(" 0 differed"), "{out}");
}

#[test]
fn names_that_are_not_utf8_are_kept_byte_for_byte_and_both_verifiers_accept_them() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let fx = Fixture::new();
    let s = fx.copy("names");
    let rec = fx.dir.path().join("latin1");
    std::fs::create_dir_all(&rec).unwrap();
    // Three names that a lossy conversion makes one (`cam\u{fffd}.mp4`), and an
    // identical copy of one of them under a fourth, also not UTF-8.
    let names: [&[u8]; 4] = [
        b"cam\xe9.mp4",
        b"cam\xff.mp4",
        b"cam\xc3.mp4",
        b"dup\xe9.mp4",
    ];
    for (i, n) in names[..3].iter().enumerate() {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 1, 30, 30, 4000 + i as u32).unwrap();
        std::fs::write(rec.join(std::ffi::OsStr::from_bytes(n)), v).unwrap();
    }
    // The fourth file has the first's bytes.
    std::fs::copy(
        rec.join(std::ffi::OsStr::from_bytes(names[0])),
        rec.join(std::ffi::OsStr::from_bytes(names[3])),
    )
    .unwrap();
    let o = custody(&fx.key)
        .args(["ingest", "--json"])
        .arg(&rec)
        .arg("--store")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Every manifest written by this run names its source exactly.
    let mut rebuilt = BTreeSet::new();
    for m in std::fs::read_dir(s.join("manifests")).unwrap().flatten() {
        let doc: Value = serde_json::from_slice(&std::fs::read(m.path()).unwrap()).unwrap();
        let original = &doc["manifest"]["original"];
        let Some(hex) = original["path_bytes"].as_str() else {
            assert!(
                original["path"].as_str().unwrap().starts_with("DCIM/"),
                "{original}"
            );
            continue;
        };
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let path = std::ffi::OsString::from_vec(bytes);
        assert!(
            rec.join(&path).is_file(),
            "{original} does not rebuild a source path"
        );
        assert_eq!(
            original["path"].as_str().unwrap(),
            custody_evidence::osname::display(&path)
        );
        rebuilt.insert(path.into_vec());
    }
    let expected: BTreeSet<Vec<u8>> = names[..3].iter().map(|n| n.to_vec()).collect();
    assert_eq!(
        rebuilt, expected,
        "one manifest per distinct content, each exact"
    );
    // The fourth name is a later sighting, logged with its exact bytes.
    let log = log_lines(&s);
    let sighting: Value = log
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["details"]["source"] == "dup\\xe9.mp4")
        .expect("the identical copy is logged");
    assert_eq!(sighting["details"]["source_bytes"], "647570e92e6d7034");
    let (code, v) = fx.verify(&s, &[]);
    assert_eq!(code, Some(0), "{v}");
    if let Some(py) = python() {
        let third_party =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/third_party/verify_store.py");
        let o = Command::new(py)
            .arg(&third_party)
            .arg(&s)
            .args(["--public-key", &fx.public])
            .output()
            .unwrap();
        let theirs: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(0), "{theirs}");
    }
}
