//! The station's signing key: an ed25519 key pair in a key file created on
//! first use (`custody key init`). Verification needs only the public key.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::path::Path;

/// Errors handling keys and signatures.
#[non_exhaustive]
#[derive(Debug)]
pub enum KeyError {
    /// Reading or writing the key file failed.
    Io(std::io::Error),
    /// The key file is not a Custody key file.
    Format(String),
    /// The operating system's random source failed.
    Random(String),
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Io(e) => write!(f, "key file: {e}"),
            KeyError::Format(m) => write!(f, "key file: {m}"),
            KeyError::Random(m) => write!(f, "random source: {m}"),
        }
    }
}

impl std::error::Error for KeyError {}

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

    /// Loads the key at `path`, or creates it there (mode 0600, written atomically) when absent.
    pub fn load_or_init(path: &Path) -> Result<(StationKey, bool), KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((StationKey::parse(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = StationKey::generate()?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(KeyError::Io)?;
                }
                let text = format!(
                    "{KEY_HEADER}\n{}\n",
                    custody_hash::tree::hex(&key.signing.to_bytes())
                );
                custody_io::write_atomic_mode(path, text.as_bytes(), 0o600)
                    .map_err(KeyError::Io)?;
                Ok((key, true))
            }
            Err(e) => Err(KeyError::Io(e)),
        }
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
}

/// Verifies an ed25519 signature with a public key.
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public)
        .is_ok_and(|k| k.verify(message, &Signature::from_bytes(signature)).is_ok())
}

/// Decodes lowercase or uppercase hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_load_gives_the_same_key_and_signatures_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys/station.key");
        let (a, created) = StationKey::load_or_init(&p).unwrap();
        assert!(created);
        let (b, created) = StationKey::load_or_init(&p).unwrap();
        assert!(!created);
        assert_eq!(a.public(), b.public());
        let sig = a.sign(b"evidence");
        assert!(verify(&b.public(), b"evidence", &sig));
        assert!(!verify(&b.public(), b"evidencf", &sig));
        let other = StationKey::generate().unwrap();
        assert!(!verify(&other.public(), b"evidence", &sig));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&p, "garbage").unwrap();
        assert!(StationKey::load_or_init(&p).is_err());
    }
}
