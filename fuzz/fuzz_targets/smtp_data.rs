//! The DATA receiver: the same bytes fed whole and in pieces must give the
//! same content and end; the content never holds a CR; sent on with
//! dot-stuffing it is read back identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_proto::{encode_for_data, ContentLimits, DataReceiver, DataStatus};

fn receive(input: &[u8], step: usize) -> (Vec<u8>, Option<usize>) {
    let mut r = DataReceiver::new(ContentLimits {
        max_size: 1 << 20,
        max_line: 256,
        max_received: 5,
    });
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in input.chunks(step.max(1)) {
        match r.feed(piece, &mut out) {
            DataStatus::NeedMore => offset += piece.len(),
            DataStatus::Done { consumed, .. } => return (out, Some(offset + consumed)),
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let (step, input) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s), rest),
        None => return,
    };
    let whole = receive(input, input.len());
    assert_eq!(receive(input, step), whole);
    assert!(!whole.0.contains(&b'\r'));
    if whole.1.is_some() {
        // Relay it: the next hop reads the same message.
        let wire = encode_for_data(&whole.0);
        let mut again = DataReceiver::new(ContentLimits::default());
        let mut out = Vec::new();
        match again.feed(&wire, &mut out) {
            DataStatus::Done { consumed, .. } => assert_eq!(consumed, wire.len()),
            DataStatus::NeedMore => panic!("re-encoded message has no end of data"),
        }
        let mut expected = whole.0.clone();
        if !expected.is_empty() && !expected.ends_with(b"\n") {
            expected.push(b'\n');
        }
        assert_eq!(out, expected);
    }
});
