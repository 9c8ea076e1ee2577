//! Tracking: detections in some frames become tracks that cover every frame
//! in between. Detections are associated to tracks by IoU (same class,
//! best overlap first); between two detections of a track its box moves
//! linearly; before its first and after its last detection it is held for
//! a few frames (temporal padding), so a face the detector misses for a
//! frame or two stays masked; each box is grown by a margin.

use crate::detect::{BBox, Class, Detection};
use serde::Serialize;

/// How detections become tracks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackOptions {
    /// The least IoU for a detection to continue a track.
    pub iou: f32,
    /// Frames a track is held before its first and after its last detection.
    pub pad: u64,
    /// Frames a track may go undetected between two detections and still
    /// be one track (interpolated across the gap).
    pub max_gap: u64,
    /// Each box grown about its centre by this factor.
    pub margin: f32,
}

impl TrackOptions {
    /// These options for detections on every `every`-th picture: a track
    /// held at least `every - 1` pictures beyond its first and last
    /// detection (what appeared just after a detection is found only at
    /// the next), and gaps of at least `2 * every` bridged (one missed
    /// detection).
    ///
    /// ```
    /// use custody_redact::track::TrackOptions;
    /// let t = TrackOptions::default().for_every(4);
    /// assert_eq!((t.pad, t.max_gap), (3, 15));
    /// assert_eq!(TrackOptions::default().for_every(1), TrackOptions::default());
    /// ```
    pub fn for_every(self, every: u64) -> TrackOptions {
        let every = every.max(1);
        TrackOptions {
            pad: self.pad.max(every - 1),
            max_gap: self.max_gap.max(every.saturating_mul(2)),
            ..self
        }
    }
}

impl Default for TrackOptions {
    fn default() -> Self {
        TrackOptions {
            iou: 0.3,
            pad: 2,
            max_gap: 15,
            margin: 1.2,
        }
    }
}

/// One detection of a track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seen {
    /// The frame (index in presentation order).
    pub frame: u64,
    /// The box detected.
    #[serde(rename = "box")]
    pub bbox: BBox,
    /// The detector's score.
    pub score: f32,
}

/// One object followed through the video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    /// Its number, from 1, in order of first detection.
    pub id: u64,
    /// What it is.
    pub class: Class,
    /// The detector that found it.
    pub detector: String,
    /// Its detections, in frame order.
    pub seen: Vec<Seen>,
}

impl Track {
    /// First frame detected.
    pub fn first(&self) -> u64 {
        self.seen.first().map_or(0, |s| s.frame)
    }

    /// Last frame detected.
    pub fn last(&self) -> u64 {
        self.seen.last().map_or(0, |s| s.frame)
    }

    /// The track's box at `frame`, margin applied; `None` outside its span
    /// and padding.
    pub fn at(&self, frame: u64, opts: &TrackOptions) -> Option<BBox> {
        let (first, last) = (self.seen.first()?, self.seen.last()?);
        let b = if frame < first.frame {
            (first.frame - frame <= opts.pad).then_some(first.bbox)?
        } else if frame > last.frame {
            (frame - last.frame <= opts.pad).then_some(last.bbox)?
        } else {
            let i = self.seen.partition_point(|s| s.frame <= frame) - 1;
            let a = &self.seen[i];
            match self.seen.get(i + 1) {
                Some(b) if a.frame != frame => {
                    let t = (frame - a.frame) as f32 / (b.frame - a.frame) as f32;
                    a.bbox.lerp(&b.bbox, t)
                }
                _ => a.bbox,
            }
        };
        Some(b.scaled(opts.margin, opts.margin))
    }
}

/// Builds tracks from detections given frame by frame (frames in
/// increasing order; frames without detection need not be given).
#[derive(Debug, Clone)]
pub struct Tracker {
    opts: TrackOptions,
    tracks: Vec<Track>,
    /// Indices of tracks still open to association.
    open: Vec<usize>,
    latest: Option<u64>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(opts: TrackOptions) -> Tracker {
        Tracker {
            opts,
            tracks: Vec::new(),
            open: Vec::new(),
            latest: None,
        }
    }

    /// The options.
    pub fn options(&self) -> &TrackOptions {
        &self.opts
    }

    /// Adds the detections `detector` made in `frame` (a frame where it
    /// looked, even when it found nothing). Frames must increase.
    ///
    /// ```
    /// use custody_redact::track::{Tracker, TrackOptions};
    /// use custody_redact::{BBox, Class, Detection};
    /// let face = |x: f32| Detection {
    ///     class: Class::Face,
    ///     bbox: BBox { x0: x, y0: 0.0, x1: x + 20.0, y1: 20.0 },
    ///     score: 0.9,
    ///     landmarks: vec![],
    /// };
    /// let opts = TrackOptions { margin: 1.0, ..Default::default() };
    /// let mut t = Tracker::new(opts);
    /// t.observe(0, "centerface", &[face(0.0)]);
    /// t.observe(4, "centerface", &[face(8.0)]);
    /// assert_eq!(t.tracks().len(), 1);
    /// // Frame 2, not looked at, lies half way between.
    /// assert_eq!(t.boxes_at(2)[0].1.x0, 4.0);
    /// ```
    pub fn observe(&mut self, frame: u64, detector: &str, dets: &[Detection]) {
        if self.latest.is_some_and(|l| frame < l) {
            return;
        }
        self.latest = Some(frame);
        let max_gap = self.opts.max_gap;
        let tracks = &self.tracks;
        self.open
            .retain(|&i| frame.saturating_sub(tracks[i].last()) <= max_gap.saturating_add(1));
        // Every (track, detection) pair over the threshold, best first.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (oi, &ti) in self.open.iter().enumerate() {
            let t = &self.tracks[ti];
            let last = t.seen.last().map(|s| s.bbox);
            for (di, d) in dets.iter().enumerate() {
                if t.class != d.class || t.detector != detector {
                    continue;
                }
                if let Some(b) = last {
                    let iou = b.iou(&d.bbox);
                    if iou >= self.opts.iou {
                        pairs.push((iou, oi, di));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.open.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, oi, di) in pairs {
            if track_used[oi] || det_used[di] {
                continue;
            }
            track_used[oi] = true;
            det_used[di] = true;
            let d = &dets[di];
            self.tracks[self.open[oi]].seen.push(Seen {
                frame,
                bbox: d.bbox,
                score: d.score,
            });
        }
        for (di, d) in dets.iter().enumerate() {
            if det_used[di] {
                continue;
            }
            self.tracks.push(Track {
                id: self.tracks.len() as u64 + 1,
                class: d.class.clone(),
                detector: detector.to_string(),
                seen: vec![Seen {
                    frame,
                    bbox: d.bbox,
                    score: d.score,
                }],
            });
            self.open.push(self.tracks.len() - 1);
        }
    }

    /// Every track's box at `frame`: (track id, box).
    pub fn boxes_at(&self, frame: u64) -> Vec<(u64, BBox)> {
        self.tracks
            .iter()
            .filter_map(|t| t.at(frame, &self.opts).map(|b| (t.id, b)))
            .collect()
    }

    /// Whether the boxes of `frame` can no longer change: later
    /// observations reach past every gap and padding that could touch it.
    pub fn settled(&self, frame: u64) -> bool {
        self.latest
            .is_some_and(|l| l >= frame.saturating_add(self.opts.max_gap.max(self.opts.pad) + 1))
    }

    /// The tracks so far, in order of first detection.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class: Class, x: f32) -> Detection {
        Detection {
            class,
            bbox: BBox {
                x0: x,
                y0: 10.0,
                x1: x + 30.0,
                y1: 40.0,
            },
            score: 0.8,
            landmarks: vec![],
        }
    }

    #[test]
    fn a_face_missed_for_two_frames_stays_covered() {
        let opts = TrackOptions {
            margin: 1.0,
            ..Default::default()
        };
        let mut t = Tracker::new(opts);
        for f in [0u64, 1, 2, 5, 6] {
            t.observe(f, "centerface", &[det(Class::Face, f as f32)]);
        }
        assert_eq!(t.tracks().len(), 1);
        for f in 0..=6 {
            let b = t.boxes_at(f);
            assert_eq!(b.len(), 1, "frame {f}");
            assert!((b[0].1.x0 - f as f32).abs() < 1e-4, "frame {f}: {b:?}");
        }
        // Padding: two frames either side, then nothing.
        assert_eq!(t.boxes_at(8).len(), 1);
        assert!(t.boxes_at(9).is_empty());
    }

    #[test]
    fn classes_and_far_apart_boxes_make_separate_tracks() {
        let mut t = Tracker::new(TrackOptions::default());
        t.observe(
            0,
            "d",
            &[
                det(Class::Face, 0.0),
                det(Class::Plate, 0.0),
                det(Class::Face, 200.0),
            ],
        );
        t.observe(
            1,
            "d",
            &[
                det(Class::Face, 201.0),
                det(Class::Face, 1.0),
                det(Class::Plate, 2.0),
            ],
        );
        let tracks = t.tracks();
        assert_eq!(tracks.len(), 3);
        assert!(tracks.iter().all(|t| t.seen.len() == 2), "{tracks:?}");
        assert_eq!(tracks[2].seen[1].bbox.x0, 201.0);
    }

    #[test]
    fn a_track_unseen_past_the_gap_is_closed() {
        let opts = TrackOptions {
            max_gap: 3,
            ..Default::default()
        };
        let mut t = Tracker::new(opts);
        t.observe(0, "d", &[det(Class::Face, 0.0)]);
        t.observe(10, "d", &[det(Class::Face, 0.0)]);
        assert_eq!(t.tracks().len(), 2);
        assert!(t.settled(0) && !t.settled(7));
    }
}
