//! The picture hook and the picture visitor with the real FFmpeg: both see
//! the same pictures, numbered and timed the same way, in presentation
//! order; a change made by the hook reaches only the picture it was made
//! in (the decoder's reference pictures are never written); a visited
//! picture's digest is the one `frame_digests` gives.

use custody_transcode::{
    Error, Matrix, Options, PictureFormat, PictureHook, PictureVisitor, Profile, archive,
    frame_digests, visit_pictures,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

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

/// 2 s of 320x240 at 30 fps, H.264 with B-pictures (decode order differs
/// from presentation order) and long GOPs (most pictures are predicted).
fn clip(dir: &Path) -> PathBuf {
    let p = dir.join("clip.mp4");
    let out = p.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-g",
        "60",
        "-pix_fmt",
        "yuv420p",
        out,
    ]);
    p
}

/// 2 s of 320x240 at 30 fps whose pictures repeat every 16: H.264 with
/// 16 reference pictures and no B-pictures, so that picture 16 is predicted
/// from picture 0 (identical), long after a decoder (even with a frame
/// thread per core) has given picture 0 out.
fn periodic_clip(dir: &Path) -> PathBuf {
    let p = dir.join("periodic.mp4");
    let out = p.to_str().unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=2",
        "-vf",
        "trim=end_frame=16,loop=loop=3:size=16,setpts=N/30/TB",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "0",
        "-refs",
        "16",
        "-g",
        "64",
        "-pix_fmt",
        "yuv420p",
        out,
    ]);
    p
}

fn access(hook: Option<PictureHook>) -> Options {
    Options {
        profile: Profile::Access,
        preset: "veryfast".into(),
        pictures: hook,
        ..Default::default()
    }
}

/// Every picture of `path`, as (index, luma plane without padding).
fn lumas(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    visit_pictures(
        path,
        |_| true,
        |p| {
            let (y, stride) = p.plane(0);
            let (w, h) = (p.info.width as usize, p.info.height as usize);
            let mut v = Vec::with_capacity(w * h);
            for r in 0..h {
                v.extend_from_slice(&y[r * stride..r * stride + w]);
            }
            out.push((p.info.index, v));
            Ok(true)
        },
    )
    .unwrap();
    out
}

type Seen = Vec<(u64, f64, [u8; 32])>;

/// BLAKE3 of a 4:2:0 picture's samples (padding left out).
fn digest(planes: [(&[u8], usize); 3], w: usize, h: usize) -> [u8; 32] {
    let mut d = blake3::Hasher::new();
    for (i, (data, stride)) in planes.into_iter().enumerate() {
        let (pw, ph) = if i == 0 {
            (w, h)
        } else {
            (w.div_ceil(2), h.div_ceil(2))
        };
        for r in 0..ph {
            d.update(&data[r * stride..r * stride + pw]);
        }
    }
    *d.finalize().as_bytes()
}

#[test]
fn the_hook_and_the_visitor_see_the_same_pictures_in_presentation_order() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let mut visited: Seen = Vec::new();
    let n = visit_pictures(
        &src,
        |_| true,
        |p| {
            assert_eq!(p.info.format, PictureFormat::Yuv420p);
            let (w, h) = (p.info.width as usize, p.info.height as usize);
            let d = digest([p.plane(0), p.plane(1), p.plane(2)], w, h);
            visited.push((p.info.index, p.info.time, d));
            Ok(true)
        },
    )
    .unwrap();
    assert_eq!(n, 60);
    let hooked: Arc<Mutex<Seen>> = Arc::default();
    let h2 = hooked.clone();
    let hook = PictureHook::new("record", move |p| {
        let (w, h) = (p.info.width as usize, p.info.height as usize);
        let q = p.as_picture();
        let r = digest([q.plane(0), q.plane(1), q.plane(2)], w, h);
        h2.lock().unwrap().push((p.info.index, p.info.time, r));
        Ok(())
    });
    let out = dir.path().join("out.mp4");
    let done = archive(&[&src], &out, &access(Some(hook)), |_| true).unwrap();
    assert!(done.kept);
    assert_eq!(
        done.parameters.get("pictures").map(String::as_str),
        Some("record")
    );
    let hooked = hooked.lock().unwrap();
    assert_eq!(hooked.len(), 60);
    for (i, ((vi, vt, vd), (hi, ht, hd))) in visited.iter().zip(hooked.iter()).enumerate() {
        assert_eq!((*vi, *hi), (i as u64, i as u64));
        assert!((vt - i as f64 / 30.0).abs() < 1e-3, "picture {i} at {vt} s");
        assert_eq!(vt, ht);
        // The bytes may be copied (made writable) but not changed.
        assert_eq!(vd, hd, "picture {i}: the hook saw other bytes");
    }
}

#[test]
fn a_change_to_the_first_picture_stays_in_the_first_picture() {
    let dir = tempfile::tempdir().unwrap();
    let src = periodic_clip(dir.path());
    // A black rectangle over the (static) middle of picture 0 only.
    let (x0, y0, x1, y1) = (96usize, 64usize, 224usize, 176usize);
    let hook = PictureHook::new("blacken-first", move |p| {
        if p.info.index != 0 {
            return Ok(());
        }
        let (y, stride) = p.plane_mut(0).ok_or("no luma")?;
        for r in y0..y1 {
            y[r * stride + x0..r * stride + x1].fill(16);
        }
        Ok(())
    });
    let plain = dir.path().join("plain.mp4");
    let masked = dir.path().join("masked.mp4");
    archive(&[&src], &plain, &access(None), |_| true).unwrap();
    archive(&[&src], &masked, &access(Some(hook)), |_| true).unwrap();
    let (a, b, s) = (lumas(&plain), lumas(&masked), lumas(&src));
    assert_eq!((a.len(), b.len()), (64, 64));
    let mean_diff = |p: &[u8], q: &[u8]| {
        let mut sum = 0u64;
        for r in y0..y1 {
            for c in x0..x1 {
                sum += p[r * 320 + c].abs_diff(q[r * 320 + c]) as u64;
            }
        }
        sum as f64 / ((y1 - y0) * (x1 - x0)) as f64
    };
    let black = vec![16u8; 320 * 240];
    // The source has detail there; picture 0 of the output is black there.
    assert!(mean_diff(&s[0].1, &black) > 40.0);
    assert!(mean_diff(&b[0].1, &black) < 4.0);
    // Every later picture is as the plain access copy's: had the hook
    // written into the decoder's reference picture, the black would have
    // been carried into the pictures predicted from it.
    for i in 1..64 {
        let d = mean_diff(&a[i].1, &b[i].1);
        assert!(
            d < 4.0,
            "picture {i}: {d} from the plain access copy inside the mask"
        );
        let d = mean_diff(&s[i].1, &b[i].1);
        assert!(d < 6.0, "picture {i}: {d} from the source inside the mask");
    }
}

#[test]
fn a_hook_error_stops_the_job_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let hook = PictureHook::new("refuse", |p| {
        if p.info.index == 7 {
            Err("no".into())
        } else {
            Ok(())
        }
    });
    let out = dir.path().join("out.mp4");
    let e = archive(&[&src], &out, &access(Some(hook)), |_| true).unwrap_err();
    assert!(
        matches!(&e, Error::Hook { index: 7, hook, .. } if hook == "refuse"),
        "{e:?}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // A visitor's error ends the visit with it.
    let e = visit_pictures(
        &src,
        |_| true,
        |p| {
            if p.info.index == 3 {
                Err(Error::InvalidArgument("stop".into()))
            } else {
                Ok(true)
            }
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)));
    // And a preservation job refuses a hook.
    let opts = Options {
        profile: Profile::Preservation,
        ..access(Some(PictureHook::new("x", |_| Ok(()))))
    };
    assert!(matches!(
        archive(&[&src], dir.path().join("p.mkv"), &opts, |_| true),
        Err(Error::InvalidArgument(_))
    ));
}

/// 10-bit 4:2:0 and 4:2:2 and semi-planar sources reach hooks and visitors
/// as 8-bit planar pictures; what the hook writes is in the access copy.
#[test]
fn deep_and_semi_planar_pictures_are_converted_for_hooks_and_visitors() {
    let dir = tempfile::tempdir().unwrap();
    for (name, codec, fmt, want) in [
        (
            "x264-10.mp4",
            "libx264",
            "yuv420p10le",
            PictureFormat::Yuv420p,
        ),
        (
            "x264-422-10.mp4",
            "libx264",
            "yuv422p10le",
            PictureFormat::Yuv422p,
        ),
        ("rawnv12.mkv", "rawvideo", "nv12", PictureFormat::Yuv420p),
    ] {
        let src = dir.path().join(name);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=160x120:r=10:d=1",
            "-c:v",
            codec,
            "-pix_fmt",
            fmt,
            src.to_str().unwrap(),
        ]);
        // The visitor: 8-bit planar pictures, every one of them.
        let mut formats = Vec::new();
        let n = visit_pictures(
            &src,
            |_| true,
            |p| {
                formats.push(p.info.format);
                Ok(true)
            },
        )
        .unwrap();
        assert_eq!(n, 10, "{name}");
        assert!(formats.iter().all(|f| *f == want), "{name}: {formats:?}");
        // The hook: gets yuv420p (what the access copy encodes), and the
        // black square it draws is in the copy.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let hook = PictureHook::new("square", move |p| {
            s2.lock().unwrap().push(p.info.format);
            let (y, stride) = p.plane_mut(0).ok_or("no luma")?;
            for r in 16..48 {
                y[r * stride + 16..r * stride + 48].fill(16);
            }
            Ok(())
        });
        let out = dir.path().join(format!("{name}.access.mp4"));
        let a = archive(&[&src], &out, &access(Some(hook)), |_| true).unwrap();
        assert!(a.kept && a.proof.as_ref().is_some_and(|p| p.ok()), "{name}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 10, "{name}");
        assert!(seen.iter().all(|f| *f == PictureFormat::Yuv420p), "{name}");
        for (i, y) in lumas(&out) {
            let inside: Vec<u8> = (20..44)
                .flat_map(|r| y[r * 160 + 20..r * 160 + 44].to_vec())
                .collect();
            assert!(
                inside.iter().all(|&v| v < 40),
                "{name}: picture {i}: the square is not black in the copy"
            );
        }
    }
}

#[test]
fn a_visited_picture_has_the_digest_frame_digests_gives_and_names_its_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bt709.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=30:d=1",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "2",
        "-pix_fmt",
        "yuvj420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        src.to_str().unwrap(),
    ]);
    let mut seen = Vec::new();
    visit_pictures(
        &src,
        |_| true,
        |p| {
            assert_eq!(p.info.matrix, Matrix::Bt709);
            assert!(p.info.full_range);
            seen.push(p.digest());
            Ok(true)
        },
    )
    .unwrap();
    let d = frame_digests(&src, |_| true).unwrap();
    let want: Vec<Option<String>> = d[0].frames.iter().map(|f| Some(f.blake3.clone())).collect();
    assert_eq!(seen.len(), 30);
    assert_eq!(seen, want);
    // Every picture differs (testsrc2 moves): the digest is the picture's.
    let mut distinct = want.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 30);
    // A picture converted to 8 bits for the visitor has the digest of the
    // decoder's picture, as frame_digests takes it.
    let deep = dir.path().join("deep.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=160x120:r=10:d=1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p10le",
        deep.to_str().unwrap(),
    ]);
    let mut seen = Vec::new();
    visit_pictures(
        &deep,
        |_| true,
        |p| {
            assert_eq!(p.info.format, PictureFormat::Yuv420p);
            seen.push(p.digest());
            Ok(true)
        },
    )
    .unwrap();
    let d = frame_digests(&deep, |_| true).unwrap();
    let want: Vec<Option<String>> = d[0].frames.iter().map(|f| Some(f.blake3.clone())).collect();
    assert_eq!(seen.len(), 10);
    assert_eq!(seen, want);
    // A hook's picture is not the decoder's: no digest; and a picture
    // that states no matrix says so.
    let plain = clip(dir.path());
    let hooked: Arc<Mutex<Vec<(bool, Matrix)>>> = Arc::default();
    let h2 = hooked.clone();
    let hook = PictureHook::new("look", move |p| {
        h2.lock()
            .unwrap()
            .push((p.as_picture().digest().is_none(), p.info.matrix));
        Ok(())
    });
    archive(
        &[&plain],
        dir.path().join("out.mp4"),
        &access(Some(hook)),
        |_| true,
    )
    .unwrap();
    let hooked = hooked.lock().unwrap();
    assert_eq!(hooked.len(), 60);
    assert!(
        hooked
            .iter()
            .all(|&(none, m)| none && m == Matrix::Unspecified),
        "{hooked:?}"
    );
}

/// The proof's visitor sees every picture of the output once, as
/// `visit_pictures` of the finished output numbers and times them, with the
/// digest `frame_digests` gives; its error fails the job and leaves
/// nothing; it is refused where there is no decoded-frame proof.
#[test]
fn the_proof_visitor_sees_the_outputs_pictures_without_another_decode() {
    let dir = tempfile::tempdir().unwrap();
    let src = clip(dir.path());
    let seen: Arc<Mutex<Vec<(u64, f64, String)>>> = Arc::default();
    let s2 = seen.clone();
    let opts = Options {
        proof_pictures: Some(PictureVisitor::new("review", move |p| {
            let d = p.digest().ok_or("no digest")?;
            s2.lock().unwrap().push((p.info.index, p.info.time, d));
            Ok(())
        })),
        ..access(None)
    };
    let out = dir.path().join("out.mp4");
    let done = archive(&[&src], &out, &opts, |_| true).unwrap();
    assert!(done.kept);
    // The visitor changes nothing the output records.
    assert!(!done.parameters.contains_key("proof_pictures"));
    let seen = seen.lock().unwrap();
    let digests = frame_digests(&out, |_| true).unwrap();
    let frames = &digests[0].frames;
    assert_eq!(seen.len(), 60);
    assert_eq!(frames.len(), 60);
    let mut again = Vec::new();
    visit_pictures(
        &out,
        |_| true,
        |p| {
            again.push((p.info.index, p.info.time));
            Ok(true)
        },
    )
    .unwrap();
    for (i, (idx, t, d)) in seen.iter().enumerate() {
        assert_eq!((*idx, *t), again[i], "picture {i}");
        assert_eq!(d, &frames[i].blake3, "picture {i}");
    }

    let failing = Options {
        proof_pictures: Some(PictureVisitor::new("refuse", |p| {
            if p.info.index == 5 {
                Err("no".into())
            } else {
                Ok(())
            }
        })),
        ..access(None)
    };
    let out2 = dir.path().join("out2.mp4");
    let e = archive(&[&src], &out2, &failing, |_| true).unwrap_err();
    assert!(
        matches!(&e, Error::Hook { index: 5, hook, .. } if hook == "refuse"),
        "{e:?}"
    );
    assert!(!out2.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.contains("out2"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    for bad in [
        Options {
            profile: Profile::Preservation,
            ..failing.clone()
        },
        Options {
            prove: false,
            ..failing.clone()
        },
    ] {
        assert!(matches!(
            archive(&[&src], dir.path().join("x.mkv"), &bad, |_| true),
            Err(Error::InvalidArgument(_))
        ));
    }
}
