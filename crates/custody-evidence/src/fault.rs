//! Fault injection for tests (feature `fault-injection`, never in a release
//! build): lets a test make ingest fail in ways no real input should.

/// A source path containing this marker makes ingest panic while it would
/// parse the copied file, as a parser bug would.
pub const PANIC_MARKER: &str = "custody-fault-panic";

/// Panics when `shown` (a path relative to the source) carries [`PANIC_MARKER`].
pub(crate) fn parse_panic(shown: &str) {
    if shown.contains(PANIC_MARKER) {
        panic!("fault injection: parser panic on {shown}");
    }
}
