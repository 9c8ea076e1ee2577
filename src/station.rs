//! The station's jobs around an evidence store: the station key, whom to
//! trust, the custody log's head, the station's configuration files and the
//! catalog. What `custody key`, `custody log`, `custody catalog` and the
//! trust options of `verify` and `report` call.

use crate::error::{Error, Result};
use custody_evidence::catalog::{Catalog, Query, Row};
use custody_evidence::keyring::{self, KeyInfo};
use custody_evidence::keys::{KeyError, StationKey};
use custody_evidence::store::DirStore;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A result resting on the store's keys, with what was noticed while
/// deciding whom to trust (a key record that does not parse, a key the
/// anchors do not vouch for).
#[derive(Debug, Clone, Serialize)]
pub struct Trusted<T> {
    /// The result.
    pub value: T,
    /// Warnings about the store's keys (also in `custody verify`'s findings).
    pub trust_warnings: Vec<String>,
}

/// Opens the existing store at `dir` for reading.
pub(crate) fn open_existing(dir: &Path) -> Result<DirStore> {
    DirStore::open_existing(dir).map_err(Error::io(dir))
}

/// Whom the store's keys chain to: `anchors`, else the store's own first key.
fn trust(
    store: &DirStore,
    dir: &Path,
    anchors: &[[u8; 32]],
) -> Result<(keyring::Trust, Vec<String>)> {
    let (trust, _, warnings) = keyring::trust_store(store, anchors).map_err(Error::io(dir))?;
    Ok((trust, warnings.into_iter().map(|w| w.message).collect()))
}

/// Creates the station key at `path`, or loads the one already there;
/// `true` when it was created. The only job that creates a key.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("station.key");
/// let (k, created) = custody::init_key(&path).unwrap();
/// assert!(created);
/// let (again, created) = custody::init_key(&path).unwrap();
/// assert!(!created && again.fingerprint() == k.fingerprint());
/// ```
pub fn init_key(path: impl AsRef<Path>) -> Result<(StationKey, bool)> {
    let path = path.as_ref();
    let key_error = |source| Error::Key {
        path: path.to_path_buf(),
        source,
    };
    match StationKey::init(path) {
        Ok(k) => Ok((k, true)),
        Err(KeyError::Exists(_)) => StationKey::load(path)
            .map(|k| (k, false))
            .map_err(key_error),
        Err(e) => Err(key_error(e)),
    }
}

/// A station key file, as `custody key show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StationKeyInfo {
    /// The key file.
    pub path: String,
    /// Public key, hex.
    pub public_key: String,
    /// Fingerprint.
    pub fingerprint: String,
}

/// The station key and, when a store is named, the store's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyListing {
    /// The station key at the path asked about; `None` when there is no file.
    pub station_key: Option<StationKeyInfo>,
    /// The store's keys, oldest first (when a store was named).
    pub store_keys: Option<Vec<KeyInfo>>,
}

/// Lists the station key at `key_path` (absent is not an error; a file
/// that is not a key is) and the keys of `store`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let l = custody::list_keys(dir.path().join("none.key"), None::<&std::path::Path>).unwrap();
/// assert!(l.station_key.is_none() && l.store_keys.is_none());
/// ```
pub fn list_keys(
    key_path: impl AsRef<Path>,
    store: Option<impl AsRef<Path>>,
) -> Result<KeyListing> {
    let path = key_path.as_ref();
    let station_key = if path.exists() {
        let k = crate::load_key(path)?;
        Some(StationKeyInfo {
            path: path.display().to_string(),
            public_key: k.public_hex(),
            fingerprint: k.fingerprint(),
        })
    } else {
        None
    };
    let store_keys = match store {
        Some(dir) => {
            let dir = dir.as_ref();
            Some(keyring::list(&open_existing(dir)?).map_err(Error::io(dir))?)
        }
        None => None,
    };
    Ok(KeyListing {
        station_key,
        store_keys,
    })
}

/// Replaces the station key at `key_path` with a new one and introduces the
/// new key to the store at `store` (signed by the old one); the old secret
/// is kept beside the file. Returns (old, new).
pub fn rotate_key(
    store: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
    station: &str,
    operator: Option<&str>,
) -> Result<(StationKey, StationKey)> {
    let (dir, path) = (store.as_ref(), key_path.as_ref());
    let s = DirStore::open(dir).map_err(Error::io(dir))?;
    keyring::rotate_key_file(&s, path, station, operator).map_err(|source| Error::Rotate {
        path: path.to_path_buf(),
        source,
    })
}

/// The custody log's signed head, to keep elsewhere as an anchor
/// (`custody verify --anchor`). An empty log has none: [`Error::EmptyLog`].
pub fn log_anchor(store: impl AsRef<Path>) -> Result<Vec<u8>> {
    let dir = store.as_ref();
    open_existing(dir)?
        .log()
        .anchor()
        .map_err(Error::io(dir))?
        .ok_or_else(|| Error::EmptyLog {
            path: dir.to_path_buf(),
        })
}

/// Reads a log head kept elsewhere (what [`log_anchor`] gave), for
/// [`custody_evidence::verify::VerifyOptions::anchor`].
pub fn read_anchor(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    custody_io::read_regular(path).map_err(Error::io(path))
}

/// Reads a station's file-name patterns file (one pattern per line, `#`
/// comments), for [`custody_evidence::ingest::IngestOptions::patterns`].
pub fn read_patterns(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    custody_evidence::names::read_patterns(path).map_err(Error::io(path))
}

/// Reads a station's device offsets file (`SERIAL +HH:MM` per line), for
/// [`custody_evidence::ingest::IngestOptions::device_offsets`].
pub fn read_device_offsets(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>> {
    let path = path.as_ref();
    let text = custody_io::read_regular_text(path).map_err(Error::io(path))?;
    custody_evidence::ingest::parse_device_offsets(&text).map_err(|source| Error::DeviceOffsets {
        path: path.to_path_buf(),
        source,
    })
}

/// The keys a verifier trusts: `public_keys` (hex), the keys of
/// `trust_file`, and the station key at `key` (when given it must load;
/// else the default station key is used when its file exists).
///
/// ```
/// let hex = "11".repeat(32);
/// let keys = custody::trust_anchors(&[hex], None, Some(std::path::Path::new("/nonexistent")));
/// assert!(keys.is_err()); // a key file that was named must load
/// assert!(custody::trust_anchors(&["not hex".into()], None, None).is_err());
/// ```
pub fn trust_anchors(
    public_keys: &[String],
    trust_file: Option<&Path>,
    key: Option<&Path>,
) -> Result<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    for h in public_keys {
        out.push(
            custody_evidence::keys::public_from_hex(h.trim()).ok_or_else(|| {
                Error::InvalidArgument(format!("{h:?} is not a public key (64 hex digits)"))
            })?,
        );
    }
    if let Some(f) = trust_file {
        out.extend(
            keyring::read_trust_file(f).map_err(|source| Error::TrustFile {
                path: f.to_path_buf(),
                source,
            })?,
        );
    }
    match key {
        Some(k) => out.push(crate::load_key(k)?.public()),
        None => out.extend(station_anchor()?),
    }
    Ok(out)
}

/// The default station key's public key, when its file exists: whom
/// `report` and `catalog` trust unless told otherwise (with none, the
/// store's own first key).
pub fn station_anchor() -> Result<Option<[u8; 32]>> {
    let path = crate::default_key_path();
    if path.exists() {
        Ok(Some(crate::load_key(&path)?.public()))
    } else {
        Ok(None)
    }
}

/// What rebuilding the catalog did.
#[derive(Debug, Clone, Serialize)]
pub struct Rebuilt {
    /// Registrations indexed.
    pub registrations: usize,
    /// Manifests left out (object, reason): they do not verify with the
    /// trusted keys.
    pub left_out: Vec<(String, String)>,
}

/// Recreates the catalog of the store at `store` from its signed
/// manifests, trusting the keys that chain to `anchors`.
pub fn catalog_rebuild(store: impl AsRef<Path>, anchors: &[[u8; 32]]) -> Result<Trusted<Rebuilt>> {
    let dir = store.as_ref();
    let s = DirStore::open(dir).map_err(Error::io(dir))?;
    let (trust, trust_warnings) = trust(&s, dir, anchors)?;
    let catalog_error = |source| Error::Catalog {
        path: dir.to_path_buf(),
        source,
    };
    let mut cat = Catalog::open(&s).map_err(catalog_error)?;
    let (registrations, left_out) = cat.rebuild(&s, &trust).map_err(catalog_error)?;
    Ok(Trusted {
        value: Rebuilt {
            registrations,
            left_out,
        },
        trust_warnings,
    })
}

/// The registrations of the store at `store` that `query` selects, each
/// marked verified or not against the keys that chain to `anchors`.
pub fn catalog_list(
    store: impl AsRef<Path>,
    query: &Query,
    anchors: &[[u8; 32]],
) -> Result<Trusted<Vec<Row>>> {
    let dir = store.as_ref();
    let s = open_existing(dir)?;
    let (trust, trust_warnings) = trust(&s, dir, anchors)?;
    let catalog_error = |source| Error::Catalog {
        path: dir.to_path_buf(),
        source,
    };
    let cat = Catalog::open(&s).map_err(catalog_error)?;
    Ok(Trusted {
        value: cat.list(&s, query, &trust).map_err(catalog_error)?,
        trust_warnings,
    })
}

/// The supervision report of the store at `store`: recordings, gaps,
/// clock findings, per device and officer. Trusts the keys `anchors` vouch
/// for, else the store's own first key.
pub fn report(
    store: impl AsRef<Path>,
    opts: &custody_evidence::report::ReportOptions,
    anchors: &[[u8; 32]],
) -> Result<Trusted<custody_evidence::report::Report>> {
    let dir = store.as_ref();
    let s = open_existing(dir)?;
    let (trust, trust_warnings) = trust(&s, dir, anchors)?;
    Ok(Trusted {
        value: custody_evidence::report::report(&s, opts, &trust).map_err(Error::io(dir))?,
        trust_warnings,
    })
}
