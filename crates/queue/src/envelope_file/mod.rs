//! OpenSMTPD's version-3 envelope file: one `key: value` line per field.
//!
//! We write and read the very format OpenSMTPD 6.4 – 7.8 keeps in
//! `queue/XX/MSGID/EVPID` (smtpd `envelope.c`), so that a queue written by
//! OpenSMTPD can be taken over by this server. The envelope id is not in the
//! file: it is the file's name, and the caller passes it to [`decode`].
//!
//! Writing follows `envelope_dump_buffer()`: keys in a fixed order, string
//! fields left out when empty, numbers always written (`retry: 0`), the
//! null sender as `@`, type-specific keys (`mda-*`, `bounce-*`) only for
//! their type. Our one extension is `mda-file` (a `/path` delivery from an
//! alias or `.forward`); OpenSMTPD would refuse a file that carries it, which
//! is fine because such envelopes only exist in our queues.
//!
//! Reading follows `envelope_load_buffer()`: keys in any order and any case,
//! blanks around the colon, OpenSMTPD's older spellings of values
//! (`bounce-type: error`, `sockaddr: IPv6:…`). Unlike OpenSMTPD we refuse
//! duplicate keys and files missing the keys every writer emits, so that a
//! damaged file is reported instead of half-read.

mod decode;
mod encode;
mod values;

pub use decode::decode;
pub use encode::encode;
pub use values::clean_value;

/// The envelope format version we read and write.
pub const VERSION: u32 = 3;

/// The largest envelope file we accept. OpenSMTPD's own envelope structure
/// is about 12 KiB, so anything bigger is damage or an attack.
pub const MAX_FILE_SIZE: usize = 64 * 1024;

/// Why an envelope could not be written.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    /// A value holds a line break or NUL (it would forge further keys), or
    /// starts with a blank (the reader would drop it).
    #[error("value of {key:?} cannot be stored: {reason}")]
    BadValue {
        key: &'static str,
        reason: &'static str,
    },
}

/// Why an envelope file could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("envelope file is larger than {MAX_FILE_SIZE} bytes")]
    TooLarge,
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
    #[error("line {line}: unknown key {key:?}")]
    UnknownKey { line: usize, key: String },
    #[error("key {0:?} appears more than once")]
    DuplicateKey(String),
    #[error("required key {0:?} is missing")]
    MissingKey(&'static str),
    #[error("unsupported envelope version {0:?} (expected {VERSION})")]
    UnsupportedVersion(String),
    #[error("invalid value {value:?} for {key:?}: {reason}")]
    BadValue {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
}
