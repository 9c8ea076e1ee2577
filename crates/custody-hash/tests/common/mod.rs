//! Shared helpers for custody-hash tests (included with `mod common;`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Deterministic pseudo-random bytes (xorshift64*), fast enough for hundreds of MB.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        out.extend_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The shared corpus, or `None` (panics when `CUSTODY_REQUIRE_CORPUS` is set).
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("CUSTODY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if dir.join("MANIFEST.txt").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_CORPUS").is_none(),
        "corpus required but missing at {}",
        dir.display()
    );
    eprintln!(
        "note: no media corpus at {}; corpus cases skipped",
        dir.display()
    );
    None
}

/// True when `cmd` can run; panics when tools are required (`CUSTODY_REQUIRE_TOOLS`).
pub fn have(cmd: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "{cmd} is required: run scripts/setup.sh"
    );
    if !ok {
        eprintln!("note: {cmd} not installed; cases that need it are skipped");
    }
    ok
}

/// Runs a tool and returns the first whitespace-separated word of its stdout.
pub fn first_word(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?} failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
