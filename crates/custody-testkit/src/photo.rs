//! Small photo writers: a PNG with an optional `tIME` chunk, a JPEG with EXIF.

fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    let c = crc32(&out[start..]);
    out.extend_from_slice(&c.to_be_bytes());
}

/// A PNG header of `width` x `height` (8-bit greyscale; no picture data),
/// with `tIME` (year, month, day, hour, minute, second) when given.
pub fn png(width: u32, height: u32, time: Option<[u16; 6]>) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some([y, mo, d, h, mi, s]) = time {
        let mut t = y.to_be_bytes().to_vec();
        t.extend([mo, d, h, mi, s].map(|v| v as u8));
        chunk(&mut out, b"tIME", &t);
    }
    chunk(&mut out, b"IEND", &[]);
    out
}

/// What [`jpeg`] writes into its EXIF.
#[derive(Debug, Clone, Copy)]
pub struct ExifSpec<'a> {
    /// Make.
    pub make: &'a str,
    /// Model.
    pub model: &'a str,
    /// SerialNumber (0xA431).
    pub serial: &'a str,
    /// DateTimeOriginal, `YYYY:MM:DD HH:MM:SS`.
    pub taken: &'a str,
    /// OffsetTimeOriginal, `+HH:MM`.
    pub offset: Option<&'a str>,
    /// Latitude and longitude in degrees (signed), and altitude in metres.
    pub gps: Option<(f64, f64, f64)>,
}

/// A little-endian TIFF IFD writer: entries sorted by tag, values after.
struct Ifd {
    entries: Vec<(u16, u16, u32, Vec<u8>)>,
}

impl Ifd {
    fn ascii(&mut self, tag: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.entries.push((tag, 2, v.len() as u32, v));
    }
    fn long(&mut self, tag: u16, v: u32) {
        self.entries.push((tag, 4, 1, v.to_le_bytes().to_vec()));
    }
    fn byte(&mut self, tag: u16, v: u8) {
        self.entries.push((tag, 1, 1, vec![v]));
    }
    fn rationals(&mut self, tag: u16, vs: &[(u32, u32)]) {
        let b = vs
            .iter()
            .flat_map(|(n, d)| [n.to_le_bytes(), d.to_le_bytes()].concat())
            .collect();
        self.entries.push((tag, 5, vs.len() as u32, b));
    }
    /// The IFD at `base` (its offset in the TIFF), values following it.
    fn write(mut self, base: u32) -> Vec<u8> {
        self.entries.sort_by_key(|e| e.0);
        let n = self.entries.len() as u32;
        let mut values_at = base + 2 + 12 * n + 4;
        let (mut head, mut values) = (Vec::new(), Vec::new());
        head.extend_from_slice(&(n as u16).to_le_bytes());
        for (tag, kind, count, v) in self.entries {
            head.extend_from_slice(&tag.to_le_bytes());
            head.extend_from_slice(&kind.to_le_bytes());
            head.extend_from_slice(&count.to_le_bytes());
            if v.len() <= 4 {
                let mut inline = v.clone();
                inline.resize(4, 0);
                head.extend_from_slice(&inline);
            } else {
                head.extend_from_slice(&values_at.to_le_bytes());
                values_at += v.len() as u32;
                values.extend_from_slice(&v);
            }
        }
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend(values);
        head
    }
}

/// Degrees as EXIF's degrees, minutes and seconds (in 1/10000 s).
fn dms(v: f64) -> [(u32, u32); 3] {
    let v = v.abs();
    let d = v.floor();
    let m = ((v - d) * 60.0).floor();
    let s = ((v - d) * 60.0 - m) * 60.0;
    [
        (d as u32, 1),
        (m as u32, 1),
        ((s * 10_000.0).round() as u32, 10_000),
    ]
}

/// A JPEG header (SOI, APP1 EXIF, SOF0 of 64 x 48, EOI; no picture data)
/// whose EXIF holds `spec`.
pub fn jpeg(spec: &ExifSpec<'_>) -> Vec<u8> {
    // The TIFF: header, IFD0, then the Exif IFD, then the GPS IFD.
    let mut ifd0 = Ifd {
        entries: Vec::new(),
    };
    ifd0.ascii(0x010f, spec.make);
    ifd0.ascii(0x0110, spec.model);
    ifd0.long(0x8769, 0);
    if spec.gps.is_some() {
        ifd0.long(0x8825, 0);
    }
    // IFD0's size does not depend on the offsets it will hold.
    let exif_at = 8 + ifd0.size();
    let mut exif = Ifd {
        entries: Vec::new(),
    };
    exif.ascii(0x9003, spec.taken);
    if let Some(o) = spec.offset {
        exif.ascii(0x9011, o);
    }
    exif.ascii(0xa431, spec.serial);
    let exif_bytes = exif.write(exif_at);
    let gps_at = exif_at + exif_bytes.len() as u32;
    let mut ifd0 = Ifd {
        entries: Vec::new(),
    };
    ifd0.ascii(0x010f, spec.make);
    ifd0.ascii(0x0110, spec.model);
    ifd0.long(0x8769, exif_at);
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    let mut gps_bytes = Vec::new();
    if let Some((lat, lon, alt)) = spec.gps {
        ifd0.long(0x8825, gps_at);
        let mut gps = Ifd {
            entries: Vec::new(),
        };
        gps.ascii(0x0001, if lat < 0.0 { "S" } else { "N" });
        gps.rationals(0x0002, &dms(lat));
        gps.ascii(0x0003, if lon < 0.0 { "W" } else { "E" });
        gps.rationals(0x0004, &dms(lon));
        gps.byte(0x0005, (alt < 0.0) as u8);
        gps.rationals(0x0006, &[((alt.abs() * 100.0).round() as u32, 100)]);
        gps_bytes = gps.write(gps_at);
    }
    tiff.extend(ifd0.write(8));
    tiff.extend(exif_bytes);
    tiff.extend(gps_bytes);
    let mut out = vec![0xff, 0xd8, 0xff, 0xe1];
    out.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend(tiff);
    out.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 48, 0, 64, 1, 1, 0x11, 0]);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

impl Ifd {
    /// The size [`Ifd::write`] will give.
    fn size(&self) -> u32 {
        let n = self.entries.len() as u32;
        let values: u32 = self
            .entries
            .iter()
            .filter(|e| e.3.len() > 4)
            .map(|e| e.3.len() as u32)
            .sum();
        2 + 12 * n + 4 + values
    }
}
