//! Audio edits for redaction: time ranges of the decoded sound replaced,
//! sample by sample, by silence ([`AudioEditKind::Mute`]) or a 1 kHz tone
//! ([`AudioEditKind::Bleep`]), in whatever sample format the decoder gives
//! (8-bit unsigned, 16-, 32- and 64-bit signed, 32- and 64-bit float;
//! planar or packed).
//!
//! A sample at time `t` (seconds on the recording's timeline) is in the
//! range `from..to` when `from <= t < to`. The tone's phase follows the
//! sample's place on that timeline, so it runs on without a click from one
//! decoded frame to the next. Where a mute and a bleep overlap, the bleep
//! is heard.

use crate::error::{Error, Result};

/// The bleep's frequency, Hz.
pub const BLEEP_HZ: u32 = 1000;

/// The bleep's level, dB relative to full scale (a sine peaking at a
/// quarter of full scale).
pub const BLEEP_DBFS: f64 = -12.0;

/// The bleep's peak amplitude, full scale being 1.
fn bleep_amplitude() -> f64 {
    10f64.powf(BLEEP_DBFS / 20.0)
}

/// What an audio edit puts in place of the samples in its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioEditKind {
    /// Silence.
    Mute,
    /// A [`BLEEP_HZ`] sine at [`BLEEP_DBFS`].
    Bleep,
}

impl AudioEditKind {
    /// `mute` or `bleep`.
    pub fn name(self) -> &'static str {
        match self {
            AudioEditKind::Mute => "mute",
            AudioEditKind::Bleep => "bleep",
        }
    }
}

/// A time range of every audio track replaced by silence or a tone.
///
/// Times are seconds on the recording's timeline: from the start of its
/// first video stream, as pictures are counted (the picture hook's times),
/// or from the file's start when it has no video.
///
/// ```
/// use custody_transcode::{AudioEdit, AudioEditKind};
/// let e = AudioEdit::new(AudioEditKind::Bleep, 1.0, 2.5).unwrap();
/// assert_eq!(e.describe(), "bleep 1-2.5 s");
/// assert!(AudioEdit::new(AudioEditKind::Mute, 2.0, 2.0).is_err());
/// assert!(AudioEdit::new(AudioEditKind::Mute, -1.0, 2.0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AudioEdit {
    /// Start of the range, seconds (included).
    pub from: f64,
    /// End of the range, seconds (excluded).
    pub to: f64,
    /// What the range becomes.
    pub kind: AudioEditKind,
}

impl AudioEdit {
    /// A checked edit ([`AudioEdit::check`]).
    pub fn new(kind: AudioEditKind, from: f64, to: f64) -> Result<AudioEdit> {
        let e = AudioEdit { from, to, kind };
        e.check()?;
        Ok(e)
    }

    /// Refuses a range that is empty, reversed, negative or not finite
    /// ([`Error::InvalidArgument`]).
    pub fn check(&self) -> Result<()> {
        let (f, t) = (self.from, self.to);
        if !(f.is_finite() && t.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "{} range {f}-{t}: the times must be finite",
                self.kind.name()
            )));
        }
        if f < 0.0 || t <= f {
            return Err(Error::InvalidArgument(format!(
                "{} range {f}-{t}: it must run forward from 0 s or later (from < to)",
                self.kind.name()
            )));
        }
        Ok(())
    }

    /// The edit as recorded in the parameters (`mute 1-2 s`), times exact.
    pub fn describe(&self) -> String {
        format!("{} {}-{} s", self.kind.name(), self.from, self.to)
    }

    /// The samples at `rate` the range holds: `[first, end)`, numbered from
    /// the timeline's 0.
    fn samples(&self, rate: u32) -> (i64, i64) {
        // A hair below the exact product, so a time that falls on a sample
        // (1.0 s at 48 kHz) takes that sample despite rounding.
        let at = |t: f64| (t * f64::from(rate) - 1e-6).ceil() as i64;
        (at(self.from), at(self.to))
    }
}

/// Ranges as the parameters record them (`mute 1-2 s; bleep 3-4 s`).
pub(crate) fn describe_all(edits: &[AudioEdit]) -> String {
    edits
        .iter()
        .map(AudioEdit::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The type of one sample of decoded audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleType {
    /// Unsigned 8-bit, silence at 128.
    U8,
    /// Signed 16-bit.
    S16,
    /// Signed 32-bit.
    S32,
    /// Signed 64-bit.
    S64,
    /// 32-bit float, full scale at 1.
    F32,
    /// 64-bit float, full scale at 1.
    F64,
}

impl SampleType {
    /// Bytes per sample.
    fn bytes(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::S16 => 2,
            SampleType::S32 | SampleType::F32 => 4,
            SampleType::S64 | SampleType::F64 => 8,
        }
    }

    /// `v` (full scale 1) in this type, native byte order, into `out`
    /// (exactly [`SampleType::bytes`] long).
    fn put(self, v: f64, out: &mut [u8]) {
        let v = v.clamp(-1.0, 1.0);
        match self {
            SampleType::U8 => out.copy_from_slice(&[(128.0 + (v * 127.0).round()) as u8]),
            SampleType::S16 => {
                out.copy_from_slice(&((v * f64::from(i16::MAX)).round() as i16).to_ne_bytes())
            }
            SampleType::S32 => {
                out.copy_from_slice(&((v * f64::from(i32::MAX)).round() as i32).to_ne_bytes())
            }
            // `as` saturates: full scale cannot wrap round.
            SampleType::S64 => {
                out.copy_from_slice(&((v * i64::MAX as f64).round() as i64).to_ne_bytes())
            }
            SampleType::F32 => out.copy_from_slice(&(v as f32).to_ne_bytes()),
            SampleType::F64 => out.copy_from_slice(&v.to_ne_bytes()),
        }
    }
}

/// How decoded samples lie in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The sample type.
    pub(crate) sample: SampleType,
    /// One plane per channel (else one plane, channels interleaved).
    pub(crate) planar: bool,
    /// Channels.
    pub(crate) channels: usize,
}

impl Layout {
    /// The layout of decoded audio in FFmpeg's sample `format` with
    /// `channels` channels; `None` for no format.
    pub(crate) fn of(format: ffmpeg_next::format::Sample, channels: u16) -> Option<Layout> {
        use ffmpeg_next::format::Sample as S;
        let sample = match format {
            S::None => return None,
            S::U8(_) => SampleType::U8,
            S::I16(_) => SampleType::S16,
            S::I32(_) => SampleType::S32,
            S::I64(_) => SampleType::S64,
            S::F32(_) => SampleType::F32,
            S::F64(_) => SampleType::F64,
        };
        Some(Layout {
            sample,
            planar: format.is_planar(),
            channels: usize::from(channels),
        })
    }
}

/// True when one of `edits` covers one of the `samples` samples at `rate`
/// from timeline sample `first`.
pub(crate) fn touches(edits: &[AudioEdit], first: i64, samples: usize, rate: u32) -> bool {
    let end = first.saturating_add(i64::try_from(samples).unwrap_or(i64::MAX));
    edits.iter().any(|e| {
        let (a, b) = e.samples(rate);
        a.max(first) < b.min(end)
    })
}

/// Warnings for the edits that changed nothing: `changed[k]` samples were
/// changed by `edits[k]`; `sound` is false when there was no audio track.
pub(crate) fn unchanged(edits: &[AudioEdit], changed: &[u64], sound: bool) -> Vec<String> {
    if edits.is_empty() {
        return Vec::new();
    }
    if !sound {
        return vec![format!(
            "no audio track: nothing to mute or bleep ({})",
            describe_all(edits)
        )];
    }
    edits
        .iter()
        .zip(changed)
        .filter(|(_, n)| **n == 0)
        .map(|(e, _)| {
            format!(
                "{}: no sound lies in this range; nothing changed",
                e.describe()
            )
        })
        .collect()
}

/// The bleep's value at sample `n` of the timeline at `rate`: the phase is
/// taken from `n` itself (exactly, in integers), so it is continuous across
/// frames and never drifts.
fn bleep(n: i64, rate: u32) -> f64 {
    let rate = i128::from(rate.max(1));
    let cycle = (i128::from(n) * i128::from(BLEEP_HZ)).rem_euclid(rate);
    let phase = cycle as f64 / rate as f64;
    bleep_amplitude() * (std::f64::consts::TAU * phase).sin()
}

/// Replaces, in one frame of decoded audio, the samples that `edits` cover.
/// The frame holds `samples` samples per channel laid out as `layout` in
/// `planes` (one per channel when planar, else one), its first being
/// sample `first` of the timeline at `rate`. `changed[k]` grows by the
/// samples per channel that fall in `edits[k]`.
///
/// A plane shorter than its samples, or missing, is refused (nothing is
/// changed then).
pub(crate) fn apply(
    edits: &[AudioEdit],
    layout: Layout,
    planes: &mut [&mut [u8]],
    samples: usize,
    first: i64,
    rate: u32,
    changed: &mut [u64],
) -> std::result::Result<(), String> {
    if rate == 0 {
        return Err("the audio has no sample rate".into());
    }
    let bytes = layout.sample.bytes();
    let channels = layout.channels;
    let (want_planes, plane_len) = if layout.planar {
        (channels, samples.checked_mul(bytes))
    } else {
        (
            1,
            samples
                .checked_mul(bytes)
                .and_then(|b| b.checked_mul(channels)),
        )
    };
    let plane_len = plane_len.ok_or("the frame's size overflows")?;
    if channels == 0 || planes.len() < want_planes {
        return Err(format!(
            "{} channels in {} planes: the decoded frame is incomplete",
            channels,
            planes.len()
        ));
    }
    if let Some(p) = planes[..want_planes].iter().find(|p| p.len() < plane_len) {
        return Err(format!(
            "a plane of {} bytes holds fewer than its {samples} samples ({plane_len} bytes)",
            p.len()
        ));
    }
    let end = first.saturating_add(i64::try_from(samples).unwrap_or(i64::MAX));
    // Mutes first, then bleeps over them: where both cover a sample, the
    // bleep is heard.
    for kind in [AudioEditKind::Mute, AudioEditKind::Bleep] {
        for (k, e) in edits.iter().enumerate().filter(|(_, e)| e.kind == kind) {
            let (a, b) = e.samples(rate);
            let (a, b) = (a.max(first), b.min(end));
            if a >= b {
                continue;
            }
            if let Some(c) = changed.get_mut(k) {
                *c += (b - a) as u64;
            }
            for n in a..b {
                let s = (n - first) as usize;
                let v = match kind {
                    AudioEditKind::Mute => 0.0,
                    AudioEditKind::Bleep => bleep(n, rate),
                };
                let mut one = [0u8; 8];
                layout.sample.put(v, &mut one[..bytes]);
                for c in 0..channels {
                    let (plane, at) = if layout.planar {
                        (c, s * bytes)
                    } else {
                        (0, (s * channels + c) * bytes)
                    };
                    planes[plane][at..at + bytes].copy_from_slice(&one[..bytes]);
                }
            }
        }
    }
    Ok(())
}

/// Places each decoded frame of one audio stream on the timeline, in
/// samples: frames follow one another without a gap unless their
/// timestamps say otherwise by more than the stream's time base can round
/// (a millisecond time base places a 48 kHz frame only to within 48
/// samples; the count from the previous frame is exact).
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// The timeline's 0 in the stream's seconds.
    origin: f64,
    /// One tick of the stream's time base, seconds.
    tick: f64,
    /// The sample after the previous frame's last, and the rate it counts.
    next: Option<(i64, u32)>,
}

impl Clock {
    /// A clock for a stream whose time base is `tick` seconds, the
    /// timeline starting at `origin` seconds of the stream's time.
    pub(crate) fn new(origin: f64, tick: f64) -> Clock {
        Clock {
            origin,
            tick: if tick.is_finite() && tick > 0.0 {
                tick.min(1.0)
            } else {
                0.0
            },
            next: None,
        }
    }

    /// The timeline sample of the first of `samples` samples at `rate`
    /// presented at `time` (seconds of the stream; `None` when the decoder
    /// gave none: it follows the previous frame).
    pub(crate) fn place(&mut self, time: Option<f64>, rate: u32, samples: usize) -> i64 {
        let stamped = time
            .filter(|t| t.is_finite())
            .map(|t| ((t - self.origin) * f64::from(rate)).round() as i64);
        // Samples one tick of the time base spans, plus one.
        let tolerance = (self.tick * f64::from(rate)).ceil() as u64 + 1;
        let first = match (self.next, stamped) {
            (Some((n, r)), Some(t)) if r == rate && t.abs_diff(n) <= tolerance => n,
            (_, Some(t)) => t,
            (Some((n, r)), None) if r == rate => n,
            (Some((n, r)), None) => (n as f64 * f64::from(rate) / f64::from(r.max(1))) as i64,
            (None, None) => 0,
        };
        let len = i64::try_from(samples).unwrap_or(i64::MAX);
        self.next = Some((first.saturating_add(len), rate));
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    fn mute(from: f64, to: f64) -> AudioEdit {
        AudioEdit::new(AudioEditKind::Mute, from, to).unwrap()
    }

    fn bleep_edit(from: f64, to: f64) -> AudioEdit {
        AudioEdit::new(AudioEditKind::Bleep, from, to).unwrap()
    }

    /// `n` samples of two planar f32 channels, every sample 0.5 (left) and
    /// -0.5 (right).
    fn fltp(n: usize) -> Vec<Vec<u8>> {
        [0.5f32, -0.5]
            .iter()
            .map(|v| (0..n).flat_map(|_| v.to_ne_bytes()).collect())
            .collect()
    }

    fn f32s(b: &[u8]) -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    fn run(
        edits: &[AudioEdit],
        layout: Layout,
        planes: &mut [Vec<u8>],
        samples: usize,
        first: i64,
    ) -> Vec<u64> {
        let mut changed = vec![0; edits.len()];
        let mut refs: Vec<&mut [u8]> = planes.iter_mut().map(|p| &mut p[..]).collect();
        apply(edits, layout, &mut refs, samples, first, RATE, &mut changed).unwrap();
        changed
    }

    const FLTP2: Layout = Layout {
        sample: SampleType::F32,
        planar: true,
        channels: 2,
    };

    #[test]
    fn a_range_starting_and_ending_mid_frame_changes_exactly_its_samples() {
        // 2.5 ms to 7.5 ms at 8 kHz: samples 20 to 59 of a 100-sample frame.
        let mut p = fltp(100);
        let changed = run(&[mute(0.0025, 0.0075)], FLTP2, &mut p, 100, 0);
        assert_eq!(changed, [40]);
        for (c, want) in [(0, 0.5f32), (1, -0.5)] {
            let s = f32s(&p[c]);
            assert!(s[..20].iter().all(|&v| v == want), "before the range");
            assert!(s[20..60].iter().all(|&v| v == 0.0), "inside the range");
            assert!(s[60..].iter().all(|&v| v == want), "after the range");
        }
        // The same range seen from a frame that starts at sample 50: only
        // its first ten samples are in it.
        let mut p = fltp(100);
        assert_eq!(run(&[mute(0.0025, 0.0075)], FLTP2, &mut p, 100, 50), [10]);
        let s = f32s(&p[0]);
        assert!(s[..10].iter().all(|&v| v == 0.0) && s[10..].iter().all(|&v| v == 0.5));
    }

    #[test]
    fn the_bleep_is_a_1_khz_tone_that_runs_on_across_frames() {
        let e = [bleep_edit(0.0, 1.0)];
        // One frame of 160 samples, and the same samples as two frames cut
        // mid-cycle (at 37): the same values.
        let mut whole = fltp(160);
        run(&e, FLTP2, &mut whole, 160, 0);
        let (mut a, mut b) = (fltp(37), fltp(123));
        run(&e, FLTP2, &mut a, 37, 0);
        run(&e, FLTP2, &mut b, 123, 37);
        let joined: Vec<f32> = f32s(&a[0]).into_iter().chain(f32s(&b[0])).collect();
        assert_eq!(joined, f32s(&whole[0]));
        let s = f32s(&whole[0]);
        // 8 samples per cycle at 8 kHz; a sine peaking at -12 dBFS.
        for n in 0..152 {
            assert!((s[n] - s[n + 8]).abs() < 1e-6, "period of 8 samples at {n}");
        }
        let peak = s.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            (f64::from(peak) - 10f64.powf(-12.0 / 20.0)).abs() < 1e-3,
            "{peak}"
        );
        assert_eq!(s[0], 0.0);
        assert!((s[2] - peak).abs() < 1e-6, "a quarter cycle in: the peak");
        // Both channels carry the tone.
        assert_eq!(f32s(&whole[1]), s);
    }

    #[test]
    fn overlapping_ranges_bleep_over_mute_and_count_each() {
        // Mute samples 0-79, bleep 40-119, mute again 100-139 (beneath the
        // bleep's end).
        let edits = [
            mute(0.0, 0.01),
            bleep_edit(0.005, 0.015),
            mute(0.0125, 0.0175),
        ];
        let mut p = fltp(160);
        let changed = run(&edits, FLTP2, &mut p, 160, 0);
        assert_eq!(changed, [80, 80, 40]);
        let s = f32s(&p[0]);
        assert!(s[..40].iter().all(|&v| v == 0.0));
        for (n, &v) in s.iter().enumerate().take(120).skip(40) {
            assert!((f64::from(v) - bleep(n as i64, RATE)).abs() < 1e-6, "{n}");
        }
        assert!(s[120..140].iter().all(|&v| v == 0.0));
        assert!(s[140..].iter().all(|&v| v == 0.5));
    }

    #[test]
    fn a_range_beyond_the_end_changes_nothing() {
        let mut p = fltp(100);
        let before = p.clone();
        let changed = run(
            &[mute(5.0, 6.0), bleep_edit(0.0125, 1.0)],
            FLTP2,
            &mut p,
            100,
            0,
        );
        assert_eq!(changed, [0, 0]);
        assert_eq!(p, before);
        // Before the frame, likewise.
        let changed = run(&[mute(0.0, 0.001)], FLTP2, &mut p, 100, 8);
        assert_eq!(changed, [0]);
        assert_eq!(p, before);
    }

    #[test]
    fn empty_reversed_negative_and_endless_ranges_are_refused() {
        for (f, t) in [
            (2.0, 2.0),
            (3.0, 2.0),
            (-1.0, 2.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ] {
            for kind in [AudioEditKind::Mute, AudioEditKind::Bleep] {
                let e = AudioEdit::new(kind, f, t);
                assert!(
                    matches!(e, Err(Error::InvalidArgument(_))),
                    "{f}-{t}: {e:?}"
                );
            }
        }
        assert!(AudioEdit::new(AudioEditKind::Mute, 0.0, 0.001).is_ok());
    }

    #[test]
    fn every_sample_type_packed_and_planar() {
        let cases = [
            (SampleType::U8, 1usize),
            (SampleType::S16, 2),
            (SampleType::S32, 4),
            (SampleType::S64, 8),
            (SampleType::F32, 4),
            (SampleType::F64, 8),
        ];
        let edits = [mute(0.0, 0.002), bleep_edit(0.002, 0.004)];
        for (sample, bytes) in cases {
            for planar in [false, true] {
                let channels = 3;
                let layout = Layout {
                    sample,
                    planar,
                    channels,
                };
                let n = 48;
                let planes = if planar { channels } else { 1 };
                let len = n * bytes * if planar { 1 } else { channels };
                // Every byte 0x11: not silence in any type.
                let mut p = vec![vec![0x11u8; len]; planes];
                run(&edits, layout, &mut p, n, 0);
                let mut want_silence = [0u8; 8];
                sample.put(0.0, &mut want_silence[..bytes]);
                let at = |s: usize, c: usize| {
                    let (pl, off) = if planar {
                        (c, s * bytes)
                    } else {
                        (0, (s * channels + c) * bytes)
                    };
                    p[pl][off..off + bytes].to_vec()
                };
                let what = format!("{sample:?} planar={planar}");
                for c in 0..channels {
                    for s in 0..16 {
                        assert_eq!(at(s, c), want_silence[..bytes], "{what}: mute {s}/{c}");
                    }
                    for s in 16..32 {
                        let mut want = [0u8; 8];
                        sample.put(bleep(s as i64, RATE), &mut want[..bytes]);
                        assert_eq!(at(s, c), want[..bytes], "{what}: bleep {s}/{c}");
                    }
                    for s in 32..n {
                        assert_eq!(at(s, c), vec![0x11; bytes], "{what}: kept {s}/{c}");
                    }
                }
            }
        }
        // Silence in unsigned 8-bit is the middle of the scale.
        let mut one = [0u8; 1];
        SampleType::U8.put(0.0, &mut one);
        assert_eq!(one, [128]);
        let mut two = [0u8; 2];
        SampleType::S16.put(0.5, &mut two);
        assert_eq!(i16::from_ne_bytes(two), 16384);
        SampleType::S16.put(-2.0, &mut two);
        assert_eq!(i16::from_ne_bytes(two), -32767, "clamped to full scale");
    }

    #[test]
    fn a_short_or_missing_plane_is_refused_not_overrun() {
        let edits = [mute(0.0, 1.0)];
        let mut short = [vec![0u8; 4 * 99], vec![0u8; 4 * 100]];
        let mut refs: Vec<&mut [u8]> = short.iter_mut().map(|p| &mut p[..]).collect();
        let mut changed = [0];
        assert!(apply(&edits, FLTP2, &mut refs, 100, 0, RATE, &mut changed).is_err());
        let mut one = [vec![0u8; 400]];
        let mut refs: Vec<&mut [u8]> = one.iter_mut().map(|p| &mut p[..]).collect();
        assert!(apply(&edits, FLTP2, &mut refs, 100, 0, RATE, &mut changed).is_err());
        assert!(apply(&edits, FLTP2, &mut [], usize::MAX, 0, RATE, &mut changed).is_err());
        assert_eq!(changed, [0]);
        assert!(one[0].iter().all(|&b| b == 0));
    }

    #[test]
    fn the_clock_counts_samples_through_rounded_timestamps() {
        // A millisecond time base: 1024-sample frames at 48 kHz are stamped
        // 0, 21, 43, 64 ms, rounded; the count runs on exactly.
        let mut c = Clock::new(0.0, 0.001);
        let mut want = 0;
        for k in 0..4 {
            let t = ((k * 1024) as f64 / 48.0).round() / 1000.0;
            assert_eq!(c.place(Some(t), 48000, 1024), want, "frame {k}");
            want += 1024;
        }
        // No timestamp: the next frame follows.
        assert_eq!(c.place(None, 48000, 1024), 4096);
        // A real gap (a second later) is followed.
        assert_eq!(c.place(Some(2.0), 48000, 1024), 96000);
        // The origin is the timeline's 0.
        let mut c = Clock::new(10.0, 1.0 / 48000.0);
        assert_eq!(c.place(Some(11.0), 48000, 1024), 48000);
        assert_eq!(c.place(Some(11.5), 48000, 1024), 72000, "a gap");
    }
}
