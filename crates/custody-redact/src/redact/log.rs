//! The redaction log: tracks and regions as logged, written as JSON and
//! CSV beside the output (temporary file, fsync, then moved into place
//! without replacing anything).

use super::{RedactError, Redacted};
use crate::detect::Class;
use crate::regions::{Keyframe, Regions};
use crate::track::{Seen, Tracker};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One track, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct TrackLog {
    /// Its number.
    pub id: u64,
    /// What it is.
    pub class: Class,
    /// The detector that found it.
    pub detector: String,
    /// The SHA-256 of the detector's model, when it has one.
    pub model_sha256: Option<String>,
    /// The first picture it was detected in.
    pub first_frame: u64,
    /// The last.
    pub last_frame: u64,
    /// The first picture's time, seconds.
    pub first_time: f64,
    /// The last picture's time, seconds.
    pub last_time: f64,
    /// Pictures it was detected in.
    pub frames: u64,
    /// Its detections (boxes before the margin; masks are grown by it and
    /// interpolated between detections).
    pub boxes: Vec<Seen>,
}

/// One manual region, as logged.
#[derive(Debug, Clone, Serialize)]
pub struct RegionLog {
    /// Its number, from 0, in the regions file.
    pub index: usize,
    /// Its label.
    pub label: String,
    /// What it is.
    pub class: Class,
    /// Its keyframes.
    pub keyframes: Vec<Keyframe>,
}

pub(crate) fn tracks(
    tracker: &Tracker,
    detectors: &[(String, Option<String>)],
    times: &[f64],
) -> Vec<TrackLog> {
    let time = |f: u64| {
        usize::try_from(f)
            .ok()
            .and_then(|i| times.get(i))
            .copied()
            .unwrap_or(0.0)
    };
    tracker
        .tracks()
        .iter()
        .map(|t| TrackLog {
            id: t.id,
            class: t.class.clone(),
            detector: t.detector.clone(),
            model_sha256: detectors
                .iter()
                .find(|d| d.0 == t.detector)
                .and_then(|d| d.1.clone()),
            first_frame: t.first(),
            last_frame: t.last(),
            first_time: time(t.first()),
            last_time: time(t.last()),
            frames: t.seen.len() as u64,
            boxes: t.seen.clone(),
        })
        .collect()
}

pub(crate) fn regions(r: &Regions) -> Vec<RegionLog> {
    r.regions
        .iter()
        .enumerate()
        .map(|(index, r)| RegionLog {
            index,
            label: r.label.clone(),
            class: r.class.clone(),
            keyframes: r.keyframes.clone(),
        })
        .collect()
}

fn class_name(c: &Class) -> String {
    match c {
        Class::Custom(s) => s.clone(),
        c => serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    }
}

/// A CSV field, quoted when it needs to be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(tracks: &[TrackLog]) -> String {
    let mut s = String::from(
        "id,class,detector,model_sha256,first_frame,last_frame,first_time,last_time,frames\n",
    );
    for t in tracks {
        s += &format!(
            "{},{},{},{},{},{},{:.6},{:.6},{}\n",
            t.id,
            field(&class_name(&t.class)),
            field(&t.detector),
            t.model_sha256.as_deref().unwrap_or(""),
            t.first_frame,
            t.last_frame,
            t.first_time,
            t.last_time,
            t.frames
        );
    }
    s
}

/// A file being written beside its destination: a temporary file that
/// [`NewFile::finish`] fsyncs and links into place (never over an existing
/// file), hashed as it is written. Dropped unfinished, it is removed.
pub(super) struct NewFile {
    dest: PathBuf,
    tmp: PathBuf,
    out: Option<std::io::BufWriter<std::fs::File>>,
    hasher: blake3::Hasher,
    size: u64,
}

impl NewFile {
    /// Starts `dest` (nothing appears there until [`NewFile::finish`]).
    pub(super) fn create(dest: &Path) -> Result<NewFile, RedactError> {
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dest.with_file_name(format!(".{name}.custody-tmp-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| RedactError::Io {
                path: dest.to_path_buf(),
                source,
            })?;
        Ok(NewFile {
            dest: dest.to_path_buf(),
            tmp,
            out: Some(std::io::BufWriter::with_capacity(1 << 16, f)),
            hasher: blake3::Hasher::new(),
            size: 0,
        })
    }

    fn io(&self, source: std::io::Error) -> RedactError {
        RedactError::Io {
            path: self.dest.clone(),
            source,
        }
    }

    /// Appends `bytes`.
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), RedactError> {
        let r = match &mut self.out {
            Some(out) => out.write_all(bytes),
            None => Err(std::io::Error::other("already finished")),
        };
        r.map_err(|e| self.io(e))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Fsyncs the file and links it into place; returns its size and
    /// BLAKE3 (hex).
    pub(super) fn finish(mut self) -> Result<(u64, String), RedactError> {
        let r = (|| {
            let out = self
                .out
                .take()
                .ok_or_else(|| std::io::Error::other("already finished"))?;
            let f = out.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            drop(f);
            std::fs::hard_link(&self.tmp, &self.dest)
        })();
        r.map_err(|e| self.io(e))?;
        let _ = std::fs::remove_file(&self.tmp);
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok((self.size, self.hasher.finalize().to_hex().to_string()))
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        // Finished or not, the temporary name goes (a finished file lives
        // on under its destination's name).
        self.out = None;
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Writes `bytes` to `dest` through a temporary file beside it (fsynced,
/// then linked into place, never over an existing file); returns its size
/// and BLAKE3 (hex).
pub(super) fn write_new(dest: &Path, bytes: &[u8]) -> Result<(u64, String), RedactError> {
    let mut f = NewFile::create(dest)?;
    f.write(bytes)?;
    f.finish()
}

/// Writes the log (JSON) and the tracks (CSV) of `done`; on failure
/// neither is left.
pub(crate) fn write(done: &Redacted) -> Result<(), RedactError> {
    let json = serde_json::to_vec_pretty(done)
        .map_err(|e| RedactError::InvalidArgument(format!("the log cannot be written: {e}")))?;
    write_new(&done.log, &json)?;
    if let Err(e) = write_new(&done.tracks_csv, csv(&done.tracks).as_bytes()) {
        let _ = std::fs::remove_file(&done.log);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
