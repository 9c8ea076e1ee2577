//! Replays the fuzz corpora and regression inputs through the fuzz entry
//! points, so `cargo test` catches any input that ever crashed a target.
//!
//! The targets are found from `fuzz/fuzz_targets/*.rs`: a new target that
//! this file does not know fails the test until it is added to [`entry`].

mod common;

use std::path::Path;

type Target = fn(&[u8]);

/// The library function behind each cargo-fuzz target.
fn entry(target: &str) -> Option<Target> {
    use custody_testkit::fuzz;
    Some(match target {
        "bmff" => fuzz::bmff,
        "ts" => fuzz::ts,
        "ps" => fuzz::ps,
        "demux" => fuzz::demux,
        "riff" => fuzz::riff,
        "mkv" => fuzz::mkv,
        "flv" => fuzz::flv,
        "ogg" => fuzz::ogg,
        "audio" => fuzz::audio,
        "photo" => fuzz::photo,
        "window" => fuzz::window,
        "tree" => fuzz::tree,
        "content" => fuzz::content,
        "store_json" => fuzz::store_json,
        _ => return None,
    })
}

/// Targets replayed by another package's tests, which can depend on what
/// they call (the C API depends on this crate).
const REPLAYED_ELSEWHERE: &[(&str, &str)] = &[("capi", "crates/custody-ffi/tests/fuzz_replay.rs")];

/// Every target named by a file in `fuzz/fuzz_targets/`, except those
/// replayed elsewhere.
fn targets(root: &Path) -> Vec<(String, Target)> {
    let files = common::files(&root.join("fuzz_targets"));
    assert!(!files.is_empty(), "no fuzz targets found");
    for (name, by) in REPLAYED_ELSEWHERE {
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(by).is_file(),
            "fuzz target {name} is said to be replayed by {by}, which does not exist"
        );
    }
    files
        .iter()
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            !REPLAYED_ELSEWHERE.iter().any(|(n, _)| *n == stem)
        })
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let f = entry(&name).unwrap_or_else(|| {
                panic!("fuzz target {name} has no replay entry in tests/fuzz_replay.rs")
            });
            (name, f)
        })
        .collect()
}

fn replay_dir(dir: &Path, f: Target) -> usize {
    let files = common::files(dir);
    for p in &files {
        f(&std::fs::read(p).unwrap());
    }
    files.len()
}

#[test]
fn fuzz_corpora_and_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let targets = targets(&root);
    assert_eq!(
        targets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "audio",
            "bmff",
            "content",
            "demux",
            "flv",
            "mkv",
            "ogg",
            "photo",
            "ps",
            "riff",
            "store_json",
            "tree",
            "ts",
            "window"
        ]
    );
    // No seed or regression folder belongs to a target that does not exist.
    for folder in ["corpus", "regressions"] {
        for d in std::fs::read_dir(root.join(folder)).unwrap().flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            assert!(
                targets.iter().any(|(n, _)| *n == name)
                    || REPLAYED_ELSEWHERE.iter().any(|(n, _)| *n == name),
                "fuzz/{folder}/{name} has no fuzz target"
            );
        }
    }
    let mut total = 0;
    for (name, f) in &targets {
        let n = replay_dir(&root.join("corpus").join(name), *f);
        assert!(n > 0, "fuzz/corpus/{name} has no seeds");
        total += n + replay_dir(&root.join("regressions").join(name), *f);
    }
    eprintln!("replayed {total} fuzz inputs");
}

/// Inputs that crashed or hung another MP4 parser, through every target.
#[test]
fn foreign_fuzz_crashers_replay() {
    let Some(dir) = common::corpus() else { return };
    let files = common::files(&dir.join("mp4ff/fuzz-FuzzDecodeBox"));
    assert!(!files.is_empty());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let targets = targets(&root);
    for p in files {
        let data = std::fs::read(&p).unwrap();
        for (_, f) in &targets {
            f(&data);
        }
    }
}
