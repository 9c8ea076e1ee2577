//! The station's signing key: an ed25519 key pair in a key file created on
//! first use (`custody key init`). Verification needs only the public key.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::path::Path;

/// Errors handling keys and signatures.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("key file: {0}")]
    Io(#[source] std::io::Error),
    /// The key file is not a Custody key file.
    #[error("key file: {0}")]
    Format(String),
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// No key file at this path (create one with `custody key init`).
    #[error(
        "no station key at {}: create one with `custody key init` (nothing else creates a key)",
        .0.display()
    )]
    Missing(std::path::PathBuf),
    /// A key file already exists at this path and is never replaced.
    #[error("a key already exists at {}", .0.display())]
    Exists(std::path::PathBuf),
    /// The key file can be read or written by others than its owner.
    #[error(
        "{} is accessible to others (mode {mode:03o}): a station key must be private (chmod 600)",
        path.display()
    )]
    Permissions {
        /// The key file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

const KEY_HEADER: &str = "custody-ed25519-secret-v1";

/// A station's key pair.
pub struct StationKey {
    signing: SigningKey,
}

impl std::fmt::Debug for StationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StationKey({})", self.fingerprint())
    }
}

/// Hex of a public key's fingerprint: the first 16 bytes of its BLAKE3 hash.
pub fn fingerprint_of(public: &[u8; 32]) -> String {
    custody_hash::tree::hex(&blake3::hash(public).as_bytes()[..16])
}

impl StationKey {
    /// Creates a new key from the operating system's random source.
    pub fn generate() -> Result<StationKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(StationKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from a 32-byte secret seed (tests and fuzzing use fixed seeds;
    /// stations use [`StationKey::generate`]).
    pub fn from_seed(seed: [u8; 32]) -> StationKey {
        StationKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Loads the key at `path`. A missing key file is an error
    /// ([`KeyError::Missing`]): only [`StationKey::init`] creates a key, so a
    /// mistyped path never starts a second key silently.
    pub fn load(path: &Path) -> Result<StationKey, KeyError> {
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        match custody_io::read_regular_text(path) {
            Ok(text) => StationKey::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(KeyError::Missing(path.to_path_buf()))
            }
            Err(e) => Err(KeyError::Io(e)),
        }
    }

    /// Creates a new key at `path` (folder 0700, file 0600, written
    /// atomically); an existing key file is never replaced
    /// ([`KeyError::Exists`]).
    pub fn init(path: &Path) -> Result<StationKey, KeyError> {
        if path.exists() {
            return Err(KeyError::Exists(path.to_path_buf()));
        }
        let key = StationKey::generate()?;
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir).map_err(KeyError::Io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(KeyError::Io)?;
            }
        }
        custody_io::write_atomic_mode(path, key.secret_text().as_bytes(), 0o600)
            .map_err(KeyError::Io)?;
        Ok(key)
    }

    /// Replaces the key at `path` with a new one and returns (old, new).
    /// The old secret is kept beside it as `PATH.retired-<fingerprint>`
    /// (0600), written before the key file is replaced, so no key is lost.
    pub fn rotate_file(path: &Path) -> Result<(StationKey, StationKey), KeyError> {
        let old = StationKey::load(path)?;
        let new = StationKey::generate()?;
        let mut retired = path.as_os_str().to_owned();
        retired.push(format!(".retired-{}", old.fingerprint()));
        custody_io::write_atomic_mode(Path::new(&retired), old.secret_text().as_bytes(), 0o600)
            .map_err(KeyError::Io)?;
        custody_io::write_atomic_mode(path, new.secret_text().as_bytes(), 0o600)
            .map_err(KeyError::Io)?;
        Ok((old, new))
    }

    fn secret_text(&self) -> String {
        format!(
            "{KEY_HEADER}\n{}\n",
            custody_hash::tree::hex(&self.signing.to_bytes())
        )
    }

    fn parse(text: &str) -> Result<StationKey, KeyError> {
        let mut lines = text.lines();
        if lines.next() != Some(KEY_HEADER) {
            return Err(KeyError::Format(format!("first line is not {KEY_HEADER}")));
        }
        let hex = lines.next().unwrap_or_default().trim();
        let bytes = from_hex(hex)
            .filter(|b| b.len() == 32)
            .ok_or_else(|| KeyError::Format("secret is not 64 hex digits".into()))?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes);
        Ok(StationKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as hex.
    pub fn public_hex(&self) -> String {
        custody_hash::tree::hex(&self.public())
    }

    /// The public key's fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.public())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// The detached signature (hex) of a document whose signature goes in
    /// its own `signature` member: over the canonical JSON of `doc` without
    /// that member (docs/FORMAT.md, section 1).
    pub fn sign_detached<T: serde::Serialize>(&self, doc: &T) -> std::io::Result<String> {
        let value = serde_json::to_value(doc).map_err(std::io::Error::other)?;
        let message = crate::canonical::canonical_without(&value, "signature")?;
        Ok(custody_hash::tree::hex(&self.sign(&message)))
    }
}

/// Verifies an ed25519 signature with a public key.
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public)
        .is_ok_and(|k| k.verify(message, &Signature::from_bytes(signature)).is_ok())
}

/// Decodes lowercase or uppercase hex (digits only: no signs, no spaces).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// True for a BLAKE3 or SHA-256 digest as the store writes it: exactly 64
/// lowercase hex digits. Every hash taken from a user or a file is checked
/// with this before it names a path.
pub fn is_digest_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A 32-byte public key from 64 hex digits.
pub fn public_from_hex(s: &str) -> Option<[u8; 32]> {
    from_hex(s).and_then(|b| b.try_into().ok())
}

/// Verifies a hex-encoded ed25519 signature; false for malformed hex.
pub fn verify_hex(public: &[u8; 32], message: &[u8], signature_hex: &str) -> bool {
    from_hex(signature_hex)
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .is_some_and(|s| verify(public, message, &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_load_gives_the_same_key_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys/station.key");
        assert!(matches!(StationKey::load(&p), Err(KeyError::Missing(_))));
        assert!(!p.exists(), "loading created a key");
        let a = StationKey::init(&p).unwrap();
        assert!(matches!(StationKey::init(&p), Err(KeyError::Exists(_))));
        let b = StationKey::load(&p).unwrap();
        assert_eq!(a.public(), b.public());
        let sig = a.sign(b"evidence");
        assert!(verify(&b.public(), b"evidence", &sig));
        assert!(!verify(&b.public(), b"evidencf", &sig));
        let other = StationKey::generate().unwrap();
        assert!(!verify(&other.public(), b"evidence", &sig));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o600);
            assert_eq!(mode(p.parent().unwrap()), 0o700);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
            assert!(matches!(
                StationKey::load(&p),
                Err(KeyError::Permissions { mode: 0o640, .. })
            ));
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&p, "garbage").unwrap();
        assert!(StationKey::load(&p).is_err());
    }
}
