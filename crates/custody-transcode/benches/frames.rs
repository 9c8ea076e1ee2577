//! Decoded-frame hashing throughput: the planes of a 720p yuv420p picture
//! (1280x720 luma, two 640x360 chroma planes: 1.38 MB of picture), laid
//! out contiguously and with padded rows as decoders often leave them.
//!
//! `cargo bench -p custody-transcode --bench frames`

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use custody_transcode::Plane;
use std::hint::black_box;

/// Picture bytes per row and rows of each plane of 720p yuv420p.
const PLANES: [(usize, usize); 3] = [(1280, 720), (640, 360), (640, 360)];

/// Planes of one picture with `pad` bytes after each row.
fn picture(pad: usize) -> Vec<(Vec<u8>, usize, usize, usize)> {
    PLANES
        .iter()
        .enumerate()
        .map(|(p, &(rb, rows))| {
            let stride = rb + pad;
            let data = (0..stride * rows)
                .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> (13 + p)) as u8)
                .collect();
            (data, stride, rb, rows)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let bytes: usize = PLANES.iter().map(|(rb, rows)| rb * rows).sum();
    let mut g = c.benchmark_group("frame_hash_720p_yuv420p");
    g.throughput(Throughput::Bytes(bytes as u64));
    for (name, pad) in [("contiguous", 0), ("padded_rows", 64)] {
        let pic = picture(pad);
        g.bench_with_input(BenchmarkId::new("planes", name), &pic, |b, pic| {
            b.iter(|| {
                pic.iter()
                    .map(|(data, stride, row_bytes, rows)| {
                        Plane {
                            data: black_box(data),
                            stride: *stride,
                            row_bytes: *row_bytes,
                            rows: *rows,
                        }
                        .digest()
                    })
                    .collect::<Vec<_>>()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
