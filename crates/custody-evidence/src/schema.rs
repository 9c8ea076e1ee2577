//! The JSON Schemas of store format 1 (`schema/*.schema.json`), enforced by
//! verification: a document a schema rejects is a `*_format` failure, before
//! any signature is checked (docs/FORMAT.md, section 8).

use serde_json::Value;
use std::sync::OnceLock;

/// A kind of store document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    /// `manifests/<blake3>.json`.
    Manifest,
    /// One line of `custody.log`.
    LogEntry,
    /// `custody.log.head`, or an anchor.
    Head,
    /// `keys/<fingerprint>.json`.
    KeyRecord,
}

impl Doc {
    /// The schema's text, as shipped.
    pub fn schema_text(self) -> &'static str {
        match self {
            Doc::Manifest => include_str!("../schema/manifest.schema.json"),
            Doc::LogEntry => include_str!("../schema/log-entry.schema.json"),
            Doc::Head => include_str!("../schema/head.schema.json"),
            Doc::KeyRecord => include_str!("../schema/key.schema.json"),
        }
    }

    fn validator(self) -> Option<&'static jsonschema::Validator> {
        static CELLS: [OnceLock<Option<jsonschema::Validator>>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        CELLS[self as usize]
            .get_or_init(|| {
                let schema: Value = serde_json::from_str(self.schema_text()).ok()?;
                jsonschema::validator_for(&schema).ok()
            })
            .as_ref()
    }
}

/// Checks `v` against the schema of `doc`; the first violation, with its
/// JSON path, when it does not match.
///
/// ```
/// use custody_evidence::schema::{Doc, check};
/// let head = serde_json::json!({"format": "custody.head/1", "seq": 0});
/// assert!(check(Doc::Head, &head).is_err());
/// ```
pub fn check(doc: Doc, v: &Value) -> Result<(), String> {
    let Some(validator) = doc.validator() else {
        return Err("the shipped schema does not compile".into());
    };
    match validator.iter_errors(v).next() {
        None => Ok(()),
        Some(e) => Err(format!("{e} at {}", e.instance_path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_schema_compiles() {
        for d in [Doc::Manifest, Doc::LogEntry, Doc::Head, Doc::KeyRecord] {
            assert!(d.validator().is_some(), "{d:?}");
        }
    }
}
