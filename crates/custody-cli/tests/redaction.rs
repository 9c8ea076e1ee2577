//! `custody redact` and `custody detect`, run as the real binary on clips
//! the ffmpeg CLI generates (and, with the models installed, on real faces
//! from Debian's opencv-doc): exit codes, JSON, the log beside the copy,
//! registration as a derivative that `custody verify` checks, nothing left
//! behind on failure.

mod media;

use media::{custody, json, keyed, s};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A 1 s H.264 + AAC recording, 160x120 at 20 fps.
fn clip(dir: &Path) -> PathBuf {
    media::clip(dir, "yuv420p", "sine=r=48000:d=1", &["-g", "10"])
}

/// One region over the whole second, top left.
const REGIONS: &str = r#"{"regions": [{"label": "house number", "class": "screen", "keyframes": [
  {"time": 0.0, "box": {"x0": 8, "y0": 8, "x1": 72, "y1": 56}},
  {"time": 1.0, "box": {"x0": 8, "y0": 8, "x1": 72, "y1": 56}}]}]}"#;

fn pictures(p: &Path) -> u64 {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(p)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

fn blake3_of(p: &Path) -> String {
    blake3::hash(&std::fs::read(p).unwrap())
        .to_hex()
        .to_string()
}

#[test]
fn redact_with_regions_writes_the_copy_and_its_log_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, REGIONS).unwrap();
    let out = dir.path().join("CAM.redacted.mp4");
    let o = custody(&[
        "redact",
        s(&src),
        "-o",
        s(&out),
        "--regions",
        s(&regions),
        "--mask",
        "fill",
        "--preset",
        "ultrafast",
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["counts"]["regions"], 1);
    assert_eq!(v["counts"]["frames"], 20);
    assert_eq!(v["counts"]["masked_frames"], 20, "{v}");
    assert_eq!(v["source"]["blake3"], blake3_of(&src).as_str());
    assert_eq!(v["output"]["blake3"], blake3_of(&out).as_str());
    assert!(
        v["source"]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with('v')),
        "the source's content hashes are logged: {v}"
    );
    assert_eq!(v["parameters"]["style"], "fill");
    assert_eq!(pictures(&out), 20);
    // The log beside the copy is what was printed.
    let log: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("CAM.redacted.mp4.redaction.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(log["output"], v["output"]);
    assert_eq!(log["regions"][0]["label"], "house number");
    assert!(dir.path().join("CAM.redacted.mp4.tracks.csv").is_file());
    // The reviewer's files beside it, named in the log with their hashes.
    let frames = dir.path().join("CAM.redacted.mp4.frames.csv");
    assert_eq!(v["frames_csv"]["blake3"], blake3_of(&frames).as_str());
    assert_eq!(v["frames_csv"]["pictures"], 20);
    let sheet = dir.path().join("CAM.redacted.mp4.contact.png");
    assert_eq!(v["contact_sheet"]["blake3"], blake3_of(&sheet).as_str());
    // A second run never replaces the copy.
    let before = blake3_of(&out);
    let o = custody(&["redact", s(&src), "-o", s(&out), "--regions", s(&regions)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(blake3_of(&out), before);
}

#[test]
fn redact_exits_2_on_a_damaged_input_or_a_missing_model_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, REGIONS).unwrap();
    let bytes = std::fs::read(&src).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let out = dir.path().join("out.mp4");
    let o = custody(&[
        "redact",
        s(&cut),
        "-o",
        s(&out),
        "--regions",
        s(&regions),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = json(&o);
    assert!(e["error"]["message"].as_str().is_some(), "{e}");
    // A model folder without the models: the message names the set-up.
    let o = custody(&[
        "redact",
        s(&src),
        "-o",
        s(&out),
        "--faces",
        "--models",
        s(&dir.path().join("no-models")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("scripts/models.sh"), "{err}");
    // A regions file that is not one.
    std::fs::write(&regions, "{\"regions\": [{\"keyframes\": 7}]}").unwrap();
    let o = custody(&["redact", s(&src), "-o", s(&out), "--regions", s(&regions)]);
    assert_eq!(o.status.code(), Some(2));
    // Nothing to detect.
    let o = custody(&["detect", s(&src), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["CAM.mp4", "cut.mp4", "regions.json"]);
}

#[test]
fn redact_with_store_registers_a_derivative_that_verify_checks() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let src = clip(&rec);
    let key = dir.path().join("station.key");
    let store = dir.path().join("store");
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, REGIONS).unwrap();
    media::sealed(&key, &rec, &store);

    let out = dir.path().join("CAM.redacted.mp4");
    let (code, r) = keyed(
        &key,
        &[
            "redact",
            s(&src),
            "-o",
            s(&out),
            "--regions",
            s(&regions),
            "--preset",
            "ultrafast",
            "--store",
            s(&store),
            "--station",
            "dock-1",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["registration"]["outcome"], "registered", "{r}");
    assert_eq!(r["registration"]["blake3"], blake3_of(&out).as_str());
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(store.join(format!(
            "manifests/{}.json",
            r["registration"]["blake3"].as_str().unwrap()
        )))
        .unwrap(),
    )
    .unwrap();
    let d = &manifest["manifest"]["derivation"];
    assert_eq!(d["profile"], "redaction");
    assert_eq!(d["sources"][0], blake3_of(&src).as_str());
    assert_eq!(d["proof"]["result"], "lossy");
    // The signed parameters bind the log and the regions file.
    let log = dir.path().join("CAM.redacted.mp4.redaction.json");
    assert_eq!(
        d["parameters"]["redaction_log_blake3"],
        blake3_of(&log).as_str()
    );
    assert_eq!(
        d["parameters"]["redaction_regions_blake3"],
        blake3_of(&regions).as_str()
    );
    assert_eq!(d["parameters"]["redaction_style"], "blur");
    let (code, v) = keyed(&key, &["verify", "--store", s(&store), "--json"]);
    assert_eq!((code, &v["ok"]), (Some(0), &Value::Bool(true)), "{v}");
    assert_eq!(v["derivations_checked"].as_u64(), Some(1), "{v}");

    // A recording the store does not hold: refused before anything is made.
    let stranger = dir.path().join("stranger.mp4");
    let mut bytes = std::fs::read(&src).unwrap();
    bytes.extend_from_slice(b"\0\0\0\x08free");
    std::fs::write(&stranger, bytes).unwrap();
    let out2 = dir.path().join("stranger.redacted.mp4");
    let (code, e) = keyed(
        &key,
        &[
            "redact",
            s(&stranger),
            "-o",
            s(&out2),
            "--regions",
            s(&regions),
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
    assert!(!out2.exists());
}

/// Debian opencv-doc's test data and the installed CenterFace model, or a
/// skip that says so (a failure when `CUSTODY_REQUIRE_TOOLS` is set).
fn real_faces() -> Option<(PathBuf, PathBuf)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/opencv-doc/data");
    let models = std::env::var_os("CUSTODY_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/custody/models"))
        });
    let ok = data.join("Megamind.avi").is_file()
        && models.is_some_and(|m| m.join("centerface.onnx").is_file());
    if ok {
        return Some((data.join("Megamind.avi"), data.join("messi5.jpg")));
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "missing opencv-doc's data or the models: run scripts/setup.sh"
    );
    eprintln!("SKIPPED: opencv-doc's data or the CenterFace model is missing (scripts/setup.sh)");
    None
}

#[test]
fn detect_lists_the_faces_of_real_videos_and_pictures() {
    let Some((video, picture)) = real_faces() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The first 2 s of the recording.
    let short = dir.path().join("megamind.mp4");
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(&video)
        .args(["-t", "2", "-an", "-c:v", "libx264", "-preset", "ultrafast"])
        .arg(&short)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = custody(&[
        "detect",
        s(&short),
        s(&picture),
        "--faces",
        "--every",
        "5",
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    let files = v.as_array().unwrap();
    assert_eq!(files.len(), 2);
    // The video: every fifth picture looked at, faces in most of them.
    let frames = files[0]["frames"].as_array().unwrap();
    assert!(frames.iter().all(|f| f["frame"].as_u64().unwrap() % 5 == 0));
    let with_face = frames
        .iter()
        .filter(|f| {
            f["detections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["class"] == "face" && d["score"].as_f64().unwrap() >= 0.5)
        })
        .count();
    assert!(
        with_face * 10 >= frames.len() * 8,
        "{with_face} of {} pictures with a face",
        frames.len()
    );
    // Found on pictures scaled to 360 wide: the same pictures looked at,
    // boxes in the picture's own pixels (the recording is 720 wide).
    let o = custody(&[
        "detect",
        s(&short),
        "--faces",
        "--every",
        "5",
        "--detect-width",
        "360",
        "--json",
    ]);
    let half = json(&o);
    assert_eq!(o.status.code(), Some(0), "{half}");
    let hf = half["frames"].as_array().unwrap();
    assert_eq!(hf.len(), frames.len());
    let widest = |fs: &[Value]| -> f64 {
        fs.iter()
            .flat_map(|f| f["detections"].as_array().unwrap().clone())
            .map(|d| d["box"]["x1"].as_f64().unwrap())
            .fold(0.0, f64::max)
    };
    let (a, b) = (widest(frames), widest(hf));
    assert!(b > a * 0.8 && b < a * 1.2, "full size {a}, scaled {b}");
    // The picture: one frame, a face in it.
    let pf = files[1]["frames"].as_array().unwrap();
    assert_eq!(pf.len(), 1, "{}", files[1]);
    assert!(
        !pf[0]["detections"].as_array().unwrap().is_empty(),
        "{}",
        files[1]
    );
}

#[test]
fn redacted_copies_drop_other_tracks_unless_asked_to_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let srt = dir.path().join("note.srt");
    std::fs::write(
        &srt,
        "1\n00:00:00,000 --> 00:00:00,900\n51.5007 N 0.1246 W\n",
    )
    .unwrap();
    let with_subs = dir.path().join("subs.mp4");
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(&src)
        .arg("-i")
        .arg(&srt)
        .args(["-map", "0", "-map", "1", "-c", "copy", "-c:s", "mov_text"])
        .arg(&with_subs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let regions = dir.path().join("regions.json");
    std::fs::write(&regions, REGIONS).unwrap();
    let run = |out: &Path, keep: bool| -> Value {
        let mut args = vec![
            "redact",
            s(&with_subs),
            "-o",
            s(out),
            "--regions",
            s(&regions),
            "--preset",
            "ultrafast",
            "--json",
        ];
        if keep {
            args.push("--keep-other-tracks");
        }
        let o = custody(&args);
        let v = json(&o);
        assert_eq!(o.status.code(), Some(0), "{v}");
        v
    };
    let action = |v: &Value| -> String {
        let t = v["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "subtitle")
            .unwrap_or_else(|| panic!("no subtitle track listed: {v}"));
        t["action"]["action"].as_str().unwrap().to_string()
    };
    let streams = |p: &Path| -> String {
        let o = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
            ])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(",")
    };
    let dropped = dir.path().join("dropped.mp4");
    let v = run(&dropped, false);
    assert_eq!(action(&v), "dropped", "{v}");
    assert_eq!(streams(&dropped), "video,audio");
    let kept = dir.path().join("kept.mp4");
    let v = run(&kept, true);
    assert_eq!(action(&v), "copied", "{v}");
    assert_eq!(streams(&kept), "video,audio,subtitle");
}
