//! Redaction of recorder video before disclosure: a detector hook
//! ([`Detector`]) that built-in detectors and a caller's own implement,
//! built-in face and licence-plate detectors (ONNX models run in pure Rust
//! with tract; feature `models`), tracking between detections, masks
//! applied to decoded pictures in place, manual regions, and the pipeline
//! that puts them together ([`redact::redact`]: detect, track, re-encode
//! with masks, write the redaction log).

#![deny(missing_docs)]

mod detect;
mod frame;
pub mod mask;
#[cfg(feature = "models")]
pub mod models;
pub mod redact;
pub mod regions;
pub mod track;

pub use detect::{BBox, Class, DetectError, Detection, Detector, nms};
pub use frame::{FrameError, FrameMut, FrameView, PixelFormat};
