//! EXIF: the TIFF structure inside a JPEG's `APP1` or a PNG's `eXIf`
//! chunk: IFD0, the Exif IFD and the GPS IFD, for the fields a photo's
//! provenance needs (make, model, serial number, when, where). Bounded:
//! each IFD is read once, at most 512 entries each, values inside the
//! TIFF bytes.
//!
//! ```
//! use custody_container::exif::Exif;
//! // Big-endian TIFF, IFD0 with Make = "ACME".
//! let tiff = [
//!     b'M', b'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at 8
//!     0, 1, // one entry
//!     0x01, 0x0f, 0, 2, 0, 0, 0, 5, 0, 0, 0, 26, // Make, ASCII, 5 bytes at 26
//!     0, 0, 0, 0, // no next IFD
//!     b'A', b'C', b'M', b'E', 0,
//! ];
//! let e = Exif::parse(&tiff).unwrap();
//! assert_eq!(e.text("Make"), Some("ACME"));
//! ```

use crate::bmff::Location;

/// A value of a tag Custody reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ExifValue {
    /// ASCII text (trailing NULs and spaces dropped).
    Text(String),
    /// Integers (BYTE, SHORT, LONG, SLONG).
    Ints(Vec<i64>),
    /// Rationals as numbers (RATIONAL, SRATIONAL).
    Numbers(Vec<f64>),
}

/// The tags read, by exiftool's names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exif {
    /// Tag name and value, in file order.
    pub tags: Vec<(&'static str, ExifValue)>,
}

/// (IFD, tag id) to exiftool's tag name; IFDs: 0 IFD0, 1 Exif, 2 GPS.
const NAMES: [(u8, u16, &str); 22] = [
    (0, 0x010f, "Make"),
    (0, 0x0110, "Model"),
    (0, 0x0112, "Orientation"),
    (0, 0x0131, "Software"),
    (0, 0x0132, "ModifyDate"),
    (1, 0x9003, "DateTimeOriginal"),
    (1, 0x9004, "CreateDate"),
    (1, 0x9010, "OffsetTime"),
    (1, 0x9011, "OffsetTimeOriginal"),
    (1, 0x9291, "SubSecTimeOriginal"),
    (1, 0xa002, "ExifImageWidth"),
    (1, 0xa003, "ExifImageHeight"),
    (1, 0xa431, "SerialNumber"),
    (1, 0xa433, "LensMake"),
    (2, 0x0001, "GPSLatitudeRef"),
    (2, 0x0002, "GPSLatitude"),
    (2, 0x0003, "GPSLongitudeRef"),
    (2, 0x0004, "GPSLongitude"),
    (2, 0x0005, "GPSAltitudeRef"),
    (2, 0x0006, "GPSAltitude"),
    (2, 0x0007, "GPSTimeStamp"),
    (2, 0x001d, "GPSDateStamp"),
];

/// Most entries read from one IFD.
const MAX_ENTRIES: usize = 512;

struct Tiff<'a> {
    d: &'a [u8],
    big: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.d.get(at..at + 2)?.try_into().ok()?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.d.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// The value of the 12-byte entry at `at`, for the types read here.
    fn value(&self, at: usize) -> Option<ExifValue> {
        let kind = self.u16(at + 2)?;
        let count = self.u32(at + 4)? as usize;
        let unit: usize = match kind {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 => 4,
            5 | 10 => 8,
            _ => return None,
        };
        let len = unit.checked_mul(count)?;
        let start = if len <= 4 {
            at + 8
        } else {
            self.u32(at + 8)? as usize
        };
        let b = self.d.get(start..start.checked_add(len)?)?;
        let n = count.min(64);
        Some(match kind {
            2 => {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                ExifValue::Text(String::from_utf8_lossy(&b[..end]).trim_end().to_string())
            }
            1 | 7 => ExifValue::Ints(b.iter().take(n).map(|&x| x as i64).collect()),
            6 => ExifValue::Ints(b.iter().take(n).map(|&x| x as i8 as i64).collect()),
            3 | 8 => ExifValue::Ints(
                (0..n)
                    .map(|i| {
                        let v = self.u16(start + 2 * i).unwrap_or(0);
                        if kind == 8 { v as i16 as i64 } else { v as i64 }
                    })
                    .collect(),
            ),
            4 | 9 => ExifValue::Ints(
                (0..n)
                    .map(|i| {
                        let v = self.u32(start + 4 * i).unwrap_or(0);
                        if kind == 9 { v as i32 as i64 } else { v as i64 }
                    })
                    .collect(),
            ),
            _ => ExifValue::Numbers(
                (0..n)
                    .map(|i| {
                        let (a, b) = (
                            self.u32(start + 8 * i).unwrap_or(0),
                            self.u32(start + 8 * i + 4).unwrap_or(0),
                        );
                        let (a, b) = if kind == 10 {
                            (a as i32 as f64, b as i32 as f64)
                        } else {
                            (a as f64, b as f64)
                        };
                        if b == 0.0 { f64::NAN } else { a / b }
                    })
                    .collect(),
            ),
        })
    }
}

impl Exif {
    /// Reads the TIFF structure `tiff` (from its byte-order mark); `None`
    /// when it has no valid header.
    pub fn parse(tiff: &[u8]) -> Option<Exif> {
        let big = match tiff.get(..2)? {
            b"MM" => true,
            b"II" => false,
            _ => return None,
        };
        let t = Tiff { d: tiff, big };
        if t.u16(2)? != 42 {
            return None;
        }
        let mut exif = Exif::default();
        let mut seen: Vec<u32> = Vec::new();
        // (IFD kind, offset): IFD0 first; the Exif and GPS IFDs it points to.
        let mut todo = vec![(0u8, t.u32(4)?)];
        while let Some((ifd, off)) = todo.pop() {
            if off == 0 || seen.contains(&off) || seen.len() >= 8 {
                continue;
            }
            seen.push(off);
            let at = off as usize;
            let Some(n) = t.u16(at) else { continue };
            for i in 0..(n as usize).min(MAX_ENTRIES) {
                let e = at + 2 + 12 * i;
                crate::cost::step(1);
                let Some(tag) = t.u16(e) else { break };
                match (ifd, tag) {
                    (0, 0x8769) => todo.extend(t.u32(e + 8).map(|o| (1, o))),
                    (0, 0x8825) => todo.extend(t.u32(e + 8).map(|o| (2, o))),
                    _ => {
                        if let Some(&(_, _, name)) =
                            NAMES.iter().find(|(i, id, _)| *i == ifd && *id == tag)
                            && let Some(v) = t.value(e)
                        {
                            exif.tags.push((name, v));
                        }
                    }
                }
            }
        }
        Some(exif)
    }

    /// The first value of tag `name`.
    pub fn get(&self, name: &str) -> Option<&ExifValue> {
        self.tags.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Tag `name` as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            ExifValue::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Degrees from a GPS degrees/minutes/seconds triple, signed by its
    /// reference (`S`, `W` negative).
    fn degrees(&self, value: &str, reference: &str, negative: &str) -> Option<f64> {
        let ExifValue::Numbers(dms) = self.get(value)? else {
            return None;
        };
        let d =
            dms.first()? + dms.get(1).unwrap_or(&0.0) / 60.0 + dms.get(2).unwrap_or(&0.0) / 3600.0;
        if !d.is_finite() {
            return None;
        }
        Some(if self.text(reference) == Some(negative) {
            -d
        } else {
            d
        })
    }

    /// Where the photo was taken (GPS IFD), as exiftool's composite
    /// `GPSLatitude`, `GPSLongitude` and `GPSAltitude` give it.
    pub fn location(&self) -> Option<Location> {
        let lat = self.degrees("GPSLatitude", "GPSLatitudeRef", "S")?;
        let lon = self.degrees("GPSLongitude", "GPSLongitudeRef", "W")?;
        let alt = match self.get("GPSAltitude") {
            Some(ExifValue::Numbers(a)) if a.first().is_some_and(|v| v.is_finite()) => {
                let below = matches!(self.get("GPSAltitudeRef"), Some(ExifValue::Ints(r)) if r.first() == Some(&1));
                Some(if below { -a[0] } else { a[0] })
            }
            _ => None,
        };
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some(Location {
            lat,
            lon,
            alt,
        })
    }

    /// `DateTimeOriginal` as `YYYY-MM-DDTHH:MM:SS` (the camera's clock), and
    /// its `OffsetTimeOriginal` when given.
    pub fn taken(&self) -> Option<(String, Option<String>)> {
        let t = self.text("DateTimeOriginal")?;
        let b = t.as_bytes();
        let digits = |r: std::ops::Range<usize>| {
            b.get(r.clone())
                .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
        };
        if b.len() < 19
            || !(digits(0..4)
                && digits(5..7)
                && digits(8..10)
                && digits(11..13)
                && digits(14..16)
                && digits(17..19))
        {
            return None;
        }
        let local = format!("{}-{}-{}T{}", &t[0..4], &t[5..7], &t[8..10], &t[11..19]);
        let offset = self
            .text("OffsetTimeOriginal")
            .filter(|o| o.len() == 6 && matches!(o.as_bytes()[0], b'+' | b'-'))
            .map(str::to_string);
        Some((local, offset))
    }
}
