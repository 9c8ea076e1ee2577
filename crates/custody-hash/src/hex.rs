//! A 32-byte digest (BLAKE3, SHA-256) written as 64 lowercase hex digits.

use std::fmt;
use std::str::FromStr;

/// A 32-byte digest; shown, parsed and serialised as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest32(pub [u8; 32]);

impl Digest32 {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Digest32 {
    fn from(bytes: [u8; 32]) -> Digest32 {
        Digest32(bytes)
    }
}

impl fmt::Display for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Text that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDigestError;

impl fmt::Display for ParseDigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 32-byte digest is 64 hex digits")
    }
}

impl std::error::Error for ParseDigestError {}

impl FromStr for Digest32 {
    type Err = ParseDigestError;

    /// Parses 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Digest32, ParseDigestError> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return Err(ParseDigestError);
        }
        let digit = |c: u8| (c as char).to_digit(16).ok_or(ParseDigestError);
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *o = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(Digest32(out))
    }
}

impl serde::Serialize for Digest32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest32, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_what_is_not_a_digest() {
        let text = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
        let d: Digest32 = text.parse().unwrap();
        assert_eq!(d.0[..2], [0xaf, 0x13]);
        assert_eq!(d.to_string(), text);
        assert_eq!(text.to_uppercase().parse::<Digest32>(), Ok(d));
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<Digest32>(&format!("\"{text}\"")).unwrap(),
            d
        );
        for bad in ["", &text[1..], &format!("{text}0"), &text.replace('a', "g")] {
            assert_eq!(bad.parse::<Digest32>(), Err(ParseDigestError), "{bad}");
        }
        // A multi-byte character where a digit belongs.
        let wide = format!("é{}", &text[2..]);
        assert_eq!(wide.len(), 64);
        assert_eq!(wide.parse::<Digest32>(), Err(ParseDigestError));
    }
}
