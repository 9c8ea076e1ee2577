//! Replays the `capi` fuzz target's seeds and regressions, and every
//! other target's stored inputs, through the C API.

use std::path::Path;

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn capi_fuzz_inputs_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let seeds = files(&root.join("corpus/capi"));
    assert!(!seeds.is_empty(), "fuzz/corpus/capi has no seeds");
    let mut n = 0;
    for sub in ["corpus", "regressions"] {
        for target in ["capi", "bmff", "ts", "ps", "content", "window"] {
            for p in files(&root.join(sub).join(target)) {
                let data = std::fs::read(&p).unwrap();
                for flags in 0..16u8 {
                    let mut input = vec![flags];
                    input.extend_from_slice(&data);
                    custody_ffi::fuzz_probe_bytes(&input);
                }
                n += 1;
            }
        }
    }
    eprintln!("replayed {n} inputs through the C API, with every flag");
}
