//! Entry points for fuzzing: each runs one parser over untrusted bytes,
//! touches everything it produced and asserts what must hold of it. The
//! cargo-fuzz targets in `fuzz/` call these, and `cargo test` replays the
//! fuzz corpora through them.

mod container;
#[cfg(feature = "evidence")]
mod evidence;
mod hash;

pub use container::{
    SliceSource, audio, bmff, demux, flv, mkv, ogg, photo, ps, riff, ts, window, windowed,
};
#[cfg(feature = "evidence")]
pub use evidence::store_json;
pub use hash::{content, tree};
