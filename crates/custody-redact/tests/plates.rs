//! Licence plates redacted end to end with the real plate model: a
//! photograph from Debian's opencv-doc (messi5.jpg) made into a 2 s video
//! with a plate (white characters on blue, the style the model was trained
//! on) driving across it; in every picture of the redacted copy the plate
//! lies under a solid mask, with detection on every picture and on every
//! third (the tracker filling the pictures between).
//!
//! Without the models or the photograph the test says so and skips, unless
//! `CUSTODY_REQUIRE_TOOLS` is set.

use custody_redact::mask::Style;
use custody_redact::models::models_dir;
use custody_redact::redact::{RedactOptions, redact};
use std::path::{Path, PathBuf};
use std::process::Command;

fn photo() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/opencv-doc/data/messi5.jpg");
    let model = models_dir().join("clp_det.onnx");
    if p.is_file() && model.is_file() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "missing {} or {}: run scripts/setup.sh",
        p.display(),
        model.display()
    );
    eprintln!("SKIPPED: missing messi5.jpg or the plate model (scripts/setup.sh)");
    None
}

const FPS: u32 = 10;
const PICTURES: usize = 20;
const W: usize = 548;
const H: usize = 342;

/// Where the plate is in picture `n`: x from 120 moving 40 px/s, y 250, 150x48.
fn plate_x(n: usize) -> usize {
    120 + (40.0 * n as f64 / FPS as f64).round() as usize
}

fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn driving_plate(photo: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("plate.mp4");
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
    ffmpeg(&[
        "-loop",
        "1",
        "-framerate",
        &FPS.to_string(),
        "-t",
        "2",
        "-i",
        photo.to_str().unwrap(),
        "-f",
        "lavfi",
        "-i",
        &format!("color=blue:s=150x48:r={FPS}:d=2"),
        "-filter_complex",
        &format!(
            "[0:v][1:v]overlay=x=120+40*t:y=250:shortest=1,drawtext=fontfile={font}:text='A 12345':fontsize=34:fontcolor=white:x=130+40*t:y=257,format=yuv420p"
        ),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        out.to_str().unwrap(),
    ]);
    out
}

/// The luma planes of every picture of `path`.
fn lumas(path: &Path) -> Vec<Vec<u8>> {
    let raw = ffmpeg(&[
        "-i",
        path.to_str().unwrap(),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "-",
    ]);
    let size = W * H + 2 * (W / 2) * (H / 2);
    assert_eq!(raw.len() % size, 0);
    raw.chunks(size).map(|p| p[..W * H].to_vec()).collect()
}

#[test]
fn a_plate_driving_across_a_photograph_is_masked_in_every_picture() {
    let Some(photo) = photo() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = driving_plate(&photo, dir.path());
    let source = lumas(&src);
    assert_eq!(source.len(), PICTURES);
    for every in [1, 3] {
        let out = dir.path().join(format!("every{every}.mp4"));
        let mut opts = RedactOptions {
            plates: true,
            every,
            style: Style::Fill,
            preset: "ultrafast".into(),
            ..Default::default()
        };
        let done = redact(&src, &out, &mut opts, |_| true).unwrap();
        assert_eq!(done.counts.frames, PICTURES as u64);
        assert!(
            done.tracks.iter().any(|t| t.detector == "plates"),
            "every {every}: no plate tracked"
        );
        let pictures = lumas(&out);
        assert_eq!(pictures.len(), PICTURES);
        for (n, y) in pictures.iter().enumerate() {
            let x0 = plate_x(n);
            // The plate (inset by a few pixels for the encoder's ringing):
            // solid black, where the source shows white characters on blue.
            let mut brightest = 0u8;
            let mut source_brightest = 0u8;
            for r in 254..294 {
                for c in x0 + 4..x0 + 146 {
                    brightest = brightest.max(y[r * W + c]);
                    source_brightest = source_brightest.max(source[n][r * W + c]);
                }
            }
            assert!(
                source_brightest > 150,
                "picture {n}: the plate's characters are not where they were drawn"
            );
            assert!(
                brightest < 48,
                "every {every}: picture {n}: the plate is not masked (brightest luma {brightest})"
            );
        }
    }
}
