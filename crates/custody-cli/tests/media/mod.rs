//! What the CLI tests that run FFmpeg share: the `custody` binary, its
//! JSON, and one-second clips the ffmpeg CLI makes.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `custody` binary with `args`.
pub fn custody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `custody` with the station key `key`; returns exit code and stdout JSON.
pub fn keyed(key: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_custody"))
        .env("CUSTODY_KEY", key)
        .args(args)
        .output()
        .unwrap();
    (o.status.code(), json(&o))
}

/// The JSON a command printed (the test fails, showing both streams, if it is not JSON).
pub fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// `p` as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `DIR/CAM.mp4`: 1 s of 160x120 pictures at 20 fps (H.264, `pix_fmt`) and
/// the lavfi source `sine` (AAC), with `extra` encoder options.
pub fn clip(dir: &Path, pix_fmt: &str, sine: &str, extra: &[&str]) -> PathBuf {
    let p = dir.join("CAM.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=160x120:r=20:d=1")
        .args(["-f", "lavfi", "-i", sine])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            pix_fmt,
        ])
        .args(extra)
        .args(["-c:a", "aac", "-shortest"])
        .arg(&p)
        .output()
        .expect("ffmpeg is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// Makes a station key at `key` and ingests the recorder folder `rec` into
/// `store` with it, as a station would before deriving copies.
pub fn sealed(key: &Path, rec: &Path, store: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_custody"))
        .env("CUSTODY_KEY", key)
        .args(["key", "init"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (code, v) = keyed(
        key,
        &[
            "ingest",
            s(rec),
            "--store",
            s(store),
            "--settle",
            "0",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{v}");
}
