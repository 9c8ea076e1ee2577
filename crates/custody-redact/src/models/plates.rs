//! Licence plates: a RetinaFace-style detector (anchors at strides 8, 16
//! and 32, two sizes per cell; boxes, scores and the plate's four corners).

use super::tensor::{Layout, blob};
use super::{Input, MAX_CANDIDATES, ModelError, Net, Output, PLATES};
use crate::detect::{BBox, Class, DetectError, Detection, Detector, nms};
use crate::frame::FrameView;
use std::path::Path;

/// Anchor sizes per stride.
const ANCHORS: [(usize, [f32; 2]); 3] =
    [(8, [24.0, 48.0]), (16, [96.0, 192.0]), (32, [384.0, 768.0])];

/// The licence-plate detector.
pub struct Plates {
    net: Net,
    threshold: f32,
    long_side: u32,
    second_pass: Option<u32>,
    grow: (f32, f32),
}

impl Plates {
    /// Loads the model from `dir` (see [`super::models_dir`]), checking its hash.
    pub fn load(dir: &Path) -> Result<Plates, ModelError> {
        Ok(Plates {
            net: Net::load(&PLATES, dir)?,
            threshold: 0.3,
            long_side: 960,
            second_pass: None,
            grow: (1.3, 1.2),
        })
    }

    /// Keeps plates scoring at least `t` (default 0.3).
    pub fn with_threshold(mut self, t: f32) -> Plates {
        self.threshold = t;
        self
    }

    /// Detects with the frame's long side scaled to `pixels` (default 960;
    /// never upscaled).
    pub fn with_long_side(mut self, pixels: u32) -> Plates {
        self.long_side = pixels.max(32);
        self
    }

    /// Also detects at a long side of `pixels` (e.g. 480, for large
    /// close-up plates), merging both passes.
    pub fn with_second_pass(mut self, pixels: u32) -> Plates {
        self.second_pass = Some(pixels.max(32));
        self
    }

    /// Grows each box about its centre (default 1.3 wide, 1.2 high: the
    /// model was trained on plates about 3:1, so its boxes on wide plates
    /// are tight).
    pub fn with_growth(mut self, width: f32, height: f32) -> Plates {
        self.grow = (width, height);
        self
    }

    /// The tensor the model gets for `frame` at a long side of `long_side`:
    /// BGR minus (104, 117, 123), padded with zeros to multiples of 32.
    pub fn input(&self, frame: &FrameView, long_side: u32) -> Input {
        let (fw, fh) = (frame.width().max(1), frame.height().max(1));
        let r = (long_side as f64 / fw.max(fh) as f64).min(1.0);
        let (cw, ch) = (
            ((fw as f64 * r).round() as usize).max(1),
            ((fh as f64 * r).round() as usize).max(1),
        );
        let (pw, ph) = (cw.div_ceil(32) * 32, ch.div_ceil(32) * 32);
        let layout = Layout {
            bgr: true,
            mean: [104.0, 117.0, 123.0],
        };
        Input {
            data: blob(frame, (cw, ch), (pw, ph), layout),
            height: ph,
            width: pw,
            scale: (cw as f32 / fw as f32, ch as f32 / fh as f32),
        }
    }

    /// Runs the model on `input`: its outputs (boxes, scores, corners).
    pub fn run(&mut self, input: Input) -> Result<Vec<Output>, ModelError> {
        self.net.run(input.data, input.height, input.width)
    }

    /// The plates in the model's outputs for an input of `input`'s size, in
    /// frame pixels, grown as [`Plates::with_growth`] says.
    pub fn decode(&self, input: &Input, outputs: &[Output]) -> Result<Vec<Detection>, DetectError> {
        let outs = outputs;
        decode(outs, input, self.threshold, self.grow)
    }

    fn pass(&mut self, frame: &FrameView, long_side: u32) -> Result<Vec<Detection>, DetectError> {
        let mut input = self.input(frame, long_side);
        let data = std::mem::take(&mut input.data);
        let outs = self
            .net
            .run(data, input.height, input.width)
            .map_err(|e| bad(e.to_string()))?;
        decode(&outs, &input, self.threshold, self.grow)
    }
}

fn bad(message: String) -> DetectError {
    DetectError::Model {
        detector: "plates".into(),
        message,
    }
}

/// Anchor centres and sizes (normalised) for a `w` x `h` input, in the
/// model's order: stride by stride, cell by cell (rows, then columns), both
/// sizes per cell.
fn anchors(w: usize, h: usize) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (stride, sizes) in ANCHORS {
        let (gw, gh) = (w.div_ceil(stride), h.div_ceil(stride));
        for i in 0..gh {
            for j in 0..gw {
                for s in sizes {
                    out.push([
                        (j as f32 + 0.5) * stride as f32 / w as f32,
                        (i as f32 + 0.5) * stride as f32 / h as f32,
                        s / w as f32,
                        s / h as f32,
                    ]);
                }
            }
        }
    }
    out
}

fn decode(
    outs: &[Output],
    input: &Input,
    threshold: f32,
    grow: (f32, f32),
) -> Result<Vec<Detection>, DetectError> {
    let [loc, conf, landms] = outs else {
        return Err(bad(format!("{} outputs, 3 expected", outs.len())));
    };
    let a = anchors(input.width, input.height);
    let n = a.len();
    for (o, c) in [(loc, 4), (conf, 2), (landms, 8)] {
        if o.shape[..] != [1, n, c] || o.data.len() != n * c {
            return Err(bad(format!(
                "output of shape {:?}, [1, {n}, {c}] expected for a {}x{} input",
                o.shape, input.width, input.height
            )));
        }
    }
    let mut hot: Vec<usize> = (0..n)
        .filter(|&k| conf.data[2 * k + 1] >= threshold)
        .collect();
    if hot.len() > MAX_CANDIDATES {
        hot.select_nth_unstable_by(MAX_CANDIDATES, |&x, &y| {
            conf.data[2 * y + 1].total_cmp(&conf.data[2 * x + 1])
        });
        hot.truncate(MAX_CANDIDATES);
    }
    let (w, h) = (input.width as f32, input.height as f32);
    let (sx, sy) = input.scale;
    let dets = hot
        .into_iter()
        .map(|k| {
            let [acx, acy, aw, ah] = a[k];
            let l = &loc.data[4 * k..4 * k + 4];
            let cx = acx + l[0] * 0.1 * aw;
            let cy = acy + l[1] * 0.1 * ah;
            let bw = aw * (l[2] * 0.2).exp();
            let bh = ah * (l[3] * 0.2).exp();
            let landmarks = (0..4)
                .map(|c| {
                    let p = &landms.data[8 * k + 2 * c..8 * k + 2 * c + 2];
                    [
                        (acx + p[0] * 0.1 * aw) * w / sx,
                        (acy + p[1] * 0.1 * ah) * h / sy,
                    ]
                })
                .collect();
            Detection {
                class: Class::Plate,
                bbox: BBox {
                    x0: (cx - bw / 2.0) * w / sx,
                    y0: (cy - bh / 2.0) * h / sy,
                    x1: (cx + bw / 2.0) * w / sx,
                    y1: (cy + bh / 2.0) * h / sy,
                },
                score: conf.data[2 * k + 1],
                landmarks,
            }
        })
        .collect();
    Ok(nms(dets, 0.4)
        .into_iter()
        .map(|mut d| {
            d.bbox = d.bbox.scaled(grow.0, grow.1);
            d
        })
        .collect())
}

impl Detector for Plates {
    fn name(&self) -> &str {
        "plates"
    }

    fn model_sha256(&self) -> Option<&str> {
        Some(PLATES.sha256)
    }

    fn detect(&mut self, frame: &FrameView) -> Result<Vec<Detection>, DetectError> {
        let mut dets = self.pass(frame, self.long_side)?;
        if let Some(second) = self.second_pass {
            dets.extend(self.pass(frame, second)?);
            dets = nms(dets, 0.4);
        }
        let (fw, fh) = (frame.width(), frame.height());
        for d in &mut dets {
            d.bbox = d.bbox.clipped(fw, fh);
        }
        Ok(dets)
    }
}
