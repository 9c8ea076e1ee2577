//! The store's public keys and whom to trust.
//!
//! Every key that signs in a store is published in `keys/<fingerprint>.json`
//! as a [`KeyRecord`]: its public half, fingerprint and creation time, and
//! the key that introduced it, whose signature covers the record. A
//! station's first key introduces itself; a rotated key is introduced by the
//! key it replaces (`custody key rotate`). Verification trusts a key only
//! when it chains back to a trust anchor held outside the store (a public
//! key given by the verifier); without one it trusts the store's own first
//! key, and says so.

use crate::canonical::{canonical_without, to_canonical};
use crate::finding::Finding;
use crate::format::{ALGORITHM, KEY_FORMAT};
use crate::keys::{StationKey, fingerprint_of, public_from_hex, verify_hex};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A published public key (one file in `keys/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Always [`KEY_FORMAT`].
    pub format: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The public key, 64 hex digits.
    pub public_key: String,
    /// Its fingerprint (first 16 bytes of BLAKE3 of the public key, hex).
    pub fingerprint: String,
    /// When the key was made, RFC 3339 UTC.
    pub created: String,
    /// Fingerprint of the key that introduced this one (itself for a first key).
    pub introduced_by: String,
    /// The introducer's signature over the canonical record without this member.
    pub signature: String,
}

impl KeyRecord {
    /// The record of `key`, introduced (and signed) by `by`.
    pub fn introduce(key: &StationKey, by: &StationKey) -> std::io::Result<KeyRecord> {
        let mut r = KeyRecord {
            format: KEY_FORMAT.into(),
            algorithm: ALGORITHM.into(),
            public_key: key.public_hex(),
            fingerprint: key.fingerprint(),
            created: crate::now_utc(),
            introduced_by: by.fingerprint(),
            signature: String::new(),
        };
        r.signature = by.sign_detached(&r)?;
        Ok(r)
    }

    /// The record as stored: its canonical JSON.
    pub fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        Ok(to_canonical(self)?)
    }
}

/// Introduces `new` to `store` as the successor of `old`: publishes its
/// record signed by `old` and logs a `key rotation` entry signed by `old`.
/// Later entries and manifests are signed with `new`.
pub fn rotate(
    store: &crate::store::DirStore,
    old: &StationKey,
    new: &StationKey,
    station: &str,
    operator: Option<&str>,
) -> std::io::Result<()> {
    if !store.has_key(&old.fingerprint()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("key {} is not a key of this store", old.fingerprint()),
        ));
    }
    store.publish_key(&KeyRecord::introduce(new, old)?)?;
    store.log().append(
        old,
        crate::log::NewEntry {
            station,
            actor: "custody key rotate",
            operator,
            event: "key rotation",
            object: None,
            details: serde_json::json!({"old_key": old.fingerprint(), "new_key": new.fingerprint()}),
        },
    )?;
    Ok(())
}

/// [`trust`] over the records of `store`.
pub fn trust_store(
    store: &crate::store::DirStore,
    anchors: &[[u8; 32]],
) -> std::io::Result<(Trust, Vec<Finding>, Vec<Finding>)> {
    Ok(trust(&store.key_records()?, anchors))
}

/// Why a station key file could not be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The current key cannot be loaded, or the new one written.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// The key file holds a key the store does not know.
    #[error("key {fingerprint} is not a key of the store {store}")]
    Foreign {
        /// The key file's fingerprint.
        fingerprint: String,
        /// The store.
        store: std::path::PathBuf,
    },
    /// The new key is in place but the store could not record the rotation.
    #[error("rotation not recorded: {source} (the new key is in {}; the old one beside it)", key_file.display())]
    NotRecorded {
        /// The key file, now holding the new key.
        key_file: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Rotates the station key file at `key_file` for `store`: checks that its
/// key is one of the store's (before anything changes), replaces the file
/// (the old secret kept beside it, see [`StationKey::rotate_file`]), and
/// introduces the new key to the store ([`rotate`]). Returns (old, new).
pub fn rotate_key_file(
    store: &crate::store::DirStore,
    key_file: &std::path::Path,
    station: &str,
    operator: Option<&str>,
) -> Result<(StationKey, StationKey), RotateError> {
    let current = StationKey::load(key_file)?;
    if !store.has_key(&current.fingerprint()) {
        return Err(RotateError::Foreign {
            fingerprint: current.fingerprint(),
            store: store.root().to_path_buf(),
        });
    }
    let (old, new) = StationKey::rotate_file(key_file)?;
    rotate(store, &old, &new, station, operator).map_err(|source| RotateError::NotRecorded {
        key_file: key_file.to_path_buf(),
        source,
    })?;
    Ok((old, new))
}

/// A key of the store as `custody key show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Fingerprint.
    pub fingerprint: String,
    /// Public key, hex.
    pub public_key: String,
    /// Created (in use from), RFC 3339 UTC.
    pub from: String,
    /// Replaced by a newer key at this time, if it was.
    pub until: Option<String>,
    /// The key that introduced it (itself for the first key).
    pub introduced_by: String,
}

/// The store's keys, oldest first, with the time each was replaced.
/// Records that do not parse are left out (verification names them).
pub fn list(store: &crate::store::DirStore) -> std::io::Result<Vec<KeyInfo>> {
    let records: Vec<KeyRecord> = store
        .key_records()?
        .iter()
        .filter_map(|(name, bytes)| parse_record(name, bytes).ok().map(|(r, _)| r))
        .collect();
    // Oldest first: by introduction depth (a first key is 0, the key it
    // introduced 1, ...), then by creation time.
    let depth = |r: &KeyRecord| {
        let mut d = 0;
        let mut at = r;
        while at.introduced_by != at.fingerprint && d < records.len() {
            match records.iter().find(|p| p.fingerprint == at.introduced_by) {
                Some(p) => at = p,
                None => break,
            }
            d += 1;
        }
        d
    };
    let mut keyed: Vec<(usize, KeyRecord)> =
        records.iter().map(|r| (depth(r), r.clone())).collect();
    keyed.sort_by(|a, b| (a.0, &a.1.created).cmp(&(b.0, &b.1.created)));
    let records: Vec<KeyRecord> = keyed.into_iter().map(|(_, r)| r).collect();
    Ok(records
        .iter()
        .map(|r| KeyInfo {
            fingerprint: r.fingerprint.clone(),
            public_key: r.public_key.clone(),
            from: r.created.clone(),
            until: records
                .iter()
                .find(|n| n.introduced_by == r.fingerprint && n.fingerprint != r.fingerprint)
                .map(|n| n.created.clone()),
            introduced_by: r.introduced_by.clone(),
        })
        .collect())
}

/// Why a file of trusted public keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustFileError {
    /// It cannot be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a public key.
    #[error("line {line}: {text:?} is not a public key (64 hex digits)")]
    NotAKey {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// Reads a file of trusted public keys (hex, one per line; `#` starts a
/// comment): the anchors a verifier holds.
pub fn read_trust_file(path: &std::path::Path) -> Result<Vec<[u8; 32]>, TrustFileError> {
    let text = custody_io::read_regular_text(path)?;
    crate::config_lines(&text)
        .map(|(line, l)| {
            crate::keys::public_from_hex(l).ok_or_else(|| TrustFileError::NotAKey {
                line,
                text: l.to_string(),
            })
        })
        .collect()
}

/// Whom verification trusts, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trust {
    /// `anchor` when keys chain to a key the verifier gave; `store` when
    /// only the store's own first key vouches for them.
    pub source: &'static str,
    /// Trusted keys by fingerprint (public key hex).
    pub keys: BTreeMap<String, String>,
}

impl Trust {
    /// The public key with this fingerprint, when trusted.
    pub fn key(&self, fingerprint: &str) -> Option<[u8; 32]> {
        self.keys.get(fingerprint).and_then(|h| public_from_hex(h))
    }
}

/// One record read from `keys/`: its file name and bytes.
pub type RawRecord = (String, Vec<u8>);

/// Parses and checks a stored record: canonical JSON, known members, a
/// fingerprint that matches its key, a file named after it.
fn parse_record(name: &str, bytes: &[u8]) -> Result<(KeyRecord, serde_json::Value), String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if crate::canonical::canonical_value(&value).ok().as_deref() != Some(bytes) {
        return Err("not in canonical form".into());
    }
    crate::schema::check(crate::schema::Doc::KeyRecord, &value)?;
    let r: KeyRecord =
        serde_json::from_value(value.clone()).map_err(|e| format!("not a key record: {e}"))?;
    if r.format != KEY_FORMAT || r.algorithm != ALGORITHM {
        return Err(format!("unknown format {} / {}", r.format, r.algorithm));
    }
    let public = public_from_hex(&r.public_key).ok_or("public key is not 64 hex digits")?;
    if fingerprint_of(&public) != r.fingerprint || name != format!("{}.json", r.fingerprint) {
        return Err("fingerprint does not match the key or the file name".into());
    }
    Ok((r, value))
}

/// Works out which of the store's keys to trust. `anchors` are public keys
/// the verifier holds; empty means "trust the store's own first key" (and a
/// warning says so). Records that fail their checks are failures; records
/// that do not chain to the anchors are warnings (entries they signed fail).
pub fn trust(records: &[RawRecord], anchors: &[[u8; 32]]) -> (Trust, Vec<Finding>, Vec<Finding>) {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    for (name, bytes) in records {
        match parse_record(name, bytes) {
            Ok(p) => parsed.push(p),
            Err(m) => failures.push(Finding::new(
                "key_record_format",
                format!("keys/{name}: {m}"),
            )),
        }
    }
    let mut trust = Trust {
        source: "anchor",
        keys: anchors
            .iter()
            .map(|k| (fingerprint_of(k), custody_hash::tree::hex(k)))
            .collect(),
    };
    if anchors.is_empty() {
        trust.source = "store";
        warnings.push(Finding::new(
            "trust_store_key",
            "no trusted key was given (--public-key, --trust or a station key file): \
             the store's own first key is trusted, which proves integrity but not origin",
        ));
        for (r, _) in parsed
            .iter()
            .filter(|(r, _)| r.introduced_by == r.fingerprint)
        {
            trust
                .keys
                .insert(r.fingerprint.clone(), r.public_key.clone());
        }
    }
    // Follow introductions from trusted keys until nothing changes.
    let mut changed = true;
    while changed {
        changed = false;
        for (r, value) in &parsed {
            if trust.keys.contains_key(&r.fingerprint) {
                continue;
            }
            let Some(by) = trust.key(&r.introduced_by) else {
                continue;
            };
            let signed = canonical_without(value, "signature").unwrap_or_default();
            if verify_hex(&by, &signed, &r.signature) {
                trust
                    .keys
                    .insert(r.fingerprint.clone(), r.public_key.clone());
                changed = true;
            }
        }
    }
    // A trusted key's record must verify under its introducer: trusted, or
    // known from its own (well-formed) record.
    let public_of = |fp: &str| {
        trust.key(fp).or_else(|| {
            parsed
                .iter()
                .find(|(p, _)| p.fingerprint == fp)
                .and_then(|(p, _)| public_from_hex(&p.public_key))
        })
    };
    for (r, value) in &parsed {
        if trust.key(&r.fingerprint).is_some() {
            let signed = canonical_without(value, "signature").unwrap_or_default();
            match public_of(&r.introduced_by) {
                Some(k) if verify_hex(&k, &signed, &r.signature) => {}
                Some(_) => failures.push(Finding::new(
                    "key_record_signature",
                    format!(
                        "keys/{}.json: the introduction signature by {} does not verify",
                        r.fingerprint, r.introduced_by
                    ),
                )),
                None => warnings.push(Finding::new(
                    "key_introducer_unknown",
                    format!(
                        "keys/{}.json: introduced by {}, whose key the store does not hold",
                        r.fingerprint, r.introduced_by
                    ),
                )),
            }
        } else {
            warnings.push(Finding::new(
                "key_untrusted",
                format!(
                    "key {} (introduced by {}) does not chain to a trusted key",
                    r.fingerprint, r.introduced_by
                ),
            ));
        }
    }
    (trust, failures, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(r: &KeyRecord) -> RawRecord {
        (format!("{}.json", r.fingerprint), r.to_bytes().unwrap())
    }

    #[test]
    fn rotated_keys_chain_to_the_anchor_and_strangers_do_not() {
        let a = StationKey::generate().unwrap();
        let b = StationKey::generate().unwrap();
        let stranger = StationKey::generate().unwrap();
        let records = vec![
            raw(&KeyRecord::introduce(&a, &a).unwrap()),
            raw(&KeyRecord::introduce(&b, &a).unwrap()),
            raw(&KeyRecord::introduce(&stranger, &stranger).unwrap()),
        ];
        let (t, failures, warnings) = trust(&records, &[a.public()]);
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(t.source, "anchor");
        assert_eq!(t.key(&b.fingerprint()), Some(b.public()));
        assert_eq!(t.key(&stranger.fingerprint()), None);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].name, "key_untrusted");
        // No anchor: every self-introduced key is trusted, loudly.
        let (t, _, warnings) = trust(&records, &[]);
        assert_eq!(t.source, "store");
        assert!(t.key(&stranger.fingerprint()).is_some());
        assert_eq!(warnings[0].name, "trust_store_key");
        // An edited record fails.
        let mut edited = records.clone();
        edited[1].1 = String::from_utf8(edited[1].1.clone())
            .unwrap()
            .replace("\"created\":\"2", "\"created\":\"1")
            .into_bytes();
        let (t, _, _) = trust(&edited, &[a.public()]);
        assert_eq!(t.key(&b.fingerprint()), None);
    }
}
