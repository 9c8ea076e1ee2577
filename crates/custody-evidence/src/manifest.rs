//! The manifest: one JSON document per registered file, stored in RFC 8785
//! canonical form and signed with the station's key over the canonical form
//! of its `manifest` member: what is signed is exactly what is stored.
//!
//! The schema is versioned and shipped as `schema/manifest.schema.json`:
//! this version writes `custody.manifest/2` ([`SCHEMA`]) and still reads
//! `custody.manifest/1` ([`SCHEMA_V1`]), which differs only in carrying a
//! member `derived` (always written empty) and no `derivation`. A
//! derivative (an archival or access copy made from registered files) has
//! a [`Derivation`] naming its sources by BLAKE3: the link goes from the
//! derivative to its sources, because a signed manifest never changes.
//! Event names follow the PREMIS event type vocabulary (capture, ingestion,
//! message digest calculation, fixity check, migration, digital signature
//! generation, digital signature validation).

use crate::canonical::{canonical_value, to_canonical};
use crate::format::ALGORITHM;
use crate::keyring::Trust;
use crate::keys::{StationKey, verify_hex};
use serde::{Deserialize, Serialize};

/// Schema identifier of the manifest version this version writes.
pub const SCHEMA: &str = "custody.manifest/2";

/// Schema identifier of the first manifest version, still read (and verified).
pub const SCHEMA_V1: &str = "custody.manifest/1";

/// The registered object: the file's bytes as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct Original {
    /// File name on the recorder.
    pub name: String,
    /// Path on the recorder, relative to the collection root, in display
    /// form ([`crate::osname::display`]).
    pub path: String,
    /// The path's exact bytes in lowercase hex ([`crate::osname::bytes_hex`]),
    /// present only when the path is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<String>,
    /// Modification time on the recorder (RFC 3339 UTC), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
}

/// One track as probed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Start, RFC 3339 UTC.
    pub start: Option<String>,
    /// End, RFC 3339 UTC.
    pub end: Option<String>,
    /// Start in the recorder's local time (from a file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_local: Option<String>,
    /// The recorder's UTC offset (`+HH:MM`), when known: given by the caller,
    /// or derived from a file that holds both a UTC and a local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<String>,
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
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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

/// Version 1's record of an artifact derived from a file. Never filled in
/// (a signed manifest does not change once written); kept so that version
/// 1 manifests, which carry it empty, still read exactly as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// How a derivative was made, and from what (version 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derivation {
    /// BLAKE3 of each source, in order (several for a join), each
    /// registered in the same store.
    pub sources: Vec<String>,
    /// The profile (`preservation`, `access`, `remux-mkv`, ...).
    pub profile: String,
    /// Every parameter that shaped the output, by name.
    pub parameters: std::collections::BTreeMap<String, String>,
    /// The software that made it: the tool and the FFmpeg libraries' versions.
    pub software: Software,
    /// How the output was proven against its sources.
    pub proof: DerivationProof,
}

/// The software that made a derivative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// The transcoder and its version, e.g. `custody-transcode 0.1.0`.
    pub tool: String,
    /// The FFmpeg libraries' versions.
    pub ffmpeg: String,
}

/// The proof of a derivative, as its maker found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivationProof {
    /// `packets` (stream copies, packet by packet), `frames` (re-encodes,
    /// by decoded pictures and sound) or `none` (not run).
    pub kind: String,
    /// `packets_matched`, `identical` (lossless), `lossy` (every picture
    /// at its time, pictures not identical: an access copy), `failed` or
    /// `not_run`.
    pub result: String,
    /// Per output track: what was compared and how much matched.
    pub tracks: Vec<ProofTrack>,
}

/// One output track's share of a proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofTrack {
    /// Stream index in the output.
    pub output_stream: u64,
    /// `video`, `audio`, ... (or the codec for packet proofs of other tracks).
    pub kind: String,
    /// `packets` or `frames`.
    pub unit: String,
    /// Units in the source (frames), when counted.
    pub source_units: Option<u64>,
    /// Units in the output.
    pub output_units: u64,
    /// Output packets equal to an original packet, or decoded frames
    /// identical to the source's.
    pub matched: u64,
    /// Packet proofs: the runs of original packets the output holds, as
    /// `[source, first, last]` (source index, first and last packet number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<[u64; 3]>,
}

/// A manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Version 1 only: always present and empty there; absent in version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Vec<Derived>>,
    /// Version 2: how this file was derived from registered files, when it
    /// is a derivative; absent for a collected file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<Derivation>,
}

/// A signature over a manifest's canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSignature {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Fingerprint of the signing key (its record is `keys/<fingerprint>.json`).
    pub key: String,
    /// Signature over the RFC 8785 canonical JSON of the stored `manifest`, hex.
    pub value: String,
}

/// A manifest with its signature: the document written to `manifests/`, in
/// canonical JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Its signature.
    pub signature: ManifestSignature,
}

/// Why a manifest does not verify. [`ManifestError::name`] gives the rule
/// name used in verification reports.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Not valid JSON, not canonical, unknown or missing members, or an unknown schema.
    Format(String),
    /// The signature does not match the manifest as stored.
    BadSignature,
    /// Signed by a key that is not trusted.
    UntrustedKey {
        /// Fingerprint of the key that signed.
        found: String,
    },
    /// The manifest cannot be put in canonical form (so it cannot be signed).
    Canonical(crate::canonical::CanonicalError),
    /// A number is NaN or infinite (JSON has no such number).
    NonFinite(&'static str),
}

impl ManifestError {
    /// The verification rule this error breaks.
    pub fn name(&self) -> &'static str {
        match self {
            ManifestError::Format(_)
            | ManifestError::Canonical(_)
            | ManifestError::NonFinite(_) => "manifest_format",
            ManifestError::BadSignature => "manifest_signature",
            ManifestError::UntrustedKey { .. } => "manifest_untrusted_key",
        }
    }
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestError::Format(m) => write!(f, "not a valid manifest: {m}"),
            ManifestError::BadSignature => {
                write!(f, "the signature does not match the manifest as stored")
            }
            ManifestError::UntrustedKey { found } => {
                write!(f, "signed by key {found}, which is not trusted")
            }
            ManifestError::Canonical(e) => write!(f, "{e}"),
            ManifestError::NonFinite(field) => write!(f, "{field} is not a finite number"),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// The first number that is NaN or infinite (serde_json would write it
    /// as `null`, silently): every float the manifest holds.
    fn non_finite(&self) -> Option<&'static str> {
        let media = self.media.as_ref();
        let loc = self.recording.location.as_ref();
        [
            ("media.duration_s", media.and_then(|m| m.duration_s)),
            ("recording.location.lat", loc.map(|l| l.lat)),
            ("recording.location.lon", loc.map(|l| l.lon)),
            ("recording.location.alt", loc.and_then(|l| l.alt)),
        ]
        .into_iter()
        .chain(
            media
                .into_iter()
                .flat_map(|m| &m.tracks)
                .map(|t| ("media.tracks[].duration_s", t.duration_s)),
        )
        .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
        .map(|(name, _)| name)
    }

    /// Signs the manifest with `key`. A manifest without a canonical form (a
    /// non-finite number, an integer beyond 2^53 - 1) is an error: nothing
    /// is signed that could never verify.
    pub fn sign(self, key: &StationKey) -> Result<SignedManifest, ManifestError> {
        if let Some(field) = self.non_finite() {
            return Err(ManifestError::NonFinite(field));
        }
        let bytes = to_canonical(&self).map_err(ManifestError::Canonical)?;
        Ok(SignedManifest {
            signature: ManifestSignature {
                algorithm: ALGORITHM.into(),
                key: key.fingerprint(),
                value: custody_hash::tree::hex(&key.sign(&bytes)),
            },
            manifest: self,
        })
    }
}

impl SignedManifest {
    /// The bytes stored for this manifest: its canonical JSON.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ManifestError> {
        to_canonical(self).map_err(ManifestError::Canonical)
    }

    /// Parses a stored manifest and verifies it, in this order: canonical
    /// JSON and the JSON Schema (`manifest_format`), a trusted key
    /// (`manifest_untrusted_key`), the signature over the canonical form of
    /// the stored `manifest` value (`manifest_signature`), then exactly the
    /// members this version writes.
    pub fn verify_json(json: &[u8], trust: &Trust) -> Result<SignedManifest, ManifestError> {
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| ManifestError::Format(e.to_string()))?;
        if canonical_value(&value).ok().as_deref() != Some(json) {
            return Err(ManifestError::Format("not in canonical form".into()));
        }
        crate::schema::check(crate::schema::Doc::Manifest, &value)
            .map_err(ManifestError::Format)?;
        let (Some(body), Some(sig)) = (value.get("manifest"), value.get("signature")) else {
            return Err(ManifestError::Format("no manifest or no signature".into()));
        };
        let sig: ManifestSignature = serde_json::from_value(sig.clone())
            .map_err(|e| ManifestError::Format(format!("signature: {e}")))?;
        if sig.algorithm != ALGORITHM {
            return Err(ManifestError::Format(format!(
                "unknown algorithm {}",
                sig.algorithm
            )));
        }
        let Some(public) = trust.key(&sig.key) else {
            return Err(ManifestError::UntrustedKey { found: sig.key });
        };
        let signed = canonical_value(body).map_err(ManifestError::Canonical)?;
        if !verify_hex(&public, &signed, &sig.value) {
            return Err(ManifestError::BadSignature);
        }
        let signed: SignedManifest =
            serde_json::from_value(value).map_err(|e| ManifestError::Format(e.to_string()))?;
        // Exactly the members this version writes: none missing (a default
        // filled in), none `null` where the schema has none.
        if signed.to_bytes().ok().as_deref() != Some(json) {
            return Err(ManifestError::Format(
                "members are missing, or null where the schema has none".into(),
            ));
        }
        if signed.manifest.schema != SCHEMA && signed.manifest.schema != SCHEMA_V1 {
            return Err(ManifestError::Format(format!(
                "unknown schema {}",
                signed.manifest.schema
            )));
        }
        Ok(signed)
    }
}
