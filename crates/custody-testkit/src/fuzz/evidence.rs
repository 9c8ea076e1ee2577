//! Fuzz entry points for the untrusted JSON that verification reads: a
//! manifest, a log line, a log head (or anchor), a key record. The first
//! byte of the input picks the document; the rest is the document. Each is
//! checked as verification checks it, against a fixed trusted key, and
//! nothing is written.

use custody_evidence::keyring::{KeyRecord, Trust, trust};
use custody_evidence::keys::StationKey;
use custody_evidence::log::Head;
use custody_evidence::manifest::SignedManifest;

/// A fixed key, so that inputs derived from real documents can verify.
fn fixed() -> (StationKey, Trust) {
    let key = StationKey::from_seed([7; 32]);
    let record = KeyRecord::introduce(&key, &key).ok();
    let raw: Vec<_> = record
        .iter()
        .filter_map(|r| Some((format!("{}.json", r.fingerprint), r.to_bytes().ok()?)))
        .collect();
    let (t, _, _) = trust(&raw, &[key.public()]);
    (key, t)
}

/// One untrusted document, chosen by the first byte.
pub fn store_json(data: &[u8]) {
    let Some((&which, doc)) = data.split_first() else {
        return;
    };
    let (_, t) = fixed();
    match which % 4 {
        0 => {
            if let Ok(m) = SignedManifest::verify_json(doc, &t) {
                // What verifies re-serialises to exactly the stored bytes.
                assert_eq!(m.to_bytes().ok().as_deref(), Some(doc));
            }
        }
        1 => {
            let _ = custody_evidence::log::check_line(doc, 1, custody_evidence::log::GENESIS, &t);
        }
        2 => {
            let _ = Head::parse_trusted(doc, &t);
        }
        _ => {
            let name = String::from_utf8_lossy(doc.get(..32).unwrap_or(doc)).into_owned();
            let _ = trust(&[(format!("{name}.json"), doc.to_vec())], &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_signed_by_the_fixed_key_verify() {
        let (key, t) = fixed();
        let dir = tempfile::tempdir().unwrap();
        let log = custody_evidence::log::CustodyLog::in_dir(dir.path());
        log.append(
            &key,
            custody_evidence::log::NewEntry {
                station: "s",
                actor: "a",
                operator: None,
                event: "ingestion",
                object: None,
                details: serde_json::json!({}),
            },
        )
        .unwrap();
        let line = std::fs::read(log.path()).unwrap();
        let line = line.strip_suffix(b"\n").unwrap();
        assert!(
            custody_evidence::log::check_line(line, 1, custody_evidence::log::GENESIS, &t).is_ok()
        );
        let head = log.anchor().unwrap().unwrap();
        assert!(Head::parse_trusted(&head, &t).is_ok());
        // The same inputs through the fuzz entry point (no panic, no write).
        store_json(&[&[1u8][..], line].concat());
        store_json(&[&[2u8][..], &head].concat());
        store_json(b"");
        store_json(&[0]);
    }
}
