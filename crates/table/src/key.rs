//! Table keys: how a key is normalised before it is stored or looked up.
//!
//! OpenSMTPD lower-cases every key, both when a table is loaded and when it
//! is queried, into a 1024-byte buffer (`char lkey[1024]`), so a key of 1024
//! bytes or more is refused. Lower-casing is ASCII-only (`tolower` in the C
//! locale): local parts with UTF-8 letters keep their case.

/// The size of OpenSMTPD's key buffer. Keys must be strictly shorter.
pub const MAX_KEY_LEN: usize = 1024;

/// A key that does not fit in the key buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key too long ({len} bytes, keys must be shorter than {MAX_KEY_LEN})")]
pub struct KeyTooLong {
    pub len: usize,
}

/// Lower-case a key as OpenSMTPD does, refusing keys that are too long.
pub fn normalize_key(key: &str) -> Result<String, KeyTooLong> {
    if key.len() >= MAX_KEY_LEN {
        return Err(KeyTooLong { len: key.len() });
    }
    Ok(key.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_ascii_only() {
        assert_eq!(normalize_key("Joe@Example.ORG").unwrap(), "joe@example.org");
        assert_eq!(normalize_key("ÉLodie").unwrap(), "Élodie");
    }

    #[test]
    fn length_limit() {
        assert!(normalize_key(&"a".repeat(MAX_KEY_LEN - 1)).is_ok());
        assert_eq!(
            normalize_key(&"a".repeat(MAX_KEY_LEN)),
            Err(KeyTooLong { len: MAX_KEY_LEN })
        );
    }
}
