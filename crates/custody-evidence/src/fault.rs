//! Fault injection for tests (feature `fault-injection`, never in a release
//! build): lets a test make ingest fail in ways no real input should, or
//! that a test cannot bring about for real (a full disk at one exact step,
//! a `stat` refused to root).
//!
//! Each fault is chosen by a marker in a source file's path (relative to
//! the source), so a test picks the file it fails and the others are
//! collected as usual.

/// A source path containing this marker makes ingest panic while it would
/// parse the copied file, as a parser bug would.
pub const PANIC_MARKER: &str = "custody-fault-panic";

/// An entry whose name contains this marker cannot be examined: its
/// `fstatat` fails with "permission denied", as an entry of a directory
/// that can be listed but not searched does for anyone but root.
pub const STAT_MARKER: &str = "custody-fault-stat";

/// The store fills up once this file's object is in place: appending its
/// log entry fails with "no space left on device" (an object without a log
/// entry is left behind).
pub const FULL_AFTER_OBJECT_MARKER: &str = "custody-fault-full-after-object";

/// The store fills up once this file's log entry is written: writing its
/// manifest fails with "no space left on device" (an object and a log entry
/// without a manifest are left behind).
pub const FULL_AFTER_LOG_MARKER: &str = "custody-fault-full-after-log";

/// Panics when `shown` (a path relative to the source) carries [`PANIC_MARKER`].
pub(crate) fn parse_panic(shown: &str) {
    if shown.contains(PANIC_MARKER) {
        panic!("fault injection: parser panic on {shown}");
    }
}

/// `stat`'s result for `shown`: refused when it carries [`STAT_MARKER`].
pub(crate) fn stat<T>(shown: &str, st: std::io::Result<T>) -> std::io::Result<T> {
    if shown.contains(STAT_MARKER) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "Permission denied (injected fault)",
        ));
    }
    st
}

/// The store steps after which a fault can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The object was moved into place.
    Object,
    /// Its log entry was appended.
    Log,
}

/// Fails with "no space left on device" when `shown` asks for a full store
/// after `step`.
pub(crate) fn store_full(shown: &str, step: Step) -> std::io::Result<()> {
    let marker = match step {
        Step::Object => FULL_AFTER_OBJECT_MARKER,
        Step::Log => FULL_AFTER_LOG_MARKER,
    };
    if shown.contains(marker) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "No space left on device (injected fault)",
        ));
    }
    Ok(())
}
