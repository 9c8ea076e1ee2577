//! Fuzz entry points for the untrusted inputs of `custody-hash`.

/// A chunk-tree outboard file: decode it and, when it decodes, use it.
pub fn tree(data: &[u8]) {
    if let Ok(t) = custody_hash::tree::ChunkTree::decode(data) {
        let _ = t.is_consistent();
        assert_eq!(
            custody_hash::tree::ChunkTree::decode(&t.encode())
                .ok()
                .as_ref(),
            Some(&t)
        );
        // Use the tree against a small file; sizes come from the untrusted header,
        // so only ranges inside a small real buffer are read.
        let file = vec![0u8; (t.size.min(1 << 16)) as usize];
        let _ = custody_hash::tree::locate(&mut &file[..], &t);
        let _ = custody_hash::tree::verify_range(
            &mut std::io::Cursor::new(&file),
            &t,
            &t.root,
            0..t.size.min(4096),
        );
    }
}

/// Untrusted media: content hashes of every track (MP4 or TS).
///
/// Hashed in memory and read packet by packet (as a file that is not
/// mapped is), the results agree.
pub fn content(data: &[u8]) {
    use custody_container::{Limits, demux::Parsed, demux::demux};
    let whole = custody_hash::content::content_hashes(data, Limits::default());
    if let Ok(tracks) = &whole {
        for t in tracks {
            assert_eq!(t.content_blake3.to_string().len(), 64);
        }
    }
    if let Ok(d) = demux(data, Limits::default(), true, None)
        && !matches!(d.parsed, Parsed::Ogg(_) | Parsed::Ts(_) | Parsed::Ps(_))
    {
        let read = custody_hash::content::content_hashes_read(&d, data.len() as u64, |at, buf| {
            buf.copy_from_slice(&data[at as usize..at as usize + buf.len()]);
            Ok(())
        });
        let text = |r: &Result<Vec<custody_hash::content::TrackContent>, _>| format!("{r:?}");
        assert_eq!(text(&read), text(&whole), "read packet by packet");
    }
}
