//! What the reviewer who signs a redaction off is given, from the decode
//! of the redacted copy that checks it (no second decode):
//!
//! - `OUT.frames.csv`: every picture of the copy in presentation order,
//!   with its time, the BLAKE3 of the decoded picture (as
//!   [`custody_transcode::frame_digests`] and `custody compare` define it)
//!   and the masks applied to it;
//! - `OUT.contact.png`: pictures sampled evenly over the copy (in each
//!   stretch, the masked picture nearest its middle, else its middle),
//!   each scaled down, every mask outlined in red, labelled with its number
//!   and time, tiled in a grid.
//!
//! Both are written as the log is (a temporary file, fsynced, linked into
//! place, never over an existing file); on failure neither is left.

use super::log::{NewFile, write_new};
use super::{Masks, RedactError, scan};
use crate::frame::{FrameView, PixelFormat};
use crate::mask::Region;
use custody_transcode::{Matrix, Picture, PictureVisitor};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Pictures on a contact sheet unless asked otherwise
/// ([`super::RedactOptions::contact_sheet`]).
pub const SHEET_PICTURES: usize = 12;
/// Fewest pictures of the copy per sampled picture: a short copy gets a
/// smaller sheet rather than near-identical neighbours.
const SPACING: usize = 10;
/// Largest thumbnail, in pixels (the picture's aspect kept).
const THUMB_WIDTH: u32 = 320;
const THUMB_HEIGHT: u32 = 480;
/// Thumbnails in a row.
const COLUMNS: usize = 4;
/// Pixels around and between thumbnails.
const GAP: u32 = 4;
/// The label's strip under each thumbnail: a 7-pixel line and its margins.
const LABEL: u32 = 11;
/// A mask's outline: red, 2 pixels wide, inside the masked area, with a
/// white pixel around it so that it shows on red too.
const OUTLINE: [u8; 3] = [255, 0, 0];
const OUTLINE_WIDTH: u32 = 2;
const HALO: [u8; 3] = [255, 255, 255];
const BACKGROUND: [u8; 3] = [40, 40, 40];
const INK: [u8; 3] = [240, 240, 240];

/// The copy's pictures, as the redaction log summarises them (the list
/// itself is in the CSV: an hour is a hundred thousand lines).
#[derive(Debug, Clone, Serialize)]
pub struct FramesLog {
    /// `OUT.frames.csv`: a header line, then `frame,time,blake3,masks` for
    /// every picture of the copy in presentation order (number from 0,
    /// seconds from the video's start, BLAKE3 of the decoded picture, masks
    /// applied to it).
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3, hex.
    pub blake3: String,
    /// Pictures listed.
    pub pictures: u64,
}

/// One picture on the contact sheet, and where it is there.
#[derive(Debug, Clone, Serialize)]
pub struct Sampled {
    /// Its number in the copy, from 0.
    pub frame: u64,
    /// Its time, seconds from the video's start.
    pub time: f64,
    /// Masks applied to it (each outlined).
    pub masks: u32,
    /// Its thumbnail's left edge on the sheet, pixels.
    pub x: u32,
    /// Its thumbnail's top edge.
    pub y: u32,
    /// Its thumbnail's width.
    pub width: u32,
    /// Its thumbnail's height.
    pub height: u32,
}

/// The contact sheet: a PNG of sampled pictures of the copy with every
/// mask outlined, for the reviewer who signs the redaction off.
#[derive(Debug, Clone, Serialize)]
pub struct ContactSheet {
    /// `OUT.contact.png`.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3, hex.
    pub blake3: String,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// The pictures on it, in order (left to right, then top to bottom).
    pub pictures: Vec<Sampled>,
}

/// What [`Review::finish`] wrote.
pub(crate) struct Reviewed {
    pub(crate) frames: FramesLog,
    pub(crate) sheet: Option<ContactSheet>,
}

impl Reviewed {
    /// Removes what was written (a later step failed).
    pub(crate) fn remove(&self) {
        let _ = std::fs::remove_file(&self.frames.path);
        if let Some(s) = &self.sheet {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}

/// The pictures a sheet of at most `want` shows, out of pictures with
/// `masks[i]` masks each: the copy cut into equal stretches (no shorter
/// than [`SPACING`] pictures), in each the masked picture nearest its
/// middle, else its middle.
pub(crate) fn choose(masks: &[u32], want: usize) -> Vec<u64> {
    let n = masks.len();
    let k = want.min(n.div_ceil(SPACING));
    (0..k)
        .map(|i| {
            let (a, b) = (i * n / k, (i + 1) * n / k);
            let mid = a + (b - a) / 2;
            (a..b)
                .filter(|&j| masks[j] > 0)
                .min_by_key(|&j| j.abs_diff(mid))
                .unwrap_or(mid) as u64
        })
        .collect()
}

/// An RGB picture, 8 bits a channel, rows packed.
#[derive(Debug, Clone, PartialEq)]
struct Rgb {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Rgb {
    fn filled(width: u32, height: u32, c: [u8; 3]) -> Rgb {
        Rgb {
            width,
            height,
            data: c.repeat(width as usize * height as usize),
        }
    }

    fn put(&mut self, x: u32, y: u32, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.data[i..i + 3].copy_from_slice(&c);
        }
    }

    #[cfg(test)]
    fn get(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Copies `t` in with its top left corner at (x, y).
    fn blit(&mut self, t: &Rgb, x: u32, y: u32) {
        for r in 0..t.height.min(self.height.saturating_sub(y)) {
            let w = t.width.min(self.width.saturating_sub(x)) as usize * 3;
            let from = r as usize * t.width as usize * 3;
            let to = ((y + r) as usize * self.width as usize + x as usize) * 3;
            self.data[to..to + w].copy_from_slice(&t.data[from..from + w]);
        }
    }

    /// `r` (pixels of a `w` x `h` picture) scaled to this thumbnail, as
    /// `(x0, y0, x1, y1)` (ends excluded), at least a pixel each way;
    /// `None` when it falls outside.
    fn scaled(&self, r: &Region, w: u32, h: u32) -> Option<(u32, u32, u32, u32)> {
        let scale = |v: u32, to: u32, from: u32, up: bool| -> u32 {
            let p = u64::from(v) * u64::from(to);
            let s = u64::from(from.max(1));
            (if up { p.div_ceil(s) } else { p / s }).min(u64::from(to)) as u32
        };
        let (x0, y0) = (
            scale(r.x0, self.width, w, false),
            scale(r.y0, self.height, h, false),
        );
        if x0 >= self.width || y0 >= self.height {
            return None;
        }
        let x1 = scale(r.x1, self.width, w, true).max(x0 + 1);
        let y1 = scale(r.y1, self.height, h, true).max(y0 + 1);
        Some((x0, y0, x1, y1))
    }

    /// Paints the pixels of `(x0, y0)-(x1, y1)` (ends excluded) within
    /// `t` of its edges.
    fn ring(&mut self, (x0, y0, x1, y1): (u32, u32, u32, u32), t: u32, c: [u8; 3]) {
        for y in y0..y1 {
            for x in x0..x1 {
                if x < x0 + t || x + t >= x1 || y < y0 + t || y + t >= y1 {
                    self.put(x, y, c);
                }
            }
        }
    }

    /// Outlines `regions` (pixels of a `w` x `h` picture) scaled to this
    /// thumbnail: [`OUTLINE_WIDTH`] pixels inside each one's edges, a
    /// [`HALO`] pixel outside them (under every other region's outline).
    fn outline(&mut self, regions: &[Region], w: u32, h: u32) {
        let boxes: Vec<_> = regions
            .iter()
            .filter_map(|r| self.scaled(r, w, h))
            .collect();
        for &(x0, y0, x1, y1) in &boxes {
            let grown = (
                x0.saturating_sub(1),
                y0.saturating_sub(1),
                (x1 + 1).min(self.width),
                (y1 + 1).min(self.height),
            );
            self.ring(grown, 1, HALO);
        }
        for &b in &boxes {
            self.ring(b, OUTLINE_WIDTH, OUTLINE);
        }
    }

    /// Writes `text` in [`INK`] with its top left corner at (x, y), no
    /// further right than `right`.
    fn text(&mut self, x: u32, y: u32, right: u32, text: &str) {
        let mut left = x;
        for c in text.chars() {
            if left + 5 > right {
                break;
            }
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        self.put(left + col, y + row as u32, INK);
                    }
                }
            }
            left += 6;
        }
    }
}

/// A 5x7 bitmap of the characters a label uses (digits, `:`, `.`; others
/// blank), a row a byte, the leftmost pixel in bit 4.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        _ => [0; 7],
    }
}

/// A thumbnail's label: the picture's number, then its time as
/// `H:MM:SS.mmm`.
fn label(frame: u64, time: f64) -> String {
    let ms = (time.max(0.0) * 1000.0).round().min(u64::MAX as f64) as u64;
    format!(
        "{frame}  {}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The size of a picture's thumbnail: at most [`THUMB_WIDTH`] x
/// [`THUMB_HEIGHT`], its aspect kept, never enlarged.
fn thumb_size(w: u32, h: u32) -> (u32, u32) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let s = (f64::from(THUMB_WIDTH) / w)
        .min(f64::from(THUMB_HEIGHT) / h)
        .min(1.0);
    (
        ((w * s).round() as u32).clamp(1, THUMB_WIDTH),
        ((h * s).round() as u32).clamp(1, THUMB_HEIGHT),
    )
}

/// Kr and Kb, the luma weights of red and blue, of the matrix a picture
/// was made with. A picture that states none, or one with no such weights,
/// is taken as BT.709 above standard definition (576 lines) and BT.601 at
/// or below it, as players take it.
fn weights(m: Matrix, height: u32) -> (f32, f32) {
    const BT601: (f32, f32) = (0.299, 0.114);
    const BT709: (f32, f32) = (0.2126, 0.0722);
    const BT2020: (f32, f32) = (0.2627, 0.0593);
    match m {
        Matrix::Bt601 => BT601,
        Matrix::Bt709 => BT709,
        Matrix::Bt2020 => BT2020,
        _ if height > 576 => BT709,
        _ => BT601,
    }
}

/// One pixel's Y, U and V (limited range, 16-235 and 16-240, unless
/// `full`) as RGB, by the luma weights `(kr, kb)`.
fn to_rgb(y: u8, u: u8, v: u8, full: bool, (kr, kb): (f32, f32)) -> [u8; 3] {
    let (y, cb, cr) = (f32::from(y), f32::from(u) - 128.0, f32::from(v) - 128.0);
    let (y, cb, cr) = if full {
        (y / 255.0, cb / 255.0, cr / 255.0)
    } else {
        ((y - 16.0) / 219.0, cb / 224.0, cr / 224.0)
    };
    let r = y + 2.0 * (1.0 - kr) * cr;
    let b = y + 2.0 * (1.0 - kb) * cb;
    let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
    let c = |x: f32| (x * 255.0).round().clamp(0.0, 255.0) as u8;
    [c(r), c(g), c(b)]
}

/// `f` scaled down to its thumbnail (nearest neighbour) in RGB by
/// `weights`, with `regions` (pixels of `f`) outlined.
fn thumbnail(f: &FrameView, weights: (f32, f32), regions: &[Region]) -> Rgb {
    let (w, h) = (f.width(), f.height());
    let (tw, th) = thumb_size(w, h);
    let fmt = f.format();
    let (sx, sy) = fmt.chroma_shift();
    let mut t = Rgb {
        width: tw,
        height: th,
        data: Vec::with_capacity(tw as usize * th as usize * 3),
    };
    // The source pixel under each thumbnail pixel's centre.
    let at = |i: u32, n: u32, of: u32| {
        ((2 * u64::from(i) + 1) * u64::from(of) / (2 * u64::from(n))) as u32
    };
    for ty in 0..th {
        let y = at(ty, th, h);
        for tx in 0..tw {
            let x = at(tx, tw, w);
            let (u, v) = if fmt == PixelFormat::Gray8 {
                (128, 128)
            } else {
                (f.sample(1, x >> sx, y >> sy), f.sample(2, x >> sx, y >> sy))
            };
            t.data
                .extend_from_slice(&to_rgb(f.sample(0, x, y), u, v, f.full_range(), weights));
        }
    }
    t.outline(regions, w, h);
    t
}

/// A thumbnail waiting for its place on the sheet.
struct Taken {
    thumb: Rgb,
    frame: u64,
    time: f64,
    masks: u32,
}

/// The sheet: the thumbnails in [`COLUMNS`] columns, each in a cell as
/// large as the largest, labelled underneath; and where each went.
fn compose(taken: &[Taken]) -> (Rgb, Vec<Sampled>) {
    let cols = COLUMNS.min(taken.len()).max(1);
    let rows = taken.len().div_ceil(cols);
    let cw = taken.iter().map(|t| t.thumb.width).max().unwrap_or(1);
    let ch = taken.iter().map(|t| t.thumb.height).max().unwrap_or(1);
    let mut sheet = Rgb::filled(
        GAP + cols as u32 * (cw + GAP),
        GAP + rows as u32 * (ch + LABEL + GAP),
        BACKGROUND,
    );
    let mut placed = Vec::with_capacity(taken.len());
    for (i, t) in taken.iter().enumerate() {
        let x = GAP + (i % cols) as u32 * (cw + GAP);
        let y = GAP + (i / cols) as u32 * (ch + LABEL + GAP);
        sheet.blit(&t.thumb, x, y);
        sheet.text(x, y + t.thumb.height + 2, x + cw, &label(t.frame, t.time));
        placed.push(Sampled {
            frame: t.frame,
            time: t.time,
            masks: t.masks,
            x,
            y,
            width: t.thumb.width,
            height: t.thumb.height,
        });
    }
    (sheet, placed)
}

/// `image` as PNG (RGB, 8 bits) with `comment` as its `Comment` text.
fn encode_png(image: &Rgb, comment: &str) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, image.width, image.height);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    e.add_text_chunk("Comment".into(), comment.into())?;
    let mut w = e.write_header()?;
    w.write_image_data(&image.data)?;
    w.finish()?;
    Ok(out)
}

/// The thumbnail of visited picture `p` with `masks`' boxes for it (at
/// `time`, the time the encode masked it at) outlined.
fn take(p: &Picture, masks: &Masks, time: f64) -> Result<Rgb, RedactError> {
    let frame = p.info.index;
    let view = scan::view(p).map_err(|e| RedactError::Picture {
        frame,
        message: e.to_string(),
    })?;
    let (sx, sy) = view.format().chroma_shift();
    let (w, h) = (view.width(), view.height());
    let regions: Vec<Region> = masks
        .boxes(frame, time)
        .iter()
        .filter_map(|b| Region::aligned(b, (1 << sx, 1 << sy), w, h))
        .collect();
    Ok(thumbnail(&view, weights(p.info.matrix, h), &regions))
}

/// The reviewer's look at the redacted copy, taken while the encode's
/// proof decodes it (its [`Review::visitor`] in
/// `custody_transcode::Options::proof_pictures`), so that the copy is
/// decoded once for both: each picture's line of the frames CSV (with the
/// digest the proof took) and the thumbnails of the contact sheet.
/// [`Review::finish`] then checks the copy had exactly the pictures encoded
/// and writes the sheet. Dropped unfinished, it leaves nothing.
pub(crate) struct Review {
    masks: Arc<Masks>,
    want: usize,
    state: Mutex<State>,
}

/// Each picture's time and masks as encoded, and the pictures the sheet shows.
type Plan = (Vec<(f64, u32)>, Vec<u64>);

struct State {
    csv: Option<NewFile>,
    /// What the encode masked, picture by picture, and the pictures the
    /// sheet shows: known once the encode is done, taken at the first
    /// picture of the copy.
    plan: Option<Plan>,
    taken: Vec<Taken>,
    visited: u64,
    failed: Option<RedactError>,
}

impl Review {
    /// Starts the frames CSV beside `output`; the sheet shows at most
    /// `want` pictures (0: none) of what `masks` masked.
    pub(crate) fn new(
        output: &Path,
        masks: Arc<Masks>,
        want: usize,
    ) -> Result<Review, RedactError> {
        let mut csv = NewFile::create(&super::frames_path(output))?;
        csv.write(b"frame,time,blake3,masks\n")?;
        Ok(Review {
            masks,
            want,
            state: Mutex::new(State {
                csv: Some(csv),
                plan: None,
                taken: Vec::new(),
                visited: 0,
                failed: None,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The visitor that gives the proof's pictures to `review`.
    pub(crate) fn visitor(review: &Arc<Review>) -> PictureVisitor {
        let r = review.clone();
        PictureVisitor::new("review", move |p| {
            let mut st = r.state();
            match r.picture(&mut st, p) {
                Ok(()) => Ok(()),
                Err(e) => {
                    let message = e.to_string();
                    st.failed.get_or_insert(e);
                    Err(message)
                }
            }
        })
    }

    /// What failed while the proof decoded the copy, when something did.
    pub(crate) fn failure(&self) -> Option<RedactError> {
        self.state().failed.take()
    }

    fn picture(&self, st: &mut State, p: &Picture) -> Result<(), RedactError> {
        let State {
            csv, plan, taken, ..
        } = st;
        let (applied, chosen) = plan.get_or_insert_with(|| {
            let applied = self.masks.applied();
            let counts: Vec<u32> = applied.iter().map(|a| a.1).collect();
            let chosen = choose(&counts, self.want);
            (applied, chosen)
        });
        let i = p.info.index;
        let &(masked_at, n) = usize::try_from(i)
            .ok()
            .and_then(|k| applied.get(k))
            .ok_or_else(|| {
                RedactError::InvalidArgument(format!(
                    "the redacted copy decodes to {} pictures or more, {} were encoded; it was removed",
                    i + 1,
                    applied.len()
                ))
            })?;
        let digest = p.digest().ok_or_else(|| RedactError::Picture {
            frame: i,
            message: "no digest for a decoded picture".into(),
        })?;
        let csv = csv
            .as_mut()
            .ok_or_else(|| RedactError::InvalidArgument("the review is finished".into()))?;
        csv.write(format!("{i},{:.6},{digest},{n}\n", p.info.time).as_bytes())?;
        if chosen.get(taken.len()) == Some(&i) {
            taken.push(Taken {
                thumb: take(p, &self.masks, masked_at)?,
                frame: i,
                time: p.info.time,
                masks: n,
            });
        }
        st.visited += 1;
        Ok(())
    }

    /// Checks the copy `output` (BLAKE3 `copy_blake3`, named in the sheet's
    /// comment) had exactly the pictures encoded, then writes the frames
    /// CSV and the contact sheet into place. On failure neither is left.
    pub(crate) fn finish(&self, output: &Path, copy_blake3: &str) -> Result<Reviewed, RedactError> {
        let mut st = self.state();
        if let Some(e) = st.failed.take() {
            return Err(e);
        }
        // The plan is the encode's record, taken at the copy's first picture.
        let (encoded, chosen) = match &st.plan {
            Some((applied, chosen)) => (applied.len() as u64, chosen.len()),
            None => (self.masks.applied().len() as u64, 0),
        };
        if st.visited != encoded || st.taken.len() != chosen {
            return Err(RedactError::InvalidArgument(format!(
                "the redacted copy decodes to {} pictures, {encoded} were encoded; it was removed",
                st.visited
            )));
        }
        let csv = st
            .csv
            .take()
            .ok_or_else(|| RedactError::InvalidArgument("the review is finished".into()))?;
        let frames_path = super::frames_path(output);
        let (size, blake3) = csv.finish()?;
        let frames = FramesLog {
            path: frames_path,
            size,
            blake3,
            pictures: st.visited,
        };
        let sheet = if st.taken.is_empty() {
            None
        } else {
            match write_sheet(output, &st.taken, copy_blake3) {
                Ok(s) => Some(s),
                Err(e) => {
                    let _ = std::fs::remove_file(&frames.path);
                    return Err(e);
                }
            }
        };
        Ok(Reviewed { frames, sheet })
    }
}

/// Composes and writes the contact sheet of `taken` beside `output`.
fn write_sheet(
    output: &Path,
    taken: &[Taken],
    copy_blake3: &str,
) -> Result<ContactSheet, RedactError> {
    let path = super::contact_sheet_path(output);
    let (image, pictures) = compose(taken);
    let numbers: Vec<String> = pictures.iter().map(|p| p.frame.to_string()).collect();
    let comment = format!(
        "Custody contact sheet of a redacted copy (BLAKE3 {copy_blake3}): pictures {}; masks outlined in red",
        numbers.join(", ")
    );
    let bytes = encode_png(&image, &comment).map_err(|e| RedactError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    let (size, blake3) = write_new(&path, &bytes)?;
    Ok(ContactSheet {
        path,
        size,
        blake3,
        width: image.width,
        height: image.height,
        pictures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_the_copy_preferring_masked_pictures() {
        // 120 pictures, masks only in 30..40: one picture per stretch of
        // 10, the masked stretches' masked picture nearest their middle.
        let mut masks = vec![0u32; 120];
        masks[30..40].fill(1);
        masks[47] = 2;
        assert_eq!(
            choose(&masks, 12),
            [5, 15, 25, 35, 47, 55, 65, 75, 85, 95, 105, 115]
        );
        // Fewer stretches: the masked pictures win where a stretch has any.
        assert_eq!(choose(&masks, 3), [30, 47, 100]);
        // Short copies give fewer pictures; none asked, none given.
        assert_eq!(choose(&[0; 25], 12), [4, 12, 20]);
        assert_eq!(choose(&[0; 1], 12), [0]);
        assert!(choose(&[], 12).is_empty());
        assert!(choose(&masks, 0).is_empty());
    }

    #[test]
    fn yuv_becomes_rgb_by_the_matrix_and_range() {
        let bt601 = weights(Matrix::Bt601, 480);
        let bt709 = weights(Matrix::Bt709, 480);
        // Limited-range black and white, and full range.
        assert_eq!(to_rgb(16, 128, 128, false, bt709), [0, 0, 0]);
        assert_eq!(to_rgb(235, 128, 128, false, bt709), [255, 255, 255]);
        assert_eq!(to_rgb(255, 128, 128, true, bt601), [255, 255, 255]);
        // BT.709 red (limited): Y 63, Cb 102, Cr 240.
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 2);
        assert!(close(to_rgb(63, 102, 240, false, bt709), [255, 0, 0]));
        // BT.601 red (limited): Y 81, Cb 90, Cr 240; read as BT.709 it is not red.
        assert!(close(to_rgb(81, 90, 240, false, bt601), [255, 0, 0]));
        assert!(!close(to_rgb(81, 90, 240, false, bt709), [255, 0, 0]));
        // Unstated: BT.709 for HD, BT.601 below.
        assert_eq!(weights(Matrix::Unspecified, 1080), bt709);
        assert_eq!(weights(Matrix::Unspecified, 480), bt601);
        assert_eq!(weights(Matrix::Bt2020, 480), (0.2627, 0.0593));
    }

    /// A `w` x `h` 4:2:0 picture: luma a horizontal ramp, chroma neutral
    /// except a red patch (BT.601 limited) over luma pixels x >= w / 2.
    fn picture(w: u32, h: u32) -> Vec<Vec<u8>> {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let y: Vec<u8> = (0..w * h)
            .map(|i| {
                if i % w >= w / 2 {
                    81
                } else {
                    (16 + (i % w) * 200 / w) as u8
                }
            })
            .collect();
        let chroma = |red: u8| -> Vec<u8> {
            (0..cw * ch)
                .map(|i| if (i % cw) * 2 >= w / 2 { red } else { 128 })
                .collect()
        };
        vec![y, chroma(90), chroma(240)]
    }

    #[test]
    fn a_thumbnail_keeps_the_aspect_shows_the_picture_and_outlines_its_masks() {
        let (w, h) = (640u32, 360u32);
        let planes = picture(w, h);
        let refs: Vec<&[u8]> = planes.iter().map(|p| p.as_slice()).collect();
        let f = FrameView::new(
            PixelFormat::Yuv420p,
            w,
            h,
            false,
            &refs,
            &[w as usize, (w / 2) as usize, (w / 2) as usize],
        )
        .unwrap();
        let r = Region {
            x0: 100,
            y0: 60,
            x1: 200,
            y1: 160,
        };
        let t = thumbnail(&f, weights(Matrix::Bt601, h), &[r]);
        assert_eq!((t.width, t.height), (320, 180));
        // The right half is the red patch, the left a grey ramp.
        let px = t.get(300, 170);
        assert!(px[0] > 250 && px[1] < 5 && px[2] < 5, "{px:?}");
        let px = t.get(10, 170);
        assert!(px[0] == px[1] && px[1] == px[2], "{px:?}");
        // The region, halved: (50, 30)-(100, 80), 2 pixels inside its edges.
        for (x, y) in [(50, 30), (51, 31), (99, 79), (98, 50), (75, 30), (75, 79)] {
            assert_eq!(t.get(x, y), OUTLINE, "({x}, {y})");
        }
        for (x, y) in [(52, 32), (75, 50), (97, 77)] {
            assert_ne!(t.get(x, y), OUTLINE, "({x}, {y})");
            assert_ne!(t.get(x, y), HALO, "({x}, {y})");
        }
        // Around it, a white pixel; beyond that, the picture.
        for (x, y) in [(49, 30), (100, 79), (75, 80), (75, 29), (49, 29), (100, 80)] {
            assert_eq!(t.get(x, y), HALO, "({x}, {y})");
        }
        for (x, y) in [(48, 30), (101, 79), (75, 81), (75, 28)] {
            assert_ne!(t.get(x, y), HALO, "({x}, {y})");
            assert_ne!(t.get(x, y), OUTLINE, "({x}, {y})");
        }
        // Overlapping regions: one's halo never covers another's outline.
        let s = Region {
            x0: 190,
            y0: 100,
            x1: 300,
            y1: 200,
        };
        let t = thumbnail(&f, weights(Matrix::Bt601, h), &[r, s]);
        for y in 50..80 {
            assert_eq!(t.get(98, y), OUTLINE, "(98, {y})");
            assert_eq!(t.get(99, y), OUTLINE, "(99, {y})");
        }
        assert_eq!(t.get(94, 50), HALO);
        assert_eq!(t.get(95, 50), OUTLINE);
        // Never enlarged; a portrait picture is bounded by its height.
        assert_eq!(thumb_size(160, 120), (160, 120));
        assert_eq!(thumb_size(1080, 1920), (270, 480));
        assert_eq!(thumb_size(1, 100_000), (1, 480));
    }

    #[test]
    fn grey_pictures_and_odd_sizes_make_thumbnails() {
        let (w, h) = (7u32, 5u32);
        let y: Vec<u8> = (0..w * h).map(|i| (i * 7) as u8).collect();
        let f = FrameView::new(PixelFormat::Gray8, w, h, true, &[&y], &[w as usize]).unwrap();
        let t = thumbnail(&f, weights(Matrix::Unspecified, h), &[]);
        assert_eq!((t.width, t.height), (7, 5));
        assert_eq!(t.get(3, 2), [119, 119, 119]);
        let (u, v) = (vec![128u8; 4 * 3], vec![128u8; 4 * 3]);
        let y = vec![235u8; 7 * 5];
        let f =
            FrameView::new(PixelFormat::Yuv420p, w, h, false, &[&y, &u, &v], &[7, 4, 4]).unwrap();
        // A region narrower and lower than two outlines is all outline.
        let r = Region {
            x0: 2,
            y0: 0,
            x1: 6,
            y1: 4,
        };
        let t = thumbnail(&f, weights(Matrix::Bt709, h), &[r]);
        for y in 0..h {
            for x in 0..w {
                let inside = (2..6).contains(&x) && y < 4;
                let px = t.get(x, y);
                assert_eq!(px == OUTLINE, inside, "({x}, {y}): {px:?}");
                if !inside {
                    assert_eq!(px, [255, 255, 255]);
                }
            }
        }
    }

    #[test]
    fn labels_are_drawn_with_the_built_in_digits() {
        assert_eq!(label(59, 1.9667), "59  0:00:01.967");
        assert_eq!(label(0, 3725.5), "0  1:02:05.500");
        assert_eq!(label(1, -1.0), "1  0:00:00.000");
        let mut img = Rgb::filled(40, 9, BACKGROUND);
        img.text(1, 1, 40, "8:1");
        let inked = img.data.chunks(3).filter(|c| *c == INK).count();
        let bits = |c| glyph(c).iter().map(|b| b.count_ones()).sum::<u32>();
        assert_eq!(inked as u32, bits('8') + bits(':') + bits('1'));
        // The top row of '8' starts one pixel in from its cell.
        assert_eq!(img.get(1, 1), BACKGROUND);
        assert_eq!(img.get(2, 1), INK);
        // Text stops at its right bound.
        let mut img = Rgb::filled(40, 9, BACKGROUND);
        img.text(1, 1, 11, "888");
        let inked = img.data.chunks(3).filter(|c| *c == INK).count();
        assert_eq!(inked as u32, bits('8'));
    }

    #[test]
    fn a_sheet_tiles_the_thumbnails_and_encodes_as_png() {
        let thumb = |c: u8| Rgb::filled(32, 18, [c, c, c]);
        let taken: Vec<Taken> = (0..6u8)
            .map(|i| Taken {
                thumb: thumb(100 + i),
                frame: u64::from(i) * 10,
                time: f64::from(i) / 3.0,
                masks: 0,
            })
            .collect();
        let (sheet, placed) = compose(&taken);
        assert_eq!(
            (sheet.width, sheet.height),
            (GAP + 4 * (32 + GAP), GAP + 2 * (18 + LABEL + GAP))
        );
        assert_eq!(
            (placed[5].x, placed[5].y),
            (GAP + 32 + GAP, GAP + 18 + LABEL + GAP)
        );
        for p in &placed {
            let c = 100 + (p.frame / 10) as u8;
            assert_eq!(sheet.get(p.x, p.y), [c, c, c]);
            assert_eq!(sheet.get(p.x + p.width - 1, p.y + p.height - 1), [c, c, c]);
        }
        let bytes = encode_png(&sheet, "a comment").unwrap();
        let mut r = png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (sheet.width, sheet.height));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&buf[..info.buffer_size()], sheet.data.as_slice());
        assert!(
            r.info()
                .uncompressed_latin1_text
                .iter()
                .any(|t| t.keyword == "Comment" && t.text == "a comment")
        );
    }
}
