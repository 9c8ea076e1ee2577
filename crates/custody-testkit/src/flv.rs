//! A small FLV writer: `onMetaData`, an AVC sequence header, AVC frames.

fn tag(out: &mut Vec<u8>, kind: u8, ms: u32, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&ms.to_be_bytes()[1..]);
    out.push((ms >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(body);
    out.extend_from_slice(&(11 + body.len() as u32).to_be_bytes());
}

fn amf_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// An FLV of `frames` AVC frames at 30 fps (the first a key frame), with
/// `onMetaData` (`duration`, `encoder`) and a sequence header.
pub fn tiny(frames: u32) -> Vec<u8> {
    let mut out = b"FLV\x01\x01\0\0\0\x09\0\0\0\0".to_vec();
    let mut meta = vec![2];
    amf_string(&mut meta, "onMetaData");
    meta.extend_from_slice(&[8, 0, 0, 0, 2]);
    amf_string(&mut meta, "duration");
    meta.push(0);
    meta.extend_from_slice(&(frames as f64 / 30.0).to_be_bytes());
    amf_string(&mut meta, "encoder");
    meta.push(2);
    amf_string(&mut meta, "testkit");
    meta.extend_from_slice(&[0, 0, 9]);
    tag(&mut out, 18, 0, &meta);
    let avcc = [
        1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xee,
    ];
    let mut seq = vec![0x17, 0, 0, 0, 0];
    seq.extend_from_slice(&avcc);
    tag(&mut out, 9, 0, &seq);
    for i in 0..frames {
        let key = i == 0;
        let mut body = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        body.extend_from_slice(&[0, 0, 0, 2, if key { 0x65 } else { 0x41 }, i as u8]);
        tag(&mut out, 9, i * 1000 / 30, &body);
    }
    out
}
