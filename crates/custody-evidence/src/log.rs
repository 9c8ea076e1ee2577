//! The custody log: JSON Lines, append-only, each entry carrying the BLAKE3
//! of the previous entry's line. Appends take an exclusive file lock and are
//! fsynced, so several processes can append to one log safely. A signed
//! `head` file beside the log records the last entry, so removing or editing
//! the newest entries is detected too.

use crate::canonical::to_canonical;
use crate::keys::{StationKey, from_hex, verify};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One log entry (one line, in canonical JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Time, RFC 3339 UTC.
    pub time: String,
    /// Station identifier.
    pub station: String,
    /// Who or what acted (operator, `custody ingest`).
    pub actor: String,
    /// PREMIS event type (`ingestion`, `fixity check`, ...).
    pub event: String,
    /// BLAKE3 of the object concerned, when there is one.
    pub object: Option<String>,
    /// Event details.
    pub details: serde_json::Value,
    /// BLAKE3 of the previous entry's line (hex), or [`GENESIS`].
    pub prev: String,
}

/// What to append (the log fills in `seq`, `time` and `prev`).
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Station identifier.
    pub station: &'a str,
    /// Actor.
    pub actor: &'a str,
    /// PREMIS event type.
    pub event: &'a str,
    /// Object BLAKE3.
    pub object: Option<&'a str>,
    /// Details.
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
    public_key: String,
    signature: String,
}

/// The result of checking a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// True when every entry is intact, in order, and the head matches.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Sequence number of the first entry found edited, removed, inserted or out of order.
    pub first_bad_seq: Option<u64>,
    /// What is wrong.
    pub message: Option<String>,
}

/// A custody log at `DIR/custody.log` with its head at `DIR/custody.log.head`.
#[derive(Debug, Clone)]
pub struct CustodyLog {
    path: PathBuf,
    head: PathBuf,
}

fn line_hash(line: &[u8]) -> String {
    blake3::hash(line).to_hex().to_string()
}

/// Reads the last line of a file (without its newline), reading only its tail.
fn last_line(f: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::with_capacity((len - start) as usize);
        Read::by_ref(f).take(len - start).read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(body[i + 1..].to_vec()));
        }
        if start == 0 {
            return Ok(Some(body.to_vec()));
        }
        window *= 4;
    }
}

/// An append cut short (power loss) leaves a last line without its newline:
/// it was never acknowledged, so it is removed. Returns the bytes removed.
fn repair_torn_tail(f: &mut File) -> std::io::Result<u64> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1))?;
    f.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(0);
    }
    let keep = match last_line(f)? {
        Some(line) => len - line.len() as u64,
        None => 0,
    };
    f.set_len(keep)?;
    f.sync_all()?;
    Ok(len - keep)
}

impl CustodyLog {
    /// The log in directory `dir` (created on the first append).
    pub fn in_dir(dir: &Path) -> CustodyLog {
        CustodyLog {
            path: dir.join("custody.log"),
            head: dir.join("custody.log.head"),
        }
    }

    /// Path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry under an exclusive lock, fsyncs it, and updates the signed head.
    pub fn append(&self, key: &StationKey, e: NewEntry<'_>) -> std::io::Result<LogEntry> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.path)?;
        f.lock()?;
        let torn = repair_torn_tail(&mut f)?;
        let (seq, prev) = match last_line(&mut f)? {
            None => (1, GENESIS.to_string()),
            Some(line) => {
                let last: LogEntry = serde_json::from_slice(&line).map_err(|err| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the last log entry is damaged: {err}"),
                    )
                })?;
                (last.seq + 1, line_hash(&line))
            }
        };
        let mut details = e.details;
        if torn > 0
            && let Some(obj) = details.as_object_mut()
        {
            // Say so in the record: an append that never completed was cut off.
            obj.insert(
                "log_repair".into(),
                serde_json::json!(format!("removed {torn} bytes of an unfinished entry")),
            );
        }
        let entry = LogEntry {
            seq,
            time: crate::now_utc(),
            station: e.station.to_string(),
            actor: e.actor.to_string(),
            event: e.event.to_string(),
            object: e.object.map(str::to_string),
            details,
            prev,
        };
        let line = to_canonical(&entry).map_err(std::io::Error::other)?;
        let mut out = line.clone();
        out.push(b'\n');
        f.write_all(&out)?;
        f.sync_all()?;
        let hash = line_hash(&line);
        let head = Head {
            seq,
            signature: custody_hash::tree::hex(&key.sign(format!("{seq}:{hash}").as_bytes())),
            hash,
            public_key: key.public_hex(),
        };
        custody_io::write_atomic(
            &self.head,
            &serde_json::to_vec(&head).map_err(std::io::Error::other)?,
        )?;
        f.unlock()?;
        Ok(entry)
    }

    /// Checks the chain; with `trusted`, also the head's signature.
    pub fn verify(&self, trusted: Option<&[u8; 32]>) -> std::io::Result<LogReport> {
        let data = match std::fs::read(&self.path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let bad = |entries: u64, seq: u64, msg: String| LogReport {
            ok: false,
            entries,
            first_bad_seq: Some(seq),
            message: Some(msg),
        };
        let mut prev_hash = GENESIS.to_string();
        let mut expected = 1u64;
        let body = data.strip_suffix(b"\n").unwrap_or(&data);
        let lines: Vec<&[u8]> = if body.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == b'\n').collect()
        };
        for line in &lines {
            let entry: LogEntry = match serde_json::from_slice(line) {
                Ok(e) => e,
                Err(e) => {
                    return Ok(bad(
                        expected - 1,
                        expected,
                        format!("entry {expected} is not valid JSON: {e}"),
                    ));
                }
            };
            if entry.seq != expected {
                let msg = if entry.seq > expected {
                    format!("entry {expected} is missing (found {} next)", entry.seq)
                } else {
                    format!(
                        "entry {} appears again or out of order after entry {}",
                        entry.seq,
                        expected - 1
                    )
                };
                return Ok(bad(expected - 1, expected, msg));
            }
            if entry.prev != prev_hash {
                // The previous line no longer hashes to what this entry recorded.
                let seq = expected.saturating_sub(1).max(1);
                return Ok(bad(
                    expected - 1,
                    seq,
                    format!("entry {seq} was changed: entry {expected} no longer follows it"),
                ));
            }
            if to_canonical(&entry).ok().as_deref() != Some(*line) {
                return Ok(bad(
                    expected - 1,
                    expected,
                    format!("entry {expected} is not in canonical form (edited)"),
                ));
            }
            prev_hash = line_hash(line);
            expected += 1;
        }
        let count = expected - 1;
        let head: Option<Head> = std::fs::read(&self.head)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        match head {
            None if count > 0 => {
                return Ok(bad(
                    count,
                    count,
                    "the log's signed head is missing or damaged".into(),
                ));
            }
            None => {}
            Some(h) => {
                if h.seq > count {
                    return Ok(bad(
                        count,
                        count + 1,
                        format!(
                            "entries {}..={} were removed from the end",
                            count + 1,
                            h.seq
                        ),
                    ));
                }
                if h.seq == count && h.hash != prev_hash {
                    return Ok(bad(count, count, format!("entry {count} was changed")));
                }
                if let Some(t) = trusted {
                    let sig = from_hex(&h.signature).filter(|s| s.len() == 64);
                    let ok = sig.is_some_and(|s| {
                        let mut a = [0u8; 64];
                        a.copy_from_slice(&s);
                        verify(t, format!("{}:{}", h.seq, h.hash).as_bytes(), &a)
                    });
                    if !ok {
                        return Ok(bad(
                            count,
                            h.seq,
                            "the log head is not signed by the trusted station key".into(),
                        ));
                    }
                }
            }
        }
        Ok(LogReport {
            ok: true,
            entries: count,
            first_bad_seq: None,
            message: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(n: u64) -> (tempfile::TempDir, CustodyLog, StationKey) {
        let dir = tempfile::tempdir().unwrap();
        let log = CustodyLog::in_dir(dir.path());
        let key = StationKey::generate().unwrap();
        for i in 0..n {
            let obj = format!("{i:064x}");
            log.append(
                &key,
                NewEntry {
                    station: "st1",
                    actor: "test",
                    event: "ingestion",
                    object: Some(&obj),
                    details: serde_json::json!({"i": i}),
                },
            )
            .unwrap();
        }
        (dir, log, key)
    }

    fn lines(log: &CustodyLog) -> Vec<String> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn write(log: &CustodyLog, l: &[String]) {
        std::fs::write(
            log.path(),
            l.iter().map(|s| format!("{s}\n")).collect::<String>(),
        )
        .unwrap();
    }

    #[test]
    fn intact_log_verifies() {
        let (_d, log, key) = setup(5);
        let r = log.verify(Some(&key.public())).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.entries, 5);
    }

    #[test]
    fn edits_removals_insertions_and_reorders_are_named() {
        let (_d, log, key) = setup(6);
        let pk = key.public();
        let orig = lines(&log);
        // Edit entry 3.
        let mut l = orig.clone();
        l[2] = l[2].replace("\"i\":2", "\"i\":9");
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(3));
        // Remove entry 4.
        let mut l = orig.clone();
        l.remove(3);
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(4));
        // Swap entries 2 and 3.
        let mut l = orig.clone();
        l.swap(1, 2);
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(2));
        // Insert a copy of entry 5 after it.
        let mut l = orig.clone();
        l.insert(5, orig[4].clone());
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(6));
        // Edit the last entry, or remove it: the signed head notices.
        let mut l = orig.clone();
        l[5] = l[5].replace("\"i\":5", "\"i\":7");
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(6));
        let mut l = orig.clone();
        l.pop();
        write(&log, &l);
        assert_eq!(log.verify(Some(&pk)).unwrap().first_bad_seq, Some(6));
        // A different trusted key refuses the head.
        write(&log, &orig);
        let other = StationKey::generate().unwrap();
        assert!(!log.verify(Some(&other.public())).unwrap().ok);
        assert!(log.verify(Some(&pk)).unwrap().ok);
    }

    #[test]
    fn a_torn_last_line_is_repaired_on_the_next_append() {
        let (_d, log, key) = setup(3);
        let mut bytes = std::fs::read(log.path()).unwrap();
        bytes.extend_from_slice(b"{\"seq\":4,\"tim");
        std::fs::write(log.path(), &bytes).unwrap();
        let e = log
            .append(
                &key,
                NewEntry {
                    station: "s",
                    actor: "a",
                    event: "ingestion",
                    object: None,
                    details: serde_json::json!({}),
                },
            )
            .unwrap();
        assert_eq!(e.seq, 4);
        assert!(
            e.details["log_repair"]
                .as_str()
                .unwrap()
                .contains("removed 13 bytes")
        );
        assert!(log.verify(Some(&key.public())).unwrap().ok);
    }

    #[test]
    fn concurrent_appends_keep_the_chain() {
        let (_d, log, key) = setup(0);
        let key = std::sync::Arc::new(key);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (log, key) = (log.clone(), key.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        log.append(
                            &key,
                            NewEntry {
                                station: "st",
                                actor: "t",
                                event: "ingestion",
                                object: None,
                                details: serde_json::json!({"t": t, "i": i}),
                            },
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        let r = log.verify(Some(&key.public())).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.entries, 100);
    }
}
