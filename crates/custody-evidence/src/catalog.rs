//! The embedded catalog: an SQLite index of registrations (by device,
//! officer, start time, duration, kind and hash) so a station can list
//! "officer 012345, 2026-11-29" at once. It is derived data: `rebuild`
//! recreates it from the signed manifests at any time.

use crate::manifest::SignedManifest;
use crate::store::{DirStore, Store};
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

fn to_io(e: rusqlite::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn insert(conn: &Connection, s: &SignedManifest) -> std::io::Result<()> {
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
    .map_err(to_io)?;
    Ok(())
}

impl Catalog {
    /// Opens (creating if needed) the store's catalog.
    pub fn open(store: &DirStore) -> std::io::Result<Catalog> {
        let conn = Connection::open(store.root().join("catalog.sqlite")).map_err(to_io)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(to_io)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
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
        .map_err(to_io)?;
        Ok(Catalog { conn })
    }

    /// Adds or replaces the entry of a registered manifest.
    pub fn upsert(&self, s: &SignedManifest) -> std::io::Result<()> {
        insert(&self.conn, s)
    }

    /// Recreates the catalog from the store's manifests; returns the entries written.
    pub fn rebuild(&mut self, store: &DirStore) -> std::io::Result<usize> {
        let tx = self.conn.transaction().map_err(to_io)?;
        tx.execute("DELETE FROM registrations", []).map_err(to_io)?;
        let mut n = 0;
        for h in store.registered()? {
            let Ok(bytes) = store.manifest_bytes(&h) else {
                continue;
            };
            let Ok(s) = serde_json::from_slice::<SignedManifest>(&bytes) else {
                continue;
            };
            insert(&tx, &s)?;
            n += 1;
        }
        tx.commit().map_err(to_io)?;
        Ok(n)
    }

    /// Objects registered from this source path with this size.
    pub fn by_source(&self, path: &str, size: u64) -> std::io::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT blake3 FROM registrations WHERE path = ?1 AND size = ?2")
            .map_err(to_io)?;
        let rows = stmt
            .query_map(params![path, size as i64], |r| r.get::<_, String>(0))
            .map_err(to_io)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(to_io)
    }

    /// Lists registrations matching `q`, ordered by start time.
    pub fn list(&self, q: &Query) -> std::io::Result<Vec<Row>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT blake3, device, officer, start, duration_s, kind, size, path FROM registrations
                 WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR officer = ?2)
                   AND (?3 IS NULL OR substr(start, 1, 10) = ?3)
                 ORDER BY start, path",
            )
            .map_err(to_io)?;
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
                })
            })
            .map_err(to_io)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(to_io)
    }
}
