//! Redaction of recorder video before disclosure: a detector hook
//! ([`Detector`]) that built-in detectors and a caller's own implement,
//! built-in face and licence-plate detectors (ONNX models run in pure Rust
//! with tract; feature `models`), tracking between detections, masks
//! applied to decoded pictures in place, and the redaction log.

#![deny(missing_docs)]

mod detect;
mod frame;
pub mod mask;
#[cfg(feature = "models")]
pub mod models;
pub mod track;

pub use detect::{BBox, Class, DetectError, Detection, Detector, nms};
pub use frame::{FrameError, FrameMut, FrameView, PixelFormat};
