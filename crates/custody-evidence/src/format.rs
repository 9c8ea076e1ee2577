//! Identifiers of store format version 1 (docs/FORMAT.md). A reader refuses
//! any other version rather than guess.

/// The store's marker file at its root, holding `{"format": STORE_FORMAT}`.
pub const STORE_MARKER: &str = "custody-store.json";
/// Store format version 1.
pub const STORE_FORMAT: &str = "custody.store/1";
/// Public key records in `keys/`.
pub const KEY_FORMAT: &str = "custody.key/1";
/// The custody log's signed head.
pub const HEAD_FORMAT: &str = "custody.head/1";
/// The only signature algorithm.
pub const ALGORITHM: &str = "ed25519";
/// Largest integer a signed document may hold: RFC 8785 numbers are IEEE
/// doubles, exact only up to 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// The tool that writes, e.g. `custody 0.1.0`.
pub const TOOL: &str = concat!("custody ", env!("CARGO_PKG_VERSION"));
