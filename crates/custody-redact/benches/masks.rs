//! The mask stage alone: four boxes masked in a 1280x720 4:2:0 picture, in
//! each style and shape (`cargo bench -p custody-redact --bench masks`).
//! Decoding such a picture of H.264 takes 2-4 ms on this project's
//! machines; the target is a mask stage under 10% of that.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use custody_redact::mask::{self, Shape, Style};
use custody_redact::{BBox, FrameMut, PixelFormat};

const W: usize = 1280;
const H: usize = 720;

fn boxes() -> [BBox; 4] {
    let b = |x0: f32, y0: f32| BBox {
        x0,
        y0,
        x1: x0 + 200.0,
        y1: y0 + 150.0,
    };
    [
        b(40.0, 40.0),
        b(900.0, 60.0),
        b(300.0, 450.0),
        b(1000.0, 520.0),
    ]
}

fn bench(c: &mut Criterion) {
    let mut y: Vec<u8> = (0..W * H).map(|i| (i * 7 % 251) as u8).collect();
    let mut u: Vec<u8> = (0..W * H / 4).map(|i| (i * 3 % 241) as u8).collect();
    let mut v: Vec<u8> = (0..W * H / 4).map(|i| (i * 5 % 239) as u8).collect();
    let mut g = c.benchmark_group("masks: 4 boxes of 200x150 in 1280x720");
    for (name, style, shape) in [
        ("blur rectangle", Style::Blur, Shape::Rectangle),
        ("blur ellipse", Style::Blur, Shape::Ellipse),
        ("pixelate rectangle", Style::Pixelate, Shape::Rectangle),
        ("fill rectangle", Style::Fill, Shape::Rectangle),
    ] {
        g.bench_function(name, |bch| {
            bch.iter(|| {
                let mut f = FrameMut::new(
                    PixelFormat::Yuv420p,
                    W as u32,
                    H as u32,
                    vec![&mut y[..], &mut u[..], &mut v[..]],
                    &[W, W / 2, W / 2],
                )
                .unwrap();
                for b in &boxes() {
                    std::hint::black_box(mask::apply(&mut f, b, style, shape));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
