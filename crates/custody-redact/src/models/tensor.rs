//! A decoded frame as a model's input tensor: resampled (bilinear, on the
//! Y, U and V planes, then converted to RGB once per output pixel), in
//! channel-plane order (1x3xHxW), mean subtracted, padded with zeros.

use crate::frame::FrameView;
use rayon::prelude::*;

/// How a model wants its pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Blue, green, red planes (else red, green, blue).
    pub(crate) bgr: bool,
    /// Subtracted from each channel, in the tensor's channel order.
    pub(crate) mean: [f32; 3],
}

/// Sample positions along one axis: for each output index, the two source
/// indices and the weight of the second.
fn taps(out: usize, src: usize) -> Vec<(usize, usize, f32)> {
    let scale = src as f32 / out.max(1) as f32;
    (0..out)
        .map(|o| {
            let s = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f32);
            let i = s.floor() as usize;
            (i, (i + 1).min(src - 1), s - i as f32)
        })
        .collect()
}

/// Taps into a plane subsampled by `shift`, for luma positions `luma`.
fn chroma_taps(luma: &[(usize, usize, f32)], shift: u32, src: usize) -> Vec<(usize, usize, f32)> {
    if shift == 0 {
        return luma.to_vec();
    }
    let d = (1u32 << shift) as f32;
    luma.iter()
        .map(|&(i, _, w)| {
            let pos = i as f32 + w;
            let s = ((pos + 0.5) / d - 0.5).clamp(0.0, (src - 1) as f32);
            let i = s.floor() as usize;
            (i, (i + 1).min(src - 1), s - i as f32)
        })
        .collect()
}

#[inline]
fn bilinear(p: &[u8], stride: usize, x: (usize, usize, f32), y: (usize, usize, f32)) -> f32 {
    let at = |xi: usize, yi: usize| p[yi * stride + xi] as f32;
    let top = at(x.0, y.0) + (at(x.1, y.0) - at(x.0, y.0)) * x.2;
    let bottom = at(x.0, y.1) + (at(x.1, y.1) - at(x.0, y.1)) * x.2;
    top + (bottom - top) * y.2
}

/// `frame` resampled to `content` (width, height), placed top-left in a
/// `padded` (width, height) tensor of zeros, as 1x3xHxW floats.
pub(crate) fn blob(
    frame: &FrameView,
    content: (usize, usize),
    padded: (usize, usize),
    layout: Layout,
) -> Vec<f32> {
    let (cw, ch) = content;
    let (pw, ph) = padded;
    let (fw, fh) = (frame.width() as usize, frame.height() as usize);
    let mut data = vec![0f32; 3 * pw * ph];
    if fw == 0 || fh == 0 || cw == 0 || ch == 0 {
        return data;
    }
    let format = frame.format();
    let (sx, sy) = format.chroma_shift();
    let xs = taps(cw, fw);
    let ys = taps(ch, fh);
    let (cwid, chei) = format.plane_size(1, fw as u32, fh as u32);
    let gray = format.planes() == 1;
    let cxs = if gray {
        Vec::new()
    } else {
        chroma_taps(&xs, sx, cwid as usize)
    };
    let cys = if gray {
        Vec::new()
    } else {
        chroma_taps(&ys, sy, chei as usize)
    };
    let full = frame.full_range();
    let (luma, lstride) = frame.plane(0);
    let (u_plane, ustride) = frame.plane(1);
    let (v_plane, vstride) = frame.plane(2);
    let (r_at, b_at) = if layout.bgr { (2, 0) } else { (0, 2) };
    let (p0, rest) = data.split_at_mut(pw * ph);
    let (p1, p2) = rest.split_at_mut(pw * ph);
    let mut planes: [&mut [f32]; 3] = [p0, p1, p2];
    let [a, b, c] = &mut planes;
    a.par_chunks_mut(pw)
        .zip(b.par_chunks_mut(pw))
        .zip(c.par_chunks_mut(pw))
        .take(ch)
        .enumerate()
        .for_each(|(oy, ((r0, r1), r2))| {
            let rows: [&mut [f32]; 3] = [r0, r1, r2];
            for ox in 0..cw {
                let y = bilinear(luma, lstride, xs[ox], ys[oy]);
                let (u, v) = if gray {
                    (0.0, 0.0)
                } else {
                    (
                        bilinear(u_plane, ustride, cxs[ox], cys[oy]) - 128.0,
                        bilinear(v_plane, vstride, cxs[ox], cys[oy]) - 128.0,
                    )
                };
                let (y, u, v) = if full {
                    (y, u, v)
                } else {
                    (
                        (y - 16.0) * (255.0 / 219.0),
                        u * (255.0 / 224.0),
                        v * (255.0 / 224.0),
                    )
                };
                let rgb = [
                    (y + 1.402 * v).clamp(0.0, 255.0),
                    (y - 0.344_136 * u - 0.714_136 * v).clamp(0.0, 255.0),
                    (y + 1.772 * u).clamp(0.0, 255.0),
                ];
                rows[r_at][ox] = rgb[0] - layout.mean[r_at];
                rows[1][ox] = rgb[1] - layout.mean[1];
                rows[b_at][ox] = rgb[2] - layout.mean[b_at];
            }
        });
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameView, PixelFormat};

    #[test]
    fn a_flat_picture_gives_a_flat_tensor_and_zero_padding() {
        // Full-range grey 200 in Y, neutral chroma.
        let (y, u, v) = (
            vec![200u8; 64 * 48],
            vec![128u8; 32 * 24],
            vec![128u8; 32 * 24],
        );
        let f = FrameView::new(
            PixelFormat::Yuv420p,
            64,
            48,
            true,
            &[&y, &u, &v],
            &[64, 32, 32],
        )
        .unwrap();
        let layout = Layout {
            bgr: true,
            mean: [104.0, 117.0, 123.0],
        };
        let t = blob(&f, (32, 24), (32, 32), layout);
        assert_eq!(t.len(), 3 * 32 * 32);
        for (c, m) in [104.0, 117.0, 123.0].iter().enumerate() {
            let plane = &t[c * 1024..(c + 1) * 1024];
            assert!(
                plane[..32 * 24]
                    .iter()
                    .all(|&x| (x - (200.0 - m)).abs() < 1e-3)
            );
            assert!(plane[32 * 24..].iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn colours_land_in_the_planes_the_layout_names() {
        // Limited-range pure red: Y 81, U 90, V 240 (BT.601).
        let (y, u, v) = (vec![81u8; 4], vec![90u8], vec![240u8]);
        let f =
            FrameView::new(PixelFormat::Yuv420p, 2, 2, false, &[&y, &u, &v], &[2, 1, 1]).unwrap();
        let rgb = blob(
            &f,
            (2, 2),
            (2, 2),
            Layout {
                bgr: false,
                mean: [0.0; 3],
            },
        );
        let bgr = blob(
            &f,
            (2, 2),
            (2, 2),
            Layout {
                bgr: true,
                mean: [0.0; 3],
            },
        );
        assert!(rgb[0] > 250.0 && rgb[4] < 5.0 && rgb[8] < 5.0, "{rgb:?}");
        assert!(bgr[8] > 250.0 && bgr[0] < 5.0, "{bgr:?}");
    }
}
