//! Probing a file that is not mapped (removable media, `--no-mmap`) reads
//! only the ranges the probe looks at, and says exactly what a probe of the
//! whole file says: every corpus file, and every stored fuzz input.

mod common;

use custody_container::summary::ProbeOptions;
use custody_io::{Evidence, ReadMode};
use std::path::{Path, PathBuf};

/// Probe results (as text) of `path` read whole and read through its plan,
/// with the bytes the plan read.
fn both(path: &Path, opts: ProbeOptions) -> (String, String, u64) {
    let whole = Evidence::open(path, ReadMode::Map).unwrap();
    let planned = Evidence::open_planned(path, ReadMode::Read, |len, read| {
        custody_container::probe_ranges(len, opts, read)
    })
    .unwrap();
    (
        format!("{:?}", custody_container::probe(whole.bytes(), opts)),
        format!("{:?}", custody_container::probe(planned.bytes(), opts)),
        planned.bytes_read(),
    )
}

fn check(files: &[PathBuf]) -> (u64, u64, usize) {
    let (mut size, mut read, mut mp4) = (0u64, 0u64, 0usize);
    for f in files {
        let len = std::fs::metadata(f).unwrap().len();
        if len == 0 {
            continue;
        }
        for boxes in [false, true] {
            let opts = ProbeOptions {
                boxes,
                ..Default::default()
            };
            let (whole, planned, r) = both(f, opts);
            assert_eq!(whole, planned, "{} (boxes {boxes})", f.display());
            let head = &std::fs::read(f).unwrap()[..len.min(16) as usize];
            if !boxes && custody_container::detect(head) == Some(custody_container::Format::IsoBmff)
            {
                size += len;
                read += r;
                mp4 += 1;
            }
        }
    }
    (size, read, mp4)
}

#[test]
fn every_corpus_file_probes_the_same_from_its_planned_ranges() {
    let Some(dir) = common::corpus() else { return };
    let files = common::files(&dir);
    let (size, read, mp4) = check(&files);
    assert!(mp4 >= 10, "{mp4} MP4/MOV files");
    eprintln!("MP4/MOV: {mp4} files, {size} bytes, {read} read for probing");
    // About 10%: the corpus is small files whose index is a large part (one
    // is all index: a truncated audiobook); a camera's file is well under 1%.
    assert!(read * 5 < size, "{read} of {size} bytes read");
}

#[test]
fn every_stored_fuzz_input_probes_the_same_from_its_planned_ranges() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for sub in ["regressions", "corpus"] {
        for t in ["bmff", "content", "ts", "ps"] {
            let d = root.join(sub).join(t);
            if d.is_dir() {
                files.extend(common::files(&d));
            }
        }
    }
    assert!(
        !files.is_empty(),
        "no stored fuzz inputs under {}",
        root.display()
    );
    check(&files);
}
