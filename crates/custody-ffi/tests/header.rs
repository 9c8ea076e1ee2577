//! `include/custody.h` is what cbindgen makes of `src/lib.rs`: a stale
//! header fails here. `CUSTODY_BLESS=1 cargo test -p custody-ffi --test header`
//! rewrites it.

use std::path::Path;

#[test]
fn the_committed_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads the crate")
        .write(&mut fresh);
    let path = dir.join("include/custody.h");
    if std::env::var_os("CUSTODY_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: run CUSTODY_BLESS=1 cargo test -p custody-ffi --test header",
        path.display()
    );
}
