//! The C ABI of Custody (`include/custody.h`, `libcustody`).
//!
//! Every function returns a [`CustodyStatus`]; rich results come back as
//! UTF-8 JSON strings (the same JSON as `custody ... --json`) that the caller
//! frees with [`custody_string_free`]. On an error status,
//! [`custody_last_error`] gives the message on the calling thread, and
//! [`custody_last_error_offset`] the byte offset where parsing failed.
//!
//! Nothing here holds logic of its own: each function checks its arguments,
//! calls one job of the `custody` crate and converts the result. Every entry
//! point catches panics ([`CustodyStatus::Internal`]); null pointers,
//! invalid UTF-8 in text arguments and unknown or freed handles give
//! [`CustodyStatus::InvalidArgument`], never a crash.
//!
//! Thread safety: every function may be called from any thread at once,
//! on different or the same handles; the last error is per thread.

#![deny(missing_docs)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::PathBuf;
use std::sync::Mutex;

// Redaction (feature `redact`): the module says so itself, so that
// cbindgen guards its items, not each enum variant too.
mod redact;
#[cfg(feature = "redact")]
pub use redact::*;

/// What a call did.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustodyStatus {
    /// Done, and everything was as it should be.
    Ok = 0,
    /// Done, and the result reports a problem: a store that does not
    /// verify, files that were not collected, a file that changed. The JSON
    /// result says what.
    Findings = 1,
    /// A null pointer, text that is not UTF-8, malformed options, or a
    /// handle that is not live.
    InvalidArgument = 2,
    /// A file or folder could not be opened, read or written.
    Io = 3,
    /// A container could not be parsed (see the offset).
    Parse = 4,
    /// A chunk tree is malformed or inconsistent.
    Tree = 5,
    /// The station key could not be loaded.
    Key = 6,
    /// The progress callback asked to stop.
    Cancelled = 7,
    /// An internal error (a panic caught at the boundary).
    Internal = 8,
    /// A video could not be decoded or encoded: damaged or cut short (see
    /// the offset, when known), a stream or parameter FFmpeg cannot handle.
    /// Only the redaction functions (`CUSTODY_REDACT`) give it.
    Media = 9,
    /// A detector failed on a picture (the message names it and the
    /// picture), or a built-in detector's model is missing or not the one
    /// pinned. Only the redaction functions (`CUSTODY_REDACT`) give it.
    Detector = 10,
}

/// The ABI version: changes whenever a signature or a status changes meaning.
pub const CUSTODY_ABI_VERSION: u32 = 1;

/// Probe flag: parse strictly (the first problem is an error).
pub const CUSTODY_PROBE_STRICT: u32 = 1;
/// Probe flag: list every sample.
pub const CUSTODY_PROBE_SAMPLES: u32 = 2;
/// Probe flag: include the box tree.
pub const CUSTODY_PROBE_BOXES: u32 = 4;
/// Probe flag: never memory-map (recorder media): only the ranges the
/// probe looks at are read.
pub const CUSTODY_PROBE_NO_MMAP: u32 = 8;
/// Hash flag: also compute MD5.
pub const CUSTODY_HASH_MD5: u32 = 1;

/// A progress callback: `done` of `total` units (bytes or files) so far.
/// Return 0 to go on, anything else to cancel. Called one call at a time,
/// on the calling thread or (ingest with several jobs) a library thread.
pub type CustodyProgress =
    Option<unsafe extern "C" fn(user: *mut c_void, done: u64, total: u64) -> i32>;

/// A station key loaded by [`custody_key_load`]; free with [`custody_key_free`].
pub struct CustodyKey {
    key: custody::evidence::keys::StationKey,
}

/// Addresses of the live key handles: a call with any other pointer is
/// refused without touching it.
static LIVE_KEYS: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

fn live_keys() -> std::sync::MutexGuard<'static, Option<HashSet<usize>>> {
    LIVE_KEYS.lock().unwrap_or_else(|p| p.into_inner())
}

struct LastError {
    message: CString,
    offset: i64,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Why a call failed, before it becomes a status and a last error.
struct Failure {
    status: CustodyStatus,
    message: String,
    offset: Option<u64>,
}

impl Failure {
    fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            status: CustodyStatus::InvalidArgument,
            message: message.into(),
            offset: None,
        }
    }
}

impl From<custody::Error> for Failure {
    fn from(e: custody::Error) -> Failure {
        use custody::Error as E;
        let status = match &e {
            E::Io { .. } | E::Verify { .. } => CustodyStatus::Io,
            E::Parse { .. } => CustodyStatus::Parse,
            E::Tree { .. } | E::InconsistentTree { .. } => CustodyStatus::Tree,
            E::Key { .. } => CustodyStatus::Key,
            E::Cancelled => CustodyStatus::Cancelled,
            E::InvalidArgument(_) => CustodyStatus::InvalidArgument,
            #[cfg(feature = "redact")]
            E::Transcode { source, .. } => match **source {
                custody::transcode::Error::Io { .. } => CustodyStatus::Io,
                _ => CustodyStatus::Media,
            },
            #[cfg(feature = "redact")]
            E::Redact { source, .. } => {
                use custody::redact::redact::RedactError as R;
                match **source {
                    R::Io { .. } => CustodyStatus::Io,
                    R::Regions(_) | R::InvalidArgument(_) => CustodyStatus::InvalidArgument,
                    R::Picture { .. } | R::Transcode(_) => CustodyStatus::Media,
                    R::Cancelled => CustodyStatus::Cancelled,
                    _ => CustodyStatus::Detector,
                }
            }
            _ => CustodyStatus::Internal,
        };
        Failure {
            status,
            message: e.to_string(),
            offset: e.offset(),
        }
    }
}

/// Runs `f` behind the boundary: catches panics, records the last error,
/// hands a JSON result to `out`.
fn call(
    out: *mut *mut c_char,
    f: impl FnOnce() -> Result<(CustodyStatus, serde_json::Value), Failure>,
) -> CustodyStatus {
    LAST.with(|l| l.borrow_mut().take());
    if out.is_null() {
        return fail(Failure::invalid("the result pointer is null"));
    }
    // SAFETY: `out` is non-null and, by the API contract, points to a
    // writable `char *`.
    unsafe { *out = std::ptr::null_mut() };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    match result {
        Ok(Ok((status, json))) => {
            let text = serde_json::to_string(&json).unwrap_or_else(|_| "null".into());
            match CString::new(text) {
                Ok(c) => {
                    // SAFETY: as above.
                    unsafe { *out = c.into_raw() };
                    status
                }
                Err(_) => fail(Failure::invalid("the result holds a NUL byte")),
            }
        }
        Ok(Err(failure)) => fail(failure),
        Err(_) => fail(Failure {
            status: CustodyStatus::Internal,
            message: "internal error (panic)".into(),
            offset: None,
        }),
    }
}

/// Records `f` as the thread's last error and returns its status.
fn fail(f: Failure) -> CustodyStatus {
    let message = CString::new(f.message.replace('\0', "\\0")).unwrap_or_default();
    let offset = f.offset.and_then(|o| i64::try_from(o).ok()).unwrap_or(-1);
    LAST.with(|l| *l.borrow_mut() = Some(LastError { message, offset }));
    f.status
}

/// A path argument: any bytes but NUL (paths need not be UTF-8).
fn path_arg(p: *const c_char, what: &str) -> Result<PathBuf, Failure> {
    if p.is_null() {
        return Err(Failure::invalid(format!("{what} is null")));
    }
    // SAFETY: non-null, and by the API contract a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
    }
}

/// An optional text argument (NULL: none) that must be UTF-8.
fn text_arg(p: *const c_char, what: &str) -> Result<Option<String>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, and by the API contract a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) }.to_str();
    s.map(|s| Some(s.to_string()))
        .map_err(|_| Failure::invalid(format!("{what} is not UTF-8")))
}

/// Options given as a JSON object (NULL or "" for the defaults).
fn options_arg<T: serde::de::DeserializeOwned + Default>(p: *const c_char) -> Result<T, Failure> {
    match text_arg(p, "the options")? {
        None => Ok(T::default()),
        Some(s) if s.trim().is_empty() => Ok(T::default()),
        Some(s) => serde_json::from_str(&s)
            .map_err(|e| Failure::invalid(format!("the options are not valid: {e}"))),
    }
}

/// The status of a job that ran: OK when all was as it should be, else
/// FINDINGS (the JSON result says what).
fn verdict(ok: bool) -> CustodyStatus {
    if ok {
        CustodyStatus::Ok
    } else {
        CustodyStatus::Findings
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A progress callback made into a Rust closure: true while it says go on.
fn progress_fn(cb: CustodyProgress, user: *mut c_void) -> impl Fn(u64, u64) -> bool {
    let user = user as usize;
    move |done, total| match cb {
        // SAFETY: the caller gave this function pointer and its user data
        // for the duration of the call.
        Some(f) => unsafe { f(user as *mut c_void, done, total) == 0 },
        None => true,
    }
}

fn public_keys(hex: &[String]) -> Result<Vec<[u8; 32]>, Failure> {
    hex.iter()
        .map(|h| {
            custody::evidence::keys::public_from_hex(h).ok_or_else(|| {
                Failure::invalid(format!("{h:?} is not a public key (64 hex digits)"))
            })
        })
        .collect()
}

/// The library version, e.g. `"0.1.0"` (static; do not free).
#[unsafe(no_mangle)]
pub extern "C" fn custody_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version ([`CUSTODY_ABI_VERSION`]).
#[unsafe(no_mangle)]
pub extern "C" fn custody_abi_version() -> u32 {
    CUSTODY_ABI_VERSION
}

/// The message of the last error on this thread, or NULL. Valid until the
/// next call into the library on this thread; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn custody_last_error() -> *const c_char {
    LAST.with(|l| {
        l.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |e| e.message.as_ptr())
    })
}

/// The byte offset of the last parse error on this thread, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn custody_last_error_offset() -> i64 {
    LAST.with(|l| l.borrow().as_ref().map_or(-1, |e| e.offset))
}

/// Frees a string this library returned. NULL is ignored.
///
/// # Safety
/// `s` is NULL or a string from this library, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: by contract `s` came from `CString::into_raw` here.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Probes the file at `path` (`CUSTODY_PROBE_*` flags); `*json_out`
/// receives the probe JSON.
///
/// # Safety
/// `path` is a NUL-terminated string; `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_probe(
    path: *const c_char,
    flags: u32,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let path = path_arg(path, "the path")?;
        let p = custody::probe(&path, &probe_request(flags))?;
        Ok((CustodyStatus::Ok, json(&p)))
    })
}

fn probe_request(flags: u32) -> custody::ProbeRequest {
    let mut req = custody::ProbeRequest::default();
    req.options.limits.strict = flags & CUSTODY_PROBE_STRICT != 0;
    req.options.samples = flags & CUSTODY_PROBE_SAMPLES != 0;
    req.options.boxes = flags & CUSTODY_PROBE_BOXES != 0;
    if flags & CUSTODY_PROBE_NO_MMAP != 0 {
        req.mode = custody::io::ReadMode::Read;
    }
    req
}

/// Probes `len` bytes at `data` held by the caller (a buffer, a map of its
/// own), as [`custody_probe`] does a file; the JSON has no `path`.
///
/// # Safety
/// `data` points to `len` readable bytes (or is NULL with `len` 0);
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_probe_bytes(
    data: *const u8,
    len: usize,
    flags: u32,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(Failure::invalid("the data is null"));
        } else {
            // SAFETY: by contract `data` points to `len` readable bytes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let req = probe_request(flags);
        let p = custody::container::probe(bytes, req.options).map_err(|source| Failure {
            status: CustodyStatus::Parse,
            message: source.to_string(),
            offset: Some(source.offset),
        })?;
        Ok((CustodyStatus::Ok, json(&p)))
    })
}

/// Hashes the file at `path` in one pass (BLAKE3 and SHA-256; MD5 with
/// `CUSTODY_HASH_MD5`). With `tree_dir` (else NULL) its chunk tree is
/// written there as `<name>.b3tree`. `progress` (else NULL) gets bytes
/// done and the file size, and may cancel.
///
/// # Safety
/// `path` and `tree_dir` (when not NULL) are NUL-terminated strings;
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_hash(
    path: *const c_char,
    flags: u32,
    tree_dir: *const c_char,
    progress: CustodyProgress,
    user: *mut c_void,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let path = path_arg(path, "the path")?;
        let tree_dir = (!tree_dir.is_null())
            .then(|| path_arg(tree_dir, "the tree folder"))
            .transpose()?;
        let opts = custody::hash::DigestOptions {
            algorithms: if flags & CUSTODY_HASH_MD5 != 0 {
                custody::hash::Algorithms::ALL
            } else {
                custody::hash::Algorithms::BOTH
            },
            ..Default::default()
        };
        let total = std::fs::metadata(&path).map_or(0, |m| m.len());
        let go_on = progress_fn(progress, user);
        let (d, tree) = if progress.is_some() {
            custody::hash_cancellable(&path, opts, |done| go_on(done, total))?
        } else {
            custody::hash(&path, opts, Default::default(), |_| {})?
        };
        let mut summary = custody::HashSummary::new(&path, &d);
        if let (Some(dir), Some(tree)) = (tree_dir, tree) {
            summary.tree = Some(
                custody::write_tree(dir, &path, &tree)?
                    .display()
                    .to_string(),
            );
        }
        Ok((CustodyStatus::Ok, json(&summary)))
    })
}

/// Compares the file at `file` with the chunk tree at `tree`:
/// [`CustodyStatus::Ok`] when it is unchanged, [`CustodyStatus::Findings`]
/// when the JSON lists changed byte ranges.
///
/// # Safety
/// `file` and `tree` are NUL-terminated strings; `json_out` points to a
/// writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_locate(
    file: *const c_char,
    tree: *const c_char,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let file = path_arg(file, "the file")?;
        let tree = path_arg(tree, "the tree")?;
        let r = custody::locate(&file, &tree)?;
        let status = verdict(r.ok);
        Ok((status, json(&r)))
    })
}

/// Loads the station key at `path` (NULL: the default place,
/// `CUSTODY_KEY` or `~/.config/custody/station.key`); never creates one.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `key_out` points to a
/// writable `custody_key *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_key_load(
    path: *const c_char,
    key_out: *mut *mut CustodyKey,
) -> CustodyStatus {
    LAST.with(|l| l.borrow_mut().take());
    if key_out.is_null() {
        return fail(Failure::invalid("the key pointer is null"));
    }
    // SAFETY: non-null, writable by contract.
    unsafe { *key_out = std::ptr::null_mut() };
    let r = std::panic::catch_unwind(|| -> Result<*mut CustodyKey, Failure> {
        let path = if path.is_null() {
            custody::default_key_path()
        } else {
            path_arg(path, "the key path")?
        };
        let key = custody::load_key(&path)?;
        let raw = Box::into_raw(Box::new(CustodyKey { key }));
        live_keys()
            .get_or_insert_with(HashSet::new)
            .insert(raw as usize);
        Ok(raw)
    });
    match r {
        Ok(Ok(raw)) => {
            // SAFETY: as above.
            unsafe { *key_out = raw };
            CustodyStatus::Ok
        }
        Ok(Err(f)) => fail(f),
        Err(_) => fail(Failure {
            status: CustodyStatus::Internal,
            message: "internal error (panic)".into(),
            offset: None,
        }),
    }
}

/// Frees a key from [`custody_key_load`]. NULL, and a pointer that is not a
/// live key (freed already, or never one), are ignored.
///
/// # Safety
/// None beyond passing a pointer: it is checked before use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_key_free(key: *mut CustodyKey) {
    let live = live_keys()
        .as_mut()
        .is_some_and(|s| s.remove(&(key as usize)));
    if live {
        // SAFETY: the address was registered by `custody_key_load` and
        // removed from the registry just now, so it is freed exactly once.
        drop(unsafe { Box::from_raw(key) });
    }
}

/// Runs `f` with the key behind `key` when it is a live handle. The
/// registry stays locked meanwhile, so a concurrent free waits.
fn with_key<T>(
    key: *const CustodyKey,
    f: impl FnOnce(&custody::evidence::keys::StationKey) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let guard = live_keys();
    if !guard.as_ref().is_some_and(|s| s.contains(&(key as usize))) {
        return Err(Failure::invalid(
            "not a live key handle (freed, or never loaded)",
        ));
    }
    // SAFETY: the registry holds only addresses of live boxed keys, and the
    // lock keeps it from being freed while `f` runs.
    let k = unsafe { &(*key).key };
    let r = f(k);
    drop(guard);
    r
}

/// The public key (64 hex digits) of a loaded key, in `*json_out` as a
/// JSON object `{"public_key", "fingerprint"}`.
///
/// # Safety
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_key_public(
    key: *const CustodyKey,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        with_key(key, |k| {
            Ok((
                CustodyStatus::Ok,
                serde_json::json!({"public_key": k.public_hex(), "fingerprint": k.fingerprint()}),
            ))
        })
    })
}

/// Ingest options as JSON: every member optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct IngestJson {
    station: Option<String>,
    operator: Option<String>,
    officer: Option<String>,
    device: Option<String>,
    reverify: Option<bool>,
    jobs: Option<usize>,
    utc_offset: Option<String>,
    patterns: Vec<String>,
    settle_s: Option<f64>,
}

/// Collects every file under `src` into the store at `store` (created when
/// missing), signed with `key`. `options_json` (NULL for the defaults) is a
/// JSON object with any of `station`, `operator`, `officer`, `device`,
/// `reverify` (default true), `jobs`, `utc_offset` (`+HH:MM`), `patterns`,
/// `settle_s` (seconds a file must be left unchanged before it is collected;
/// default 2).
/// `progress` gets files done and total; returning non-zero stops the
/// ingest between files (the files in progress finish, the others are
/// reported `deferred`). [`CustodyStatus::Findings`] when the
/// recorder was not fully collected: a file refused or deferred (still being
/// written), or an earlier run's leftovers not resolved (the JSON says which
/// and why).
///
/// # Safety
/// `src` and `store` are NUL-terminated strings; `options_json` is NULL or
/// one; `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_ingest(
    src: *const c_char,
    store: *const c_char,
    key: *const CustodyKey,
    options_json: *const c_char,
    progress: CustodyProgress,
    user: *mut c_void,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let src = path_arg(src, "the source")?;
        let store = path_arg(store, "the store")?;
        let o: IngestJson = options_arg(options_json)?;
        if let Some(off) = &o.utc_offset {
            custody::evidence::parse_offset(off)
                .ok_or_else(|| Failure::invalid(format!("utc_offset {off:?} is not +HH:MM")))?;
        }
        use custody::evidence::ingest::IngestOptions;
        let opts = IngestOptions {
            station: o.station.unwrap_or_else(|| "station".into()),
            operator: o.operator,
            officer: o.officer,
            device: o.device,
            reverify: o.reverify.unwrap_or(true),
            patterns: o.patterns,
            utc_offset: o.utc_offset,
            jobs: o.jobs.unwrap_or(1),
            ..Default::default()
        };
        let opts = match o.settle_s {
            Some(s) if s.is_finite() && (0.0..=3600.0).contains(&s) => IngestOptions {
                settle: std::time::Duration::from_secs_f64(s),
                ..opts
            },
            Some(s) => return Err(Failure::invalid(format!("settle_s {s} is not 0 to 3600"))),
            None => opts,
        };
        let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let opts = IngestOptions {
            cancel: Some(cancel.clone()),
            ..opts
        };
        // Workers report from their own threads: one call at a time.
        let go_on = Mutex::new(progress_fn(progress, user));
        with_key(key, |k| {
            let r = custody::ingest(&src, &store, k, &opts, |done, total| {
                let go_on = go_on.lock().unwrap_or_else(|p| p.into_inner());
                if !go_on(done as u64, total as u64) {
                    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            })?;
            let status = verdict(r.complete());
            Ok((status, json(&r)))
        })
    })
}

/// Verify options as JSON: every member optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct VerifyJson {
    public_keys: Vec<String>,
    object: Option<String>,
    anchor_file: Option<PathBuf>,
    fast: bool,
}

/// Verifies the store at `store`; never writes. `options_json` (NULL for
/// the defaults) may give `public_keys` (hex; the trust anchors: without
/// them the store's own first key is trusted, with a warning), `object`,
/// `anchor_file` (from `custody log anchor`) and `fast`.
/// [`CustodyStatus::Findings`] when the store does not verify.
///
/// # Safety
/// `store` is a NUL-terminated string; `options_json` is NULL or one;
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_verify(
    store: *const c_char,
    options_json: *const c_char,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let store = path_arg(store, "the store")?;
        let o: VerifyJson = options_arg(options_json)?;
        let anchor = match &o.anchor_file {
            Some(p) => Some(custody::io::read_regular(p).map_err(|e| Failure {
                status: CustodyStatus::Io,
                message: format!("{}: {e}", p.display()),
                offset: None,
            })?),
            None => None,
        };
        let opts = custody::evidence::verify::VerifyOptions {
            anchors: public_keys(&o.public_keys)?,
            object: o.object,
            anchor,
            fast: o.fast,
        };
        let r = custody::verify(&store, &opts)?;
        let status = verdict(r.ok);
        Ok((status, json(&r)))
    })
}

/// Report options as JSON: every member optional.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ReportJson {
    public_keys: Vec<String>,
    device: Option<String>,
    officer: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tolerance_s: Option<f64>,
}

/// The supervision report of the store at `store`. `options_json` (NULL
/// for the defaults) may give `public_keys`, `device`, `officer`, `from`,
/// `to` (RFC 3339) and `tolerance_s`.
///
/// # Safety
/// `store` is a NUL-terminated string; `options_json` is NULL or one;
/// `json_out` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn custody_report(
    store: *const c_char,
    options_json: *const c_char,
    json_out: *mut *mut c_char,
) -> CustodyStatus {
    call(json_out, || {
        let store = path_arg(store, "the store")?;
        let o: ReportJson = options_arg(options_json)?;
        let defaults = custody::evidence::report::ReportOptions::default();
        let opts = custody::evidence::report::ReportOptions {
            device: o.device,
            officer: o.officer,
            from: o.from,
            to: o.to,
            tolerance_s: o.tolerance_s.unwrap_or(defaults.tolerance_s),
        };
        let r = custody::report(&store, &opts, &public_keys(&o.public_keys)?)?;
        Ok((CustodyStatus::Ok, json(&r.value)))
    })
}

/// Fuzzing entry point: probes `data` through [`custody_probe_bytes`] with
/// the flags its first byte gives, as a C caller would, and frees the
/// result. A status other than OK or PARSE, or a result missing on OK, is
/// a defect. The cargo-fuzz target `capi` and `cargo test` call this.
pub fn fuzz_probe_bytes(data: &[u8]) {
    let (flags, body) = match data.split_first() {
        Some((f, rest)) => (u32::from(*f) & 0x0f, rest),
        None => (0, data),
    };
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: `body` is a live slice; `out` is a local `char *`.
    let status = unsafe { custody_probe_bytes(body.as_ptr(), body.len(), flags, &mut out) };
    match status {
        CustodyStatus::Ok => assert!(!out.is_null(), "OK without a result"),
        CustodyStatus::Parse => assert!(out.is_null() && !custody_last_error().is_null()),
        other => panic!("unexpected status {other:?}"),
    }
    // SAFETY: `out` is NULL or the string just returned.
    unsafe { custody_string_free(out) };
}
