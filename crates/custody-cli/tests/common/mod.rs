//! Counting what a store holds, per object, for the exactly-once checks of
//! `crash.rs` and `concurrent.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The BLAKE3 (hex) of `bytes`, as the store names objects.
pub fn b3(bytes: &[u8]) -> String {
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
/// file names), and the `ingestion` entries of `custody.log` (each complete
/// line parsed as JSON). Missing directories count as empty: a run killed
/// early may not have made them.
#[derive(Debug, Clone, Default)]
pub struct StoreCounts {
    pub objects: BTreeMap<String, usize>,
    pub manifests: BTreeMap<String, usize>,
    pub ingestions: BTreeMap<String, usize>,
}

fn entries(dir: &Path) -> Vec<std::fs::DirEntry> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().collect())
        .unwrap_or_default()
}

pub fn store_counts(root: &Path) -> StoreCounts {
    let mut c = StoreCounts::default();
    for shard in entries(&root.join("objects")) {
        if !shard.path().is_dir() {
            continue;
        }
        for f in entries(&shard.path()) {
            let name = f.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !name.ends_with(".b3tree") {
                *c.objects.entry(name).or_insert(0) += 1;
            }
        }
    }
    for f in entries(&root.join("manifests")) {
        if f.file_name().to_string_lossy().starts_with('.') {
            continue; // an atomic write in progress
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap();
        let described = doc["manifest"]["object"]["blake3"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no object in manifest", f.path().display()))
            .to_string();
        *c.manifests.entry(described).or_insert(0) += 1;
    }
    let log = std::fs::read_to_string(root.join("custody.log")).unwrap_or_default();
    // A last line without its newline is an append cut short: not an entry.
    let complete = log.rfind('\n').map_or("", |i| &log[..i]);
    for (i, line) in complete.lines().enumerate() {
        let e: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("custody.log line {}: {err}: {line}", i + 1));
        if e["event"] == "ingestion" {
            let obj = e["object"].as_str().unwrap_or("(none)").to_string();
            *c.ingestions.entry(obj).or_insert(0) += 1;
        }
    }
    c
}

/// The counts of a store where each of `hashes` was registered exactly once.
pub fn exactly_once<'a>(hashes: impl IntoIterator<Item = &'a String>) -> StoreCounts {
    let ones: BTreeMap<String, usize> = hashes.into_iter().map(|h| (h.clone(), 1)).collect();
    StoreCounts {
        objects: ones.clone(),
        manifests: ones.clone(),
        ingestions: ones,
    }
}

/// Every count in `actual` that differs from `expected`, one line each.
pub fn mismatches(actual: &StoreCounts, expected: &StoreCounts) -> Vec<String> {
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
        for h in a.keys().chain(e.keys()).collect::<BTreeSet<_>>() {
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
pub fn assert_counts(root: &Path, expected: &StoreCounts, context: &str) {
    let wrong = mismatches(&store_counts(root), expected);
    assert!(
        wrong.is_empty(),
        "{context}: the store does not hold each object exactly as expected:\n  {}",
        wrong.join("\n  ")
    );
}
