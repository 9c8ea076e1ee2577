//! `custody archive` and `custody compare`, run as the real binary on clips
//! the ffmpeg CLI generates: exit codes, JSON, nothing left behind.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn custody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A full-range H.264 + AAC recording, 1 s, GOP 10.
fn clip(dir: &Path) -> PathBuf {
    let p = dir.join("CAM.mp4");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=s=160x120:r=20:d=1")
        .args(["-f", "lavfi", "-i", "sine=r=48000:d=1"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuvj420p",
        ])
        .args(["-g", "10", "-c:a", "aac", "-shortest"])
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

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn archive_writes_proven_outputs_with_exit_0_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let out = dir.path().join("CAM.preservation.mkv");
    let o = custody(&[
        "archive",
        s(&src),
        "--profile",
        "preservation",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["profile"], "preservation");
    assert_eq!(v["container"], "matroska");
    assert_eq!(v["proof"]["kind"], "frames");
    assert_eq!(v["proof"]["comparison"]["identical"], true);
    assert_eq!(v["tracks"][0]["action"]["codec"], "ffv1");
    assert_eq!(
        v["sources"][0]["blake3"],
        blake3::hash(&std::fs::read(&src).unwrap())
            .to_hex()
            .as_str()
    );
    assert!(out.is_file());
    // A clip: the range taken, in plain text.
    let cut = dir.path().join("cut.mkv");
    let o = custody(&[
        "archive",
        s(&src),
        "--profile",
        "clip",
        "--from",
        "0.2",
        "--to",
        "0:00.6",
        "-o",
        s(&cut),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("range: requested 0.2-0.6 s, taken 0-1 s"),
        "{text}"
    );
    assert!(
        text.contains("every packet equals an original packet"),
        "{text}"
    );
    // The preservation master decodes as the original: compare says so.
    let o = custody(&["compare", s(&src), s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("IDENTICAL"));
}

#[test]
fn compare_exits_1_on_a_range_conversion_and_names_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let wrong = dir.path().join("wrong.mkv");
    let st = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-i",
            s(&src),
            "-c:v",
            "ffv1",
            "-c:a",
            "copy",
            s(&wrong),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let o = custody(&["compare", s(&src), s(&wrong), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["identical"], false);
    let video = &v["streams"][0];
    assert_eq!(video["differing"], 20);
    assert_eq!(video["first"]["frame"], 0);
    assert_eq!(video["first"]["what"], "format");
    assert_eq!(video["first"]["plane"], 0);
    let o = custody(&["compare", s(&src), s(&wrong)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("DIFFERENT") && text.contains("range=pc") && text.contains("range=tv"),
        "{text}"
    );
}

#[test]
fn archive_exits_2_on_damaged_or_empty_input_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let bytes = std::fs::read(&src).unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let out = dir.path().join("out.mkv");
    let o = custody(&[
        "archive",
        s(&empty),
        "--profile",
        "remux-mkv",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("empty"),
        "{v}"
    );
    // Cut short: the moov sits at the end, so nothing of it is left.
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = custody(&[
        "archive",
        s(&cut),
        "--profile",
        "preservation",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(json(&o)["error"]["message"].is_string());
    // An existing output is never replaced.
    std::fs::write(&out, b"keep").unwrap();
    let o = custody(&["archive", s(&src), "--profile", "remux-mkv", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    // A bad time is refused before anything runs.
    let o = custody(&[
        "archive",
        s(&src),
        "--profile",
        "clip",
        "--from",
        "1:99",
        "--to",
        "2",
        "-o",
        s(&dir.path().join("c.mkv")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["CAM.mp4", "cut.mp4", "empty.mp4", "out.mkv"]);
}
