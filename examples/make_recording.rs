//! Writes a synthetic camera-style recording (H.264 + AAC tables, moov at the end).
//!
//! `cargo run --release --example make_recording -- OUT.mp4 [SECONDS] [EXTRA_BYTES_PER_FRAME]`
//!
//! One hour (the default) holds 108,000 video and 168,750 audio samples. With
//! an extra 37,000 bytes per video frame the file is about 4 GiB. An `OUT`
//! ending `.avi` or `.mkv` is an MJPEG AVI (with `idx1`) or a Matroska file
//! of tiny 30 fps pictures instead (no extra bytes).

use custody_testkit::mp4::write_synthetic_recording;
use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .expect("usage: make_recording OUT.mp4 [SECONDS] [EXTRA]");
    let seconds: u32 = args.next().map_or(3600, |s| s.parse().expect("seconds"));
    let extra: u32 = args.next().map_or(0, |s| s.parse().expect("extra bytes"));
    let tmp = format!("{out}.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let frames = seconds * 30;
    if out.ends_with(".avi") {
        w.write_all(&custody_testkit::avi::tiny_mjpeg_avi(frames))?;
    } else if out.ends_with(".mkv") {
        w.write_all(&custody_testkit::mkv::tiny(frames, 0))?;
    } else {
        write_synthetic_recording(&mut w, seconds, 30, 30, extra)?;
    }
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &out)?;
    Ok(())
}
