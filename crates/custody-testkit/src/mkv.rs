//! A small Matroska writer: one MJPEG track of tiny frames.

/// An EBML element: id bytes, an 8-byte size (or unknown), the body.
fn element(out: &mut Vec<u8>, id: &[u8], body: &[u8], unknown: bool) {
    out.extend_from_slice(id);
    if unknown {
        out.push(0x01);
        out.extend_from_slice(&[0xff; 7]);
    } else {
        out.push(0x01);
        out.extend_from_slice(&(body.len() as u64).to_be_bytes()[1..]);
    }
    out.extend_from_slice(body);
}

/// A Matroska file of `frames` MJPEG key frames at 30 fps in one cluster
/// per 3 frames; `live` 1 writes the Segment and Clusters with unknown
/// sizes, as a live recording does.
pub fn tiny(frames: u32, live: u8) -> Vec<u8> {
    let live = live != 0;
    let mut out = Vec::new();
    let mut ebml = Vec::new();
    element(&mut ebml, &[0x42, 0x82], b"matroska", false);
    element(&mut out, &[0x1A, 0x45, 0xDF, 0xA3], &ebml, false);
    let mut seg = Vec::new();
    let mut info = Vec::new();
    element(
        &mut info,
        &[0x2A, 0xD7, 0xB1],
        &1_000_000u32.to_be_bytes(),
        false,
    );
    element(
        &mut info,
        &[0x44, 0x89],
        &(frames as f64 * 1000.0 / 30.0).to_be_bytes(),
        false,
    );
    element(&mut seg, &[0x15, 0x49, 0xA9, 0x66], &info, false);
    let mut entry = Vec::new();
    element(&mut entry, &[0xD7], &[1], false);
    element(&mut entry, &[0x83], &[1], false);
    element(&mut entry, &[0x86], b"V_MJPEG", false);
    let mut video = Vec::new();
    element(&mut video, &[0xB0], &[16], false);
    element(&mut video, &[0xBA], &[16], false);
    element(&mut entry, &[0xE0], &video, false);
    let mut tracks = Vec::new();
    element(&mut tracks, &[0xAE], &entry, false);
    element(&mut seg, &[0x16, 0x54, 0xAE, 0x6B], &tracks, false);
    for first in (0..frames).step_by(3) {
        let mut cluster = Vec::new();
        let base = first as u64 * 1000 / 30;
        element(&mut cluster, &[0xE7], &base.to_be_bytes(), false);
        for i in first..(first + 3).min(frames) {
            let rel = (i as u64 * 1000 / 30 - base) as u16;
            let mut block = vec![0x81];
            block.extend_from_slice(&rel.to_be_bytes());
            block.push(0x80);
            block.extend_from_slice(&[0xff, 0xd8, i as u8, 0xff, 0xd9]);
            element(&mut cluster, &[0xA3], &block, false);
        }
        element(&mut seg, &[0x1F, 0x43, 0xB6, 0x75], &cluster, live);
    }
    element(&mut out, &[0x18, 0x53, 0x80, 0x67], &seg, live);
    out
}
