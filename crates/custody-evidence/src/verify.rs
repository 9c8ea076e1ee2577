//! Verification of a store, years later, following the rules of
//! docs/FORMAT.md: whom to trust (keys chained to a trust anchor), every
//! log entry signed and chained and the head matching, every manifest
//! signed over what is stored, every object re-hashed (BLAKE3 and SHA-256;
//! a changed object is located with its chunk tree), and the three records
//! of a registration (object, manifest, log entry) cross-checked, so that
//! nothing can be added, changed or removed without a named failure. A
//! derivative's link to its sources is checked too (§10): each source it
//! names is registered in the store and its manifest verifies.
//!
//! Verification only reads: it opens nothing for writing and creates or
//! removes nothing, not even temporary files it finds.

use crate::finding::Finding;
use crate::format::STORE_FORMAT;
use crate::keyring::Trust;
use crate::log::{Head, LogReport};
use crate::manifest::{Derivation, SignedManifest};
use crate::store::DirStore;
use custody_hash::{Algorithms, ChunkTree, DigestOptions};
use std::collections::{BTreeMap, BTreeSet};

/// What to verify, and whom to trust.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Public keys the verifier holds (trust anchors). Empty: trust the
    /// store's own first key, with a `trust_store_key` warning.
    pub anchors: Vec<[u8; 32]>,
    /// Verify only this object (BLAKE3, 64 lowercase hex digits).
    pub object: Option<String>,
    /// A log head kept elsewhere (`custody log anchor`): the log must still
    /// hold that entry unchanged.
    pub anchor: Option<Vec<u8>>,
    /// Skip SHA-256 (BLAKE3 alone still decides whether bytes changed).
    pub fast: bool,
}

/// Why verification could not run at all (as opposed to finding failures).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The object argument is not a BLAKE3 digest.
    #[error("{0:?} is not a BLAKE3 digest (64 lowercase hex digits)")]
    BadObject(String),
    /// Reading the store failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The verification report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// True when nothing failed.
    pub ok: bool,
    /// The store format verified.
    pub format: &'static str,
    /// Whom verification trusted.
    pub trust: Trust,
    /// Objects re-hashed.
    pub objects_checked: u64,
    /// Derivatives whose link to their sources was checked (§10).
    pub derivations_checked: u64,
    /// Whether SHA-256 was checked too (false with `fast`).
    pub sha256_checked: bool,
    /// Every failure, named (docs/FORMAT.md, "Verification rules").
    pub failures: Vec<Finding>,
    /// Warnings: nothing was lost or changed, but something needs attention.
    pub warnings: Vec<Finding>,
    /// The custody log.
    pub log: LogReport,
}

/// Verifies every registered object of `store` (or only `object`),
/// trusting `trusted` and the keys it introduced.
pub fn verify_store(
    store: &DirStore,
    trusted: &[u8; 32],
    object: Option<&str>,
) -> Result<VerifyReport, VerifyError> {
    verify_with(
        store,
        &VerifyOptions {
            anchors: vec![*trusted],
            object: object.map(str::to_string),
            ..Default::default()
        },
    )
}

/// Verifies `store` as `opts` says.
pub fn verify_with(store: &DirStore, opts: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    if let Some(h) = &opts.object
        && !crate::keys::is_digest_hex(h)
    {
        return Err(VerifyError::BadObject(h.clone()));
    }
    let (trust, mut failures, mut warnings) =
        crate::keyring::trust(&store.key_records()?, &opts.anchors);

    let anchor = match opts
        .anchor
        .as_deref()
        .map(|b| Head::parse_trusted(b, &trust))
    {
        Some(Err(mut f)) => {
            f.name = "anchor_invalid";
            failures.push(f);
            None
        }
        Some(Ok(h)) => Some(h),
        None => None,
    };
    // First registering entry (`ingestion` or `derivation`) of every object
    // the log registers, and the sources each first `derivation` entry names.
    let mut registrations: BTreeMap<String, Registered> = BTreeMap::new();
    let log = store.log().verify(&trust, anchor.as_ref(), |e| {
        let Some(o) = &e.object else { return };
        let by = match e.event.as_str() {
            "ingestion" => By::Ingestion,
            crate::derive::EVENT => By::Derivation(
                e.details
                    .get("sources")
                    .and_then(|s| serde_json::from_value(s.clone()).ok()),
            ),
            _ => return,
        };
        let r = registrations.entry(o.clone()).or_default();
        match by {
            By::Ingestion => {
                r.ingestion.get_or_insert(e.seq);
            }
            By::Derivation(sources) => {
                r.derivation.get_or_insert((e.seq, sources));
            }
        }
    })?;
    failures.extend(log.failures.iter().cloned());
    warnings.extend(log.warnings.iter().cloned());
    if !log.ok {
        warnings.push(Finding::new(
            "registrations_unchecked",
            "the log did not verify to its end: manifests were not checked against its registrations",
        ));
    }

    let (objects, trees) = store_objects(store, &mut failures)?;
    let manifests = store_manifests(store, &mut failures)?;
    if opts.fast {
        warnings.push(Finding::new(
            "sha256_skipped",
            "--fast: SHA-256 was not checked (BLAKE3 decides whether bytes changed)",
        ));
    }
    let selected: Vec<&String> = match &opts.object {
        Some(h) => vec![h],
        None => manifests.iter().collect(),
    };
    let mut checked = 0;
    // Authentic manifests that describe derivatives, checked after the loop.
    let mut derivatives: Vec<(String, Derivation)> = Vec::new();
    // What verification made of each manifest read: `None` when authentic.
    let mut read: BTreeMap<String, Option<&'static str>> = BTreeMap::new();
    for h in selected {
        // Only a regular file named after the object is its manifest (a
        // symbolic link, already reported, is not read).
        let bytes = if manifests.contains(h) {
            store.manifest_bytes(h)
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no manifest file",
            ))
        };
        match bytes {
            Ok(bytes) => match SignedManifest::verify_json(&bytes, &trust) {
                Ok(m) if m.manifest.object.blake3 != *h => {
                    read.insert(h.clone(), Some("manifest_misfiled"));
                    failures.push(
                        Finding::new(
                            "manifest_misfiled",
                            format!(
                                "manifest describes {} but is filed under {h}",
                                m.manifest.object.blake3
                            ),
                        )
                        .object(h),
                    )
                }
                Ok(m) => {
                    read.insert(h.clone(), None);
                    if log.ok {
                        check_registration(h, &m, registrations.get(h), &mut failures);
                    }
                    if let Some(d) = &m.manifest.derivation {
                        derivatives.push((h.clone(), d.clone()));
                    }
                    if objects.contains(h) {
                        checked += 1;
                        check_object(
                            store,
                            &m,
                            trees.contains(h),
                            opts.fast,
                            &mut failures,
                            &mut warnings,
                        )?;
                    }
                }
                Err(e) => {
                    read.insert(h.clone(), Some(e.name()));
                    failures.push(Finding::new(e.name(), e.to_string()).object(h))
                }
            },
            Err(e) => failures
                .push(Finding::new("manifest_missing", format!("no manifest: {e}")).object(h)),
        }
        if !objects.contains(h) {
            failures
                .push(Finding::new("object_missing", "the registered object is missing").object(h));
        }
        if log.ok && !registrations.contains_key(h) {
            failures.push(
                Finding::new(
                    "manifest_without_registration",
                    "no ingestion or derivation entry in the custody log registers this manifest's object",
                )
                .object(h),
            );
        }
    }
    for (h, d) in &derivatives {
        for source in &d.sources {
            let verdict = match read.get(source) {
                Some(v) => Some(*v),
                None if manifests.contains(source) => {
                    let v = match store.manifest_bytes(source).map(|b| {
                        SignedManifest::verify_json(&b, &trust)
                            .map(|m| m.manifest.object.blake3 == *source)
                    }) {
                        Ok(Ok(true)) => None,
                        Ok(Ok(false)) => Some("manifest_misfiled"),
                        Ok(Err(e)) => Some(e.name()),
                        Err(_) => Some("manifest_missing"),
                    };
                    read.insert(source.clone(), v);
                    Some(v)
                }
                None => None,
            };
            match verdict {
                None => failures.push(
                    Finding::new(
                        "derivation_source_missing",
                        format!(
                            "derived from {source}, which is not registered in this store (no manifest)"
                        ),
                    )
                    .object(h),
                ),
                Some(Some(rule)) => failures.push(
                    Finding::new(
                        "derivation_source_unverified",
                        format!(
                            "derived from {source}, whose manifest does not verify ({rule})"
                        ),
                    )
                    .object(h),
                ),
                Some(None) => {}
            }
        }
    }
    if opts.object.is_none() {
        for h in objects.difference(&manifests) {
            failures.push(match registrations.get(h) {
                Some(r) => Finding::new(
                    "manifest_missing",
                    if r.ingestion.is_some() {
                        "an object registered in the log has no manifest (deleted, or its collection was \
                         interrupted before the manifest was written: ingesting the file again completes it)"
                    } else {
                        "a derivative registered in the log has no manifest (deleted, or its registration was \
                         interrupted before the manifest was written: registering it again completes it)"
                    },
                )
                .object(h)
                .seq(r.seq()),
                None => Finding::new("object_without_manifest", "an object no manifest or log entry registers").object(h),
            });
        }
        if log.ok {
            for (h, r) in &registrations {
                if !objects.contains(h) && !manifests.contains(h) {
                    failures.push(
                        Finding::new(
                            "registration_missing",
                            "the custody log registers this object, but its object and manifest are gone",
                        )
                        .object(h)
                        .seq(r.seq()),
                    );
                }
            }
        }
        let (f, w) = crate::catalog::check(store, &manifests);
        failures.extend(f);
        warnings.extend(w);
    }
    Ok(VerifyReport {
        ok: failures.is_empty(),
        format: STORE_FORMAT,
        trust,
        objects_checked: checked,
        derivations_checked: derivatives.len() as u64,
        sha256_checked: !opts.fast,
        failures,
        warnings,
        log,
    })
}

/// The entries that register one object: its first `ingestion` entry, and
/// its first `derivation` entry with the sources that entry names.
#[derive(Default)]
struct Registered {
    ingestion: Option<u64>,
    derivation: Option<(u64, Option<Vec<String>>)>,
}

impl Registered {
    /// The first registering entry.
    fn seq(&self) -> u64 {
        let d = self.derivation.as_ref().map(|d| d.0);
        match (self.ingestion, d) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0),
        }
    }
}

/// What kind of entry registers an object.
enum By {
    Ingestion,
    Derivation(Option<Vec<String>>),
}

/// Checks that an authentic manifest is registered by the right kind of
/// entry: a derivative by a `derivation` entry naming the same sources
/// (`derivation_log_mismatch` otherwise), a collected file by an
/// `ingestion` entry. No entry at all is reported by the caller.
fn check_registration(
    h: &str,
    m: &SignedManifest,
    r: Option<&Registered>,
    failures: &mut Vec<Finding>,
) {
    let Some(r) = r else { return };
    match (&m.manifest.derivation, &r.derivation, r.ingestion) {
        (Some(d), Some((seq, sources)), _) => {
            if sources.as_ref() != Some(&d.sources) {
                failures.push(
                    Finding::new(
                        "derivation_log_mismatch",
                        "the derivation entry that registers this derivative names other sources than its manifest",
                    )
                    .object(h)
                    .seq(*seq),
                );
            }
        }
        (Some(_), None, _) => failures.push(
            Finding::new(
                "manifest_without_registration",
                "the manifest describes a derivative, but no derivation entry in the custody log registers it",
            )
            .object(h),
        ),
        (None, _, None) => failures.push(
            Finding::new(
                "manifest_without_registration",
                "no ingestion entry in the custody log registers this collected file (only a derivation entry)",
            )
            .object(h),
        ),
        (None, _, Some(_)) => {}
    }
}

/// Whether `path` is a symbolic link (the store holds none; one is never followed).
fn is_link(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The manifests in `manifests/` (`<blake3>.json`, regular files); anything
/// else there is a failure, a symbolic link included.
fn store_manifests(
    store: &DirStore,
    failures: &mut Vec<Finding>,
) -> std::io::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(store.root().join("manifests"))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            continue;
        }
        match name
            .strip_suffix(".json")
            .filter(|h| crate::keys::is_digest_hex(h))
        {
            Some(h) if !is_link(&e.path()) => {
                out.insert(h.to_string());
            }
            Some(h) => failures
                .push(Finding::new("manifest_format", "the manifest is a symbolic link").object(h)),
            None => failures.push(Finding::new(
                "store_unknown_file",
                format!("manifests/{name}: not a manifest"),
            )),
        }
    }
    Ok(out)
}

/// The objects and chunk trees under `objects/`; anything else there is a
/// failure, a symbolic link included.
fn store_objects(
    store: &DirStore,
    failures: &mut Vec<Finding>,
) -> std::io::Result<(BTreeSet<String>, BTreeSet<String>)> {
    let mut objects = BTreeSet::new();
    let mut trees = BTreeSet::new();
    for rel in store.object_files()? {
        let parts: Vec<&str> = rel.split('/').collect();
        let (dir, name) = match parts.as_slice() {
            ["objects", dir, name] => (*dir, *name),
            _ => {
                failures.push(Finding::new(
                    "store_unknown_file",
                    format!("{rel}: not an object or a chunk tree"),
                ));
                continue;
            }
        };
        if name.starts_with('.') && name.contains(".tmp-") {
            // An atomic write in progress, or left by a crash: not evidence.
            continue;
        }
        let (hash, set) = match name.strip_suffix(".b3tree") {
            Some(h) => (h, &mut trees),
            None => (name, &mut objects),
        };
        if !crate::keys::is_digest_hex(hash)
            || !hash.starts_with(dir)
            || is_link(&store.root().join(&rel))
        {
            failures.push(Finding::new(
                "store_unknown_file",
                format!("{rel}: not an object or a chunk tree"),
            ));
            continue;
        }
        set.insert(hash.to_string());
    }
    Ok((objects, trees))
}

/// Re-hashes one object against its verified manifest: size, BLAKE3 (its
/// name) and SHA-256 in one read; a change is located with the chunk tree.
fn check_object(
    store: &DirStore,
    m: &SignedManifest,
    has_tree: bool,
    fast: bool,
    failures: &mut Vec<Finding>,
    warnings: &mut Vec<Finding>,
) -> std::io::Result<()> {
    let o = &m.manifest.object;
    let h = &o.blake3;
    let path = store.object_path(h);
    let algorithms = if fast {
        Algorithms::BLAKE3
    } else {
        Algorithms::BOTH
    };
    let opts = DigestOptions {
        algorithms,
        ..Default::default()
    };
    let (d, _) = custody_hash::hash_file(&path, opts, custody_io::ReadMode::Auto, |_| {})?;
    let tree = has_tree
        .then(|| std::fs::read(store.root().join(DirStore::tree_rel(h))).ok())
        .flatten()
        .and_then(|b| ChunkTree::decode(&b).ok())
        .filter(|t| t.root_hex() == *h && t.size == o.size && t.is_consistent());
    if tree.is_none() {
        warnings.push(
            Finding::new(
                "tree_missing",
                "chunk tree missing or damaged: a change could not be located",
            )
            .object(h),
        );
    }
    if d.blake3_hex().as_deref() != Some(h.as_str()) || d.size != o.size {
        let mut f = Finding::new(
            "object_changed",
            format!(
                "object bytes changed ({} bytes registered, {} now)",
                o.size, d.size
            ),
        )
        .object(h);
        if let Some(t) = &tree {
            let mut file = std::fs::File::open(&path)?;
            if let Ok(r) = custody_hash::locate(&mut file, t) {
                f.changed = r.changed;
            }
        }
        failures.push(f);
    } else if !fast && d.sha256_hex().as_deref() != Some(o.sha256.as_str()) {
        failures.push(
            Finding::new(
                "object_sha256",
                "the object's SHA-256 differs from its manifest's",
            )
            .object(h),
        );
    }
    Ok(())
}
