//! Message and envelope identifiers, as OpenSMTPD makes them.
//!
//! A message id is a non-zero 32-bit number: fully random as OpenSMTPD's
//! ([`MsgId::random`]), or, for the disk queue, with its top byte (the
//! bucket) taken from the clock and 24 random bits ([`MsgId::clustered`]),
//! so that a batch of commits shares one bucket sync. An envelope id is the
//! message id in the high 32 bits and a random non-zero 32-bit number in the
//! low ones, so `evpid >> 32 == msgid` always holds and a reader of the queue
//! can tell which message an envelope belongs to from its name alone. Both
//! print as fixed-width lower-case hex (`%08x`, `%016x`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A message: one content shared by one or more envelopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MsgId(pub u32);

/// An envelope: one recipient of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EvpId(pub u64);

/// Why an id string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid id {0:?}: expected hexadecimal")]
pub struct IdError(pub String);

fn nonzero_u32() -> u32 {
    loop {
        let v: u32 = rand::random();
        if v != 0 {
            return v;
        }
    }
}

impl MsgId {
    /// A fresh random message id. The caller checks for collisions with the
    /// queue (the fs backend does so by creating the directory exclusively).
    pub fn random() -> Self {
        MsgId(nonzero_u32())
    }

    /// A fresh id whose bucket (top byte) is the current second modulo
    /// 256, the other 24 bits random. Messages received in the same second
    /// share a bucket, so the queue's group commit syncs one bucket
    /// directory for a whole batch instead of one per message (with fully
    /// random ids the messages of a batch almost never share one); over
    /// time the buckets still fill evenly. The caller checks for
    /// collisions, as with [`MsgId::random`].
    pub fn clustered(unix_secs: u64) -> Self {
        let top = (unix_secs & 0xff) as u32;
        loop {
            let low = rand::random::<u32>() & 0x00ff_ffff;
            let v = (top << 24) | low;
            if v != 0 {
                return MsgId(v);
            }
        }
    }

    /// The directory bucket of this message in the queue (`queue/XX/`): the
    /// top byte of the id, as OpenSMTPD lays it out.
    pub fn bucket(self) -> u8 {
        (self.0 >> 24) as u8
    }
}

impl EvpId {
    /// A fresh random envelope id inside `msgid`.
    pub fn random_in(msgid: MsgId) -> Self {
        EvpId(((msgid.0 as u64) << 32) | nonzero_u32() as u64)
    }

    /// The message this envelope belongs to.
    pub fn msgid(self) -> MsgId {
        MsgId((self.0 >> 32) as u32)
    }
}

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Display for EvpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for MsgId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > 8 {
            return Err(IdError(s.to_string()));
        }
        u32::from_str_radix(s, 16)
            .map(MsgId)
            .map_err(|_| IdError(s.to_string()))
    }
}

impl FromStr for EvpId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > 16 {
            return Err(IdError(s.to_string()));
        }
        u64::from_str_radix(s, 16)
            .map(EvpId)
            .map_err(|_| IdError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evpid_carries_its_msgid() {
        let m = MsgId::random();
        let e = EvpId::random_in(m);
        assert_eq!(e.msgid(), m);
        assert_ne!(e.0 as u32, 0);
    }

    #[test]
    fn ids_print_and_parse_as_fixed_width_hex() {
        assert_eq!(MsgId(0xab).to_string(), "000000ab");
        assert_eq!(EvpId(0x1_0000_00ff).to_string(), "00000001000000ff");
        assert_eq!("000000ab".parse::<MsgId>(), Ok(MsgId(0xab)));
        assert_eq!(
            "00000001000000ff".parse::<EvpId>(),
            Ok(EvpId(0x1_0000_00ff))
        );
        assert!("xyz".parse::<MsgId>().is_err());
        assert!("123456789".parse::<MsgId>().is_err());
    }

    #[test]
    fn clustered_ids_share_the_bucket_of_their_second() {
        let a = MsgId::clustered(1_700_000_123);
        let b = MsgId::clustered(1_700_000_123);
        assert_eq!(a.bucket(), (1_700_000_123u64 & 0xff) as u8);
        assert_eq!(a.bucket(), b.bucket());
        assert_ne!(MsgId::clustered(1).bucket(), MsgId::clustered(2).bucket());
        // Second 0 of a 256 cycle: never the zero id.
        assert!((0..1000).all(|_| MsgId::clustered(256).0 != 0));
    }

    #[test]
    fn bucket_is_top_byte() {
        assert_eq!(MsgId(0xab12_3456).bucket(), 0xab);
    }
}
