//! `custody archive` and `custody compare`, run as the real binary on clips
//! the ffmpeg CLI generates: exit codes, JSON, nothing left behind.

mod media;

use media::{custody, json, keyed, s};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A full-range H.264 + AAC recording, 1 s, GOP 10.
fn clip(dir: &Path) -> PathBuf {
    media::clip(dir, "yuvj420p", "sine=r=48000:d=1", &["-g", "10"])
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

#[test]
fn archive_with_store_registers_derivatives_that_verify_checks() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let src = clip(&rec);
    let key = dir.path().join("station.key");
    let store = dir.path().join("store");
    media::sealed(&key, &rec, &store);
    let source = blake3::hash(&std::fs::read(&src).unwrap())
        .to_hex()
        .to_string();

    // A preservation master and an access copy with the overlay, both registered.
    let master = dir.path().join("CAM.preservation.mkv");
    let access = dir.path().join("CAM.access.mp4");
    let (code, m) = keyed(
        &key,
        &[
            "archive",
            s(&src),
            "--profile",
            "preservation",
            "-o",
            s(&master),
        ]
        .into_iter()
        .chain(["--store", s(&store), "--station", "dock-1", "--json"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(0), "{m}");
    assert_eq!(m["registration"]["outcome"], "registered", "{m}");
    assert_eq!(m["registration"]["sources"][0], source.as_str());
    assert_eq!(m["registration"]["blake3"], m["blake3"]);
    let (code, a) = keyed(
        &key,
        &[
            "archive",
            s(&src),
            "--profile",
            "access",
            "--preset",
            "ultrafast",
            "-o",
            s(&access),
            "--overlay",
            "--overlay-officer",
            "0042",
            "--store",
            s(&store),
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{a}");
    assert_eq!(a["registration"]["outcome"], "registered", "{a}");
    assert!(
        a["parameters"]["overlay"]
            .as_str()
            .unwrap()
            .contains("officer=0042"),
        "{a}"
    );
    // The signed manifests carry the derivation, with the proof's result.
    let manifest = |h: &Value| -> Value {
        let p = store.join(format!("manifests/{}.json", h.as_str().unwrap()));
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let dm = manifest(&m["blake3"]);
    let d = &dm["manifest"]["derivation"];
    assert_eq!(d["sources"][0], source.as_str());
    assert_eq!(d["profile"], "preservation");
    assert_eq!(d["proof"]["result"], "identical");
    assert_eq!(d["software"]["ffmpeg"], m["ffmpeg"]);
    assert_eq!(dm["manifest"]["collection"]["station"], "dock-1");
    let da = manifest(&a["blake3"]);
    assert_eq!(da["manifest"]["derivation"]["proof"]["result"], "lossy");

    let (code, v) = keyed(&key, &["verify", "--store", s(&store), "--json"]);
    assert_eq!((code, &v["ok"]), (Some(0), &Value::Bool(true)), "{v}");
    assert_eq!(
        (
            v["derivations_checked"].as_u64(),
            v["objects_checked"].as_u64()
        ),
        (Some(2), Some(3))
    );

    // A source the store does not hold: exit 2 before anything is made.
    // (the same recording with a `free` box after it: other bytes).
    let stranger = dir.path().join("stranger.mp4");
    let mut bytes = std::fs::read(&src).unwrap();
    bytes.extend_from_slice(b"\0\0\0\x08free");
    std::fs::write(&stranger, bytes).unwrap();
    let out = dir.path().join("stranger.mkv");
    let (code, e) = keyed(
        &key,
        &[
            "archive",
            s(&stranger),
            "--profile",
            "remux-mkv",
            "-o",
            s(&out),
            "--store",
            s(&store),
            "--json",
        ],
    );
    assert_eq!(code, Some(2), "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not registered"),
        "{e}"
    );
    assert!(!out.exists());
    // No proof, no registration: refused by the command line.
    let o = custody(&[
        "archive",
        s(&src),
        "--profile",
        "remux-mkv",
        "-o",
        s(&out),
        "--store",
        s(&store),
        "--no-proof",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}
