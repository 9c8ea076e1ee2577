//! Muting and bleeping in redaction, with the real FFmpeg on clips the
//! ffmpeg CLI generates: inside a range the copy's sound is silent (or a
//! 1 kHz tone), outside it the original tone is kept, the copy still holds
//! every picture and block of sound at its time, the log says what was
//! done; files without audio work, and bad ranges leave nothing.

use custody_redact::redact::{RedactError, RedactOptions, Redacted, redact};
use custody_transcode::{Action, AudioEdit, AudioEditKind, Options, Profile, archive};
use std::path::{Path, PathBuf};
use std::process::Command;

const RATE: f64 = 48000.0;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/setup.sh)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 3 s of small pictures and, unless `audio` is `None`, a 440 Hz tone at
/// 48 kHz in that codec, in `name` (its extension choosing the container).
fn clip(dir: &Path, name: &str, audio: Option<&str>) -> PathBuf {
    let p = dir.join(name);
    let mut args = vec!["-f", "lavfi", "-i", "testsrc2=s=160x120:r=15:d=3"];
    if audio.is_some() {
        args.extend(["-f", "lavfi", "-i", "sine=f=440:r=48000:d=3"]);
    }
    args.extend([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ]);
    match audio {
        Some(codec) => args.extend(["-c:a", codec, "-shortest"]),
        None => args.push("-an"),
    }
    args.push(p.to_str().unwrap());
    ffmpeg(&args);
    p
}

fn edit(kind: AudioEditKind, from: f64, to: f64) -> AudioEdit {
    AudioEdit::new(kind, from, to).unwrap()
}

fn run(src: &Path, out: &Path, edits: Vec<AudioEdit>) -> Result<Redacted, RedactError> {
    let mut opts = RedactOptions {
        preset: "ultrafast".into(),
        audio_edits: edits,
        ..Default::default()
    };
    redact(src, out, &mut opts, |_| true)
}

/// The first audio track of `p`, decoded by the ffmpeg CLI to 32-bit float.
fn samples(p: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(p)
        .args(["-map", "0:a:0", "-f", "f32le", "-c:a", "pcm_f32le", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The samples from `a` to `b` seconds.
fn window(x: &[f32], a: f64, b: f64) -> &[f32] {
    let (i, j) = ((a * RATE).round() as usize, (b * RATE).round() as usize);
    assert!(j <= x.len(), "{} samples, {b} s asked", x.len());
    &x[i..j]
}

/// Level, dB relative to full scale (RMS of a full-scale square wave = 0).
fn dbfs(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
    10.0 * ms.max(1e-30).log10()
}

/// The share of `x`'s energy at `hz` (Goertzel; 1 for a pure tone at `hz`
/// over a whole number of its cycles, 0 for one at another such frequency).
fn share(x: &[f32], hz: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * hz / RATE).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    power / (energy * x.len() as f64 / 2.0)
}

/// The source's tone is kept in `[a, b]`: the same level within 1 dB, and
/// 440 Hz carries nearly all of it.
fn kept(src: &[f32], out: &[f32], a: f64, b: f64) {
    let (s, o) = (window(src, a, b), window(out, a, b));
    let (ls, lo) = (dbfs(s), dbfs(o));
    assert!(
        (ls - lo).abs() < 1.0,
        "{a}-{b} s: {lo:.1} dBFS, source {ls:.1}"
    );
    assert!(ls > -25.0, "{a}-{b} s: the source tone is at {ls:.1} dBFS");
    let (t, b1k) = (share(o, 440.0), share(o, 1000.0));
    assert!(
        t > 0.95 && b1k < 0.01,
        "{a}-{b} s: 440 Hz {t:.3}, 1 kHz {b1k:.3}"
    );
}

/// The source's level is kept in the short `[a, b]` beside a range's edge
/// (within 1 dB): the range starts and ends where asked, to a few
/// milliseconds, and not a frame of priming away.
fn edge_kept(src: &[f32], out: &[f32], a: f64, b: f64) {
    let (ls, lo) = (dbfs(window(src, a, b)), dbfs(window(out, a, b)));
    assert!(
        (ls - lo).abs() < 1.0,
        "{a}-{b} s: {lo:.1} dBFS, source {ls:.1}"
    );
}

/// `[a, b]` of `out` is silent.
fn silent(out: &[f32], a: f64, b: f64) {
    let l = dbfs(window(out, a, b));
    assert!(l < -60.0, "{a}-{b} s: {l:.1} dBFS where it is muted");
}

/// `[a, b]` of `out` is the bleep: 1 kHz at -12 dBFS peak (-15 dBFS RMS),
/// nothing left of the 440 Hz tone.
fn bleeped(out: &[f32], a: f64, b: f64) {
    let w = window(out, a, b);
    let l = dbfs(w);
    assert!(
        (l + 15.01).abs() < 1.0,
        "{a}-{b} s: the bleep at {l:.1} dBFS"
    );
    let (t, b1k) = (share(w, 440.0), share(w, 1000.0));
    assert!(
        b1k > 0.95 && t < 0.01,
        "{a}-{b} s: 1 kHz {b1k:.3}, 440 Hz {t:.3}"
    );
}

/// The copy's check held, with as many blocks of sound as the source.
fn proven(done: &Redacted) {
    let proof = done.proof.as_ref().expect("the copy was checked");
    assert!(proof.ok(), "{proof:?}");
    let custody_transcode::Proof::Frames(f) = proof else {
        panic!("a re-encode is checked by its frames: {proof:?}");
    };
    let audio: Vec<_> = f
        .comparison
        .streams
        .iter()
        .filter(|s| s.kind == "audio")
        .collect();
    assert_eq!(audio.len(), 1, "{:?}", f.comparison);
    assert!(audio[0].a_frames >= 140, "{:?}", audio[0]);
    assert!(
        audio[0].a_frames.abs_diff(audio[0].b_frames) <= 1,
        "{:?}",
        audio[0]
    );
    assert_eq!(
        f.copies.as_ref().map(|c| c.ok),
        None,
        "nothing stream-copied"
    );
    // The sound was encoded afresh, never copied.
    let a: Vec<_> = done.streams.iter().filter(|t| t.kind == "audio").collect();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].action,
        Action::Encoded {
            codec: "aac".into()
        }
    );
}

#[test]
fn muting_silences_the_range_and_keeps_the_rest_of_the_tone() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "tone.mp4", Some("aac"));
    let out = dir.path().join("muted.mp4");
    let done = run(&src, &out, vec![edit(AudioEditKind::Mute, 1.0, 2.0)]).unwrap();
    proven(&done);
    let (s, o) = (samples(&src), samples(&out));
    assert!(
        o.len().abs_diff(s.len()) < 1024,
        "{} vs {}",
        o.len(),
        s.len()
    );
    kept(&s, &o, 0.1, 0.9);
    silent(&o, 1.05, 1.95);
    kept(&s, &o, 2.1, 2.9);
    // To the edges.
    edge_kept(&s, &o, 0.99, 0.999);
    silent(&o, 1.005, 1.995);
    edge_kept(&s, &o, 2.001, 2.01);
    // The log says what was done, and the encode's parameters (signed with
    // a registered copy) hold the range exactly.
    assert_eq!(
        done.audio, "muted 1.000-2.000 s; track 1 aac encoded to aac",
        "{}",
        done.audio
    );
    assert_eq!(
        done.parameters.audio_edits,
        [edit(AudioEditKind::Mute, 1.0, 2.0)]
    );
    assert_eq!(
        done.parameters
            .encode
            .get("audio_edits")
            .map(String::as_str),
        Some("mute 1-2 s (bleep: 1000 Hz sine at -12 dBFS)")
    );
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&done.log).unwrap()).unwrap();
    assert_eq!(log["audio"], done.audio.as_str());
    assert_eq!(log["parameters"]["audio_edits"][0]["kind"], "mute");
    assert_eq!(log["parameters"]["audio_edits"][0]["from"], 1.0);
}

#[test]
fn bleeping_puts_a_1_khz_tone_in_the_range_and_a_range_past_the_end_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "tone.mp4", Some("aac"));
    let out = dir.path().join("bleeped.mp4");
    let done = run(
        &src,
        &out,
        vec![
            edit(AudioEditKind::Bleep, 1.0, 2.0),
            edit(AudioEditKind::Mute, 10.0, 11.0),
        ],
    )
    .unwrap();
    proven(&done);
    let (s, o) = (samples(&src), samples(&out));
    kept(&s, &o, 0.1, 0.9);
    bleeped(&o, 1.05, 1.95);
    kept(&s, &o, 2.1, 2.9);
    assert_eq!(
        done.audio,
        "bleeped 1.000-2.000 s; mute 10.000-11.000 s: no sound there, nothing changed; \
         bleep: 1000 Hz sine at -12 dBFS; track 1 aac encoded to aac"
    );
    assert_eq!(
        done.warnings,
        ["mute 10-11 s: no sound lies in this range; nothing changed"]
    );
}

#[test]
fn pcm_sound_in_matroska_is_muted_and_bleeped_into_aac() {
    let dir = tempfile::tempdir().unwrap();
    // 16-bit PCM, packed: a sample format of its own, and a millisecond
    // time base that rounds every frame's time.
    let src = clip(dir.path(), "tone.mkv", Some("pcm_s16le"));
    let out = dir.path().join("edited.mp4");
    let done = run(
        &src,
        &out,
        vec![
            edit(AudioEditKind::Mute, 0.4, 1.2),
            edit(AudioEditKind::Bleep, 1.6, 2.6),
        ],
    )
    .unwrap();
    proven(&done);
    assert_eq!(done.streams[1].codec, "pcm_s16le");
    let (s, o) = (samples(&src), samples(&out));
    kept(&s, &o, 0.05, 0.35);
    silent(&o, 0.45, 1.15);
    kept(&s, &o, 1.25, 1.55);
    edge_kept(&s, &o, 0.39, 0.399);
    silent(&o, 0.405, 1.195);
    edge_kept(&s, &o, 1.201, 1.21);
    bleeped(&o, 1.65, 2.55);
    kept(&s, &o, 2.65, 2.95);
    assert!(
        done.audio
            .starts_with("muted 0.400-1.200 s; bleeped 1.600-2.600 s; ")
    );
}

#[test]
fn a_file_without_sound_is_redacted_and_logged_as_having_none() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "silent.mp4", None);
    let out = dir.path().join("redacted.mp4");
    let done = run(&src, &out, vec![edit(AudioEditKind::Mute, 1.0, 2.0)]).unwrap();
    assert!(done.proof.as_ref().is_some_and(|p| p.ok()));
    assert!(out.is_file() && done.log.is_file());
    assert_eq!(done.audio, "no audio track: nothing muted or bleeped");
    assert_eq!(
        done.warnings,
        ["no audio track: nothing to mute or bleep (mute 1-2 s)"]
    );
    assert_eq!(done.streams.len(), 1);
    // Without edits, likewise.
    let plain = dir.path().join("plain.mp4");
    assert_eq!(
        run(&src, &plain, Vec::new()).unwrap().audio,
        "no audio track"
    );
    // A file with sound and no edits passes it through.
    let tone = clip(dir.path(), "tone.mp4", Some("aac"));
    let done = run(&tone, &dir.path().join("tone.redacted.mp4"), Vec::new()).unwrap();
    assert_eq!(
        done.audio,
        "passed through unchanged (track 1 aac stream-copied)"
    );
    assert!(!done.parameters.encode.contains_key("audio_edits"));
}

#[test]
fn bad_ranges_are_refused_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path(), "tone.mp4", Some("aac"));
    let names = || {
        let mut v: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };
    let before = names();
    let out = dir.path().join("out.mp4");
    for (from, to) in [
        (2.0, 1.0),
        (1.0, 1.0),
        (-0.5, 1.0),
        (f64::NAN, 1.0),
        (0.0, f64::INFINITY),
    ] {
        for kind in [AudioEditKind::Mute, AudioEditKind::Bleep] {
            // Built field by field, as a caller may: checked all the same.
            let bad = AudioEdit { from, to, kind };
            let e = run(&src, &out, vec![edit(AudioEditKind::Mute, 0.1, 0.2), bad]).unwrap_err();
            assert!(
                matches!(&e, RedactError::InvalidArgument(m) if m.contains(kind.name())),
                "{from}-{to}: {e:?}"
            );
        }
    }
    assert_eq!(names(), before, "nothing was left");
    // The transcoder refuses edits outside the access profile, and bad
    // ranges, before writing anything.
    for (profile, e) in [
        (Profile::Preservation, edit(AudioEditKind::Mute, 1.0, 2.0)),
        (
            Profile::Access,
            AudioEdit {
                from: 3.0,
                to: 2.0,
                kind: AudioEditKind::Bleep,
            },
        ),
    ] {
        let opts = Options {
            profile,
            audio_edits: vec![e],
            ..Default::default()
        };
        let r = archive(&[&src], &out, &opts, |_| true);
        assert!(
            matches!(r, Err(custody_transcode::Error::InvalidArgument(_))),
            "{profile}: {r:?}"
        );
        assert!(!out.exists());
    }
}
