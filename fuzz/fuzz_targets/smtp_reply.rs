//! The client's reply parser: arbitrary bytes in any read size; every
//! reply it yields writes back to bytes it reads as the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_proto::{Capabilities, ReplyParser};

fuzz_target!(|data: &[u8]| {
    let (step, stream) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    let mut p = ReplyParser::with_limits(512, 4096);
    for piece in stream.chunks(step) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = p.feed(rest);
            rest = &rest[n..];
            while let Some(reply) = p.next_reply() {
                let Ok(reply) = reply else { continue };
                let _ = Capabilities::from_ehlo_reply(&reply);
                let mut again = ReplyParser::new();
                let wire = reply.to_wire();
                assert_eq!(again.feed(&wire), wire.len());
                let back = again.next_reply().expect("complete").expect("valid");
                assert_eq!(back.code, reply.code);
                assert_eq!(back.lines.len(), reply.lines.len().max(1));
            }
        }
    }
});
