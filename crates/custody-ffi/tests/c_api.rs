//! The C ABI from real C programs: the library is installed into a
//! temporary PREFIX by `scripts/install-c.sh`, every program under
//! `tests/c/` and `examples/c/` (but the redaction ones: `c_redact.rs`) is
//! compiled by gcc through pkg-config, and
//! each runs under valgrind memcheck (no leak, no invalid access) and once
//! built with AddressSanitizer. The Python ctypes example is a second real
//! caller and must print the JSON the library gives.
//!
//! Needs gcc, pkg-config and valgrind (`scripts/setup.sh` installs them);
//! without them the test says so and skips, unless `CUSTODY_REQUIRE_TOOLS`
//! is set (as `.ci/run` does).

mod support;

use custody_testkit::mp4::write_synthetic_recording;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::{compile, have, install, repo, run, text};

/// A fresh set of inputs for one run of the programs.
struct Inputs {
    good: PathBuf,
    damaged: PathBuf,
    big: PathBuf,
    trees: PathBuf,
    key: PathBuf,
    recorder: PathBuf,
    store: PathBuf,
}

fn inputs(dir: &Path) -> Inputs {
    std::fs::create_dir_all(dir).unwrap();
    let mut good = Vec::new();
    write_synthetic_recording(&mut good, 2, 30, 30, 500).unwrap();
    let moov = good.windows(4).position(|w| w == b"moov").unwrap() - 4;
    let mut damaged = good[..moov].to_vec();
    damaged.extend_from_slice(b"\0\0\0\x03abc"); // an impossible box size
    damaged.extend_from_slice(&good[moov..]);
    let recorder = dir.join("recorder/DCIM");
    std::fs::create_dir_all(&recorder).unwrap();
    for i in 0..3u32 {
        let mut v = Vec::new();
        write_synthetic_recording(&mut v, 1, 30, 30, 100 + i).unwrap();
        std::fs::write(
            recorder.join(format!("SN9_42_2026113008{i:02}00_{i}.MP4")),
            v,
        )
        .unwrap();
    }
    let key = dir.join("station.key");
    custody::evidence::keys::StationKey::init(&key).unwrap();
    let i = Inputs {
        good: dir.join("good.mp4"),
        damaged: dir.join("damaged.mp4"),
        big: dir.join("big.bin"),
        trees: dir.join("trees"),
        key,
        recorder: dir.join("recorder"),
        store: dir.join("store"),
    };
    std::fs::write(&i.good, &good).unwrap();
    std::fs::write(&i.damaged, &damaged).unwrap();
    std::fs::write(
        &i.big,
        (0..3_000_000u32).map(|x| (x * 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    i
}

/// The programs and their arguments.
fn programs(i: &Inputs) -> Vec<(&'static str, Vec<PathBuf>)> {
    let c = repo().join("tests/c");
    let e = repo().join("examples/c");
    vec![
        (
            "probe",
            vec![c.join("probe.c"), i.good.clone(), i.damaged.clone()],
        ),
        (
            "hash_locate",
            vec![c.join("hash_locate.c"), i.big.clone(), i.trees.clone()],
        ),
        (
            "ingest_verify",
            vec![
                c.join("ingest_verify.c"),
                i.key.clone(),
                i.recorder.clone(),
                i.store.clone(),
            ],
        ),
        ("errors", vec![c.join("errors.c")]),
        (
            "example_probe",
            vec![e.join("probe.c"), i.good.clone(), i.damaged.clone()],
        ),
        (
            "example_ingest_verify",
            vec![
                e.join("ingest_verify.c"),
                i.key.clone(),
                i.recorder.clone(),
                i.store.with_extension("example"),
            ],
        ),
    ]
}

#[test]
fn c_programs_run_clean_under_valgrind_and_address_sanitizer() {
    if !(have("gcc") && have("pkg-config") && have("valgrind")) {
        eprintln!("note: gcc, pkg-config or valgrind missing: the C API is not tested");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    install(&prefix);
    for (mode, extra) in [
        ("valgrind", &[][..]),
        (
            "asan",
            &["-fsanitize=address", "-fno-omit-frame-pointer"][..],
        ),
    ] {
        let inputs = inputs(&dir.path().join(mode));
        for (name, args) in programs(&inputs) {
            let exe = dir.path().join(format!("{name}-{mode}"));
            compile(&prefix, &args[0], &exe, extra);
            let mut cmd = if mode == "valgrind" {
                let mut c = Command::new("valgrind");
                c.args([
                    "--quiet",
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite,indirect",
                ])
                .arg(&exe);
                c
            } else {
                let mut c = Command::new(&exe);
                // The Rust side is not instrumented; only what C does is checked.
                c.env("ASAN_OPTIONS", "detect_leaks=1");
                c
            };
            let o = cmd.args(&args[1..]).output().unwrap();
            assert!(
                o.status.success(),
                "{name} ({mode}): {:?}\n{}",
                o.status,
                text(&o)
            );
            if !name.starts_with("example") {
                assert!(
                    String::from_utf8_lossy(&o.stdout).contains(&format!("{name}: ok")),
                    "{name} ({mode}): {}",
                    text(&o)
                );
            }
        }
        // The example collected and verified the recorder as well.
        let out = Command::new(dir.path().join(format!("example_ingest_verify-{mode}")))
            .args([
                &inputs.key,
                &inputs.recorder,
                &inputs.store.with_extension("example"),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            text(&out).contains("\"already_present\":3"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn the_python_ctypes_client_prints_the_librarys_json() {
    if !(have("gcc") && have("pkg-config") && have("python3")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    install(&prefix);
    let i = inputs(&dir.path().join("in"));
    let o = run(Command::new("python3")
        .arg(repo().join("examples/python_ctypes.py"))
        .arg(prefix.join("lib/libcustody.so.0"))
        .arg(&i.good)
        .arg(&i.damaged));
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let req = custody::ProbeRequest {
        mode: custody::io::ReadMode::Read,
        ..Default::default()
    };
    let expected: Vec<serde_json::Value> = [&i.good, &i.damaged]
        .iter()
        .map(|p| serde_json::to_value(custody::probe(p, &req).unwrap()).unwrap())
        .collect();
    assert_eq!(lines, expected);
    // A failure is an exception with the library's message, and exit 1.
    let o = Command::new("python3")
        .arg(repo().join("examples/python_ctypes.py"))
        .arg(prefix.join("lib/libcustody.so.0"))
        .arg(dir.path().join("missing.mp4"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("No such file"), "{}", text(&o));
}
