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
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, as checked just above.
        return unsafe { apply_avx2(frame, b, style, shape) };
    }
    apply_any(frame, b, style, shape)
}

/// [`apply`] compiled for AVX2: the sums and the fills work on 8 or 32
/// samples at a time instead of 4 or 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn apply_avx2(frame: &mut FrameMut, b: &BBox, style: Style, shape: Shape) -> Option<Region> {
    apply_any(frame, b, style, shape)
}

/// [`apply`] for any processor; inlined (with everything it calls in its
/// loops) into each processor-specific version.
#[inline(always)]
fn apply_any(frame: &mut FrameMut, b: &BBox, style: Style, shape: Shape) -> Option<Region> {
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
        if r.x1 <= r.x0 || r.y1 <= r.y0 {
            // No whole sample of this plane (an odd picture's last column).
            continue;
        }
        let smooth = style == Style::Blur;
        let mut grid = (style != Style::Fill).then(|| Coarse::new(data, stride, &r, smooth));
        let fill = if plane == 0 { black } else { 128 };
        for y in r.y0..r.y1 {
            let (xa, xb) = span(&region, shape, &r, y, (shx, shy));
            if xa >= xb {
                continue;
            }
            let at = y as usize * stride;
            let row = &mut data[at + xa as usize..at + xb as usize];
            match &mut grid {
                None => row.fill(fill),
                Some(g) => g.fill_row(row, xa - r.x0, y - r.y0, smooth),
            }
        }
    }
    Some(region)
}

/// The samples `[xa, xb)` of row `y` of a plane (region `r` in that plane's
/// samples, shifted by `shift` from luma) that lie inside `region` of
/// `shape`: a sample is inside when its first luma pixel is. An ellipse's
/// samples in a row are one run: its ends are estimated, then settled by
/// [`Region::contains`] itself.
fn span(region: &Region, shape: Shape, r: &Region, y: u32, shift: (u32, u32)) -> (u32, u32) {
    let inside = |x: u32| region.contains(shape, x << shift.0, y << shift.1);
    match shape {
        Shape::Rectangle => (r.x0, r.x1),
        Shape::Ellipse => {
            let ry = (region.y1 - region.y0) as f32 / 2.0;
            let dy = ((y << shift.1) as f32 + 0.5 - region.y0 as f32 - ry) / ry;
            if dy * dy > 1.0 {
                return (0, 0);
            }
            let rx = (region.x1 - region.x0) as f32 / 2.0;
            let half = (1.0 - dy * dy).sqrt() * rx;
            let centre = region.x0 as f32 + rx - 0.5;
            let to_plane = |lx: f32| ((lx.max(0.0) as u32) >> shift.0).clamp(r.x0, r.x1);
            let (mut xa, mut xb) = (to_plane(centre - half), to_plane(centre + half + 1.0));
            while xa > r.x0 && inside(xa - 1) {
                xa -= 1;
            }
            while xa < r.x1 && !inside(xa) {
                xa += 1;
            }
            xb = xb.max(xa);
            while xb < r.x1 && inside(xb) {
                xb += 1;
            }
            while xb > xa && !inside(xb - 1) {
                xb -= 1;
            }
            (xa, xb)
        }
    }
}

/// The means of a region's cells, `GRID` across its larger side, and what
/// a row of the mask is made from: for a blur, each row of cells
/// interpolated across the region's width once per region; for pixelate,
/// each band's row of values, made once per band.
struct Coarse {
    cell: u32,
    cols: u32,
    rows: u32,
    means: Vec<f32>,
    /// Blur: per row of cells, its means interpolated linearly between
    /// cell centres at each column of the region (`rows` x width).
    across: Vec<f32>,
    /// Pixelate: the row of values of band `line.0`, all columns.
    line: (u32, Vec<u8>),
}

/// Runs of equal keys in `keys`: `(first, end, key)`.
#[inline(always)]
fn runs<K: PartialEq + Copy>(keys: impl Iterator<Item = K>) -> Vec<(u32, u32, K)> {
    let mut out: Vec<(u32, u32, K)> = Vec::new();
    for (x, k) in keys.enumerate() {
        let x = x as u32;
        match out.last_mut() {
            Some(last) if last.2 == k => last.1 = x + 1,
            _ => out.push((x, x + 1, k)),
        }
    }
    out
}

impl Coarse {
    /// The cells of region `r` of a plane; `smooth` for a blur.
    #[inline(always)]
    fn new(data: &[u8], stride: usize, r: &Region, smooth: bool) -> Coarse {
        let (w, h) = (r.x1 - r.x0, r.y1 - r.y0);
        let cell = w.max(h).div_ceil(GRID).max(2);
        let (cols, rows) = (w.div_ceil(cell), h.div_ceil(cell));
        let mut means = vec![0f32; (cols * rows) as usize];
        // Each band of `cell` rows is summed column by column first (the
        // rows' samples added lane by lane, which vectorises), then the
        // columns cell by cell. A column's sum is at most 255 x `cell`
        // (`cell` < 2^24), so it never wraps; saying so keeps overflow
        // checks (the test profile's) out of the loop, which they would
        // otherwise stop from vectorising.
        let mut columns = vec![0u32; w as usize];
        for band in 0..rows {
            let (ya, yb) = (band * cell, ((band + 1) * cell).min(h));
            columns.fill(0);
            for y in ya..yb {
                let at = (r.y0 + y) as usize * stride + r.x0 as usize;
                for (s, &v) in columns.iter_mut().zip(&data[at..at + w as usize]) {
                    *s = s.wrapping_add(u32::from(v));
                }
            }
            let base = (band * cols) as usize;
            for (c, chunk) in columns.chunks(cell as usize).enumerate() {
                let sum: u64 = chunk.iter().map(|&v| u64::from(v)).sum();
                let n = chunk.len() as u32 * (yb - ya);
                means[base + c] = sum as f32 / n.max(1) as f32;
            }
        }
        let mut g = Coarse {
            cell,
            cols,
            rows,
            means,
            across: Vec::new(),
            line: (u32::MAX, Vec::new()),
        };
        if smooth {
            // Runs of columns between the same two cell centres, each
            // column with the weight of the right one.
            let between: Vec<(u32, f32)> = (0..w).map(|x| g.between(x, cols)).collect();
            let segments = runs(
                between
                    .iter()
                    .map(|&(c, _)| (c.min(cols - 1), (c + 1).min(cols - 1))),
            );
            let mut across = vec![0f32; (rows * w) as usize];
            for (cr, out) in across.chunks_exact_mut(w as usize).enumerate() {
                let means = g.row(cr as u32);
                for &(a, b, (c0, c1)) in &segments {
                    let (left, right) = (means[c0 as usize], means[c1 as usize]);
                    let span = right - left;
                    for (o, &(_, fx)) in out[a as usize..b as usize]
                        .iter_mut()
                        .zip(&between[a as usize..b as usize])
                    {
                        *o = left + span * fx;
                    }
                }
            }
            g.across = across;
        }
        g
    }

    /// Row `r` of the cell means (clamped to the grid).
    #[inline(always)]
    fn row(&self, r: u32) -> &[f32] {
        let r = r.min(self.rows - 1) as usize * self.cols as usize;
        &self.means[r..r + self.cols as usize]
    }

    /// Where sample `v` of `n` cells falls between two cells' centres.
    #[inline(always)]
    fn between(&self, v: u32, n: u32) -> (u32, f32) {
        let p = ((v as f32 + 0.5) / self.cell as f32 - 0.5).clamp(0.0, (n - 1) as f32);
        // `p` is not negative, so truncation is its floor.
        let floor = p as u32;
        (floor, p - floor as f32)
    }

    /// Writes row `y` of the region from sample `x0` on (both relative to
    /// the region) into `out`: the cells' means, bilinear between cell
    /// centres (`smooth`, a blur: first along each row of cells, then
    /// between the two rows of cells around `y`) or flat (pixelate);
    /// rounded to nearest, halves to even. A blur's row is one loop over
    /// the two rows of cells interpolated across (which vectorises);
    /// pixelate copies its band's row, made when the band is first met.
    #[inline(always)]
    fn fill_row(&mut self, out: &mut [u8], x0: u32, y: u32, smooth: bool) {
        let end = x0 + out.len() as u32;
        if !smooth {
            let band = y / self.cell;
            if self.line.0 != band {
                let means = &self.means[(band * self.cols) as usize..][..self.cols as usize];
                let cell = self.cell as usize;
                let mut line = std::mem::take(&mut self.line.1);
                line.clear();
                for &m in means {
                    line.extend(std::iter::repeat_n(nearest(m), cell));
                }
                self.line = (band, line);
            }
            out.copy_from_slice(&self.line.1[x0 as usize..end as usize]);
            return;
        }
        let (cy, fy) = self.between(y, self.rows);
        let w = self.across.len() / self.rows as usize;
        let at = |cr: u32| cr.min(self.rows - 1) as usize * w;
        let (upper, lower) = (
            &self.across[at(cy) + x0 as usize..at(cy) + end as usize],
            &self.across[at(cy + 1) + x0 as usize..at(cy + 1) + end as usize],
        );
        for ((o, &u), &l) in out.iter_mut().zip(upper).zip(lower) {
            *o = nearest(u + (l - u) * fy);
        }
    }
}

/// `v` (a mean of samples, or a blend of two, 0 to 255) rounded to the
/// nearest sample value, halves to even: adding 1.5 x 2^23 leaves `v`
/// rounded (by the float addition itself) in the low bits of the sum's
/// mantissa. This vectorises where a saturating float-to-integer
/// conversion does not, which made rounding most of a blur's cost.
#[inline(always)]
fn nearest(v: f32) -> u8 {
    const ROUNDER: f32 = 12_582_912.0; // 1.5 x 2^23: one unit in the last place is 1
    ((v + ROUNDER).to_bits() & 0xFF) as u8
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

    /// The definition, sample by sample: each sample of each plane whose
    /// first luma pixel is inside the region's shape gets the fill, or the
    /// cell means (flat, or bilinear between cell centres) computed from the
    /// region's samples before any change.
    fn reference(planes: &mut [Vec<u8>], w: u32, h: u32, b: &BBox, style: Style, shape: Shape) {
        let Some(region) = Region::aligned(b, (2, 2), w, h) else {
            return;
        };
        let cw = w.div_ceil(2);
        for (plane, data) in planes.iter_mut().enumerate() {
            let (sh, stride) = if plane == 0 { (0, w) } else { (1, cw) };
            let r = Region {
                x0: region.x0 >> sh,
                y0: region.y0 >> sh,
                x1: region.x1 >> sh,
                y1: region.y1 >> sh,
            };
            let (rw, rh) = (r.x1 - r.x0, r.y1 - r.y0);
            let cell = rw.max(rh).div_ceil(GRID).max(2);
            let (cols, rows) = (rw.div_ceil(cell), rh.div_ceil(cell));
            let mut sums = vec![(0u64, 0u32); (cols * rows) as usize];
            for y in 0..rh {
                for x in 0..rw {
                    let v = data[((r.y0 + y) * stride + r.x0 + x) as usize] as u64;
                    let c = &mut sums[((y / cell) * cols + x / cell) as usize];
                    c.0 += v;
                    c.1 += 1;
                }
            }
            let mean = |c: u32, rr: u32| {
                let (s, n) = sums[(rr.min(rows - 1) * cols + c.min(cols - 1)) as usize];
                s as f32 / n as f32
            };
            let between = |v: u32, n: u32| {
                let p = ((v as f32 + 0.5) / cell as f32 - 0.5).clamp(0.0, (n - 1) as f32);
                (p.floor() as u32, p - p.floor())
            };
            for y in r.y0..r.y1 {
                for x in r.x0..r.x1 {
                    if !region.contains(shape, x << sh, y << sh) {
                        continue;
                    }
                    let (lx, ly) = (x - r.x0, y - r.y0);
                    data[(y * stride + x) as usize] = match style {
                        Style::Fill => {
                            if plane == 0 {
                                16
                            } else {
                                128
                            }
                        }
                        Style::Pixelate => mean(lx / cell, ly / cell).round_ties_even() as u8,
                        Style::Blur => {
                            let ((cx, fx), (cy, fy)) = (between(lx, cols), between(ly, rows));
                            let top = mean(cx, cy) + (mean(cx + 1, cy) - mean(cx, cy)) * fx;
                            let bottom =
                                mean(cx, cy + 1) + (mean(cx + 1, cy + 1) - mean(cx, cy + 1)) * fx;
                            (top + (bottom - top) * fy).round_ties_even() as u8
                        }
                    };
                }
            }
        }
    }

    proptest! {
        /// Row by row, masks write exactly what the definition says.
        #[test]
        fn masks_equal_their_sample_by_sample_definition(
            w in 2u32..120, h in 2u32..90, seed: u64,
            x0 in -10f32..130.0, y0 in -10f32..100.0, bw in 0f32..110.0, bh in 0f32..90.0,
            style in prop_oneof![Just(Style::Blur), Just(Style::Pixelate), Just(Style::Fill)],
            shape in prop_oneof![Just(Shape::Rectangle), Just(Shape::Ellipse)],
        ) {
            let before = picture(w, h, seed);
            let mut after = before.clone();
            let mut expected = before.clone();
            let cw = w.div_ceil(2);
            let b = BBox { x0, y0, x1: x0 + bw, y1: y0 + bh };
            {
                let planes: Vec<&mut [u8]> = after.iter_mut().map(|p| p.as_mut_slice()).collect();
                let mut f = FrameMut::new(PixelFormat::Yuv420p, w, h, planes, &[w as usize, cw as usize, cw as usize]).unwrap();
                apply(&mut f, &b, style, shape);
            }
            reference(&mut expected, w, h, &b, style, shape);
            prop_assert_eq!(&after, &expected);
            // The version for any processor writes the same as the one
            // `apply` chose for this one.
            let mut any = before.clone();
            {
                let planes: Vec<&mut [u8]> = any.iter_mut().map(|p| p.as_mut_slice()).collect();
                let mut f = FrameMut::new(PixelFormat::Yuv420p, w, h, planes, &[w as usize, cw as usize, cw as usize]).unwrap();
                apply_any(&mut f, &b, style, shape);
            }
            prop_assert_eq!(any, expected);
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
