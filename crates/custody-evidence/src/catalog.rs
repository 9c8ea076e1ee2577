//! The embedded catalog: an SQLite index of registrations (by device,
//! officer, start time, duration, kind and hash) so a station can list
//! "officer 012345, 2026-11-29" at once. It is derived data: `rebuild`
//! recreates it from the manifests that verify, at any time; `list` says of
//! each row whether its manifest verifies now; verification
//! ([`check`]) compares it with the manifests, reading only.

use crate::finding::Finding;
use crate::keyring::Trust;
use crate::manifest::SignedManifest;
use crate::store::DirStore;
use rusqlite::{Connection, params};

/// One registration as the catalog lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    /// Object BLAKE3.
    pub blake3: String,
    /// Device serial.
    pub device: Option<String>,
    /// Officer.
    pub officer: Option<String>,
    /// Start (UTC, or recorder-local from the file name).
    pub start: Option<String>,
    /// Duration in seconds.
    pub duration_s: Option<f64>,
    /// Container.
    pub kind: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Original path.
    pub path: String,
    /// Whether the object's manifest verifies now with the trusted keys.
    pub verified: bool,
}

/// Filters for [`Catalog::list`].
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Device serial.
    pub device: Option<String>,
    /// Officer.
    pub officer: Option<String>,
    /// Day, `YYYY-MM-DD`.
    pub day: Option<String>,
}

/// The catalog at `STORE/catalog.sqlite`.
pub struct Catalog {
    conn: Connection,
}

/// Why the catalog could not be read or written (the cause kept).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The SQLite database refused an operation.
    #[error("catalog database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The store around it could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A catalog operation's result.
pub type Result<T> = std::result::Result<T, CatalogError>;

fn insert(conn: &Connection, s: &SignedManifest) -> Result<()> {
    let m = &s.manifest;
    let start = m
        .recording
        .start
        .clone()
        .or_else(|| m.recording.start_local.clone());
    conn.execute(
        "INSERT OR REPLACE INTO registrations VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            m.object.blake3,
            m.recording.device_serial,
            m.recording.officer,
            m.recording.unit,
            start,
            m.media.as_ref().and_then(|x| x.duration_s),
            m.media.as_ref().map(|x| x.container.clone()),
            m.object.size as i64,
            m.original.path,
            m.collection.station,
            m.collection.time
        ],
    )
    .map_err(CatalogError::from)?;
    Ok(())
}

impl Catalog {
    /// Opens (creating if needed) the store's catalog.
    pub fn open(store: &DirStore) -> Result<Catalog> {
        let conn =
            Connection::open(store.root().join("catalog.sqlite")).map_err(CatalogError::from)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(CatalogError::from)?;
        conn.execute_batch(
            // A rollback journal, not WAL: readers (verification) then
            // open the file read-only and write nothing beside it.
            "PRAGMA journal_mode=DELETE;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS registrations (
                 blake3 TEXT PRIMARY KEY,
                 device TEXT, officer TEXT, unit TEXT,
                 start TEXT, duration_s REAL, kind TEXT,
                 size INTEGER NOT NULL, path TEXT NOT NULL,
                 station TEXT, collected TEXT);
             CREATE INDEX IF NOT EXISTS by_officer ON registrations(officer, start);
             CREATE INDEX IF NOT EXISTS by_device ON registrations(device, start);
             CREATE INDEX IF NOT EXISTS by_source ON registrations(path, size);",
        )
        .map_err(CatalogError::from)?;
        Ok(Catalog { conn })
    }

    /// Adds or replaces the entry of a registered manifest.
    pub fn upsert(&self, s: &SignedManifest) -> Result<()> {
        insert(&self.conn, s)
    }

    /// Recreates the catalog from the store's manifests that verify with
    /// `trust`; returns the entries written and the manifests left out, with
    /// the reason.
    pub fn rebuild(
        &mut self,
        store: &DirStore,
        trust: &Trust,
    ) -> Result<(usize, Vec<(String, String)>)> {
        let tx = self.conn.transaction().map_err(CatalogError::from)?;
        tx.execute("DELETE FROM registrations", [])
            .map_err(CatalogError::from)?;
        let mut n = 0;
        let mut left_out = Vec::new();
        for h in store.registered()? {
            match store
                .manifest_bytes(&h)
                .map_err(|e| e.to_string())
                .and_then(|b| SignedManifest::verify_json(&b, trust).map_err(|e| e.to_string()))
            {
                Ok(s) if s.manifest.object.blake3 == h => {
                    insert(&tx, &s)?;
                    n += 1;
                }
                Ok(_) => left_out.push((h, "filed under another object".to_string())),
                Err(e) => left_out.push((h, e)),
            }
        }
        tx.commit().map_err(CatalogError::from)?;
        Ok((n, left_out))
    }

    /// Whether the catalog has a row for this object.
    pub fn contains(&self, blake3: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM registrations WHERE blake3 = ?1",
                params![blake3],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(CatalogError::from)
    }

    /// Objects registered from this source path with this size.
    pub fn by_source(&self, path: &str, size: u64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT blake3 FROM registrations WHERE path = ?1 AND size = ?2")
            .map_err(CatalogError::from)?;
        let rows = stmt
            .query_map(params![path, size as i64], |r| r.get::<_, String>(0))
            .map_err(CatalogError::from)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(CatalogError::from)
    }

    /// Every object registered from this source path, with its size.
    pub fn from_source(&self, path: &str) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT blake3, size FROM registrations WHERE path = ?1")
            .map_err(CatalogError::from)?;
        let rows = stmt
            .query_map(params![path], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(CatalogError::from)?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(CatalogError::from)
    }

    /// Lists registrations matching `q`, ordered by start time; each row
    /// says whether its manifest verifies with `trust` now.
    pub fn list(&self, store: &DirStore, q: &Query, trust: &Trust) -> Result<Vec<Row>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT blake3, device, officer, start, duration_s, kind, size, path FROM registrations
                 WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR officer = ?2)
                   AND (?3 IS NULL OR substr(start, 1, 10) = ?3)
                 ORDER BY start, path",
            )
            .map_err(CatalogError::from)?;
        let rows = stmt
            .query_map(params![q.device, q.officer, q.day], |r| {
                Ok(Row {
                    blake3: r.get(0)?,
                    device: r.get(1)?,
                    officer: r.get(2)?,
                    start: r.get(3)?,
                    duration_s: r.get(4)?,
                    kind: r.get(5)?,
                    size: r.get::<_, i64>(6)? as u64,
                    path: r.get(7)?,
                    verified: false,
                })
            })
            .map_err(CatalogError::from)?;
        let mut rows = rows
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(CatalogError::from)?;
        for row in &mut rows {
            row.verified = store
                .manifest_bytes(&row.blake3)
                .ok()
                .and_then(|b| SignedManifest::verify_json(&b, trust).ok())
                .is_some_and(|m| m.manifest.object.blake3 == row.blake3);
        }
        Ok(rows)
    }
}

/// Compares the catalog with the store's manifests, reading only: every
/// manifest must have its row and every row its manifest. A missing catalog
/// is a warning (it is derived data: `custody catalog rebuild`).
pub fn check(
    store: &DirStore,
    manifests: &std::collections::BTreeSet<String>,
) -> (Vec<Finding>, Vec<Finding>) {
    let path = store.root().join("catalog.sqlite");
    if !path.exists() {
        return (
            Vec::new(),
            vec![Finding::new(
                "catalog_missing",
                "no catalog: run `custody catalog rebuild`",
            )],
        );
    }
    let rows = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            let mut stmt = c.prepare("SELECT blake3 FROM registrations")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<std::result::Result<std::collections::BTreeSet<_>, _>>()
        });
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            return (
                vec![Finding::new(
                    "catalog_mismatch",
                    format!("the catalog cannot be read: {e}"),
                )],
                Vec::new(),
            );
        }
    };
    let missing = manifests.difference(&rows).count();
    let extra = rows.difference(manifests).count();
    let failures = if missing + extra > 0 {
        vec![Finding::new(
            "catalog_mismatch",
            format!(
                "the catalog lacks {missing} registered objects and lists {extra} that have no manifest: \
                 run `custody catalog rebuild`"
            ),
        )]
    } else {
        Vec::new()
    };
    (failures, Vec::new())
}
