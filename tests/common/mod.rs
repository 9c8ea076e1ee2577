//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared corpus of real media: `CUSTODY_CORPUS`, or `../shared/corpus`
/// beside the repository. `None` (with a note on stderr) when it is absent,
/// unless `CUSTODY_REQUIRE_CORPUS` is set (as `.ci/run` does): then it panics.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("CUSTODY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("MANIFEST.txt").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CUSTODY_REQUIRE_CORPUS").is_some() {
        panic!(
            "the media corpus is required but missing at {}",
            dir.display()
        );
    }
    eprintln!(
        "note: no media corpus at {}; corpus cases skipped",
        dir.display()
    );
    None
}

/// Every file under `dir`, sorted, except the manifest.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "MANIFEST.txt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Path of `p` relative to `base`, with forward slashes.
pub fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Runs a tool and returns its stdout, or `None` when it cannot run or fails.
pub fn tool_output(cmd: &str, args: &[&str]) -> Option<Vec<u8>> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// True when `cmd` runs. Panics with an install hint when it is required
/// (`CUSTODY_REQUIRE_TOOLS`) and missing.
pub fn have_tool(cmd: &str) -> bool {
    have_tool_asked(cmd, "-version")
}

/// Like [`have_tool`], for a tool that tells its version with `arg`.
pub fn have_tool_asked(cmd: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(cmd)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_some() {
        panic!("{cmd} is required but not installed: run scripts/setup.sh");
    }
    if !ok {
        eprintln!(
            "note: {cmd} is not installed; cases that need it are skipped (scripts/setup.sh installs it)"
        );
    }
    ok
}
