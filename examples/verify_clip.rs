//! Checks one byte range of a file (a clip cut for court, a copy on a
//! laptop) against the sealed original, reading only that range: the
//! original's chunk tree comes from the store, and the BLAKE3 root it must
//! produce is the one registered in the original's signed manifest.
//!
//! `cargo run --example verify_clip -- STORE BLAKE3 FILE START END`
//!
//! Exit 0: the bytes START..END are the original's; 1: they differ; 2: error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, blake3, file, start, end] = &args[..] else {
        eprintln!("usage: verify_clip STORE BLAKE3 FILE START END");
        return ExitCode::from(2);
    };
    let (Ok(start), Ok(end)) = (start.parse::<u64>(), end.parse::<u64>()) else {
        eprintln!("verify_clip: START and END are byte offsets");
        return ExitCode::from(2);
    };
    let store = match custody::evidence::store::DirStore::open_existing(store.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("verify_clip: {store}: {e}");
            return ExitCode::from(2);
        }
    };
    // The object's tree sits beside it in the store, named by its BLAKE3.
    let tree = store.object_path(blake3).with_extension("b3tree");
    match custody::verify_range(file, &tree, blake3, start..end) {
        Ok(true) => {
            println!("{file}: bytes {start}..{end} are the sealed original's ({blake3})");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("{file}: bytes {start}..{end} DIFFER from the sealed original");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("verify_clip: {e}");
            ExitCode::from(2)
        }
    }
}
