//! Decoded pictures as detectors and masks see them: 8-bit planar YUV (or
//! grey), borrowed from the decoder's buffers, with their strides.

/// The pixel layouts redaction works on: 8-bit planar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Y, then U and V at half width and half height.
    Yuv420p,
    /// Y, then U and V at half width, full height.
    Yuv422p,
    /// Y, U and V at full size.
    Yuv444p,
    /// Y only.
    Gray8,
}

impl PixelFormat {
    /// How many planes the format has.
    pub fn planes(self) -> usize {
        match self {
            PixelFormat::Gray8 => 1,
            _ => 3,
        }
    }

    /// The right shifts from luma to chroma coordinates (x, y).
    pub fn chroma_shift(self) -> (u32, u32) {
        match self {
            PixelFormat::Yuv420p => (1, 1),
            PixelFormat::Yuv422p => (1, 0),
            PixelFormat::Yuv444p | PixelFormat::Gray8 => (0, 0),
        }
    }

    /// The size of plane `i` for a `width` x `height` picture (chroma sizes
    /// round up, as FFmpeg's do).
    pub fn plane_size(self, i: usize, width: u32, height: u32) -> (u32, u32) {
        if i == 0 {
            return (width, height);
        }
        let (sx, sy) = self.chroma_shift();
        (width.div_ceil(1 << sx), height.div_ceil(1 << sy))
    }
}

/// Why a frame's planes cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A plane is missing, or shorter than its stride and height need.
    #[error("plane {plane}: {len} bytes, {need} needed for a {width}x{height} {format:?} picture")]
    ShortPlane {
        /// The plane (0 = luma).
        plane: usize,
        /// Its length.
        len: usize,
        /// The bytes its stride and height need.
        need: usize,
        /// Picture width.
        width: u32,
        /// Picture height.
        height: u32,
        /// Its format.
        format: PixelFormat,
    },
}

/// Checks that `planes` (with `strides`) hold a `width` x `height` picture.
fn check(
    format: PixelFormat,
    width: u32,
    height: u32,
    lens: &[usize],
    strides: &[usize],
) -> Result<(), FrameError> {
    for i in 0..format.planes() {
        let (w, h) = format.plane_size(i, width, height);
        let len = lens.get(i).copied().unwrap_or(0);
        let stride = strides.get(i).copied().unwrap_or(0);
        let need = if h == 0 {
            0
        } else {
            (stride.max(w as usize))
                .saturating_mul(h as usize - 1)
                .saturating_add(w as usize)
        };
        if len < need || stride < w as usize {
            return Err(FrameError::ShortPlane {
                plane: i,
                len,
                need,
                width,
                height,
                format,
            });
        }
    }
    Ok(())
}

/// A decoded picture, read-only (what a [`crate::Detector`] gets).
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    full_range: bool,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
    /// Presentation time in seconds, when known.
    pub pts: Option<f64>,
    /// The picture's number, from 0, in presentation order, when known.
    pub index: Option<u64>,
}

impl<'a> FrameView<'a> {
    /// A view of `planes` (luma first) with their `strides`; checked to hold
    /// the whole picture. `full_range` is true for JPEG-range video
    /// (`yuvj420p`, 0 to 255), false for limited range (16 to 235).
    ///
    /// ```
    /// use custody_redact::{FrameView, PixelFormat};
    /// let (y, u, v) = (vec![16u8; 4 * 2], vec![128u8; 2], vec![128u8; 2]);
    /// let f = FrameView::new(PixelFormat::Yuv420p, 4, 2, false, &[&y, &u, &v], &[4, 2, 2]).unwrap();
    /// assert_eq!(f.rgb(0, 0), [0, 0, 0]);
    /// assert!(FrameView::new(PixelFormat::Yuv420p, 4, 4, false, &[&y, &u, &v], &[4, 2, 2]).is_err());
    /// ```
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        full_range: bool,
        planes: &[&'a [u8]],
        strides: &[usize],
    ) -> Result<FrameView<'a>, FrameError> {
        let lens: Vec<usize> = planes.iter().map(|p| p.len()).collect();
        check(format, width, height, &lens, strides)?;
        let mut p: [&[u8]; 3] = [&[], &[], &[]];
        let mut s = [0; 3];
        let n = format.planes();
        p[..n].copy_from_slice(&planes[..n]);
        s[..n].copy_from_slice(&strides[..n]);
        Ok(FrameView {
            format,
            width,
            height,
            full_range,
            planes: p,
            strides: s,
            pts: None,
            index: None,
        })
    }

    /// The picture's format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// True for full-range (JPEG) levels.
    pub fn full_range(&self) -> bool {
        self.full_range
    }

    /// Plane `i` and its stride.
    pub fn plane(&self, i: usize) -> (&'a [u8], usize) {
        (self.planes[i], self.strides[i])
    }

    /// The sample of plane `i` at (x, y) in that plane's coordinates.
    #[inline]
    pub fn sample(&self, i: usize, x: u32, y: u32) -> u8 {
        self.planes[i][y as usize * self.strides[i] + x as usize]
    }

    /// The pixel at (x, y) as RGB (BT.601, the picture's range).
    #[inline]
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let luma = self.sample(0, x, y);
        if self.format == PixelFormat::Gray8 {
            let g = to_rgb(luma, 128, 128, self.full_range)[0];
            return [g, g, g];
        }
        let (sx, sy) = self.format.chroma_shift();
        let (u, v) = (
            self.sample(1, x >> sx, y >> sy),
            self.sample(2, x >> sx, y >> sy),
        );
        to_rgb(luma, u, v, self.full_range)
    }
}

/// BT.601 YUV to RGB, full or limited range.
#[inline]
fn to_rgb(y: u8, u: u8, v: u8, full_range: bool) -> [u8; 3] {
    let (y, u, v) = (y as f32, u as f32 - 128.0, v as f32 - 128.0);
    let (y, u, v) = if full_range {
        (y, u, v)
    } else {
        (
            (y - 16.0) * (255.0 / 219.0),
            u * (255.0 / 224.0),
            v * (255.0 / 224.0),
        )
    };
    let c = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    [
        c(y + 1.402 * v),
        c(y - 0.344_136 * u - 0.714_136 * v),
        c(y + 1.772 * u),
    ]
}

/// A decoded picture that masks are applied to, in place.
#[derive(Debug)]
pub struct FrameMut<'a> {
    format: PixelFormat,
    width: u32,
    height: u32,
    planes: Vec<&'a mut [u8]>,
    strides: [usize; 3],
}

impl<'a> FrameMut<'a> {
    /// A mutable view of `planes` (luma first) with their `strides`,
    /// checked as [`FrameView::new`] checks.
    pub fn new(
        format: PixelFormat,
        width: u32,
        height: u32,
        planes: Vec<&'a mut [u8]>,
        strides: &[usize],
    ) -> Result<FrameMut<'a>, FrameError> {
        let lens: Vec<usize> = planes.iter().map(|p| p.len()).collect();
        check(format, width, height, &lens, strides)?;
        let mut s = [0; 3];
        s[..format.planes()].copy_from_slice(&strides[..format.planes()]);
        let mut planes = planes;
        planes.truncate(format.planes());
        Ok(FrameMut {
            format,
            width,
            height,
            planes,
            strides: s,
        })
    }

    /// The picture's format.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Plane `i`, mutable, with its stride and size.
    pub fn plane_mut(&mut self, i: usize) -> (&mut [u8], usize, (u32, u32)) {
        let size = self.format.plane_size(i, self.width, self.height);
        (&mut *self.planes[i], self.strides[i], size)
    }
}
