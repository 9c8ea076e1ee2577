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
pub fn content(data: &[u8]) {
    if let Ok(tracks) =
        custody_hash::content::content_hashes(data, custody_container::Limits::default())
    {
        for t in tracks {
            assert_eq!(t.content_blake3.to_string().len(), 64);
        }
    }
}
