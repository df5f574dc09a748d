//! Frames: how one message travels on a socket.
//!
//! ```text
//! +----------------+---------+------+------------------------+
//! | length: u32 BE | version | nfds | payload (postcard)     |
//! +----------------+---------+------+------------------------+
//! ```
//!
//! `length` counts the bytes after itself (version, nfds and payload).
//! `version` is [`IPC_VERSION`]: both ends are the same binary, but a stale
//! `smtpctl` or a half-upgraded install must fail loudly, never misread a
//! message (OpenSMTPD's `IMSG_VERSION` serves the same purpose). `nfds` is
//! the number of file descriptors sent with this frame; they travel in the
//! same `sendmsg` as the frame's first byte.

use serde::{de::DeserializeOwned, Serialize};

/// Bumped whenever a message type changes shape.
pub const IPC_VERSION: u8 = 3;

/// The largest frame accepted. Big enough for a whole config with large
/// inline tables; small enough that a corrupt length cannot exhaust memory.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// The most descriptors one frame may carry.
pub const MAX_FDS_PER_FRAME: usize = 8;

const HEADER_LEN: usize = 6;

/// What can be wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_LEN}")]
    TooLarge(usize),
    #[error("frame too short to hold its header")]
    TooShort,
    #[error("peer speaks IPC version {0}, we speak {IPC_VERSION}")]
    Version(u8),
    #[error("frame announces {0} descriptors, more than {MAX_FDS_PER_FRAME}")]
    TooManyFds(usize),
    #[error("frame announced {announced} descriptors but {arrived} arrived")]
    MissingFds { announced: usize, arrived: usize },
    #[error("undecodable payload: {0}")]
    Decode(postcard::Error),
    #[error("unencodable message: {0}")]
    Encode(postcard::Error),
}

/// Encode `msg` into a complete frame announcing `nfds` descriptors.
pub fn encode<T: Serialize>(msg: &T, nfds: usize) -> Result<Vec<u8>, FrameError> {
    if nfds > MAX_FDS_PER_FRAME {
        return Err(FrameError::TooManyFds(nfds));
    }
    let mut out = vec![0u8; HEADER_LEN];
    out[4] = IPC_VERSION;
    out[5] = nfds as u8;
    let mut out = postcard::to_extend(msg, out).map_err(FrameError::Encode)?;
    let len = out.len() - 4;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

/// A complete frame found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// How many bytes of the buffer the frame occupies.
    pub consumed: usize,
    pub nfds: usize,
    pub payload: &'a [u8],
}

/// Look for one complete frame at the start of `buf`. `Ok(None)` means more
/// bytes are needed. Errors are final: the stream cannot be resynchronised.
pub fn split(buf: &[u8]) -> Result<Option<RawFrame<'_>>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len));
    }
    if len < HEADER_LEN - 4 {
        return Err(FrameError::TooShort);
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    if buf[4] != IPC_VERSION {
        return Err(FrameError::Version(buf[4]));
    }
    let nfds = buf[5] as usize;
    if nfds > MAX_FDS_PER_FRAME {
        return Err(FrameError::TooManyFds(nfds));
    }
    Ok(Some(RawFrame {
        consumed: 4 + len,
        nfds,
        payload: &buf[HEADER_LEN..4 + len],
    }))
}

/// Decode a frame's payload into a message.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(payload).map_err(FrameError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Msg {
        Hello { name: String, n: u64 },
        Bye,
    }

    #[test]
    fn round_trip() {
        let m = Msg::Hello {
            name: "queue".into(),
            n: 42,
        };
        let bytes = encode(&m, 2).unwrap();
        let f = split(&bytes).unwrap().unwrap();
        assert_eq!(f.consumed, bytes.len());
        assert_eq!(f.nfds, 2);
        assert_eq!(decode::<Msg>(f.payload).unwrap(), m);
    }

    #[test]
    fn truncated_frames_need_more_bytes() {
        let bytes = encode(&Msg::Bye, 0).unwrap();
        for cut in 0..bytes.len() {
            assert!(split(&bytes[..cut]).unwrap().is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn two_frames_back_to_back() {
        let mut bytes = encode(&Msg::Bye, 0).unwrap();
        bytes.extend(
            encode(
                &Msg::Hello {
                    name: "x".into(),
                    n: 1,
                },
                0,
            )
            .unwrap(),
        );
        let f = split(&bytes).unwrap().unwrap();
        assert_eq!(decode::<Msg>(f.payload).unwrap(), Msg::Bye);
        let rest = &bytes[f.consumed..];
        let g = split(rest).unwrap().unwrap();
        assert_eq!(g.consumed, rest.len());
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let mut bytes = vec![0xff, 0xff, 0xff, 0xff];
        bytes.extend([IPC_VERSION, 0]);
        assert!(matches!(split(&bytes), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut bytes = encode(&Msg::Bye, 0).unwrap();
        bytes[4] = IPC_VERSION.wrapping_add(1);
        assert!(matches!(split(&bytes), Err(FrameError::Version(_))));
    }

    #[test]
    fn too_many_fds_is_refused() {
        assert!(matches!(
            encode(&Msg::Bye, MAX_FDS_PER_FRAME + 1),
            Err(FrameError::TooManyFds(_))
        ));
        let mut bytes = encode(&Msg::Bye, 0).unwrap();
        bytes[5] = 200;
        assert!(matches!(split(&bytes), Err(FrameError::TooManyFds(_))));
    }

    #[test]
    fn garbage_payload_is_an_error() {
        let bytes = [0u8, 0, 0, 5, IPC_VERSION, 0, 0xff, 0xff, 0xff];
        let f = split(&bytes).unwrap().unwrap();
        assert!(decode::<Msg>(f.payload).is_err());
    }

    proptest! {
        #[test]
        fn split_and_decode_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(Some(f)) = split(&bytes) {
                let _ = decode::<Msg>(f.payload);
            }
        }
    }
}
