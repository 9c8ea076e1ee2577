//! Redaction from C (feature `redact`): `tests/c/redact.c`, compiled by gcc
//! through pkg-config against the library installed as
//! `scripts/install-c.sh` installs it, runs a detector written in C that
//! finds a bright square moving across a clip the ffmpeg CLI makes, under
//! valgrind memcheck (no leak, no invalid access) and once built with
//! AddressSanitizer. Here the results are checked: the detections follow
//! the square picture by picture, and in the redacted copy the square is
//! dark in every picture while the rest of the picture is as it was,
//! within the encoder's tolerance; the log names the C detector, its model
//! and its track. `examples/c/redact.c` is run the same ways and must
//! mask the square too.
//!
//! Needs gcc, pkg-config, valgrind and ffmpeg (`scripts/setup.sh` installs
//! them); without them the test says so and skips, unless
//! `CUSTODY_REQUIRE_TOOLS` is set.

mod support;

use std::path::Path;
use std::process::Command;
use support::{compile, have, install, repo, run, text};

const W: usize = 320;
const H: usize = 240;
const FRAMES: usize = 50;
/// The square's side, top edge, and left edge in picture `n`.
const SIDE: usize = 48;
const TOP: usize = 40;
fn left(n: usize) -> usize {
    20 + 4 * n
}

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "ffmpeg is required: run scripts/setup.sh"
    );
    ok
}

/// 2 s of 320x240 at 25 fps (H.264): a smooth pattern, darker than 120,
/// and a 48x48 white square moving 4 pixels right each picture.
fn clip(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("clip.mp4");
    let graph = format!(
        "nullsrc=s={W}x{H}:r=25:d=2,format=yuv420p,\
         geq=lum='64+32*sin(X/9)+16*cos(Y/7)':cb=128:cr=128[bg];\
         color=c=white:s={SIDE}x{SIDE}:r=25[sq];\
         [bg][sq]overlay=x='20+trunc(100*t+0.5)':y={TOP}:shortest=1"
    );
    run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", &graph])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .arg(&p));
    p
}

/// Every picture of `video` as 8-bit grey (its luma), one `W * H` buffer each.
fn grey_pictures(video: &Path) -> Vec<Vec<u8>> {
    let o = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(video)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"]));
    assert_eq!(o.stdout.len() % (W * H), 0, "{}", video.display());
    o.stdout.chunks(W * H).map(<[u8]>::to_vec).collect()
}

/// The mean of `p` over columns `x0..x1` and rows `y0..y1`.
fn mean(p: &[u8], (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        sum += p[y * W + x0..y * W + x1]
            .iter()
            .map(|&v| u64::from(v))
            .sum::<u64>();
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

/// The mean absolute difference of `a` and `b` over a region.
fn mean_diff(a: &[u8], b: &[u8], (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            sum += u64::from(a[y * W + x].abs_diff(b[y * W + x]));
        }
    }
    sum as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the C program found and made, checked against the clip.
fn check_results(dir: &Path, src: &[Vec<u8>]) {
    // The detections follow the square, picture by picture.
    let d = json(&dir.join("detect.json"));
    let frames = d["frames"].as_array().unwrap();
    assert_eq!(frames.len(), FRAMES, "{d}");
    for (n, f) in frames.iter().enumerate() {
        assert_eq!(f["frame"], n as u64, "{f}");
        let dets = f["detections"].as_array().unwrap();
        assert_eq!(dets.len(), 1, "picture {n}: {f}");
        assert_eq!(dets[0]["detector"], "square");
        assert_eq!(dets[0]["class"], serde_json::json!({"custom": "square"}));
        let b = &dets[0]["box"];
        let expected = [left(n), TOP, left(n) + SIDE, TOP + SIDE];
        for (k, e) in ["x0", "y0", "x1", "y1"].iter().zip(expected) {
            let v = b[k].as_f64().unwrap();
            assert!(
                (v - e as f64).abs() <= 2.0,
                "picture {n}: {k} {v}, not {e}: {f}"
            );
        }
    }

    // The log names the C detector, its model, and one track through the clip.
    let log = json(&dir.join("redact.json"));
    assert_eq!(log["ok"], true, "{log}");
    assert_eq!(log["parameters"]["style"], "fill");
    assert_eq!(
        log["parameters"]["detectors"],
        serde_json::json!([["square", "0123456789abcdef".repeat(4)]])
    );
    let tracks = log["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 1, "{log}");
    assert_eq!(tracks[0]["detector"], "square");
    assert_eq!(tracks[0]["class"], serde_json::json!({"custom": "square"}));
    assert_eq!(tracks[0]["model_sha256"], "0123456789abcdef".repeat(4));
    assert_eq!(tracks[0]["first_frame"], 0);
    assert_eq!(tracks[0]["last_frame"], FRAMES as u64 - 1);
    assert_eq!(log["counts"]["masked_frames"], FRAMES as u64, "{log}");
    // The log beside the copy is the one returned.
    assert_eq!(
        json(&dir.join("redacted.mp4.redaction.json"))["tracks"],
        log["tracks"]
    );

    // In the copy, the square is dark in every picture; far from it, the
    // picture is as it was.
    let out = grey_pictures(&dir.join("redacted.mp4"));
    assert_eq!(out.len(), FRAMES);
    let far = (20, 170, 300, 230);
    for (n, (s, o)) in src.iter().zip(&out).enumerate() {
        let square = inside_square(n);
        assert!(
            mean(s, square) > 200.0,
            "picture {n}: no square in the clip"
        );
        let m = mean(o, square);
        assert!(
            m < 40.0,
            "picture {n}: the square's area is {m:.1} in the copy"
        );
        let d = mean_diff(s, o, far);
        assert!(
            d < 3.0,
            "picture {n}: far from the square, {d:.2} from the clip"
        );
        assert!(mean(o, far) > 40.0, "picture {n}: the far region is dark");
    }
}

/// The region inside the square in picture `n` (2 pixels in from its edges).
fn inside_square(n: usize) -> (usize, usize, usize, usize) {
    (left(n) + 2, TOP + 2, left(n) + SIDE - 2, TOP + SIDE - 2)
}

/// A command running `exe` under valgrind memcheck (failing on any error
/// or leak) or, built with AddressSanitizer, as it is.
fn command(mode: &str, exe: &Path) -> Command {
    if mode == "valgrind" {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
        ])
        .arg(exe);
        c
    } else {
        let mut c = Command::new(exe);
        // The Rust side is not instrumented; only what C does is checked.
        c.env("ASAN_OPTIONS", "detect_leaks=1");
        c
    }
}

#[test]
fn a_c_detector_finds_the_square_and_redact_masks_it_under_valgrind_and_address_sanitizer() {
    if !(have("gcc") && have("pkg-config") && have("valgrind") && have_ffmpeg()) {
        eprintln!(
            "note: gcc, pkg-config, valgrind or ffmpeg missing: redaction from C is not tested"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    install(&prefix);
    let pc = run(Command::new("pkg-config")
        .args(["--cflags", "custody"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
    assert!(
        String::from_utf8_lossy(&pc.stdout).contains("-DCUSTODY_REDACT"),
        "the library was built without redaction: build it with --features custody-ffi/redact (scripts/test.sh does)"
    );
    let src = clip(dir.path());
    let src_pictures = grey_pictures(&src);
    assert_eq!(src_pictures.len(), FRAMES);
    for (mode, extra) in [
        ("valgrind", &[][..]),
        (
            "asan",
            &["-fsanitize=address", "-fno-omit-frame-pointer"][..],
        ),
    ] {
        let exe = dir.path().join(format!("redact-{mode}"));
        compile(&prefix, &repo().join("tests/c/redact.c"), &exe, extra);
        let work = dir.path().join(mode);
        std::fs::create_dir(&work).unwrap();
        let o = command(mode, &exe).arg(&src).arg(&work).output().unwrap();
        assert!(
            o.status.success(),
            "redact ({mode}): {:?}\n{}",
            o.status,
            text(&o)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("redact: ok"),
            "redact ({mode}): {}",
            text(&o)
        );
        check_results(&work, &src_pictures);

        // The example masks the square as the test program did.
        let exe = dir.path().join(format!("example_redact-{mode}"));
        compile(&prefix, &repo().join("examples/c/redact.c"), &exe, extra);
        let out = work.join("example.mp4");
        let o = command(mode, &exe).arg(&src).arg(&out).output().unwrap();
        assert!(
            o.status.success(),
            "example ({mode}): {:?}\n{}",
            o.status,
            text(&o)
        );
        let log: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("example ({mode}): {e}\n{}", text(&o)));
        assert_eq!(log["tracks"][0]["detector"], "bright", "{log}");
        assert_eq!(log["counts"]["masked_frames"], FRAMES as u64, "{log}");
        let pictures = grey_pictures(&out);
        assert_eq!(pictures.len(), FRAMES);
        for (n, p) in pictures.iter().enumerate() {
            let m = mean(p, inside_square(n));
            assert!(
                m < 40.0,
                "example ({mode}): picture {n}: the square's area is {m:.1}"
            );
        }
    }
}
