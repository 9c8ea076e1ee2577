//! A small Ogg Opus writer: pages with CRCs, packets split across pages.

fn crc(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in page {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                crc << 1 ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn page(out: &mut Vec<u8>, flags: u8, granule: i64, seq: u32, lacing: &[u8], body: &[u8]) {
    let start = out.len();
    out.extend_from_slice(b"OggS\0");
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&0x5eed_u32.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(lacing.len() as u8);
    out.extend_from_slice(lacing);
    out.extend_from_slice(body);
    let c = crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&c.to_le_bytes());
}

/// The two header pages of an Ogg Opus stream of `channels` channels
/// (pre-skip 312, 48 kHz): `OpusHead`, then `OpusTags`.
fn opus_headers(channels: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut head = b"OpusHead\x01".to_vec();
    head.push(channels);
    head.extend_from_slice(&312u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&[0, 0, 0]);
    page(&mut out, 2, 0, 0, &[head.len() as u8], &head);
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&7u32.to_le_bytes());
    tags.extend_from_slice(b"testkit");
    tags.extend_from_slice(&0u32.to_le_bytes());
    page(&mut out, 0, 0, 1, &[tags.len() as u8], &tags);
    out
}

/// An Ogg Opus file: stereo, pre-skip 312, then `packets` packets of 20 ms,
/// packet `i` being `100 + 13 i` bytes of the value `i`, laid out ten
/// segments to a page so that longer packets span pages.
pub fn opus(packets: u32) -> Vec<u8> {
    let mut out = opus_headers(2);
    // Segments of every packet: (lacing value, packet index, last of packet).
    let mut segs: Vec<(u8, u32, bool)> = Vec::new();
    for i in 0..packets {
        let mut left = 100 + 13 * i as usize;
        loop {
            let l = left.min(255);
            left -= l;
            segs.push((l as u8, i, l < 255));
            if l < 255 {
                break;
            }
        }
    }
    let mut continued = false;
    for (n, chunk) in segs.chunks(10).enumerate() {
        let seq = 2 + n as u32;
        let lacing: Vec<u8> = chunk.iter().map(|s| s.0).collect();
        let body: Vec<u8> = chunk
            .iter()
            .flat_map(|&(l, i, _)| std::iter::repeat_n(i as u8, l as usize))
            .collect();
        let done = chunk.iter().rev().find(|s| s.2).map(|s| s.1 as i64 + 1);
        let granule = done.map_or(-1, |k| k * 960);
        let last = (n + 1) * 10 >= segs.len();
        let flags = (continued as u8) | if last { 4 } else { 0 };
        page(&mut out, flags, granule, seq, &lacing, &body);
        continued = !chunk.last().is_some_and(|s| s.2);
    }
    out
}

/// An Ogg Opus file of `pages` pages after the headers, each holding 255
/// one-byte packets (the most packets a page can end): a packet for every
/// 2.1 bytes.
pub fn tiny_packets(pages: u32) -> Vec<u8> {
    let mut out = opus_headers(1);
    for n in 0..pages {
        let flags = if n + 1 == pages { 4 } else { 0 };
        let granule = (n as i64 + 1) * 255 * 960;
        page(&mut out, flags, granule, 2 + n, &[1; 255], &[0xf8; 255]);
    }
    out
}
