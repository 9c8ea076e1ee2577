//! Manual regions: boxes an operator drew, with keyframes in time, read
//! from a JSON file and masked like tracks. Between two keyframes a box
//! moves linearly; a region covers the time from its first keyframe to its
//! last (both included).
//!
//! ```json
//! {"regions": [
//!   {"label": "address on the door", "class": "screen",
//!    "keyframes": [{"time": 0.0, "box": {"x0": 10, "y0": 20, "x1": 90, "y1": 60}},
//!                  {"time": 4.5, "box": {"x0": 40, "y0": 20, "x1": 120, "y1": 60}}]}
//! ]}
//! ```

use crate::detect::{BBox, Class};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Times within this many seconds of a region's first or last keyframe are
/// inside it (decoded timestamps are rounded to the stream's time base).
pub const TIME_TOLERANCE: f64 = 1e-3;

/// One keyframe: where the box is at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keyframe {
    /// Seconds from the video's start.
    pub time: f64,
    /// The box, in the video's pixels.
    #[serde(rename = "box")]
    pub bbox: BBox,
}

/// One manual region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// What it hides, for the log.
    #[serde(default)]
    pub label: String,
    /// What it is (default `custom("manual")`).
    #[serde(default = "manual")]
    pub class: Class,
    /// Its keyframes, in increasing time (at least one).
    pub keyframes: Vec<Keyframe>,
}

fn manual() -> Class {
    Class::Custom("manual".into())
}

/// A regions file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// The regions.
    pub regions: Vec<Region>,
}

/// Why a regions file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegionsError {
    /// It could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not a regions file (JSON syntax or shape), at a line and column.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Line (from 1).
        line: usize,
        /// Column (from 1).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A region is not usable.
    #[error("{}: region {index}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The region (from 0).
        index: usize,
        /// What is wrong.
        message: String,
    },
}

impl Regions {
    /// Reads and checks the regions file at `path` (at most 64 MiB).
    pub fn load(path: &Path) -> Result<Regions, RegionsError> {
        use std::io::Read;
        let io = |source| RegionsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(64 << 20)
            .read_to_string(&mut text)
            .map_err(io)?;
        Regions::parse(&text, path)
    }

    /// Parses and checks regions from `text` (`path` names it in errors).
    ///
    /// ```
    /// use custody_redact::regions::Regions;
    /// let r = Regions::parse(r#"{"regions": [{"keyframes": [
    ///   {"time": 0, "box": {"x0": 0, "y0": 0, "x1": 10, "y1": 10}},
    ///   {"time": 2, "box": {"x0": 20, "y0": 0, "x1": 30, "y1": 10}}]}]}"#, "r.json".as_ref()).unwrap();
    /// assert_eq!(r.regions[0].at(1.0).unwrap().x0, 10.0);
    /// assert!(r.regions[0].at(2.5).is_none());
    /// assert!(Regions::parse("{\"regions\": [{\"keyframes\": []}]}", "r.json".as_ref()).is_err());
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<Regions, RegionsError> {
        let r: Regions = serde_json::from_str(text).map_err(|e| RegionsError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        for (index, region) in r.regions.iter().enumerate() {
            region.check().map_err(|message| RegionsError::Invalid {
                path: path.to_path_buf(),
                index,
                message,
            })?;
        }
        Ok(r)
    }
}

impl Region {
    fn check(&self) -> Result<(), String> {
        if self.keyframes.is_empty() {
            return Err("no keyframe".into());
        }
        let mut last = f64::NEG_INFINITY;
        for (i, k) in self.keyframes.iter().enumerate() {
            let b = &k.bbox;
            if !k.time.is_finite() || k.time < 0.0 {
                return Err(format!("keyframe {i}: time {} is not a time", k.time));
            }
            if k.time < last {
                return Err(format!("keyframe {i}: times must not decrease"));
            }
            last = k.time;
            if ![b.x0, b.y0, b.x1, b.y1].iter().all(|v| v.is_finite())
                || b.x1 <= b.x0
                || b.y1 <= b.y0
            {
                return Err(format!(
                    "keyframe {i}: the box {b:?} is empty or not finite"
                ));
            }
        }
        Ok(())
    }

    /// The box at `time` (seconds), linearly interpolated between
    /// keyframes; `None` before the first keyframe or after the last.
    pub fn at(&self, time: f64) -> Option<BBox> {
        let (first, last) = (self.keyframes.first()?, self.keyframes.last()?);
        if time < first.time - TIME_TOLERANCE || time > last.time + TIME_TOLERANCE {
            return None;
        }
        let i = self.keyframes.partition_point(|k| k.time <= time);
        if i == 0 {
            return Some(first.bbox);
        }
        let a = &self.keyframes[i - 1];
        match self.keyframes.get(i) {
            Some(b) if b.time > a.time => {
                let t = ((time - a.time) / (b.time - a.time)) as f32;
                Some(a.bbox.lerp(&b.bbox, t))
            }
            _ => Some(a.bbox),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_regions_files_are_refused_with_their_place() {
        let p = Path::new("r.json");
        let e = Regions::parse("{\"regions\": [\n{\"keyframes\": 3}]}", p).unwrap_err();
        assert!(matches!(e, RegionsError::Json { line: 2, .. }), "{e}");
        let k = |t: f64, x: f32| Keyframe {
            time: t,
            bbox: BBox {
                x0: x,
                y0: 0.0,
                x1: x + 4.0,
                y1: 4.0,
            },
        };
        let text = |ks: Vec<Keyframe>| {
            serde_json::to_string(&Regions {
                regions: vec![Region {
                    label: String::new(),
                    class: manual(),
                    keyframes: ks,
                }],
            })
            .unwrap()
        };
        for bad in [vec![k(2.0, 0.0), k(1.0, 0.0)], vec![k(-1.0, 0.0)]] {
            let e = Regions::parse(&text(bad), p).unwrap_err();
            assert!(matches!(e, RegionsError::Invalid { index: 0, .. }), "{e}");
        }
        let mut empty = k(0.0, 0.0);
        empty.bbox.x1 = empty.bbox.x0;
        assert!(Regions::parse(&text(vec![empty]), p).is_err());
        let r = Regions::parse(&text(vec![k(1.0, 0.0)]), p).unwrap();
        assert_eq!(r.regions[0].class, manual());
        assert!(r.regions[0].at(1.0).is_some() && r.regions[0].at(1.1).is_none());
    }
}
