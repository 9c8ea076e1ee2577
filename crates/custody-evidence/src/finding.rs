//! What verification finds: each problem has a stable name (listed in
//! docs/FORMAT.md, section "Verification rules"), the object or log entry it
//! concerns, and a message for people.

use custody_hash::ByteRange;

/// One failure or warning found by verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable rule name, e.g. `object_changed`, `log_signature`, `head_behind`.
    pub name: &'static str,
    /// The object concerned (BLAKE3 hex), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The log entry concerned (sequence number), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Byte ranges of the object that changed (from its chunk tree).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<ByteRange>,
    /// What is wrong, for people.
    pub message: String,
}

impl Finding {
    /// A finding named `name` with a message.
    pub fn new(name: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            name,
            object: None,
            seq: None,
            changed: Vec::new(),
            message: message.into(),
        }
    }

    /// The same finding, about object `hash`.
    pub fn object(mut self, hash: &str) -> Finding {
        self.object = Some(hash.to_string());
        self
    }

    /// The same finding, about log entry `seq`.
    pub fn seq(mut self, seq: u64) -> Finding {
        self.seq = Some(seq);
        self
    }
}
