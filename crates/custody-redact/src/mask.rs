//! Masks applied to decoded pictures in place, on the YUV planes directly.
//!
//! A mask's box is first widened to whole chroma samples (even coordinates
//! in 4:2:0), so that every plane changes over exactly the same pixels and
//! nothing outside a mask changes at all. Blur and pixelate both average the
//! region down to a coarse grid (at most [`GRID`] cells across), which
//! discards the detail irreversibly: no deconvolution recovers it. Blur then
//! interpolates the grid smoothly; pixelate shows it as blocks.

use crate::detect::BBox;
use crate::frame::FrameMut;
use serde::{Deserialize, Serialize};

/// How a masked region is hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// A smooth, irreversible blur.
    #[default]
    Blur,
    /// Coarse blocks.
    Pixelate,
    /// Solid black.
    Fill,
}

/// The outline of a mask within its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// The whole box.
    #[default]
    Rectangle,
    /// The ellipse inscribed in the box.
    Ellipse,
}

/// Cells across the larger side of a masked region.
pub const GRID: u32 = 8;

/// A region in whole pixels, aligned to the chroma grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Left (inclusive).
    pub x0: u32,
    /// Top (inclusive).
    pub y0: u32,
    /// Right (exclusive).
    pub x1: u32,
    /// Bottom (exclusive).
    pub y1: u32,
}

impl Region {
    /// `b` widened to whole pixels and to multiples of `align` (x, y),
    /// clipped to a `width` x `height` picture; `None` when nothing is left.
    ///
    /// ```
    /// use custody_redact::{BBox, mask::Region};
    /// let b = BBox { x0: 3.2, y0: 5.0, x1: 10.5, y1: 9.0 };
    /// let r = Region::aligned(&b, (2, 2), 8, 100).unwrap();
    /// assert_eq!((r.x0, r.y0, r.x1, r.y1), (2, 4, 8, 10));
    /// ```
    pub fn aligned(b: &BBox, align: (u32, u32), width: u32, height: u32) -> Option<Region> {
        let down =
            |v: f32, a: u32, max: u32| ((v.max(0.0).floor() as u64).min(max as u64) as u32 / a) * a;
        let up = |v: f32, a: u32, max: u32| {
            let v = (v.max(0.0).ceil() as u64).min(max as u64) as u32;
            v.div_ceil(a).saturating_mul(a).min(max)
        };
        let r = Region {
            x0: down(b.x0, align.0, width),
            y0: down(b.y0, align.1, height),
            x1: up(b.x1, align.0, width),
            y1: up(b.y1, align.1, height),
        };
        (r.x1 > r.x0 && r.y1 > r.y0).then_some(r)
    }

    /// Whether the pixel (x, y) (luma coordinates) is inside `shape`.
    #[inline]
    pub fn contains(&self, shape: Shape, x: u32, y: u32) -> bool {
        if x < self.x0 || x >= self.x1 || y < self.y0 || y >= self.y1 {
            return false;
        }
        match shape {
            Shape::Rectangle => true,
            Shape::Ellipse => {
                let (rx, ry) = (
                    (self.x1 - self.x0) as f32 / 2.0,
                    (self.y1 - self.y0) as f32 / 2.0,
                );
                let dx = (x as f32 + 0.5 - self.x0 as f32 - rx) / rx;
                let dy = (y as f32 + 0.5 - self.y0 as f32 - ry) / ry;
                dx * dx + dy * dy <= 1.0
            }
        }
    }
}

/// Masks `frame` over `b` (frame pixels) with `style` and `shape`; returns
/// the region changed (aligned to the chroma grid), if any.
pub fn apply(frame: &mut FrameMut, b: &BBox, style: Style, shape: Shape) -> Option<Region> {
    let fmt = frame.format();
    let (sx, sy) = fmt.chroma_shift();
    let region = Region::aligned(b, (1 << sx, 1 << sy), frame.width(), frame.height())?;
    let black = 16u8;
    for plane in 0..fmt.planes() {
        let (shx, shy) = if plane == 0 { (0, 0) } else { (sx, sy) };
        let (data, stride, _) = frame.plane_mut(plane);
        let r = Region {
            x0: region.x0 >> shx,
            y0: region.y0 >> shy,
            x1: region.x1 >> shx,
            y1: region.y1 >> shy,
        };
        // A chroma sample is inside when its first luma pixel is.
        let inside = |x: u32, y: u32| region.contains(shape, x << shx, y << shy);
        match style {
            Style::Fill => {
                let v = if plane == 0 { black } else { 128 };
                for y in r.y0..r.y1 {
                    for x in r.x0..r.x1 {
                        if inside(x, y) {
                            data[y as usize * stride + x as usize] = v;
                        }
                    }
                }
            }
            Style::Blur | Style::Pixelate => {
                let grid = coarse(data, stride, &r);
                for y in r.y0..r.y1 {
                    for x in r.x0..r.x1 {
                        if inside(x, y) {
                            data[y as usize * stride + x as usize] =
                                grid.sample(x - r.x0, y - r.y0, style == Style::Blur);
                        }
                    }
                }
            }
        }
    }
    Some(region)
}

/// A region averaged down to at most [`GRID`] cells across.
struct Coarse {
    cell: u32,
    cols: u32,
    rows: u32,
    means: Vec<f32>,
}

fn coarse(data: &[u8], stride: usize, r: &Region) -> Coarse {
    let (w, h) = (r.x1 - r.x0, r.y1 - r.y0);
    let cell = w.max(h).div_ceil(GRID).max(2);
    let (cols, rows) = (w.div_ceil(cell), h.div_ceil(cell));
    let mut sums = vec![(0u64, 0u32); (cols * rows) as usize];
    for y in 0..h {
        let row = &data[(r.y0 + y) as usize * stride..];
        for x in 0..w {
            let s = &mut sums[((y / cell) * cols + x / cell) as usize];
            s.0 += row[(r.x0 + x) as usize] as u64;
            s.1 += 1;
        }
    }
    Coarse {
        cell,
        cols,
        rows,
        means: sums
            .into_iter()
            .map(|(s, n)| s as f32 / n.max(1) as f32)
            .collect(),
    }
}

impl Coarse {
    /// The value at (x, y) of the region: its cell's mean, or (smooth) the
    /// bilinear interpolation of the cells' means at their centres.
    fn sample(&self, x: u32, y: u32, smooth: bool) -> u8 {
        let at = |c: u32, r: u32| {
            self.means[(r.min(self.rows - 1) * self.cols + c.min(self.cols - 1)) as usize]
        };
        if !smooth {
            return at(x / self.cell, y / self.cell).round() as u8;
        }
        let f = |v: u32, n: u32| {
            let p = ((v as f32 + 0.5) / self.cell as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            (p.floor() as u32, p - p.floor())
        };
        let ((cx, fx), (cy, fy)) = (f(x, self.cols), f(y, self.rows));
        let top = at(cx, cy) + (at(cx + 1, cy) - at(cx, cy)) * fx;
        let bottom = at(cx, cy + 1) + (at(cx + 1, cy + 1) - at(cx, cy + 1)) * fx;
        (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::PixelFormat;
    use proptest::prelude::*;

    fn picture(w: u32, h: u32, seed: u64) -> Vec<Vec<u8>> {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        };
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        vec![
            (0..w * h).map(|_| next()).collect(),
            (0..cw * ch).map(|_| next()).collect(),
            (0..cw * ch).map(|_| next()).collect(),
        ]
    }

    proptest! {
        /// Outside the mask's aligned region (and, for ellipses, outside the
        /// ellipse), every sample of every plane is unchanged; inside a
        /// blurred region the original detail is gone.
        #[test]
        fn only_pixels_inside_the_mask_change(
            w in 2u32..80, h in 2u32..60, seed: u64,
            x0 in -10f32..90.0, y0 in -10f32..70.0, bw in 0f32..60.0, bh in 0f32..50.0,
            style in prop_oneof![Just(Style::Blur), Just(Style::Pixelate), Just(Style::Fill)],
            shape in prop_oneof![Just(Shape::Rectangle), Just(Shape::Ellipse)],
        ) {
            let before = picture(w, h, seed);
            let mut after = before.clone();
            let (cw, _) = (w.div_ceil(2), h.div_ceil(2));
            let b = BBox { x0, y0, x1: x0 + bw, y1: y0 + bh };
            let region = {
                let planes: Vec<&mut [u8]> = after.iter_mut().map(|p| p.as_mut_slice()).collect();
                let mut f = FrameMut::new(PixelFormat::Yuv420p, w, h, planes, &[w as usize, cw as usize, cw as usize]).unwrap();
                apply(&mut f, &b, style, shape)
            };
            for plane in 0..3 {
                let (shift, stride) = if plane == 0 { (0, w) } else { (1, cw) };
                for (i, (a, z)) in before[plane].iter().zip(&after[plane]).enumerate() {
                    let (x, y) = ((i as u32 % stride) << shift, (i as u32 / stride) << shift);
                    let inside = region.is_some_and(|r| r.contains(shape, x, y));
                    if !inside {
                        prop_assert_eq!(a, z, "plane {} sample {} outside {:?} changed", plane, i, region);
                    }
                }
            }
            if let Some(r) = region {
                prop_assert!(r.x0 % 2 == 0 && r.y0 % 2 == 0);
                prop_assert!(r.x0 as f32 <= x0.max(0.0) && r.x1 as f32 >= (x0 + bw).min(w as f32));
            }
        }
    }

    #[test]
    fn a_blurred_region_loses_its_detail_and_keeps_its_mean() {
        let (w, h) = (64u32, 64u32);
        let before = picture(w, h, 7);
        let mut after = before.clone();
        let planes: Vec<&mut [u8]> = after.iter_mut().map(|p| p.as_mut_slice()).collect();
        let mut f = FrameMut::new(PixelFormat::Yuv420p, w, h, planes, &[64, 32, 32]).unwrap();
        let b = BBox {
            x0: 0.0,
            y0: 0.0,
            x1: 64.0,
            y1: 64.0,
        };
        apply(&mut f, &b, Style::Blur, Shape::Rectangle).unwrap();
        let var = |p: &[u8]| {
            let m = p.iter().map(|&v| v as f64).sum::<f64>() / p.len() as f64;
            (
                m,
                p.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / p.len() as f64,
            )
        };
        let ((m0, v0), (m1, v1)) = (var(&before[0]), var(&after[0]));
        assert!((m0 - m1).abs() < 3.0, "mean {m0} -> {m1}");
        assert!(v1 < v0 / 20.0, "variance {v0} -> {v1}: detail survived");
    }
}
