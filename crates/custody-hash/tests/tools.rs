//! Digests agree with the tools people use: `b3sum`, `sha256sum`, `openssl dgst -sha256`, `md5sum`.

mod common;

use custody_hash::tree::{ChunkTree, DEFAULT_LEAF_SIZE};
use custody_hash::{Algorithms, DigestOptions, hash_reader};

fn check(path: &std::path::Path, data: &[u8]) {
    let p = path.to_str().unwrap();
    let opts = DigestOptions {
        algorithms: Algorithms::ALL,
        ..Default::default()
    };
    let (d, tree) = hash_reader(&mut std::fs::File::open(path).unwrap(), opts, |_| {}).unwrap();
    assert_eq!(d.size, data.len() as u64);
    assert_eq!(
        d.blake3_hex().unwrap(),
        common::first_word("b3sum", &["--no-names", p]),
        "b3sum, {} bytes",
        data.len()
    );
    assert_eq!(
        d.sha256_hex().unwrap(),
        common::first_word("sha256sum", &[p]),
        "sha256sum, {} bytes",
        data.len()
    );
    assert_eq!(
        d.md5_hex().unwrap(),
        common::first_word("md5sum", &[p]),
        "md5sum, {} bytes",
        data.len()
    );
    let tree = tree.unwrap();
    assert_eq!(tree.root, d.blake3.unwrap());
    assert!(tree.is_consistent());
    // Other leaf sizes give the same root.
    for leaf in [1024u32, 1 << 20] {
        assert_eq!(
            ChunkTree::of_bytes(data, leaf).root,
            tree.root,
            "leaf {leaf}"
        );
    }
}

#[test]
fn agrees_with_b3sum_sha256sum_md5sum_at_boundaries() {
    if !common::have("b3sum", "--version") || !common::have("sha256sum", "--version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leaf = DEFAULT_LEAF_SIZE as usize;
    let block = custody_hash::digest::BLOCK_SIZE;
    let mut sizes = vec![0, 1, 1023, 1024, 1025, 2047, 2048, 2049];
    for k in [1, 2, 3, 4, 63, 64, 65, 128] {
        sizes.extend([k * leaf - 1, k * leaf, k * leaf + 1]);
    }
    sizes.extend([block - 1, block, block + 1, 2 * block + leaf + 17]);
    for (i, n) in sizes.into_iter().enumerate() {
        let data = common::random_bytes(n, i as u64 + 7);
        let p = dir.path().join(format!("f{n}"));
        std::fs::write(&p, &data).unwrap();
        check(&p, &data);
    }
}

#[test]
fn agrees_on_a_few_hundred_megabytes() {
    if !common::have("b3sum", "--version") || !common::have("openssl", "version") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = common::random_bytes(300 << 20, 99);
    let p = dir.path().join("big.bin");
    std::fs::write(&p, &data).unwrap();
    check(&p, &data);
    let openssl = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-r", p.to_str().unwrap()])
        .output()
        .unwrap();
    let openssl = String::from_utf8(openssl.stdout).unwrap();
    let (d, _) = custody_hash::hash_bytes(&data, DigestOptions::default()).unwrap();
    assert_eq!(openssl.split_whitespace().next(), d.sha256_hex().as_deref());
}
