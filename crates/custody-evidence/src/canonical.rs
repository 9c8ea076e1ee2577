//! RFC 8785 JSON Canonicalization Scheme: the exact bytes that are hashed and
//! signed. Every signature in a store is over the canonical form of the JSON
//! value as stored, never over a re-serialised struct.

use serde_json::Value;

/// Why a value has no canonical form.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalError {
    /// Not serialisable as JSON.
    Json(String),
    /// An integer beyond +-(2^53 - 1), which RFC 8785 cannot represent exactly.
    IntegerOutOfRange(String),
}

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CanonicalError::Json(m) => write!(f, "no canonical JSON form: {m}"),
            CanonicalError::IntegerOutOfRange(n) => {
                write!(
                    f,
                    "integer {n} is beyond 2^53 - 1 and has no exact canonical form"
                )
            }
        }
    }
}

impl std::error::Error for CanonicalError {}

impl From<CanonicalError> for std::io::Error {
    fn from(e: CanonicalError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    }
}

/// Checks that every number in `v` is exactly representable in RFC 8785.
fn check_numbers(v: &Value) -> Result<(), CanonicalError> {
    match v {
        Value::Number(n) => {
            let limit = crate::format::MAX_SAFE_INTEGER;
            let ok = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= limit,
                (None, Some(i)) => i.unsigned_abs() <= limit,
                (None, None) => true,
            };
            if ok {
                Ok(())
            } else {
                Err(CanonicalError::IntegerOutOfRange(n.to_string()))
            }
        }
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(o) => o.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

/// The canonical form of a JSON value.
pub fn canonical_value(v: &Value) -> Result<Vec<u8>, CanonicalError> {
    check_numbers(v)?;
    serde_jcs::to_vec(v).map_err(|e| CanonicalError::Json(e.to_string()))
}

/// Serialises `value` in canonical form (sorted keys, no whitespace, ES6
/// number formatting). An integer beyond 2^53 - 1 is an error. Note that
/// serde_json writes a non-finite float as `null`: types holding floats
/// check them before signing (see `Manifest::sign`).
///
/// ```
/// let v = serde_json::json!({"b": 1, "a": [true, null]});
/// assert_eq!(custody_evidence::canonical::to_canonical(&v).unwrap(), br#"{"a":[true,null],"b":1}"#);
/// assert!(custody_evidence::canonical::to_canonical(&(1u64 << 60)).is_err());
/// ```
pub fn to_canonical<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let bytes = serde_jcs::to_vec(value).map_err(|e| CanonicalError::Json(e.to_string()))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|e| CanonicalError::Json(e.to_string()))?;
    check_numbers(&v)?;
    Ok(bytes)
}

/// The canonical form of object `v` without its member `member`: the bytes a
/// signature stored in that member covers.
pub fn canonical_without(v: &Value, member: &str) -> Result<Vec<u8>, CanonicalError> {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove(member);
    }
    canonical_value(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_and_whitespace_removed() {
        let v = serde_json::json!({"b": 1, "a": [true, null, "x"], "c": {"z": 1.5, "y": 1e21}});
        assert_eq!(
            String::from_utf8(to_canonical(&v).unwrap()).unwrap(),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":1e+21,"z":1.5}}"#
        );
    }

    #[test]
    fn unsafe_integers_are_errors() {
        assert!(matches!(
            to_canonical(&(1u64 << 53)),
            Err(CanonicalError::IntegerOutOfRange(_))
        ));
        assert_eq!(
            to_canonical(&((1u64 << 53) - 1)).unwrap(),
            b"9007199254740991"
        );
        assert!(canonical_value(&serde_json::json!({"a": [-(1i64 << 60)]})).is_err());
    }
}
