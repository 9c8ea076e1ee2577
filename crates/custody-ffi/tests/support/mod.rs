//! What the C API tests share: the tools they need, the library installed
//! into a temporary PREFIX, C programs compiled against it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `tool` runs; without it the test skips, unless
/// `CUSTODY_REQUIRE_TOOLS` is set (then it fails).
pub fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CUSTODY_REQUIRE_TOOLS").is_none(),
        "{tool} is required: run scripts/setup.sh"
    );
    ok
}

/// A finished command's stdout and stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `c`, which must succeed.
pub fn run(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {:?}\n{}", o.status, text(&o));
    o
}

/// The cargo profile this test was built with, and its output folder.
pub fn profile() -> (String, PathBuf) {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let profile = if name == "debug" { "dev".into() } else { name };
    (profile, dir)
}

/// Installs the library this test run built into `prefix`.
pub fn install(prefix: &Path) {
    let (profile, dir) = profile();
    assert!(
        dir.join("libcustody_ffi.so").is_file(),
        "no {}: build it first (`cargo build -p custody-ffi --profile {profile}`; scripts/test.sh does)",
        dir.join("libcustody_ffi.so").display()
    );
    run(Command::new(repo().join("scripts/install-c.sh"))
        .arg(prefix)
        .env("CUSTODY_PROFILE", profile)
        .env("CUSTODY_NO_BUILD", "1")
        .env("CARGO_TARGET_DIR", dir.parent().unwrap()));
}

/// Compiles `source` against the installed library with `extra` flags.
pub fn compile(prefix: &Path, source: &Path, out: &Path, extra: &[&str]) {
    let pc = run(Command::new("pkg-config")
        .args(["--cflags", "--libs", "custody"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")));
    let flags = String::from_utf8(pc.stdout).unwrap();
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g"])
        .args(extra)
        .arg(source)
        .arg("-o")
        .arg(out)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display())));
}
