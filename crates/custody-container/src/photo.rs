//! Photos: JPEG (markers up to the scan: `SOFn` picture size, `APP0`
//! JFIF, `APP1` EXIF and XMP) and PNG (chunks with their CRCs: `IHDR`,
//! `tIME`, `eXIf`, `tEXt`, `iTXt`). What a photo says of when and where
//! it was taken ([`crate::exif`]) reaches the probe, and from it the
//! manifest.
//!
//! ```
//! use custody_container::{Limits, photo::Photo};
//! // A PNG: signature, IHDR (16 x 8), tIME, IEND.
//! let png = custody_testkit::photo::png(16, 8, Some([2026, 11, 29, 8, 30, 0]));
//! let p = Photo::parse(&png, Limits::default()).unwrap();
//! assert_eq!((p.codec, p.width, p.height), ("png", 16, 8));
//! assert_eq!(p.modified.as_deref(), Some("2026-11-29T08:30:00Z"));
//! ```

use crate::error::{Diag, Error, ErrorKind, Limits, Result, Warning};
use crate::exif::Exif;
use std::ops::Range;

/// A parsed JPEG or PNG file.
#[derive(Debug, Clone)]
pub struct Photo {
    /// FFmpeg's codec name: `mjpeg` or `png`.
    pub codec: &'static str,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// The EXIF fields read.
    pub exif: Option<Exif>,
    /// XMP packet bytes.
    pub xmp: Option<Range<u64>>,
    /// JFIF version (major, minor).
    pub jfif: Option<(u8, u8)>,
    /// PNG `tIME`: last modification, UTC (RFC 3339).
    pub modified: Option<String>,
    /// PNG `tEXt`/`iTXt` keywords and texts.
    pub text: Vec<(String, String)>,
    /// The bytes of the picture (the whole file, as FFmpeg's image demuxer
    /// reads it): one packet.
    pub picture: Range<u64>,
    /// Problems found and recovered from.
    pub warnings: Vec<Warning>,
}

const XMP_JPEG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

impl Photo {
    /// Parses a JPEG or PNG file.
    pub fn parse(data: &[u8], limits: Limits) -> Result<Photo> {
        let mut diag = Diag::new(limits.strict);
        let mut p = Photo {
            codec: "mjpeg",
            width: 0,
            height: 0,
            exif: None,
            xmp: None,
            jfif: None,
            modified: None,
            text: Vec::new(),
            picture: 0..data.len() as u64,
            warnings: Vec::new(),
        };
        if data.starts_with(&[0xff, 0xd8]) {
            p.jpeg(data, &mut diag)?;
        } else if data.starts_with(PNG_SIGNATURE) {
            p.codec = "png";
            p.png(data, &mut diag)?;
        } else {
            return Err(Error::new(0, "", ErrorKind::Unrecognised));
        }
        p.warnings = diag.warnings;
        Ok(p)
    }

    fn jpeg(&mut self, d: &[u8], diag: &mut Diag) -> Result<()> {
        let mut at = 2usize;
        loop {
            // Fill bytes (0xFF runs) may precede a marker.
            crate::cost::step(1);
            while d.get(at) == Some(&0xff) && d.get(at + 1) == Some(&0xff) {
                at += 1;
            }
            let (Some(&0xff), Some(&marker)) = (d.get(at), d.get(at + 1)) else {
                diag.note(at as u64, "jpeg", "no marker where one was expected")?;
                break;
            };
            if marker == 0xd9 || marker == 0xda {
                break; // end of image, or the scan: no more headers
            }
            if (0xd0..=0xd7).contains(&marker) || marker == 0x01 {
                at += 2;
                continue;
            }
            let Some(len) = d
                .get(at + 2..at + 4)
                .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
            else {
                diag.note(at as u64, "jpeg", "marker cut by the end of the file")?;
                break;
            };
            let body = at + 4;
            let end = at + 2 + len;
            if len < 2 || end > d.len() {
                diag.note(
                    at as u64,
                    "jpeg",
                    format!("segment {marker:#04x} of {len} bytes runs past the end of the file"),
                )?;
                break;
            }
            let b = &d[body..end];
            match marker {
                // SOFn (not DHT, JPG or DAC): the first gives the picture size.
                0xc0..=0xcf
                    if !matches!(marker, 0xc4 | 0xc8 | 0xcc) && b.len() >= 5 && self.width == 0 =>
                {
                    self.height = u16::from_be_bytes([b[1], b[2]]) as u32;
                    self.width = u16::from_be_bytes([b[3], b[4]]) as u32;
                }
                0xe0 if b.starts_with(b"JFIF\0") && b.len() >= 7 => self.jfif = Some((b[5], b[6])),
                0xe1 if b.starts_with(b"Exif\0\0") && self.exif.is_none() => {
                    self.exif = Exif::parse(&b[6..]);
                    if self.exif.is_none() {
                        diag.note(body as u64, "jpeg/APP1", "EXIF without a valid TIFF header")?;
                    }
                }
                0xe1 if b.starts_with(XMP_JPEG) => {
                    let start = (body + XMP_JPEG.len()) as u64;
                    self.xmp = Some(start..end as u64);
                }
                _ => {}
            }
            at = end;
        }
        Ok(())
    }

    fn png(&mut self, d: &[u8], diag: &mut Diag) -> Result<()> {
        let table = crc32_table();
        let mut at = PNG_SIGNATURE.len();
        while at + 12 <= d.len() {
            crate::cost::step(1);
            let len = u32::from_be_bytes(d[at..at + 4].try_into().expect("4")) as usize;
            let kind = &d[at + 4..at + 8];
            let Some(end) = (at + 12).checked_add(len).filter(|&e| e <= d.len()) else {
                diag.note(at as u64, "png", "chunk runs past the end of the file")?;
                break;
            };
            let body = &d[at + 8..at + 8 + len];
            let crc = u32::from_be_bytes(d[end - 4..end].try_into().expect("4"));
            if crc32(&table, &d[at + 4..at + 8 + len]) != crc {
                diag.note(
                    at as u64,
                    "png",
                    format!("{} chunk CRC mismatch", String::from_utf8_lossy(kind)),
                )?;
            }
            match kind {
                b"IHDR" if len >= 8 => {
                    self.width = u32::from_be_bytes(body[..4].try_into().expect("4"));
                    self.height = u32::from_be_bytes(body[4..8].try_into().expect("4"));
                }
                b"tIME" if len == 7 => {
                    let y = u16::from_be_bytes([body[0], body[1]]);
                    self.modified = Some(format!(
                        "{y:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                        body[2], body[3], body[4], body[5], body[6]
                    ));
                }
                b"eXIf" => self.exif = Exif::parse(body),
                b"tEXt" => {
                    if let Some(z) = body.iter().position(|&c| c == 0) {
                        let latin1 = |b: &[u8]| b.iter().map(|&c| c as char).collect::<String>();
                        self.text.push((latin1(&body[..z]), latin1(&body[z + 1..])));
                    }
                }
                b"iTXt" => {
                    // keyword\0, compressed flag, method, language\0, translated\0, text.
                    let mut parts = body.splitn(2, |&c| c == 0);
                    let key = parts.next().unwrap_or(&[]);
                    let rest = parts.next().unwrap_or(&[]);
                    if rest.first() == Some(&0) && rest.len() >= 2 {
                        let mut f = rest[2..].splitn(3, |&c| c == 0);
                        let (_, _, text) = (f.next(), f.next(), f.next().unwrap_or(&[]));
                        if key == b"XML:com.adobe.xmp" {
                            let start = (end - 4 - text.len()) as u64;
                            self.xmp = Some(start..(end - 4) as u64);
                        } else {
                            self.text.push((
                                String::from_utf8_lossy(key).into_owned(),
                                String::from_utf8_lossy(text).into_owned(),
                            ));
                        }
                    }
                }
                b"IEND" => break,
                _ => {}
            }
            if self.text.len() > 256 {
                self.text.truncate(256);
            }
            at = end;
        }
        Ok(())
    }
}

/// The CRC-32 table (polynomial 0xEDB88320, reflected) of PNG chunks.
fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    for (i, e) in t.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *e = c;
    }
    t
}

fn crc32(t: &[u32; 256], b: &[u8]) -> u32 {
    !b.iter().fold(!0u32, |c, &x| {
        t[((c ^ x as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_testkit::photo::{ExifSpec, jpeg};

    #[test]
    fn exif_fields_time_and_place_are_read() {
        let f = jpeg(&ExifSpec {
            make: "ACME",
            model: "BWC-9",
            serial: "SN77",
            taken: "2026:11:29 08:30:00",
            offset: Some("+01:00"),
            gps: Some((-33.865, 151.209_3, -4.5)),
        });
        let p = Photo::parse(&f, Limits::default()).unwrap();
        assert_eq!((p.width, p.height), (64, 48));
        let e = p.exif.as_ref().unwrap();
        assert_eq!(e.text("Make"), Some("ACME"));
        assert_eq!(e.text("SerialNumber"), Some("SN77"));
        assert_eq!(
            e.taken(),
            Some(("2026-11-29T08:30:00".into(), Some("+01:00".into())))
        );
        let l = e.location().unwrap();
        assert!(
            (l.lat + 33.865).abs() < 1e-6 && (l.lon - 151.2093).abs() < 1e-6,
            "{l:?}"
        );
        assert_eq!(l.alt, Some(-4.5));
        let probe = crate::probe(&f, Default::default()).unwrap();
        assert_eq!(probe.created.as_deref(), Some("2026-11-29T07:30:00Z"));
        assert_eq!(probe.location, Some(l));
        // Every cut and every flipped byte: no panic.
        for cut in 0..f.len() {
            let _ = Photo::parse(&f[..cut], Limits::default());
            let mut g = f.clone();
            g[cut] ^= 0xff;
            let _ = Photo::parse(&g, Limits::default());
        }
    }
}
