//! The manifest: one JSON document per registered file, signed with the
//! station's key over its RFC 8785 canonical form.
//!
//! The schema is versioned (`schema: "custody.manifest/1"`) and shipped as
//! `schema/manifest.schema.json`. Event names follow the PREMIS event type
//! vocabulary (capture, ingestion, message digest calculation, fixity check,
//! migration, digital signature generation, digital signature validation).

use crate::canonical::to_canonical;
use crate::keys::{StationKey, fingerprint_of, from_hex, verify};
use serde::{Deserialize, Serialize};

/// Schema identifier of this manifest version.
pub const SCHEMA: &str = "custody.manifest/1";

/// The registered object: the file's bytes as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Size in bytes.
    pub size: u64,
    /// BLAKE3 (the store's address), hex.
    pub blake3: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// MD5 reported by the device, hex, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_md5: Option<String>,
    /// Chunk-tree leaf size.
    pub tree_leaf_size: u32,
    /// Path of the chunk tree relative to the store.
    pub tree: String,
}

/// Where the file came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Original {
    /// File name on the recorder.
    pub name: String,
    /// Path on the recorder, relative to the collection root.
    pub path: String,
    /// Modification time on the recorder (RFC 3339 UTC), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
}

/// One track as probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSummary {
    /// Track id, PID or stream id.
    pub id: u32,
    /// `video`, `audio`, `subtitle`, `timecode` or `data`.
    pub kind: String,
    /// FFmpeg codec name.
    pub codec: Option<String>,
    /// Samples present.
    pub samples: u64,
    /// Sync samples.
    pub keyframes: u64,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// BLAKE3 of the track's canonical content, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_blake3: Option<String>,
    /// BLAKE3 of the track's parameter sets, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_blake3: Option<String>,
}

/// What the file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// Container name.
    pub container: String,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// Tracks.
    pub tracks: Vec<TrackSummary>,
    /// Problems the parser reported.
    pub warnings: Vec<String>,
    /// Why the file could not be parsed at all (damaged or unsupported), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Samples that the file's tables name but its bytes do not hold (a cut-short recording).
    #[serde(default)]
    pub missing_samples: u64,
}

/// When and by whom the recording was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Start, RFC 3339 UTC.
    pub start: Option<String>,
    /// End, RFC 3339 UTC.
    pub end: Option<String>,
    /// Start in the recorder's local time (from a file name; offset unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_local: Option<String>,
    /// Device serial number.
    pub device_serial: Option<String>,
    /// Device make, from the file's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    /// Device model, from the file's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Device firmware or software, from the file's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Officer (badge) number.
    pub officer: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Where each field came from (`caller`, `metadata`, `file name`).
    pub sources: std::collections::BTreeMap<String, String>,
    /// First GPS fix, when the file carries one.
    pub location: Option<custody_container::bmff::Location>,
}

/// How the file was collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// Station identifier.
    pub station: String,
    /// Operator.
    pub operator: Option<String>,
    /// Collection time, RFC 3339 UTC.
    pub time: String,
    /// Tool and version, e.g. `custody 0.1.0`.
    pub tool: String,
    /// Fingerprint of the station key that signs this manifest.
    pub station_key: String,
}

/// A PREMIS-style event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// PREMIS event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Time, RFC 3339 UTC.
    pub time: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An artifact derived from this file (archive, access copy, redaction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// `archive`, `access`, `redaction`, ...
    pub kind: String,
    /// BLAKE3 of the source it was derived from.
    pub source_blake3: String,
    /// BLAKE3 of the derived file.
    pub blake3: String,
    /// How it was made (profile, parameters, library versions).
    pub parameters: serde_json::Value,
}

/// A manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The stored bytes.
    pub object: Object,
    /// Where they came from.
    pub original: Original,
    /// What they hold.
    pub media: Option<Media>,
    /// When, who, where.
    pub recording: Recording,
    /// How they were collected.
    pub collection: Collection,
    /// What happened to them.
    pub events: Vec<Event>,
    /// What was made from them.
    pub derived: Vec<Derived>,
}

/// A signature over a manifest's canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSignature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Public key, hex.
    pub public_key: String,
    /// Fingerprint of the public key.
    pub key_fingerprint: String,
    /// Signature over the RFC 8785 canonical JSON of `manifest`, hex.
    pub value: String,
}

/// A manifest with its signature: the document written to `manifests/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Its signature.
    pub signature: ManifestSignature,
}

/// Why a manifest does not verify.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Not valid JSON or not a manifest.
    Format(String),
    /// The signature does not match the manifest.
    BadSignature,
    /// Signed by a key other than the trusted one.
    UntrustedKey {
        /// Fingerprint of the key that signed.
        found: String,
    },
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestError::Format(m) => write!(f, "not a valid manifest: {m}"),
            ManifestError::BadSignature => write!(f, "the signature does not match the manifest"),
            ManifestError::UntrustedKey { found } => write!(
                f,
                "signed by key {found}, which is not the trusted station key"
            ),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Signs the manifest with `key`.
    pub fn sign(self, key: &StationKey) -> SignedManifest {
        let bytes = to_canonical(&self).unwrap_or_default();
        SignedManifest {
            signature: ManifestSignature {
                algorithm: "ed25519".into(),
                public_key: key.public_hex(),
                key_fingerprint: key.fingerprint(),
                value: custody_hash::tree::hex(&key.sign(&bytes)),
            },
            manifest: self,
        }
    }
}

impl SignedManifest {
    /// Parses and verifies a signed manifest against the trusted public key.
    pub fn verify_json(json: &[u8], trusted: &[u8; 32]) -> Result<SignedManifest, ManifestError> {
        let signed: SignedManifest =
            serde_json::from_slice(json).map_err(|e| ManifestError::Format(e.to_string()))?;
        signed.verify(trusted)?;
        Ok(signed)
    }

    /// Verifies the signature with the trusted public key.
    pub fn verify(&self, trusted: &[u8; 32]) -> Result<(), ManifestError> {
        if self.manifest.schema != SCHEMA {
            return Err(ManifestError::Format(format!(
                "unknown schema {}",
                self.manifest.schema
            )));
        }
        let public = from_hex(&self.signature.public_key)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| ManifestError::Format("bad public key".into()))?;
        if public != trusted {
            let mut p = [0u8; 32];
            p.copy_from_slice(&public);
            return Err(ManifestError::UntrustedKey {
                found: fingerprint_of(&p),
            });
        }
        let sig = from_hex(&self.signature.value)
            .filter(|b| b.len() == 64)
            .ok_or_else(|| ManifestError::Format("bad signature encoding".into()))?;
        let mut s = [0u8; 64];
        s.copy_from_slice(&sig);
        let bytes =
            to_canonical(&self.manifest).map_err(|e| ManifestError::Format(e.to_string()))?;
        if verify(trusted, &bytes, &s) {
            Ok(())
        } else {
            Err(ManifestError::BadSignature)
        }
    }
}
