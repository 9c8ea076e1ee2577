//! Finishing what an interrupted collection left in a store.
//!
//! Ingest registers a file in three steps (docs/FORMAT.md §9): the object is
//! moved into place, its `ingestion` entry is appended to the log, its
//! signed manifest is written. A crash or a full disk between two steps
//! leaves one of two orphans, which verification reports by name:
//!
//! - an object and its log entry without a manifest (`manifest_missing`):
//!   **completed**. The object is re-hashed (its BLAKE3 must be its name),
//!   probed, and described by a manifest signed now, with the source path
//!   its log entry recorded; a `recovery` entry in the log says so.
//! - an object without log entry or manifest (`object_without_manifest`):
//!   **rolled back**. It was never registered (no record of custody names
//!   it), so it is removed with its chunk tree and a `deletion` entry is
//!   logged; if the file is still on the recorder, the same run collects it
//!   again. An object that some other log entry names is left alone.
//!
//! [`recover`] runs at the start of every ingest, under the registration
//! lock (so a concurrent ingest's registration in progress is never taken
//! for an orphan), and only acts on a log that verifies with the store's
//! own keys. Finding no orphan costs one listing of `objects/` and
//! `manifests/`; the log is read only when there is one.

use crate::ingest::{Facts, IngestOptions, manifest_for};
use crate::keys::StationKey;
use crate::log::NewEntry;
use crate::store::DirStore;
use custody_hash::{Algorithms, DigestOptions};
use std::collections::{BTreeMap, BTreeSet};

/// What was done about one orphan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Its manifest was written from the stored object: it is registered.
    Completed,
    /// It was never registered and was removed.
    RolledBack,
    /// Nothing could be done safely; `detail` says why (verification
    /// reports it).
    Left,
}

/// One orphan and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recovery {
    /// The object (BLAKE3).
    pub blake3: String,
    /// What was done.
    pub action: Action,
    /// The source path its log entry recorded, when there is one.
    pub path: Option<String>,
    /// What and why, for people.
    pub detail: String,
}

/// Objects in `objects/` (regular files named by their BLAKE3) that have
/// no manifest.
fn orphans(store: &DirStore) -> std::io::Result<BTreeSet<String>> {
    let manifests: BTreeSet<String> = store.registered()?.into_iter().collect();
    let mut out = BTreeSet::new();
    for rel in store.object_files()? {
        let Some(name) = rel.rsplit('/').next() else {
            continue;
        };
        if !crate::keys::is_digest_hex(name) || manifests.contains(name) {
            continue;
        }
        let regular = std::fs::symlink_metadata(store.object_path(name))
            .is_ok_and(|m| m.file_type().is_file());
        if regular && rel == format!("objects/{}/{name}", &name[..2]) {
            out.insert(name.to_string());
        }
    }
    Ok(out)
}

/// Completes or rolls back every object an interrupted collection left
/// without a manifest, and says what it did (nothing, when there is none).
/// An error means the store could not be read or locked.
pub fn recover(
    store: &DirStore,
    key: &StationKey,
    opts: &IngestOptions,
) -> std::io::Result<Vec<Recovery>> {
    if orphans(store)?.is_empty() {
        return Ok(Vec::new());
    }
    let _registering = store.lock_registration()?;
    // Again under the lock: a concurrent ingest may have finished one.
    let orphans = orphans(store)?;
    if orphans.is_empty() {
        return Ok(Vec::new());
    }
    // The last ingestion entry of each orphan (its seq and source path), and
    // the first other entry naming it (a rollback's own `deletion` aside).
    let mut ingested: BTreeMap<String, (u64, Option<String>, Option<String>)> = BTreeMap::new();
    let mut named: BTreeMap<String, u64> = BTreeMap::new();
    let (trust, _, _) = crate::keyring::trust_store(store, &[])?;
    let log = store.log();
    let checked = log.verify(&trust, None, |e| {
        if let Some(o) = e.object.as_ref().filter(|o| orphans.contains(*o)) {
            match e.event.as_str() {
                "ingestion" => {
                    let text = |k: &str| {
                        e.details
                            .get(k)
                            .and_then(|s| s.as_str())
                            .map(str::to_string)
                    };
                    ingested.insert(o.clone(), (e.seq, text("source"), text("source_bytes")));
                }
                "deletion" => {}
                _ => {
                    named.entry(o.clone()).or_insert(e.seq);
                }
            }
        }
        if let Some(s) = e
            .details
            .get("supersedes")
            .and_then(|s| s.as_str())
            .filter(|s| orphans.contains(*s))
        {
            named.entry(s.to_string()).or_insert(e.seq);
        }
    })?;
    if !checked.ok {
        let why = checked.message.unwrap_or_default();
        return Ok(orphans
            .into_iter()
            .map(|h| Recovery {
                blake3: h,
                action: Action::Left,
                path: None,
                detail: format!(
                    "stored without a manifest, but the custody log does not verify ({why}): \
                     nothing was changed; run `custody verify`"
                ),
            })
            .collect());
    }
    let catalog = crate::catalog::Catalog::open(store).ok();
    let mut out = Vec::new();
    for h in orphans {
        let r = match (ingested.get(&h), named.get(&h)) {
            (Some((seq, Some(source), bytes)), _) => complete(
                store,
                key,
                opts,
                catalog.as_ref(),
                &h,
                *seq,
                (source, bytes.clone()),
            ),
            (Some((seq, None, _)), _) => Recovery {
                blake3: h,
                action: Action::Left,
                path: None,
                detail: format!(
                    "registered by log entry {seq}, which records no source path: no manifest written"
                ),
            },
            (None, Some(seq)) => Recovery {
                blake3: h,
                action: Action::Left,
                path: None,
                detail: format!(
                    "no ingestion entry registers it, but log entry {seq} names it: left for a person to decide"
                ),
            },
            (None, None) => roll_back(store, key, opts, &h),
        };
        out.push(r);
    }
    Ok(out)
}

/// Writes the manifest of `h`, registered by log entry `seq` from `source`
/// (its display form, and its exact bytes when it is not UTF-8).
fn complete(
    store: &DirStore,
    key: &StationKey,
    opts: &IngestOptions,
    catalog: Option<&crate::catalog::Catalog>,
    h: &str,
    seq: u64,
    (source, source_bytes): (&str, Option<String>),
) -> Recovery {
    let left = |detail: String| Recovery {
        blake3: h.to_string(),
        action: Action::Left,
        path: Some(source.to_string()),
        detail,
    };
    let path = store.object_path(h);
    let digest_opts = DigestOptions {
        algorithms: Algorithms::BOTH,
        ..Default::default()
    };
    let (digest, tree) =
        match custody_hash::hash_file(&path, digest_opts, custody_io::ReadMode::Auto, |_| {}) {
            Ok((d, Some(t))) => (d, t),
            Ok((_, None)) => return left("no chunk tree could be computed".into()),
            Err(e) => return left(format!("the stored object cannot be read: {e}")),
        };
    if digest.blake3_hex().as_deref() != Some(h) {
        return left(
            "the stored object's bytes do not match its name: no manifest written \
             (`custody verify` reports it)"
                .into(),
        );
    }
    // The chunk tree is written before the object moves into place; a
    // missing or damaged one is rewritten from the bytes just read.
    let tree_path = store.root().join(DirStore::tree_rel(h));
    let tree_ok = std::fs::read(&tree_path)
        .ok()
        .and_then(|b| custody_hash::ChunkTree::decode(&b).ok())
        .is_some_and(|t| t == tree);
    if !tree_ok && let Err(e) = custody_io::write_atomic(&tree_path, &tree.encode()) {
        return left(format!("its chunk tree could not be written: {e}"));
    }
    let name = source.rsplit('/').next().unwrap_or(source);
    let (manifest, _) = manifest_for(
        opts,
        key,
        Facts {
            path: source,
            path_bytes: source_bytes.clone(),
            name,
            digest: &digest,
            leaf_size: tree.leaf_size,
            mtime: None,
            stored: &path,
            events: [
                format!(
                    "copied from {source}; the collection logged as entry {seq} stopped before \
                     its manifest was written: completed from the stored object"
                ),
                "BLAKE3 and SHA-256 of the stored object".into(),
                "the stored object re-read: its BLAKE3 is its name".into(),
            ],
        },
    );
    let signed = match manifest.sign(key) {
        Ok(s) => s,
        Err(e) => return left(format!("its manifest cannot be signed: {e}")),
    };
    let logged = store.log().append(
        key,
        NewEntry {
            station: &opts.station,
            actor: "custody ingest",
            operator: opts.operator.as_deref(),
            event: "recovery",
            object: Some(h),
            details: {
                let mut d = serde_json::json!({
                    "action": "manifest completed",
                    "source": source,
                    "registered_by": seq,
                });
                if let Some(b) = &source_bytes {
                    d["source_bytes"] = b.clone().into();
                }
                d
            },
        },
    );
    if let Err(e) = logged {
        return left(format!(
            "the completion could not be logged: {e}; no manifest written"
        ));
    }
    if let Err(e) = store.put_manifest(&signed) {
        return left(format!(
            "the completion was logged, but the manifest could not be written: {e}"
        ));
    }
    let mut detail = format!(
        "its collection (log entry {seq}) stopped before the manifest: manifest written from the stored object"
    );
    if let Err(e) = catalog.map_or(Ok(()), |c| c.upsert(&signed)) {
        detail.push_str(&format!(
            "; not indexed in the catalog ({e}): `custody catalog rebuild` restores it"
        ));
    }
    Recovery {
        blake3: h.to_string(),
        action: Action::Completed,
        path: Some(source.to_string()),
        detail,
    }
}

/// Removes `h`, which no log entry or manifest registers, and logs it.
fn roll_back(store: &DirStore, key: &StationKey, opts: &IngestOptions, h: &str) -> Recovery {
    let path = store.object_path(h);
    let size = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
    let removed = std::fs::remove_file(&path).and_then(|()| {
        match std::fs::remove_file(store.root().join(DirStore::tree_rel(h))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }?;
        match path.parent() {
            Some(dir) => std::fs::File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    });
    if let Err(e) = removed {
        return Recovery {
            blake3: h.to_string(),
            action: Action::Left,
            path: None,
            detail: format!("stored but never registered; it could not be removed: {e}"),
        };
    }
    let mut detail = format!(
        "stored ({size} bytes) by a collection that stopped before logging it; never \
         registered, so removed"
    );
    let logged = store.log().append(
        key,
        NewEntry {
            station: &opts.station,
            actor: "custody ingest",
            operator: opts.operator.as_deref(),
            event: "deletion",
            object: Some(h),
            details: serde_json::json!({
                "action": "rolled back",
                "reason": "stored by an interrupted collection, never registered (no log entry, no manifest)",
                "size": size,
            }),
        },
    );
    if let Err(e) = logged {
        detail.push_str(&format!(" (the removal could not be logged: {e})"));
    }
    Recovery {
        blake3: h.to_string(),
        action: Action::RolledBack,
        path: None,
        detail,
    }
}
