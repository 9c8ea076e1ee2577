//! The `custody probe` contract, checked by running the real binary.

use custody_testkit::mp4::synthetic_recording;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn custody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the binary with `key` as the station key.
fn custody_with_key(key: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody"))
        .env("CUSTODY_KEY", key)
        .args(args)
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn probe_json_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.mp4", &synthetic_recording(3, 30, 30));
    let o = custody(&["probe", "--json", f.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    for key in [
        "path",
        "size",
        "container",
        "brand",
        "fragmented",
        "duration_s",
        "created",
        "tracks",
        "metadata",
        "location",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["container"], "mp4");
    assert_eq!(v["fragmented"], false);
    assert!(v["location"].is_null());
    let tracks = v["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    let video = &tracks[0];
    for key in [
        "id",
        "kind",
        "codec",
        "codec_tag",
        "samples",
        "keyframes",
        "duration_s",
        "width",
        "height",
        "sample_rate",
        "channels",
        "language",
    ] {
        assert!(video.get(key).is_some(), "track is missing {key}");
    }
    assert_eq!(
        (video["kind"].as_str(), video["codec"].as_str()),
        (Some("video"), Some("h264"))
    );
    assert_eq!(
        (video["samples"].as_u64(), video["keyframes"].as_u64()),
        (Some(90), Some(3))
    );
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(16), Some(16))
    );
    assert!(video["sample_rate"].is_null() && video["channels"].is_null());
    let audio = &tracks[1];
    assert_eq!(
        (
            audio["codec"].as_str(),
            audio["sample_rate"].as_u64(),
            audio["channels"].as_u64()
        ),
        (Some("aac"), Some(48_000), Some(2))
    );
    assert!(audio["width"].is_null());
    assert!(
        video.get("sample_index").is_none(),
        "no sample index without --samples"
    );
}

#[test]
fn several_files_give_an_array_and_samples_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.mp4", &synthetic_recording(1, 10, 5));
    let b = write(dir.path(), "b.mp4", &synthetic_recording(2, 10, 5));
    let o = custody(&[
        "probe",
        "--json",
        "--samples",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    let arr = v.as_array().expect("an array for several files");
    assert_eq!(arr.len(), 2);
    let idx = arr[1]["tracks"][0]["sample_index"].as_array().unwrap();
    assert_eq!(idx.len(), 20);
    for key in ["offset", "size", "dts", "pts", "keyframe"] {
        assert!(idx[0].get(key).is_some(), "sample row is missing {key}");
    }
    assert_eq!(idx[0]["keyframe"], true);
    assert_eq!(idx[1]["keyframe"], false);
}

#[test]
fn bad_input_exits_2_with_a_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let junk = write(
        dir.path(),
        "junk.bin",
        b"this is not a recording at all, just text",
    );
    let o = custody(&["probe", "--json", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stderr.is_empty());
    let v = json(&o);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a recognised"),
        "{v}"
    );

    let o = custody(&[
        "probe",
        "--json",
        dir.path().join("absent.mp4").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        json(&o)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );

    // One good and one bad file: an array with the error in place, exit 2.
    let good = write(dir.path(), "good.mp4", &synthetic_recording(1, 10, 5));
    let o = custody(&[
        "probe",
        "--json",
        good.to_str().unwrap(),
        junk.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v[0]["container"], "mp4");
    assert!(v[1]["error"].is_object());
}

#[test]
fn hostile_counts_are_reported_with_box_path_and_offset() {
    // An stsz that claims 0xffffffff entries in a few bytes.
    let mut file = synthetic_recording(1, 10, 5);
    let at = file.windows(4).position(|w| w == b"stsz").unwrap();
    file[at + 12..at + 16].copy_from_slice(&u32::MAX.to_be_bytes());
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "hostile.mp4", &file);
    let o = custody(&["probe", "--json", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "lenient mode recovers");
    let v = json(&o);
    let w = v["warnings"].as_array().unwrap();
    assert!(
        w.iter()
            .any(|w| w["path"] == "moov/trak[0]/mdia/minf/stbl/stsz"
                && w["message"]
                    .as_str()
                    .unwrap()
                    .contains("entry count 4294967295 needs 17 GB")),
        "{w:?}"
    );
    let o = custody(&["probe", "--json", "--strict", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = &json(&o)["error"];
    assert_eq!(e["box"], "moov/trak[0]/mdia/minf/stbl/stsz");
    assert_eq!(e["offset"].as_u64(), Some(at as u64 - 4));
}

#[test]
fn table_output_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "a.mp4", &synthetic_recording(1, 10, 5));
    let o = custody(&["probe", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("h264") && text.contains("aac") && text.contains("container mp4"),
        "{text}"
    );
}

#[test]
fn corpus_never_crashes_the_command() {
    let dir = std::env::var_os("CUSTODY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if !dir.join("MANIFEST.txt").is_file() {
        assert!(
            std::env::var_os("CUSTODY_REQUIRE_CORPUS").is_none(),
            "corpus required but missing at {}",
            dir.display()
        );
        eprintln!("note: no corpus at {}; skipped", dir.display());
        return;
    }
    let mut stack = vec![dir];
    let mut files = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    for chunk in files.chunks(40) {
        let mut args = vec![
            "probe".to_string(),
            "--json".to_string(),
            "--samples".to_string(),
        ];
        args.extend(chunk.iter().map(|p| p.to_string_lossy().into_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = custody(&args);
        assert!(
            matches!(o.status.code(), Some(0 | 2)),
            "status {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(json(&o).as_array().map(Vec::len), Some(chunk.len()));
    }
}

/// The MPEG-PS file that once panicked the parser: probe reports it (exit 0),
/// and ingest collects it with the rest of the recorder.
#[test]
fn the_ps_file_that_panicked_probe_is_probed_and_ingested() {
    let crasher = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/ps/pes-dts-beyond-header-length.mpg");
    let o = custody(&["probe", "--json", crasher.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(json(&o)["container"], "mpegps");

    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    std::fs::copy(&crasher, rec.join("CLIP.MPG")).unwrap();
    write(&rec, "A.MP4", &synthetic_recording(1, 10, 5));
    let key = dir.path().join("station.key");
    let store = dir.path().join("store");
    assert!(
        custody(&["key", "init", "--key", key.to_str().unwrap()])
            .status
            .success()
    );
    let ingest = || {
        custody(&[
            "ingest",
            rec.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--json",
        ])
    };
    let o = ingest();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        (
            json(&o)["registered"].as_u64(),
            json(&o)["refused"].as_u64()
        ),
        (Some(2), Some(0))
    );

    // A file that cannot be collected (here a FIFO) makes the exit code 1,
    // and the JSON names it with the reason.
    assert!(
        Command::new("mkfifo")
            .arg(rec.join("PIPE.MP4"))
            .status()
            .unwrap()
            .success()
    );
    let o = ingest();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    assert_eq!(
        (v["already_present"].as_u64(), v["refused"].as_u64()),
        (Some(2), Some(1))
    );
    let refused: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["path"], "PIPE.MP4");
    assert_eq!(refused[0]["reason"], "not a regular file");
}

/// `custody probe ... | head`: when the reader goes away the command ends
/// quietly (SIGPIPE, as other Unix tools), never with a panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "long.mp4", &synthetic_recording(600, 30, 30));
    let mut child = Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(["probe", "--json", "--samples", f.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // stdout is dropped here: the pipe's reader is gone.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(13), "{:?} {err}", out.status);
}

/// Arguments that cannot be honoured are errors (exit 2, a reason), never
/// silently ignored: a file given as the recorder, a `--from` that is not a
/// time, a station key others can read.
#[cfg(unix)]
#[test]
fn unusable_arguments_are_errors() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k/station.key");
    let store = dir.path().join("store");
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let clip = write(&rec, "A.MP4", &synthetic_recording(1, 10, 5));
    let run = |args: &[&str]| custody_with_key(&key, args);
    assert!(run(&["key", "init"]).status.success());
    let s = store.to_str().unwrap();
    // A file, not the recorder's folder.
    let o = run(&["ingest", clip.to_str().unwrap(), "--store", s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
    assert!(
        run(&["ingest", rec.to_str().unwrap(), "--store", s])
            .status
            .success()
    );
    // A bound that is not a time.
    let o = run(&["report", "--store", s, "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not YYYY-MM-DD"));
    assert!(
        run(&["report", "--store", s, "--from", "2026-11-29"])
            .status
            .success()
    );
    // A key file others can read is refused, like ssh does.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&["ingest", rec.to_str().unwrap(), "--store", s]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("chmod 600"));
}

/// A file name cannot forge a line of ingest's output: control characters
/// in names are printed escaped (the JSON keeps them exactly).
#[test]
fn file_names_cannot_forge_output_lines() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k/station.key");
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let forged = "A.MP4\nregistered           B.MP4\u{1b}[2K";
    write(&rec, forged, &synthetic_recording(1, 10, 5));
    let run = |args: &[&str]| custody_with_key(&key, args);
    assert!(run(&["key", "init"]).status.success());
    let store = dir.path().join("store");
    let o = run(&[
        "ingest",
        rec.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains(r"A.MP4\nregistered           B.MP4\u{1b}[2K"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'));
    let o = run(&[
        "ingest",
        rec.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(v["items"][0]["path"], forged);
}
