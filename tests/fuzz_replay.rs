//! Replays the fuzz corpora and regression inputs through the fuzz entry
//! points, so `cargo test` catches any input that ever crashed a target.

mod common;

use custody::container::fuzzing;
use std::path::Path;

type Target = fn(&[u8]);
const TARGETS: [(&str, Target); 3] = [
    ("bmff", fuzzing::bmff),
    ("ts", fuzzing::ts),
    ("ps", fuzzing::ps),
];

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
    let mut total = 0;
    for (name, f) in TARGETS {
        let n = replay_dir(&root.join("corpus").join(name), f);
        assert!(n > 0, "fuzz/corpus/{name} has no seeds");
        total += n + replay_dir(&root.join("regressions").join(name), f);
    }
    eprintln!("replayed {total} fuzz inputs");
}

/// Inputs that crashed or hung another MP4 parser, through every target.
#[test]
fn foreign_fuzz_crashers_replay() {
    let Some(dir) = common::corpus() else { return };
    let files = common::files(&dir.join("mp4ff/fuzz-FuzzDecodeBox"));
    assert!(!files.is_empty());
    for p in files {
        let data = std::fs::read(&p).unwrap();
        for (_, f) in TARGETS {
            f(&data);
        }
    }
}
