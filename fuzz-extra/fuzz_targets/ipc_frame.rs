//! IPC frames from bytes: a child process reads frames from a socket whose
//! peer may be compromised (privilege separation exists for that case).
//! Splitting a stream into frames and decoding their payloads must never
//! panic nor allocate without bound, and a decoded message must encode
//! back into a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_ipc::frame::{decode, encode, split};
use smtpd_types::{DeliveryOutcome, Envelope};

/// Try the payload as one of the message shapes that cross process lines.
fn check<T>(payload: &[u8], nfds: usize)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(msg) = decode::<T>(payload) else {
        return;
    };
    let frame = encode(&msg, nfds).expect("a decoded message encodes");
    let raw = split(&frame)
        .expect("our own frame splits")
        .expect("our own frame is complete");
    assert_eq!(raw.consumed, frame.len());
    assert_eq!(raw.nfds, nfds);
    let again: T = decode(raw.payload).expect("our own frame decodes");
    assert_eq!(again, msg, "frame round trip");
}

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    // A stream of frames, as a reader sees it; an error ends the stream.
    while let Ok(Some(f)) = split(buf) {
        assert!(f.consumed <= buf.len() && f.consumed >= 6);
        check::<Envelope>(f.payload, f.nfds);
        check::<DeliveryOutcome>(f.payload, f.nfds);
        check::<(u64, String, Vec<u8>)>(f.payload, f.nfds);
        buf = &buf[f.consumed..];
    }
});
