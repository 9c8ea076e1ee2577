//! Recorder paths that are not UTF-8, kept exactly.
//!
//! A recorder's file system may hold names that are not valid UTF-8 (a
//! Latin-1 name written by a camera, a corrupted directory entry). Manifests
//! and log entries are JSON, whose strings are Unicode, so each such path is
//! stored twice: a display form ([`display`]: the valid parts as they are,
//! each invalid byte as `\xNN`) and, only for such paths, the exact bytes in
//! lowercase hexadecimal ([`bytes_hex`]), from which [`from_hex`] rebuilds
//! the path byte for byte. Three names that differ only in their invalid
//! bytes stay three names.
//!
//! ```
//! use custody_evidence::osname;
//! use std::os::unix::ffi::OsStrExt;
//! let name = std::ffi::OsStr::from_bytes(b"cam\xe9.mp4");
//! assert_eq!(osname::display(name), "cam\\xe9.mp4");
//! let hex = osname::bytes_hex(name).unwrap();
//! assert_eq!(hex, "63616de92e6d7034");
//! assert_eq!(osname::from_hex(&hex).unwrap(), name);
//! assert_eq!(osname::bytes_hex(std::ffi::OsStr::new("cam.mp4")), None);
//! ```

use std::ffi::{OsStr, OsString};

/// The display form of `name`: valid UTF-8 as it is, each byte that is not
/// part of valid UTF-8 as `\xNN` (lowercase hex).
pub fn display(name: &OsStr) -> String {
    let bytes = name.as_encoded_bytes();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The exact bytes of `name` in lowercase hexadecimal, when `name` is not
/// valid UTF-8; `None` for a UTF-8 name, whose display form is exact.
pub fn bytes_hex(name: &OsStr) -> Option<String> {
    if name.to_str().is_some() {
        return None;
    }
    Some(
        name.as_encoded_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Rebuilds a name from [`bytes_hex`]'s form; `None` when `hex` is not an
/// even number of lowercase hexadecimal digits.
#[cfg(unix)]
pub fn from_hex(hex: &str) -> Option<OsString> {
    use std::os::unix::ffi::OsStringExt;
    if !hex.len().is_multiple_of(2) || hex.bytes().any(|c| !matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn names_differing_only_in_invalid_bytes_stay_distinct_and_round_trip() {
        let names: [&[u8]; 3] = [b"cam\xff.mp4", b"cam\xfe.mp4", b"cam\xc3.mp4"];
        let shown: std::collections::BTreeSet<String> = names
            .iter()
            .map(|n| display(OsStr::from_bytes(n)))
            .collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        for n in names {
            let os = OsStr::from_bytes(n);
            assert_eq!(from_hex(&bytes_hex(os).unwrap()).unwrap(), os);
        }
    }

    #[test]
    fn utf8_names_need_no_bytes_and_bad_hex_is_refused() {
        assert_eq!(display(OsStr::new("a/ü b.mp4")), "a/ü b.mp4");
        assert_eq!(bytes_hex(OsStr::new("a/ü b.mp4")), None);
        for bad in ["0", "0G", "AB", "zz"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }
}
