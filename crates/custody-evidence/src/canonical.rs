//! RFC 8785 JSON Canonicalization Scheme: the exact bytes that are hashed and signed.

/// Serialises `value` in canonical form (sorted keys, no whitespace, ES6 number formatting).
pub fn to_canonical<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_jcs::to_vec(value)
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
}
