//! No parser panics on arbitrary bytes, and every refusal has a reply with
//! an enhanced status. (The fuzz targets in `fuzz/` drive the same entry
//! points for much longer.)

use proptest::prelude::*;
use smtpd_proto::{
    parse_command, parse_forward_path, parse_mailbox, parse_reverse_path, xtext_decode,
    BdatReceiver, BdatStatus, CommandBuffer, ContentLimits, DataReceiver, ParseOptions,
    ReplyParser,
};

/// Bytes that look a little like SMTP, so the parsers get past their
/// first checks often.
fn smtpish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"MAIL FROM:".to_vec()),
        Just(b"RCPT TO:".to_vec()),
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"@".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"[IPv6:".to_vec()),
        Just(b"]".to_vec()),
        Just(b" SIZE=".to_vec()),
        Just(b" NOTIFY=".to_vec()),
        Just(b" ORCPT=rfc822;".to_vec()),
        Just(b"+".to_vec()),
        Just(b"BDAT ".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b".".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(token, 0..20).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn command_parser(line in prop_oneof![smtpish(), prop::collection::vec(any::<u8>(), 0..300)]) {
        for opts in [
            ParseOptions::default(),
            ParseOptions { unbracketed_paths: true, utf8_transaction: true, ..ParseOptions::default() },
        ] {
            if let Err(e) = parse_command(&line, &opts) {
                let r = e.reply();
                prop_assert!(r.esc.is_some());
                prop_assert!(r.is_permanent());
            }
        }
        let s = String::from_utf8_lossy(&line);
        let _ = parse_reverse_path(&s, true);
        let _ = parse_forward_path(&s, false);
        let _ = parse_mailbox(&s, true);
        let _ = xtext_decode(&s);
    }

    #[test]
    fn command_buffer(input in prop::collection::vec(any::<u8>(), 0..2000), max_line in 2usize..64) {
        let mut cb = CommandBuffer::with_limits(max_line, 0);
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let n = cb.feed(rest);
            rest = &rest[n..];
            while let Some(line) = cb.next_line() {
                if let Ok(l) = line {
                    prop_assert!(l.len() < max_line);
                }
            }
        }
    }

    #[test]
    fn receivers(input in prop::collection::vec(any::<u8>(), 0..2000), size in 0u64..3000) {
        let limits = ContentLimits { max_size: 500, max_line: 40, max_received: 2 };
        let mut out = Vec::new();
        let mut d = DataReceiver::new(limits);
        let _ = d.feed(&input, &mut out);
        prop_assert!(out.len() <= input.len() + 1);
        let mut b = BdatReceiver::new(limits);
        b.start_chunk(size, true);
        let mut out = Vec::new();
        if let BdatStatus::MessageDone { consumed, .. } = b.feed(&input, &mut out) {
            prop_assert_eq!(consumed as u64, size);
        }
    }

    #[test]
    fn reply_parser(input in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut p = ReplyParser::with_limits(64, 256);
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let n = p.feed(rest);
            rest = &rest[n..];
            while p.next_reply().is_some() {}
        }
    }
}
