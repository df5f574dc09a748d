//! Command framing and parsing: arbitrary bytes through the command
//! buffer (in pieces, as reads arrive) and every line through the parser
//! under two option sets. Every refusal must come with a reply that
//! carries an enhanced status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_proto::{parse_command, CommandBuffer, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let strict = ParseOptions::default();
    let lenient = ParseOptions {
        unbracketed_paths: true,
        utf8_transaction: true,
        ..ParseOptions::default()
    };
    // The first byte picks a read size, the rest is the stream.
    let (step, stream) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    let mut cb = CommandBuffer::with_limits(512, 1024);
    for piece in stream.chunks(step) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = cb.feed(rest);
            rest = &rest[n..];
            while let Some(line) = cb.next_line() {
                let Ok(line) = line else { continue };
                assert!(line.len() < 512);
                for opts in [&strict, &lenient] {
                    match parse_command(&line, opts) {
                        Ok(cmd) => {
                            // What we parsed, we can write (unless it is
                            // too long or carries text we refuse to send).
                            let _ = cmd.to_wire();
                        }
                        Err(e) => assert!(e.reply().esc.is_some()),
                    }
                }
            }
        }
    }
});
