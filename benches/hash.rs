//! In-memory hashing throughput: BLAKE3 (plain, and with the chunk tree),
//! SHA-256, and both in one pass, over 256 MiB.
//!
//! `cargo bench --bench hash`

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use custody::hash::tree::{ChunkTree, DEFAULT_LEAF_SIZE};
use custody::hash::{Algorithms, DigestOptions, Digester, hash_bytes};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..256u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut g = c.benchmark_group("hash_256MiB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_with_input(BenchmarkId::new("blake3", "update_rayon"), &data, |b, d| {
        b.iter(|| blake3::Hasher::new().update_rayon(black_box(d)).finalize())
    });
    g.bench_with_input(BenchmarkId::new("blake3", "tree"), &data, |b, d| {
        b.iter(|| ChunkTree::of_bytes(black_box(d), DEFAULT_LEAF_SIZE).root)
    });
    g.bench_with_input(BenchmarkId::new("blake3", "streaming"), &data, |b, d| {
        b.iter(|| {
            let mut h = Digester::new(DigestOptions {
                algorithms: Algorithms::BLAKE3,
                ..Default::default()
            })
            .unwrap();
            h.update(black_box(d));
            h.finish().0
        })
    });
    g.bench_with_input(BenchmarkId::new("sha256", "one"), &data, |b, d| {
        b.iter(|| {
            hash_bytes(
                black_box(d),
                DigestOptions {
                    algorithms: Algorithms::SHA256,
                    ..Default::default()
                },
            )
            .unwrap()
            .0
        })
    });
    g.bench_with_input(BenchmarkId::new("both", "one_pass"), &data, |b, d| {
        b.iter(|| {
            hash_bytes(black_box(d), DigestOptions::default())
                .unwrap()
                .0
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
