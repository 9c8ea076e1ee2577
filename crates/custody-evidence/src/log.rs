//! The custody log: JSON Lines, append-only. Each entry is signed by the
//! station key and carries the BLAKE3 of the previous entry's line, so no
//! line can be forged, edited, removed or re-chained without the key. Appends
//! take an exclusive file lock and are fsynced, so several processes can
//! append to one log safely. A signed head beside the log records the last
//! entry; [`CustodyLog::anchor`] hands it out to be kept elsewhere, which
//! also catches a rollback of the log's tail together with its head.

use crate::canonical::{canonical_value, canonical_without, to_canonical};
use crate::finding::Finding;
use crate::format::{HEAD_FORMAT, TOOL};
use crate::keyring::Trust;
use crate::keys::{StationKey, is_digest_hex, verify_hex};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest log line accepted when verifying (a longer one is a failure).
pub const MAX_LINE: usize = 1 << 20;

/// One log entry (one line, in canonical JSON). Every member is always present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// Sequence number, from 1.
    pub seq: u64,
    /// Time, RFC 3339 UTC.
    pub time: String,
    /// Station identifier.
    pub station: String,
    /// What acted (`custody ingest`, `custody key rotate`).
    pub actor: String,
    /// The person operating the station, when known.
    pub operator: Option<String>,
    /// Tool and version, e.g. `custody 0.1.0`.
    pub tool: String,
    /// PREMIS event type (`ingestion`, `fixity check`, ...).
    pub event: String,
    /// BLAKE3 of the object concerned, when there is one.
    pub object: Option<String>,
    /// Event details.
    pub details: serde_json::Value,
    /// BLAKE3 of the previous entry's line (hex), or [`GENESIS`].
    pub prev: String,
    /// Fingerprint of the key that signed this entry.
    pub key: String,
    /// ed25519 signature over the canonical entry without this member, hex.
    pub signature: String,
}

/// What to append (the log fills in `seq`, `time`, `tool`, `prev`, `key` and `signature`).
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Station identifier.
    pub station: &'a str,
    /// Actor.
    pub actor: &'a str,
    /// Operator.
    pub operator: Option<&'a str>,
    /// PREMIS event type.
    pub event: &'a str,
    /// Object BLAKE3.
    pub object: Option<&'a str>,
    /// Details.
    pub details: serde_json::Value,
}

/// The signed head: the last entry's sequence number and line hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// Sequence number of the last entry.
    pub seq: u64,
    /// BLAKE3 of that entry's line, hex.
    pub hash: String,
    /// Fingerprint of the signing key.
    pub key: String,
    /// ed25519 signature over the canonical head without this member, hex.
    pub signature: String,
}

impl Head {
    /// Parses a stored head (or an anchor) and checks its signature with `trust`.
    pub fn parse_trusted(bytes: &[u8], trust: &Trust) -> Result<Head, Finding> {
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| Finding::new("head_format", format!("not JSON: {e}")))?;
        crate::schema::check(crate::schema::Doc::Head, &value)
            .map_err(|e| Finding::new("head_format", e))?;
        let head: Head = serde_json::from_value(value.clone())
            .map_err(|e| Finding::new("head_format", format!("not a log head: {e}")))?;
        if head.format != HEAD_FORMAT || !is_digest_hex(&head.hash) {
            return Err(Finding::new(
                "head_format",
                "unknown head format or bad hash",
            ));
        }
        let signed = canonical_without(&value, "signature")
            .map_err(|e| Finding::new("head_format", e.to_string()))?;
        match trust.key(&head.key) {
            Some(k) if verify_hex(&k, &signed, &head.signature) => Ok(head),
            Some(_) => Err(Finding::new(
                "head_signature",
                "the head's signature does not verify",
            )),
            None => Err(Finding::new(
                "head_signature",
                format!(
                    "the head is signed by key {}, which is not trusted",
                    head.key
                ),
            )),
        }
    }
}

/// The result of checking a log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// True when every entry is intact, signed by a trusted key, in order,
    /// and the head matches.
    pub ok: bool,
    /// Entries read.
    pub entries: u64,
    /// Sequence number of the first entry found forged, edited, removed,
    /// inserted or out of order.
    pub first_bad_seq: Option<u64>,
    /// What is wrong (the first failure).
    pub message: Option<String>,
    /// Every failure, named.
    pub failures: Vec<Finding>,
    /// Warnings (an append interrupted before its head was written).
    pub warnings: Vec<Finding>,
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

    /// The signed head as stored, to keep elsewhere as an anchor; `None`
    /// before the first entry.
    pub fn anchor(&self) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(&self.head) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Appends an entry signed by `key` under an exclusive lock, fsyncs it,
    /// and updates the signed head.
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
        self.check_tail(seq - 1, &prev)?;
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
        let mut entry = LogEntry {
            seq,
            time: crate::now_utc(),
            station: e.station.to_string(),
            actor: e.actor.to_string(),
            operator: e.operator.map(str::to_string),
            tool: TOOL.to_string(),
            event: e.event.to_string(),
            object: e.object.map(str::to_string),
            details,
            prev,
            key: key.fingerprint(),
            signature: String::new(),
        };
        entry.signature = key.sign_detached(&entry)?;
        let line = to_canonical(&entry)?;
        let mut out = line.clone();
        out.push(b'\n');
        // A write cut short (a full disk) is taken back at once, so it
        // leaves no unfinished line for verification to stumble on.
        let len = f.seek(SeekFrom::End(0))?;
        if let Err(e) = f.write_all(&out).and_then(|()| f.sync_all()) {
            let _ = f.set_len(len).and_then(|()| f.sync_all());
            return Err(e);
        }
        let mut head = Head {
            format: HEAD_FORMAT.into(),
            seq,
            hash: line_hash(&line),
            key: key.fingerprint(),
            signature: String::new(),
        };
        head.signature = key.sign_detached(&head)?;
        custody_io::write_atomic(&self.head, &to_canonical(&head)?)?;
        f.unlock()?;
        Ok(entry)
    }

    /// Before an append: the head must name the last entry (`last`, whose
    /// line hashes to `hash`), or the one before it (an append interrupted
    /// before its head). Anything else means entries were removed, added or
    /// changed since the head was signed, and appending would hide it.
    fn check_tail(&self, last: u64, hash: &str) -> std::io::Result<()> {
        let refuse = |m: String| {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{m}: the custody log does not match its signed head; nothing was appended (run `custody verify`)"
                ),
            ))
        };
        let head: Option<Head> = match self.anchor()? {
            Some(b) => match serde_json::from_slice(&b) {
                Ok(h) => Some(h),
                Err(e) => return refuse(format!("the head is damaged ({e})")),
            },
            None => None,
        };
        match head {
            // No head yet: the first append stopped before writing it.
            None if last <= 1 => Ok(()),
            None => refuse(format!("the log has {last} entries but no head")),
            Some(h) if h.seq == last && h.hash == hash => Ok(()),
            Some(h) if h.seq + 1 == last => Ok(()),
            Some(h) => refuse(format!(
                "the head names entry {} but the log ends at entry {last}",
                h.seq
            )),
        }
    }

    /// Checks every entry (canonical form, signature by a key in `trust`,
    /// sequence, chain), then the head against the last entry, and, with
    /// `anchor` (a head kept elsewhere), that the log still holds that entry
    /// unchanged. Calls `each` for every entry that verifies, in order.
    /// Reads only; streams the log line by line.
    pub fn verify(
        &self,
        trust: &Trust,
        anchor: Option<&Head>,
        mut each: impl FnMut(&LogEntry),
    ) -> std::io::Result<LogReport> {
        let mut report = LogReport::default();
        let fail = |report: &mut LogReport, f: Finding| {
            if report.failures.is_empty() {
                report.first_bad_seq = f.seq;
                report.message = Some(f.message.clone());
            }
            report.failures.push(f);
        };
        let file = match File::open(&self.path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut prev_hash = GENESIS.to_string();
        let mut before_last = GENESIS.to_string();
        let mut anchor_seen = false;
        if let Some(file) = file {
            let mut reader = std::io::BufReader::new(file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = (&mut reader)
                    .take(MAX_LINE as u64 + 1)
                    .read_until(b'\n', &mut line)?;
                if n == 0 {
                    break;
                }
                let seq = report.entries + 1;
                let Some(body) = line.strip_suffix(b"\n") else {
                    let f = if n > MAX_LINE {
                        Finding::new(
                            "log_format",
                            format!("entry {seq} is longer than {MAX_LINE} bytes"),
                        )
                    } else {
                        Finding::new(
                            "log_format",
                            format!("entry {seq} is unfinished (no newline)"),
                        )
                    };
                    fail(&mut report, f.seq(seq));
                    break;
                };
                if let Err(f) = check_entry(body, seq, &prev_hash, trust, &mut each) {
                    fail(&mut report, f.seq(seq));
                    break;
                }
                before_last = std::mem::replace(&mut prev_hash, line_hash(body));
                report.entries = seq;
                if let Some(a) = anchor.filter(|a| a.seq == seq) {
                    anchor_seen = true;
                    if a.hash != prev_hash {
                        fail(
                            &mut report,
                            Finding::new(
                                "anchor_mismatch",
                                format!("entry {seq} differs from the anchor kept for it"),
                            )
                            .seq(seq),
                        );
                    }
                }
            }
        }
        let count = report.entries;
        if report.failures.is_empty() {
            if let Some(a) = anchor.filter(|_| !anchor_seen) {
                fail(
                    &mut report,
                    Finding::new(
                        "anchor_mismatch",
                        format!(
                            "the anchor names entry {} but the log ends at entry {count}: entries were removed",
                            a.seq
                        ),
                    )
                    .seq(a.seq),
                );
            }
            self.check_head(trust, count, [&before_last, &prev_hash], &mut report, fail)?;
        }
        report.ok = report.failures.is_empty();
        Ok(report)
    }

    /// The head against a log of `count` intact entries whose last two
    /// lines hash to `last`.
    fn check_head(
        &self,
        trust: &Trust,
        count: u64,
        last: [&str; 2],
        report: &mut LogReport,
        fail: impl Fn(&mut LogReport, Finding),
    ) -> std::io::Result<()> {
        let Some(bytes) = self.anchor()? else {
            if count == 1 {
                // The first append stopped between its entry and its head.
                report.warnings.push(
                    Finding::new(
                        "head_behind",
                        "no head yet for entry 1: an append was interrupted before its head was written",
                    )
                    .seq(1),
                );
            } else if count > 1 {
                fail(
                    report,
                    Finding::new("head_missing", "the log's signed head is missing").seq(count),
                );
            }
            return Ok(());
        };
        let head = match Head::parse_trusted(&bytes, trust) {
            Ok(h) => h,
            Err(f) => {
                fail(report, f);
                return Ok(());
            }
        };
        if head.seq == count && head.hash == last[1] {
            return Ok(());
        }
        if head.seq + 1 == count && head.hash == last[0] {
            // The append wrote and signed its entry, then stopped before the
            // head: the next append rewrites the head.
            report.warnings.push(
                Finding::new(
                    "head_behind",
                    format!("the head names entry {} of {count}: an append was interrupted before its head was written", head.seq),
                )
                .seq(count),
            );
            return Ok(());
        }
        let f = if head.seq > count {
            Finding::new(
                "log_truncated",
                format!(
                    "entries {}..={} were removed from the end",
                    count + 1,
                    head.seq
                ),
            )
            .seq(count + 1)
        } else {
            Finding::new(
                "head_mismatch",
                format!(
                    "the head names entry {} but the log holds {count} entries",
                    head.seq
                ),
            )
            .seq(head.seq.min(count).max(1))
        };
        fail(report, f);
        Ok(())
    }
}

/// Checks one line (without its newline) as entry `seq` following a line
/// that hashes to `prev`: canonical form, members, signature by a trusted
/// key, sequence and chain.
pub fn check_line(body: &[u8], seq: u64, prev: &str, trust: &Trust) -> Result<LogEntry, Finding> {
    let mut out = None;
    check_entry(body, seq, prev, trust, &mut |e: &LogEntry| {
        out = Some(e.clone())
    })?;
    out.ok_or_else(|| Finding::new("log_format", "no entry"))
}

/// Checks one line as entry `seq` following a line that hashes to `prev`.
fn check_entry(
    body: &[u8],
    seq: u64,
    prev: &str,
    trust: &Trust,
    each: &mut impl FnMut(&LogEntry),
) -> Result<(), Finding> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Finding::new("log_format", format!("entry {seq} is not JSON: {e}")))?;
    if canonical_value(&value).ok().as_deref() != Some(body) {
        return Err(Finding::new(
            "log_format",
            format!("entry {seq} is not in canonical form"),
        ));
    }
    crate::schema::check(crate::schema::Doc::LogEntry, &value)
        .map_err(|e| Finding::new("log_format", format!("entry {seq}: {e}")))?;
    let entry: LogEntry = serde_json::from_value(value.clone())
        .map_err(|e| Finding::new("log_format", format!("entry {seq} is not a log entry: {e}")))?;
    let Some(key) = trust.key(&entry.key) else {
        return Err(Finding::new(
            "log_untrusted_key",
            format!(
                "entry {seq} is signed by key {}, which is not trusted",
                entry.key
            ),
        ));
    };
    let signed = canonical_without(&value, "signature")
        .map_err(|e| Finding::new("log_format", e.to_string()))?;
    if !verify_hex(&key, &signed, &entry.signature) {
        return Err(Finding::new(
            "log_signature",
            format!("entry {seq} was forged or changed: its signature does not verify"),
        ));
    }
    if entry.seq != seq {
        return Err(Finding::new(
            "log_sequence",
            if entry.seq > seq {
                format!("entry {seq} is missing (found {} next)", entry.seq)
            } else {
                format!(
                    "entry {} appears again or out of order after entry {}",
                    entry.seq,
                    seq - 1
                )
            },
        ));
    }
    if entry.prev != prev {
        return Err(Finding::new(
            "log_chain",
            format!(
                "entry {seq} does not follow entry {}: an entry was removed, inserted or changed",
                seq - 1
            ),
        ));
    }
    if entry.object.as_deref().is_some_and(|o| !is_digest_hex(o)) {
        return Err(Finding::new(
            "log_format",
            format!("entry {seq} names an object that is not a BLAKE3 digest"),
        ));
    }
    each(&entry);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusting(pk: &[u8; 32]) -> Trust {
        crate::keyring::trust(&[], &[*pk]).0
    }

    fn check(log: &CustodyLog, pk: &[u8; 32]) -> LogReport {
        log.verify(&trusting(pk), None, |_| {}).unwrap()
    }

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
                    operator: None,
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
        let r = check(&log, &key.public());
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
        assert_eq!(check(&log, &pk).first_bad_seq, Some(3));
        // Remove entry 4.
        let mut l = orig.clone();
        l.remove(3);
        write(&log, &l);
        assert_eq!(check(&log, &pk).first_bad_seq, Some(4));
        // Swap entries 2 and 3.
        let mut l = orig.clone();
        l.swap(1, 2);
        write(&log, &l);
        assert_eq!(check(&log, &pk).first_bad_seq, Some(2));
        // Insert a copy of entry 5 after it.
        let mut l = orig.clone();
        l.insert(5, orig[4].clone());
        write(&log, &l);
        assert_eq!(check(&log, &pk).first_bad_seq, Some(6));
        // Edit the last entry, or remove it: the signed head notices.
        let mut l = orig.clone();
        l[5] = l[5].replace("\"i\":5", "\"i\":7");
        write(&log, &l);
        assert_eq!(check(&log, &pk).first_bad_seq, Some(6));
        let mut l = orig.clone();
        l.pop();
        write(&log, &l);
        assert_eq!(check(&log, &pk).first_bad_seq, Some(6));
        // A different trusted key refuses the head.
        write(&log, &orig);
        let other = StationKey::generate().unwrap();
        assert!(!check(&log, &other.public()).ok);
        assert!(check(&log, &pk).ok);
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
                    operator: None,
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
        assert!(check(&log, &key.public()).ok);
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
                                operator: None,
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
        let r = check(&log, &key.public());
        assert!(r.ok, "{r:?}");
        assert_eq!(r.entries, 100);
    }

    #[test]
    fn forged_and_rechained_lines_fail_their_signatures() {
        let (_d, log, key) = setup(4);
        let pk = key.public();
        let orig = lines(&log);
        // A line appended with a correct link but no key: its signature fails.
        let mut forged: serde_json::Value = serde_json::from_str(&orig[3]).unwrap();
        forged["seq"] = 5.into();
        forged["prev"] = line_hash(orig[3].as_bytes()).into();
        let mut l = orig.clone();
        l.push(String::from_utf8(canonical_value(&forged).unwrap()).unwrap());
        write(&log, &l);
        let r = check(&log, &pk);
        assert_eq!(
            (r.first_bad_seq, r.failures[0].name),
            (Some(5), "log_signature")
        );
        // Entry 1 rewritten and every line re-chained, by a stranger's key.
        let stranger = StationKey::generate().unwrap();
        let other = tempfile::tempdir().unwrap();
        let relog = CustodyLog::in_dir(other.path());
        for (i, line) in orig.iter().enumerate() {
            let e: LogEntry = serde_json::from_str(line).unwrap();
            relog
                .append(
                    &stranger,
                    NewEntry {
                        station: &e.station,
                        actor: &e.actor,
                        operator: None,
                        event: &e.event,
                        object: e.object.as_deref(),
                        details: if i == 0 {
                            serde_json::json!({"i": 99})
                        } else {
                            e.details
                        },
                    },
                )
                .unwrap();
        }
        std::fs::copy(relog.path(), log.path()).unwrap();
        let r = check(&log, &pk);
        assert_eq!(
            (r.first_bad_seq, r.failures[0].name),
            (Some(1), "log_untrusted_key")
        );
    }

    #[test]
    fn a_head_one_behind_warns_and_a_rolled_back_tail_needs_the_anchor() {
        let (_d, log, key) = setup(3);
        let pk = key.public();
        let trust = trusting(&pk);
        let old_head = log.anchor().unwrap().unwrap();
        let anchor_3 = Head::parse_trusted(&old_head, &trust).unwrap();
        let before = std::fs::read(log.path()).unwrap();
        setup_append(&log, &key);
        // The head of entry 3 with a log of 4 entries: an interrupted append.
        std::fs::write(&log.head, &old_head).unwrap();
        let r = check(&log, &pk);
        assert!(r.ok, "{r:?}");
        assert_eq!(r.warnings[0].name, "head_behind");
        // The next append rewrites the head.
        setup_append(&log, &key);
        let r = check(&log, &pk);
        assert!(r.ok && r.warnings.is_empty(), "{r:?}");
        let anchor_5 = Head::parse_trusted(&log.anchor().unwrap().unwrap(), &trust).unwrap();
        // Roll the tail back together with its head: the log alone looks fine,
        // the anchor kept elsewhere does not.
        std::fs::write(log.path(), &before).unwrap();
        std::fs::write(&log.head, &old_head).unwrap();
        assert!(check(&log, &pk).ok);
        let r = log.verify(&trust, Some(&anchor_5), |_| {}).unwrap();
        assert_eq!((r.ok, r.failures[0].name), (false, "anchor_mismatch"));
        assert!(log.verify(&trust, Some(&anchor_3), |_| {}).unwrap().ok);
    }

    #[test]
    fn an_append_refuses_a_log_that_lost_entries_since_its_head() {
        let (_d, log, key) = setup(4);
        let orig = lines(&log);
        // The last entry removed: appending would make the loss look normal.
        write(&log, &orig[..3]);
        let e = log
            .append(
                &key,
                NewEntry {
                    station: "s",
                    actor: "a",
                    operator: None,
                    event: "fixity check",
                    object: None,
                    details: serde_json::json!({}),
                },
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("does not match its signed head"),
            "{e}"
        );
        assert_eq!(lines(&log), orig[..3].to_vec(), "something was appended");
        // Restored, appends go on.
        write(&log, &orig);
        setup_append(&log, &key);
        assert!(check(&log, &key.public()).ok);
    }

    fn setup_append(log: &CustodyLog, key: &StationKey) {
        log.append(
            key,
            NewEntry {
                station: "st1",
                actor: "test",
                operator: Some("op"),
                event: "fixity check",
                object: None,
                details: serde_json::json!({}),
            },
        )
        .unwrap();
    }
}
