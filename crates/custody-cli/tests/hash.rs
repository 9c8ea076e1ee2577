//! The `custody hash` and `custody locate` contracts, checked by running the binary.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn custody(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
        .collect()
}

fn have_b3sum() -> bool {
    let ok = Command::new("b3sum")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "b3sum is required: run scripts/setup.sh"
    );
    ok
}

#[test]
fn hash_lines_json_and_b3sum_check() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("clip.bin");
    std::fs::write(&f, pattern(3_000_000)).unwrap();
    let p = f.to_str().unwrap();

    let o = custody(&["hash", p]);
    assert_eq!(o.status.code(), Some(0));
    let line = String::from_utf8(o.stdout).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "blake3 sha256 size path: {line}");
    assert_eq!((words[2], words[3]), ("3000000", p));

    let o = custody(&["hash", "--json", "--algo", "all", p]);
    let v = json(&o);
    assert_eq!(v["size"], 3_000_000);
    assert_eq!(v["blake3"].as_str(), Some(words[0]));
    assert_eq!(v["sha256"].as_str(), Some(words[1]));
    // SHA-256 and MD5 against the system's own tools.
    for (tool, field) in [("sha256sum", "sha256"), ("md5sum", "md5")] {
        let out = Command::new(tool)
            .arg(p)
            .output()
            .unwrap_or_else(|e| panic!("{tool} (coreutils) is required: {e}"));
        assert!(out.status.success(), "{tool} failed");
        let reference = String::from_utf8(out.stdout).unwrap();
        let reference = reference.split_whitespace().next().unwrap();
        assert_eq!(v[field].as_str(), Some(reference), "{field} vs {tool}");
    }

    let o = custody(&["hash", "--json", "--algo", "sha256", p]);
    assert!(json(&o)["blake3"].is_null());

    if have_b3sum() {
        let o = custody(&["hash", "--b3sum", p]);
        let sums = dir.path().join("sums.b3");
        std::fs::write(&sums, &o.stdout).unwrap();
        let check = Command::new("b3sum")
            .args(["--check", sums.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "b3sum --check: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

#[test]
fn tree_out_then_locate_finds_the_changed_range() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("clip.bin");
    let mut data = pattern(1_000_000);
    std::fs::write(&f, &data).unwrap();
    let trees = dir.path().join("trees");
    let o = custody(&[
        "hash",
        "--json",
        "--tree-out",
        trees.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let tree = json(&o)["tree"].as_str().unwrap().to_string();
    assert!(Path::new(&tree).is_file());

    let o = custody(&["locate", "--json", f.to_str().unwrap(), &tree]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["ok"], true);

    data[700_000] ^= 1;
    std::fs::write(&f, &data).unwrap();
    let o = custody(&["locate", "--json", f.to_str().unwrap(), &tree]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["changed"],
        serde_json::json!([{"start": 655_360, "end": 720_896}])
    );

    std::fs::write(&f, &data[..500_000]).unwrap();
    let v = json(&custody(&["locate", "--json", f.to_str().unwrap(), &tree]));
    assert_eq!(
        (v["truncated"].as_bool(), v["size_actual"].as_u64()),
        (Some(true), Some(500_000))
    );

    // A damaged tree file is an error (exit 2), not a verdict on the evidence.
    let mut t = std::fs::read(&tree).unwrap();
    t[70] ^= 1;
    std::fs::write(&tree, &t).unwrap();
    let o = custody(&["locate", "--json", f.to_str().unwrap(), &tree]);
    assert_eq!(o.status.code(), Some(2));
    assert!(json(&o)["error"]["message"].is_string());
}

#[test]
fn content_hash_json() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("rec.mp4");
    std::fs::write(&f, custody_testkit::mp4::synthetic_recording(2, 10, 5)).unwrap();
    let v = json(&custody(&[
        "hash",
        "--content",
        "--json",
        f.to_str().unwrap(),
    ]));
    let tracks = v["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2);
    for key in ["id", "codec", "samples", "content_blake3", "params_blake3"] {
        assert!(tracks[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(tracks[0]["codec"], "h264");
    assert_eq!(tracks[0]["samples"], 20);
    assert_eq!(v["content_version"], 1);
    let o = custody(&[
        "hash",
        "--content",
        "--json",
        dir.path().join("absent").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// Runs the binary with a deadline: a command that blocks fails the test
/// instead of stalling the suite.
fn custody_within(args: &[&std::ffi::OsStr], seconds: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("custody {args:?} still running after {seconds} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A FIFO, a device or a directory is refused at once (exit 2, a clear
/// reason), never waited on or read forever.
#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.mp4");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let file = dir.path().join("clip.bin");
    std::fs::write(&file, pattern(100_000)).unwrap();
    let trees = dir.path().join("trees");
    let o = custody(&[
        "hash",
        "--tree-out",
        trees.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let tree = trees.join("clip.bin.b3tree");
    let s = |p: &Path| p.as_os_str().to_owned();
    let zero = std::ffi::OsString::from("/dev/zero");
    for args in [
        vec!["probe".into(), s(&fifo)],
        vec!["probe".into(), "--no-mmap".into(), s(&fifo)],
        vec!["hash".into(), s(&fifo)],
        vec!["hash".into(), zero.clone()],
        vec!["hash".into(), s(dir.path())],
        vec!["locate".into(), s(&file), zero.clone()],
        vec!["locate".into(), s(&fifo), s(&tree)],
        vec!["locate".into(), zero, s(&tree)],
    ] {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let o = custody_within(&refs, 20);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}

#[test]
fn probe_without_a_map_reads_the_index_of_a_5_tb_recording_not_5_tb() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.mp4");
    let mut head = custody_testkit::mp4::synthetic_recording(2, 30, 30);
    let len = 5u64 << 40;
    // A `free` box (64-bit size) runs from the end of the recording to 5 TB.
    let free = len - head.len() as u64;
    head.extend_from_slice(&1u32.to_be_bytes());
    head.extend_from_slice(b"free");
    head.extend_from_slice(&free.to_be_bytes());
    let f = std::fs::File::create(&path).unwrap();
    f.write_all_at(&head, 0).unwrap();
    f.set_len(len).unwrap();
    drop(f);
    let o = custody(&["probe", "--no-mmap", "--json", path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    assert_eq!(v["size"], len);
    assert_eq!(v["tracks"][0]["samples"], 60, "{v}");
    // Its content hashes too: the index, then sample by sample (the image
    // of the index is reserved, not resident: measured by the peak resident
    // memory GNU time reports); the same as the recording's alone.
    let small = dir.path().join("small.mp4");
    std::fs::write(&small, custody_testkit::mp4::synthetic_recording(2, 30, 30)).unwrap();
    let content = |p: &std::path::Path| {
        let o = Command::new("/usr/bin/time")
            .args(["-f", "peak %M KB"])
            .arg(env!("CARGO_BIN_EXE_custody"))
            .args([
                "hash",
                "--content",
                "--no-mmap",
                "--json",
                p.to_str().unwrap(),
            ])
            .output()
            .expect("GNU time (/usr/bin/time; scripts/setup.sh installs it)");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        let peak: u64 = err
            .lines()
            .find_map(|l| l.strip_prefix("peak ")?.strip_suffix(" KB")?.parse().ok())
            .unwrap_or_else(|| panic!("no peak memory in {err}"));
        (json(&o), peak)
    };
    let ((c, peak), (expect, _)) = (content(&path), content(&small));
    assert_eq!(c["tracks"], expect["tracks"]);
    assert_eq!(c["tracks"][0]["samples"], 60, "{c}");
    assert!(peak < 64 * 1024, "{peak} KB resident for a 5 TB file");
}

/// Runs the binary with its address space capped at `mib` MiB (`ulimit -v`):
/// a command that tried to hold a large file in memory fails instead.
#[cfg(target_os = "linux")]
fn custody_capped(args: &[&str], mib: u64) -> Output {
    let script = format!("ulimit -v {}; exec \"$0\" \"$@\"", mib * 1024);
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_custody"))
        .args(args)
        .output()
        .unwrap()
}

/// A 5 TB transport stream on removable media (`--no-mmap`): real packets,
/// then a hole to the end. Probing and content-hashing it read it front to
/// back through a window, within a 1 GiB address space, and step over the
/// hole unread (it holds no sync byte): the parse reports where the stream
/// stops and says what the packets before it say.
#[cfg(target_os = "linux")]
#[test]
fn probe_and_content_of_a_sparse_5_tb_transport_stream_without_a_map() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let head = custody_testkit::hostile::ts_tiny_pes(188 * 64);
    let small = dir.path().join("head.ts");
    std::fs::write(&small, &head).unwrap();
    let path = dir.path().join("huge.ts");
    let len = 5u64 << 40;
    let f = std::fs::File::create(&path).unwrap();
    f.write_all_at(&head, 0).unwrap();
    f.set_len(len).unwrap();
    drop(f);
    let run = |args: &[&str]| {
        let started = std::time::Instant::now();
        let o = custody_capped(args, 1024);
        let took = started.elapsed();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(took.as_secs() < 60, "{args:?} took {took:?}");
        json(&o)
    };
    let p = run(&["probe", "--no-mmap", "--json", path.to_str().unwrap()]);
    let expect = run(&["probe", "--no-mmap", "--json", small.to_str().unwrap()]);
    assert_eq!(p["size"], len);
    assert_eq!(p["container"], "mpegts");
    assert!(
        expect["tracks"][0]["samples"].as_u64().unwrap() > 100,
        "{expect}"
    );
    assert_eq!(p["tracks"], expect["tracks"]);
    let stop = &p["warnings"][0];
    assert_eq!(stop["offset"], head.len(), "{p}");
    assert!(
        stop["message"]
            .as_str()
            .unwrap()
            .contains("the rest of the file is not transport stream"),
        "{p}"
    );
    let c = run(&["hash", "--content", "--no-mmap", path.to_str().unwrap()]);
    let expect = run(&["hash", "--content", "--no-mmap", small.to_str().unwrap()]);
    assert_eq!(c["tracks"], expect["tracks"]);
    assert!(c["tracks"][0]["samples"].as_u64().unwrap() > 100, "{c}");
}
