//! The redaction log: tracks and regions as logged, written as JSON and
//! CSV beside the output (temporary file, fsync, then moved into place
//! without replacing anything).

use super::{RedactError, Redacted};
use crate::detect::Class;
use crate::regions::{Keyframe, Regions};
use crate::track::{Seen, Tracker};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

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

/// Writes `bytes` to `dest` through a temporary file beside it (fsynced,
/// then linked into place, never over an existing file).
fn write_new(dest: &Path, bytes: &[u8]) -> Result<(), RedactError> {
    let io = |source| RedactError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dest.with_file_name(format!(".{name}.custody-tmp-{}", std::process::id()));
    let r = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, dest)
    })();
    let _ = std::fs::remove_file(&tmp);
    r.map_err(io)?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
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
