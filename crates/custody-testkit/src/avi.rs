//! A small AVI writer.

/// An MJPEG AVI of `frames` tiny pictures with an `idx1` index.
pub fn tiny_mjpeg_avi(frames: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
        out.extend_from_slice(id);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
    }
    fn list(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = kind.to_vec();
        b.extend_from_slice(body);
        let mut out = Vec::new();
        chunk(&mut out, b"LIST", &b);
        out
    }
    let mut avih = vec![0u8; 56];
    avih[..4].copy_from_slice(&33_333u32.to_le_bytes());
    avih[16..20].copy_from_slice(&frames.to_le_bytes());
    avih[24..28].copy_from_slice(&1u32.to_le_bytes());
    let mut strh = vec![0u8; 56];
    strh[..4].copy_from_slice(b"vids");
    strh[4..8].copy_from_slice(b"MJPG");
    strh[20..24].copy_from_slice(&1u32.to_le_bytes());
    strh[24..28].copy_from_slice(&30u32.to_le_bytes());
    strh[32..36].copy_from_slice(&frames.to_le_bytes());
    let mut strf = vec![0u8; 40];
    strf[..4].copy_from_slice(&40u32.to_le_bytes());
    strf[4..8].copy_from_slice(&16u32.to_le_bytes());
    strf[8..12].copy_from_slice(&16u32.to_le_bytes());
    strf[16..20].copy_from_slice(b"MJPG");
    let mut strl = Vec::new();
    chunk(&mut strl, b"strh", &strh);
    chunk(&mut strl, b"strf", &strf);
    let mut hdrl = Vec::new();
    chunk(&mut hdrl, b"avih", &avih);
    hdrl.extend_from_slice(&list(b"strl", &strl));
    let mut movi = Vec::new();
    let mut idx1 = Vec::new();
    for i in 0..frames {
        let off = 4 + movi.len() as u32;
        let pic = [0xff, 0xd8, i as u8, 0xff, 0xd9];
        chunk(&mut movi, b"00dc", &pic);
        idx1.extend_from_slice(b"00dc");
        idx1.extend_from_slice(&0x10u32.to_le_bytes());
        idx1.extend_from_slice(&off.to_le_bytes());
        idx1.extend_from_slice(&(pic.len() as u32).to_le_bytes());
    }
    let mut body = b"AVI ".to_vec();
    body.extend_from_slice(&list(b"hdrl", &hdrl));
    body.extend_from_slice(&list(b"movi", &movi));
    chunk(&mut body, b"idx1", &idx1);
    let mut out = Vec::new();
    chunk(&mut out, b"RIFF", &body);
    out
}
