//! Gives the shared library its versioned SONAME (`libcustody.so.0`), so
//! programs linked against one ABI version never load an incompatible one.

fn main() {
    let target = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcustody.so.{major}");
    }
}
