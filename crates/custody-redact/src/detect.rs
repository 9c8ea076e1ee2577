//! The detector hook: what a detector gets and what it returns.

use crate::frame::FrameView;
use serde::{Deserialize, Serialize};

/// What a detection is of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A face.
    Face,
    /// A licence plate.
    Plate,
    /// A whole person.
    Person,
    /// A screen (phone, laptop, monitor).
    Screen,
    /// Anything else, named by the detector or the region file.
    Custom(String),
}

/// An axis-aligned box in the frame's pixel coordinates (x0, y0 inclusive
/// top-left; x1, y1 exclusive bottom-right).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Left.
    pub x0: f32,
    /// Top.
    pub y0: f32,
    /// Right.
    pub x1: f32,
    /// Bottom.
    pub y1: f32,
}

impl BBox {
    /// Width (0 for an empty box).
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }

    /// Height (0 for an empty box).
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }

    /// Area.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union, 0 when either box is empty.
    ///
    /// ```
    /// use custody_redact::BBox;
    /// let a = BBox { x0: 0.0, y0: 0.0, x1: 10.0, y1: 10.0 };
    /// let b = BBox { x0: 5.0, y0: 0.0, x1: 15.0, y1: 10.0 };
    /// assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
    /// ```
    pub fn iou(&self, o: &BBox) -> f32 {
        let i = BBox {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        }
        .area();
        let u = self.area() + o.area() - i;
        if u > 0.0 { i / u } else { 0.0 }
    }

    /// The box scaled about its centre by `sx` horizontally and `sy` vertically.
    pub fn scaled(&self, sx: f32, sy: f32) -> BBox {
        let (cx, cy) = ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0);
        let (hw, hh) = (self.width() * sx / 2.0, self.height() * sy / 2.0);
        BBox {
            x0: cx - hw,
            y0: cy - hh,
            x1: cx + hw,
            y1: cy + hh,
        }
    }

    /// The box clipped to a `width` x `height` frame.
    pub fn clipped(&self, width: u32, height: u32) -> BBox {
        let (w, h) = (width as f32, height as f32);
        BBox {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }

    /// Linear interpolation: `self` at t = 0, `o` at t = 1.
    pub fn lerp(&self, o: &BBox, t: f32) -> BBox {
        let l = |a: f32, b: f32| a + (b - a) * t;
        BBox {
            x0: l(self.x0, o.x0),
            y0: l(self.y0, o.y0),
            x1: l(self.x1, o.x1),
            y1: l(self.y1, o.y1),
        }
    }
}

/// One thing found in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// What it is.
    pub class: Class,
    /// Where, in the frame's pixels.
    #[serde(rename = "box")]
    pub bbox: BBox,
    /// Confidence, 0 to 1.
    pub score: f32,
    /// Landmarks (eyes, nose, mouth corners; a plate's corners), in pixels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landmarks: Vec<[f32; 2]>,
}

/// Why a detector could not look at a frame.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The model could not be run on this input.
    #[error("{detector}: {message}")]
    Model {
        /// The detector.
        detector: String,
        /// What went wrong.
        message: String,
    },
    /// A detector supplied by the caller failed.
    #[error("{0}")]
    Hook(String),
}

/// The hook every detector implements, built-in or the caller's: given a
/// decoded frame, the things found in it.
///
/// ```
/// use custody_redact::{BBox, Class, DetectError, Detection, Detector, FrameView};
/// /// Marks the top-left quarter of every frame.
/// struct Corner;
/// impl Detector for Corner {
///     fn name(&self) -> &str { "corner" }
///     fn detect(&mut self, f: &FrameView) -> Result<Vec<Detection>, DetectError> {
///         let (w, h) = (f.width() as f32, f.height() as f32);
///         Ok(vec![Detection {
///             class: Class::Screen,
///             bbox: BBox { x0: 0.0, y0: 0.0, x1: w / 2.0, y1: h / 2.0 },
///             score: 1.0,
///             landmarks: vec![],
///         }])
///     }
/// }
/// ```
pub trait Detector: Send {
    /// A short name for logs (`centerface`, `plates`, a vendor's name).
    fn name(&self) -> &str;

    /// The SHA-256 of the model file, for the redaction log, when there is one.
    fn model_sha256(&self) -> Option<&str> {
        None
    }

    /// The detections in `frame`, in its pixel coordinates.
    fn detect(&mut self, frame: &FrameView) -> Result<Vec<Detection>, DetectError>;
}

/// Non-maximum suppression: keeps the highest-scoring box of every group
/// overlapping by at least `iou`, highest score first.
///
/// ```
/// use custody_redact::{BBox, Class, Detection, nms};
/// let d = |x: f32, s: f32| Detection {
///     class: Class::Face,
///     bbox: BBox { x0: x, y0: 0.0, x1: x + 10.0, y1: 10.0 },
///     score: s,
///     landmarks: vec![],
/// };
/// let kept = nms(vec![d(0.0, 0.5), d(1.0, 0.9), d(50.0, 0.7)], 0.3);
/// assert_eq!(kept.iter().map(|d| d.score).collect::<Vec<_>>(), [0.9, 0.7]);
/// ```
pub fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) < iou) {
            kept.push(d);
        }
    }
    kept
}
