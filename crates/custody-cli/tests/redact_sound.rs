//! `custody redact --mute/--bleep`, run as the real binary on a clip the
//! ffmpeg CLI generates: the ranges reach the redaction and its log; bad
//! ranges exit 2 with a message naming the option, leaving nothing.

mod media;

use media::{custody, s};
use std::path::{Path, PathBuf};

/// 1 s of H.264 pictures and a 440 Hz tone (AAC).
fn clip(dir: &Path) -> PathBuf {
    media::clip(dir, "yuv420p", "sine=f=440:r=48000:d=1", &[])
}

#[test]
fn mute_and_bleep_ranges_reach_the_redaction_and_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let out = dir.path().join("CAM.redacted.mp4");
    let o = custody(&[
        "redact",
        s(&src),
        "-o",
        s(&out),
        "--preset",
        "ultrafast",
        "--mute",
        "0.2-0.4",
        "--bleep",
        "0:00.6-0:00.8",
        "--mute",
        "0.85-0.9",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(
        v["audio"],
        "muted 0.200-0.400 s; muted 0.850-0.900 s; bleeped 0.600-0.800 s; \
         bleep: 1000 Hz sine at -12 dBFS; track 1 aac encoded to aac"
    );
    let edits = v["parameters"]["audio_edits"].as_array().unwrap();
    let got: Vec<(String, f64, f64)> = edits
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["from"].as_f64().unwrap(),
                e["to"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("mute".to_string(), 0.2, 0.4),
            ("mute".to_string(), 0.85, 0.9),
            ("bleep".to_string(), 0.6, 0.8)
        ]
    );
    assert!(out.is_file());
}

#[test]
fn bad_ranges_exit_2_naming_the_option_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let out = dir.path().join("out.mp4");
    for (option, range) in [
        ("--mute", "2-1"),
        ("--mute", "1-1"),
        ("--bleep", "1"),
        ("--bleep", "a-b"),
        ("--mute", "1-2-3"),
        ("--mute", "1:75-2:00"),
        ("--bleep", "-1-2"),
        ("--mute", "0.5-"),
    ] {
        let arg = format!("{option}={range}");
        let o = custody(&["redact", s(&src), "-o", s(&out), &arg]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{arg}: {err}");
        assert!(
            err.contains(&format!("{option} \"{range}\" is not a time range")),
            "{arg}: {err}"
        );
        assert!(!out.exists(), "{arg}");
    }
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["CAM.mp4"]);
}
