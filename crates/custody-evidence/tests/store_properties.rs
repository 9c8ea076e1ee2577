//! Property: random sequences of ingest, tampering and repair never end in a
//! store that verification calls intact while a registered byte, manifest
//! or log entry differs from what was registered.

use custody_evidence::ingest::{IngestOptions, Outcome, ingest};
use custody_evidence::keys::StationKey;
use custody_evidence::recover::Action;
use custody_evidence::store::DirStore;
use custody_evidence::verify::verify_store;
use custody_testkit::mp4::write_synthetic_recording;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
enum Op {
    /// Ingest recorder `n` (each holds one distinct file).
    Ingest(usize),
    /// Tamper in way `kind` with the `pick`-th candidate.
    Tamper(u8, u16),
    /// Put back the store as it was after the last ingest on an intact store
    /// (a restore from backup: what was registered since is forgotten too).
    Repair,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..3).prop_map(Op::Ingest),
        4 => (0u8..11, any::<u16>()).prop_map(|(k, p)| Op::Tamper(k, p)),
        1 => Just(Op::Repair),
    ]
}

/// Every file under `root` (except `tmp/`), by path relative to it.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "tmp") {
                    stack.push(p);
                }
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn restore(root: &Path, snapshot: &BTreeMap<PathBuf, Vec<u8>>) {
    for (rel, _) in files(root) {
        if !snapshot.contains_key(&rel) {
            std::fs::remove_file(root.join(rel)).unwrap();
        }
    }
    for (rel, bytes) in snapshot {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644));
        std::fs::write(&p, bytes).unwrap();
    }
}

use std::os::unix::fs::PermissionsExt;

fn write(p: &Path, bytes: &[u8]) {
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644));
    std::fs::write(p, bytes).unwrap();
}

fn write_lines(log: &Path, lines: &[String]) {
    write(
        log,
        lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .as_bytes(),
    );
}

/// Tampers with the store; returns false when there was nothing to tamper with.
fn tamper(root: &Path, kind: u8, pick: u16) -> bool {
    let all = files(root);
    let of = |prefix: &str, suffix: &str| -> Vec<PathBuf> {
        all.keys()
            .filter(|p| p.starts_with(prefix) && p.to_string_lossy().ends_with(suffix))
            .filter(|p| !p.to_string_lossy().ends_with(".b3tree") || suffix == ".b3tree")
            .cloned()
            .collect()
    };
    let choose = |v: Vec<PathBuf>| v.get(pick as usize % v.len().max(1)).cloned();
    let log = root.join("custody.log");
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let at = |n: usize| pick as usize % n.max(1);
    match kind {
        0..=2 => {
            let Some(p) = choose(of("objects", "")) else {
                return false;
            };
            let p = root.join(p);
            let mut b = std::fs::read(&p).unwrap();
            match kind {
                0 if !b.is_empty() => {
                    let i = at(b.len());
                    b[i] ^= 0x20;
                    write(&p, &b);
                }
                1 => write(&p, &b[..b.len() / 2]),
                _ => std::fs::remove_file(&p).unwrap(),
            }
        }
        3 | 4 => {
            let Some(p) = choose(of("manifests", ".json")) else {
                return false;
            };
            let p = root.join(p);
            if kind == 3 {
                std::fs::remove_file(&p).unwrap();
            } else {
                let mut b = std::fs::read(&p).unwrap();
                let i = at(b.len());
                b[i] = if b[i] == b'1' { b'2' } else { b'1' };
                write(&p, &b);
            }
        }
        5 if !lines.is_empty() => {
            let i = at(lines.len());
            lines.remove(i);
            write_lines(&log, &lines);
        }
        6 if lines.len() > 1 => {
            let i = at(lines.len() - 1);
            lines.swap(i, i + 1);
            write_lines(&log, &lines);
        }
        7 if !lines.is_empty() => {
            let i = at(lines.len());
            lines[i] = lines[i].replacen("\"station\":\"st\"", "\"station\":\"xx\"", 1);
            write_lines(&log, &lines);
        }
        8 => {
            // A whole registration removed: object, tree and manifest.
            let Some(p) = choose(of("manifests", ".json")) else {
                return false;
            };
            let h = p.file_stem().unwrap().to_string_lossy().into_owned();
            let _ = std::fs::remove_file(root.join(&p));
            let _ = std::fs::remove_file(root.join(format!("objects/{}/{h}", &h[..2])));
            let _ = std::fs::remove_file(root.join(format!("objects/{}/{h}.b3tree", &h[..2])));
        }
        9 => {
            let _ = std::fs::remove_file(root.join("custody.log.head"));
        }
        10 if !lines.is_empty() => {
            // Entry `i` rewritten; the log re-chained and re-signed, head
            // included, by a stranger's key.
            let stranger = StationKey::from_seed([66; 32]);
            let sign = |v: &mut serde_json::Value| {
                v.as_object_mut().unwrap().remove("signature");
                v["key"] = stranger.fingerprint().into();
                let bytes = custody_evidence::canonical::canonical_value(v).unwrap();
                v["signature"] = custody_hash::tree::hex(&stranger.sign(&bytes)).into();
                String::from_utf8(custody_evidence::canonical::canonical_value(v).unwrap()).unwrap()
            };
            let i = at(lines.len());
            let mut prev = "0".repeat(64);
            for (n, line) in lines.iter_mut().enumerate() {
                let mut e: serde_json::Value = serde_json::from_str(line).unwrap();
                if n == i {
                    e["station"] = "forged".into();
                }
                e["prev"] = prev.clone().into();
                *line = sign(&mut e);
                prev = blake3::hash(line.as_bytes()).to_hex().to_string();
            }
            let mut head =
                serde_json::json!({"format": "custody.head/1", "seq": lines.len(), "hash": prev});
            let head = sign(&mut head);
            write_lines(&log, &lines);
            write(&root.join("custody.log.head"), head.as_bytes());
        }
        _ => return false,
    }
    true
}

fn recorder(dir: &Path, n: usize) -> PathBuf {
    let src = dir.join(format!("rec{n}"));
    if !src.exists() {
        std::fs::create_dir_all(&src).unwrap();
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 1 + n as u32, 10, 5, 700 + 300 * n as u32).unwrap();
        std::fs::write(src.join(format!("SN1_7_2026112908{n:02}00_{n}.MP4")), v).unwrap();
    }
    src
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn verify_never_passes_a_store_that_lost_or_changed_what_was_registered(
        ops in prop::collection::vec(op(), 1..10)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let store = DirStore::open(&root).unwrap();
        let key = StationKey::from_seed([9; 32]);
        // No settle time: the recorders here are written before they are
        // collected, and this property is about the store, not the source.
        let opts = IngestOptions {
            station: "st".into(),
            reverify: true,
            jobs: 1,
            settle: std::time::Duration::ZERO,
            ..Default::default()
        };
        // What was registered: object bytes and manifest bytes per object,
        // and every log line an ingest appended.
        let mut objects: BTreeMap<String, (Vec<u8>, Vec<u8>)> = BTreeMap::new();
        let mut entries: Vec<String> = Vec::new();
        let mut pristine = (files(&root), objects.clone(), entries.clone());
        let mut tampered = false;
        for op in &ops {
            match op {
                Op::Ingest(n) => {
                    let src = recorder(dir.path(), *n);
                    let before = std::fs::read_to_string(root.join("custody.log")).unwrap_or_default();
                    let had_manifest: std::collections::BTreeSet<String> =
                        store.registered().unwrap_or_default().into_iter().collect();
                    let Ok(r) = ingest(&src, &store, &key, &opts) else { continue };
                    let after = std::fs::read_to_string(root.join("custody.log")).unwrap_or_default();
                    if let Some(new) = after.strip_prefix(before.as_str()) {
                        entries.extend(new.lines().map(str::to_string));
                    }
                    // A manifest this ingest wrote where there was none (a
                    // registration, or one an earlier registration lacked,
                    // completed from its stored object) is what is registered
                    // from now on; one that was there must never change.
                    let written: Vec<String> = r
                        .items
                        .iter()
                        .filter(|i| i.outcome == Outcome::Registered)
                        .filter_map(|i| i.blake3.clone())
                        .chain(
                            r.recovered
                                .iter()
                                .filter(|x| x.action == Action::Completed)
                                .map(|x| x.blake3.clone()),
                        )
                        .filter(|h| !had_manifest.contains(h))
                        .collect();
                    for item in r.items.iter().filter(|i| i.blake3.is_some()) {
                        let h = item.blake3.clone().unwrap();
                        if let (Ok(o), Ok(m)) = (std::fs::read(store.object_path(&h)), store.manifest_bytes(&h)) {
                            objects.entry(h).or_insert((o, m));
                        }
                    }
                    for h in written {
                        if let (Ok(o), Ok(m)) = (std::fs::read(store.object_path(&h)), store.manifest_bytes(&h)) {
                            objects.insert(h, (o, m));
                        }
                    }
                    if !tampered {
                        pristine = (files(&root), objects.clone(), entries.clone());
                    }
                }
                Op::Tamper(kind, pick) => tampered |= tamper(&root, *kind, *pick),
                Op::Repair => {
                    restore(&root, &pristine.0);
                    objects = pristine.1.clone();
                    entries = pristine.2.clone();
                    tampered = false;
                }
            }
        }
        let v = verify_store(&store, &key.public(), None).unwrap();
        if v.ok {
            let log = std::fs::read_to_string(root.join("custody.log")).unwrap_or_default();
            let lines: std::collections::BTreeSet<&str> = log.lines().collect();
            for (h, (object, manifest)) in &objects {
                let now = std::fs::read(store.object_path(h)).ok();
                prop_assert!(now.as_ref() == Some(object), "object {} changed: {:?}", h, v);
                let now = store.manifest_bytes(h).ok();
                prop_assert!(now.as_ref() == Some(manifest), "manifest {} changed", h);
            }
            for e in &entries {
                prop_assert!(lines.contains(e.as_str()), "log entry lost: {} {:?}", e, v);
            }
        }
    }
}
