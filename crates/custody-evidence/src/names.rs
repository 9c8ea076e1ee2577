//! Facts from recorder file names, by configurable patterns.
//!
//! A pattern is matched against the file name without its extension.
//! Fields: `{serial}`, `{officer}`, `{unit}` (letters and digits, up to the
//! next literal), `{YYYY}` `{MM}` `{DD}` `{hh}` `{mm}` `{ss}` (fixed-width
//! digits), `{n}` (digits), `{any}` (anything up to the next literal);
//! other characters match themselves.

use std::collections::BTreeMap;

/// The default patterns: GA/T 947-style `{serial}_{officer}_{YYYYMMDDhhmmss}_{n}`,
/// GoPro `GX`/`GH`/`GOPR` names, Ambarella-style `YYYY_MMDD_hhmmss_NNN`.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "{serial}_{officer}_{YYYY}{MM}{DD}{hh}{mm}{ss}_{n}",
    "{YYYY}_{MM}{DD}_{hh}{mm}{ss}_{n}",
    "GX{n}",
    "GH{n}",
    "GOPR{n}",
];

/// Reads a file of name patterns, one per line (`#` starts a comment).
pub fn read_patterns(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    let text = custody_io::read_regular_text(path)?;
    Ok(crate::config_lines(&text)
        .map(|(_, l)| l.to_string())
        .collect())
}

/// What a file name says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFacts {
    /// The pattern that matched.
    pub pattern: String,
    /// Device serial.
    pub serial: Option<String>,
    /// Officer number.
    pub officer: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Recorder-local start time, `YYYY-MM-DDThh:mm:ss` (the offset is not in the name).
    pub start_local: Option<String>,
    /// Segment or file number.
    pub number: Option<String>,
}

enum Tok<'a> {
    Lit(char),
    Field(&'a str),
}

fn tokens(p: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(c) = rest.chars().next() {
        if c == '{'
            && let Some(end) = rest.find('}')
        {
            out.push(Tok::Field(&rest[1..end]));
            rest = &rest[end + 1..];
            continue;
        }
        out.push(Tok::Lit(c));
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn fixed_width(field: &str) -> Option<usize> {
    match field {
        "YYYY" => Some(4),
        "MM" | "DD" | "hh" | "mm" | "ss" => Some(2),
        _ => None,
    }
}

/// Matches `name` (without extension) against one pattern.
pub fn match_pattern(pattern: &str, name: &str) -> Option<NameFacts> {
    let toks = tokens(pattern);
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    let mut pos = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Lit(c) => {
                let rest = &name[pos..];
                if !rest.starts_with(*c) {
                    return None;
                }
                pos += c.len_utf8();
            }
            Tok::Field(f) => {
                let rest = &name[pos..];
                let len = if let Some(w) = fixed_width(f) {
                    if rest.len() < w || !rest.as_bytes()[..w].iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    w
                } else {
                    let stop = match toks.get(i + 1) {
                        Some(Tok::Lit(c)) => rest.find(*c)?,
                        _ => rest.len(),
                    };
                    let v = &rest[..stop];
                    let ok = match *f {
                        "n" => !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()),
                        "any" => true,
                        _ => {
                            !v.is_empty()
                                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        }
                    };
                    if !ok {
                        return None;
                    }
                    stop
                };
                fields.insert(f, &rest[..len]);
                pos += len;
            }
        }
    }
    if pos != name.len() {
        return None;
    }
    let get = |k: &str| fields.get(k).map(|v| v.to_string());
    let start_local = match (
        fields.get("YYYY"),
        fields.get("MM"),
        fields.get("DD"),
        fields.get("hh"),
        fields.get("mm"),
        fields.get("ss"),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
            let (mo, d, h, mi, s): (u32, u32, u32, u32, u32) = (
                mo.parse().ok()?,
                d.parse().ok()?,
                h.parse().ok()?,
                mi.parse().ok()?,
                s.parse().ok()?,
            );
            if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
                return None;
            }
            Some(format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"))
        }
        _ => None,
    };
    Some(NameFacts {
        pattern: pattern.to_string(),
        serial: get("serial"),
        officer: get("officer"),
        unit: get("unit"),
        start_local,
        number: get("n"),
    })
}

/// The first pattern that matches the file name (extension removed).
pub fn facts_from_name(patterns: &[String], file_name: &str) -> Option<NameFacts> {
    let stem = file_name.rsplit_once('.').map_or(file_name, |(s, _)| s);
    patterns.iter().find_map(|p| match_pattern(p, stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_PATTERNS.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn gat947_style() {
        let f = facts_from_name(&defaults(), "SN1234_012345_20261129083000_0001.MP4").unwrap();
        assert_eq!(f.serial.as_deref(), Some("SN1234"));
        assert_eq!(f.officer.as_deref(), Some("012345"));
        assert_eq!(f.start_local.as_deref(), Some("2026-11-29T08:30:00"));
        assert_eq!(f.number.as_deref(), Some("0001"));
    }

    #[test]
    fn ambarella_and_gopro_and_unknown() {
        let f = facts_from_name(&defaults(), "2026_1129_083100_003.MOV").unwrap();
        assert_eq!(f.start_local.as_deref(), Some("2026-11-29T08:31:00"));
        assert_eq!(f.serial, None);
        let g = facts_from_name(&defaults(), "GX010123.MP4").unwrap();
        assert_eq!(g.number.as_deref(), Some("010123"));
        assert!(facts_from_name(&defaults(), "holiday.mp4").is_none());
        assert!(
            facts_from_name(&defaults(), "SN1_2_20261399083000_1.MP4").is_none(),
            "month 13"
        );
    }
}
