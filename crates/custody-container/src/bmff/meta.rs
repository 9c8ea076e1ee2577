//! File metadata: `udta`, `meta`/`keys`/`ilst` (including Apple `mdta` keys), XMP, location.

use super::boxes::BoxRef;
use crate::bytes::{be16, be32};
use crate::error::{Diag, Result};
use std::collections::BTreeMap;

/// User type of the `uuid` box that carries XMP.
pub const XMP_UUID: [u8; 16] = [
    0xbe, 0x7a, 0xcf, 0xcb, 0x97, 0xa9, 0x42, 0xe8, 0x9c, 0x71, 0x99, 0x94, 0x91, 0xe3, 0xaf, 0xac,
];

/// A metadata value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum MetaValue {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Bytes that are not text, listed by position and size.
    Raw {
        // In the order of their JSON names, as in `Location`.
        /// Number of bytes.
        bytes: u64,
        /// Absolute offset of the bytes.
        offset: u64,
    },
}

/// A geographic position (ISO 6709).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    // Fields in the order of their JSON names, so that serialising directly
    // writes what a sorted `serde_json::Value` would (`custody probe --json`).
    /// Altitude in metres, when given.
    pub alt: Option<f64>,
    /// Latitude in degrees, north positive.
    pub lat: f64,
    /// Longitude in degrees, east positive.
    pub lon: f64,
}

/// Metadata found in a file.
#[derive(Debug, Clone, Default)]
pub struct Metadata<'a> {
    /// `mvhd` creation time (seconds since 1904; 0 when unset).
    pub created: u64,
    /// `mvhd` modification time.
    pub modified: u64,
    /// Items by key: `©day`, `©mak`, Apple keys such as `com.apple.quicktime.make`,
    /// vendor boxes such as `FIRM`.
    pub items: BTreeMap<String, MetaValue>,
    /// Location parsed from `©xyz` or `com.apple.quicktime.location.ISO6709`.
    pub location: Option<Location>,
    /// Raw XMP packet.
    pub xmp: Option<&'a [u8]>,
}

impl Metadata<'_> {
    /// Adds an item; a different value under a key already present is kept as `key#2`, `key#3`, ...
    fn insert(&mut self, key: String, value: MetaValue) {
        if self.items.len() >= MAX_ITEMS {
            return;
        }
        match self.items.get(&key) {
            None => {
                self.items.insert(key, value);
            }
            Some(v) if *v == value => {}
            Some(_) => {
                let n = (2..)
                    .find(|n| !self.items.contains_key(&format!("{key}#{n}")))
                    .unwrap_or(2);
                self.items.insert(format!("{key}#{n}"), value);
            }
        }
    }
}

/// Cap on metadata items so a hostile file cannot grow the map without bound.
const MAX_ITEMS: usize = 4096;

fn text_or_raw(bytes: &[u8], offset: u64) -> MetaValue {
    let trimmed = {
        let mut end = bytes.len();
        while end > 0 && bytes[end - 1] == 0 {
            end -= 1;
        }
        &bytes[..end]
    };
    match std::str::from_utf8(trimmed) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => {
            MetaValue::Text(s.to_string())
        }
        _ => MetaValue::Raw {
            offset,
            bytes: bytes.len() as u64,
        },
    }
}

/// Parses `udta` children: QuickTime `©xxx` strings, `meta`, vendor boxes.
pub(crate) fn parse_udta<'a>(
    m: &mut Metadata<'a>,
    udta: &BoxRef<'a>,
    diag: &mut Diag,
) -> Result<()> {
    for b in udta.children(0).flatten() {
        let key = b.kind.to_string();
        match &b.kind.0 {
            b"meta" => parse_meta(m, &b, diag)?,
            b"loci" => {
                // 3GPP location: version/flags, language, name, role, then 16.16 longitude,
                // latitude and altitude.
                let p = b.payload;
                if let Some(name_end) = p.get(6..).and_then(|r| r.iter().position(|&c| c == 0)) {
                    let at = 6 + name_end + 1 + 1;
                    if let (Some(lon), Some(lat), Some(alt)) =
                        (be32(p, at), be32(p, at + 4), be32(p, at + 8))
                    {
                        let fixed = |v: u32| v as i32 as f64 / 65_536.0;
                        let loc = Location {
                            lat: fixed(lat),
                            lon: fixed(lon),
                            alt: Some(fixed(alt)),
                        };
                        if (-90.0..=90.0).contains(&loc.lat) && (-180.0..=180.0).contains(&loc.lon)
                        {
                            m.location = m.location.or(Some(loc));
                        }
                    }
                }
                m.insert(key, text_or_raw(p, b.payload_offset()));
            }
            [0xa9, ..] => {
                // QuickTime international text: u16 length, u16 language, text.
                let p = b.payload;
                let value = match be16(p, 0) {
                    Some(len) if 4 + len as usize <= p.len() && len > 0 => {
                        text_or_raw(&p[4..4 + len as usize], b.payload_offset() + 4)
                    }
                    _ => text_or_raw(p, b.payload_offset()),
                };
                // The QuickTime/3GPP `©xyz` box is what recorders write: it wins
                // over an iTunes-style `ilst` copy.
                if &b.kind.0 == b"\xa9xyz"
                    && let MetaValue::Text(t) = &value
                    && let Some(loc) = parse_iso6709(t)
                {
                    m.location = Some(loc);
                }
                m.insert(key, value);
            }
            _ => {
                m.insert(key, text_or_raw(b.payload, b.payload_offset()));
            }
        }
    }
    Ok(())
}

/// Parses a `meta` box: `keys` + `ilst` (Apple `mdta`) or iTunes-style `ilst`.
pub(crate) fn parse_meta<'a>(
    m: &mut Metadata<'a>,
    meta: &BoxRef<'a>,
    diag: &mut Diag,
) -> Result<()> {
    // ISO `meta` is a full box; QuickTime's is not. Detect by the first child.
    let skip = match meta.payload.get(4..8) {
        Some(t) if t == b"hdlr" || t == b"keys" || t == b"ilst" => 0,
        _ => 4,
    };
    let mut keys: Vec<String> = Vec::new();
    let mut ilst = None;
    for b in meta.children(skip).flatten() {
        match &b.kind.0 {
            b"keys" => {
                let p = b.payload;
                let count = be32(p, 4).unwrap_or(0) as usize;
                let mut at = 8;
                // Each key is at least 8 bytes: bounded by the box.
                for _ in 0..count.min(p.len() / 8) {
                    let Some(size) = be32(p, at).map(|s| s as usize) else {
                        break;
                    };
                    if size < 8 || at + size > p.len() {
                        diag.note(b.offset, "moov/meta/keys", "malformed key entry")?;
                        break;
                    }
                    keys.push(String::from_utf8_lossy(&p[at + 8..at + size]).into_owned());
                    at += size;
                }
            }
            b"ilst" => ilst = Some(b),
            b"uuid" if b.usertype == Some(XMP_UUID) => m.xmp = Some(b.payload),
            b"XMP_" => m.xmp = Some(b.payload),
            _ => {}
        }
    }
    let Some(ilst) = ilst else { return Ok(()) };
    for item in ilst.children(0).flatten() {
        let index = item.kind.as_u32();
        let key = if !keys.is_empty() && index >= 1 && (index as usize) <= keys.len() {
            keys[index as usize - 1].clone()
        } else {
            item.kind.to_string()
        };
        for d in item.children(0).flatten() {
            if &d.kind.0 != b"data" {
                continue;
            }
            let p = d.payload;
            let Some(kind) = be32(p, 0) else { continue };
            let bytes = p.get(8..).unwrap_or(&[]);
            let off = d.payload_offset() + 8;
            let value =
                match kind & 0x00ff_ffff {
                    1 => text_or_raw(bytes, off),
                    21 => int_be(bytes, true).map_or(
                        MetaValue::Raw {
                            offset: off,
                            bytes: bytes.len() as u64,
                        },
                        MetaValue::Int,
                    ),
                    22 => int_be(bytes, false).map_or(
                        MetaValue::Raw {
                            offset: off,
                            bytes: bytes.len() as u64,
                        },
                        MetaValue::Int,
                    ),
                    23 if bytes.len() == 4 => MetaValue::Float(f32::from_be_bytes([
                        bytes[0], bytes[1], bytes[2], bytes[3],
                    ]) as f64),
                    24 if bytes.len() == 8 => {
                        MetaValue::Float(f64::from_be_bytes(bytes.try_into().unwrap_or([0; 8])))
                    }
                    _ => MetaValue::Raw {
                        offset: off,
                        bytes: bytes.len() as u64,
                    },
                };
            if (key == "com.apple.quicktime.location.ISO6709" || key == "\u{a9}xyz")
                && let MetaValue::Text(t) = &value
            {
                m.location = m.location.or_else(|| parse_iso6709(t));
            }
            m.insert(key.clone(), value);
            break;
        }
    }
    Ok(())
}

fn int_be(b: &[u8], signed: bool) -> Option<i64> {
    Some(match (b.len(), signed) {
        (1, true) => b[0] as i8 as i64,
        (1, false) => b[0] as i64,
        (2, true) => i16::from_be_bytes([b[0], b[1]]) as i64,
        (2, false) => u16::from_be_bytes([b[0], b[1]]) as i64,
        (4, true) => i32::from_be_bytes(b.try_into().ok()?) as i64,
        (4, false) => u32::from_be_bytes(b.try_into().ok()?) as i64,
        (8, _) => i64::from_be_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

/// Parses an ISO 6709 string such as `+40.6800-074.5000/` or `+35.6895+139.6917+040.000/`.
pub fn parse_iso6709(s: &str) -> Option<Location> {
    let s = s.trim().trim_end_matches('/');
    let mut parts = Vec::new();
    let mut start = None;
    let mut end = s.len();
    for (i, c) in s.char_indices() {
        if c == '+' || c == '-' {
            if let Some(st) = start {
                parts.push(&s[st..i]);
            }
            start = Some(i);
        } else if !(c.is_ascii_digit() || c == '.') {
            // A CRS suffix such as "CRSWGS_84" ends the numbers.
            end = i;
            break;
        }
    }
    if let Some(st) = start.filter(|&st| st < end) {
        parts.push(&s[st..end]);
    }
    if parts.len() < 2 {
        return None;
    }
    let lat: f64 = parts[0].parse().ok()?;
    let lon: f64 = parts[1].parse().ok()?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    // A long enough digit string parses as infinity: no altitude then.
    let alt = parts
        .get(2)
        .and_then(|a| a.parse::<f64>().ok())
        .filter(|a| a.is_finite());
    Some(Location { lat, lon, alt })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso6709() {
        assert_eq!(
            parse_iso6709("+40.6800-074.5000/"),
            Some(Location {
                lat: 40.68,
                lon: -74.5,
                alt: None
            })
        );
        assert_eq!(
            parse_iso6709("+35.6895+139.6917+040.000/"),
            Some(Location {
                lat: 35.6895,
                lon: 139.6917,
                alt: Some(40.0)
            })
        );
        assert_eq!(parse_iso6709("garbage"), None);
        assert_eq!(parse_iso6709("+99.0+000.0/"), None);
        // An altitude of 400 digits parses as infinity: it is dropped.
        let huge = format!("+1.0+2.0+{}/", "9".repeat(400));
        assert_eq!(parse_iso6709(&huge).map(|l| l.alt), Some(None));
    }
}
