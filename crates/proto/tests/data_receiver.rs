//! The DATA receiver: end of data, smuggling, normalisation, limits, and
//! independence from how the input is cut into reads.

mod support;

use proptest::prelude::*;
use smtpd_proto::{encode_for_data, ContentError, ContentLimits};
use support::{data_all, data_in_pieces, data_reference, normalise};

/// Every malformed end-of-data sequence of issue 6, plus NUL variants.
const SMUGGLING: &[&[u8]] = &[
    b"\n.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\n",
    b"\n.\r",
    b"\r.\r\n",
    b"\r\n.\r",
    b"\r\n.\0\r\n",
    b"\r\n\0.\r\n",
    b"\r\n.\r\0\n",
    b"\r\0\n.\r\n",
    b"\n\0.\n",
    b"\0\n.\n",
    b"\r\n.\r\r\n",
    b"\r\n \r\n.\n",
];

const SMUGGLED: &[u8] = b"MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@target.example>\r\nDATA\r\nFrom: ceo\r\n\r\nsmuggled\r\n";

fn attack(seq: &[u8]) -> Vec<u8> {
    let mut m = b"From: a@b.example\r\nSubject: hi\r\n\r\nbody".to_vec();
    m.extend_from_slice(seq);
    m.extend_from_slice(SMUGGLED);
    m.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
    m
}

#[test]
fn no_smuggling_sequence_ends_the_data() {
    for seq in SMUGGLING {
        let input = attack(seq);
        let real_end = input.len() - b"QUIT\r\n".len();
        let run = data_all(&input);
        assert_eq!(run.end, Some(real_end), "{seq:?}");
        assert!(run.result.unwrap().is_ok());
        // The smuggled commands are content of this one message.
        let text = String::from_utf8_lossy(&run.content);
        assert!(
            text.contains("MAIL FROM:<evil@attacker.example>\n"),
            "{seq:?}: {text:?}"
        );
        assert!(!run.content.contains(&b'\r'), "{seq:?}");
        // Sent on (relay): dot-stuffed, no bare CR or LF, and the next hop
        // also reads one message ending at the same place.
        let wire = encode_for_data(&run.content);
        assert_no_bare_cr_lf(&wire);
        let again = data_all(&wire);
        assert_eq!(again.end, Some(wire.len()), "{seq:?}");
        assert_eq!(again.content, run.content, "{seq:?}");
        // Cut anywhere, the same thing happens.
        for cut in 0..input.len() {
            assert_eq!(
                data_in_pieces(&input, &[cut], ContentLimits::default()),
                data_all(&input)
            );
        }
    }
}

#[test]
fn how_the_lone_dot_lines_are_stored() {
    let run = |seq: &[u8]| data_all(&attack(seq)).content;
    // After a bare line end the dot is plain content.
    assert!(run(b"\n.\n").starts_with(b"From: a@b.example\nSubject: hi\n\nbody\n.\nMAIL"));
    assert!(run(b"\r.\r").starts_with(b"From: a@b.example\nSubject: hi\n\nbody\n.\nMAIL"));
    // After a real CRLF, a dot followed by a bare line end is kept too.
    assert!(run(b"\r\n.\n").starts_with(b"From: a@b.example\nSubject: hi\n\nbody\n.\nMAIL"));
    assert!(run(b"\r\n.\r").starts_with(b"From: a@b.example\nSubject: hi\n\nbody\n.\nMAIL"));
    // A dot followed by other bytes after CRLF is unstuffed as usual.
    assert!(run(b"\r\n.\0\r\n").starts_with(b"From: a@b.example\nSubject: hi\n\nbody\n\0\nMAIL"));
}

fn assert_no_bare_cr_lf(wire: &[u8]) {
    for (i, &c) in wire.iter().enumerate() {
        if c == b'\r' {
            assert_eq!(wire.get(i + 1), Some(&b'\n'), "bare CR at {i}");
        }
        if c == b'\n' {
            assert!(i > 0 && wire[i - 1] == b'\r', "bare LF at {i}");
        }
    }
}

#[test]
fn every_cut_of_a_tricky_message_gives_the_same_result() {
    let input: &[u8] = b"..\r\n.x\r\na\rb\nc\r\r\n\n.\n.\r\n\r.\r\n\0.\r\n\r\n..\r\n.\r\nRSET\r\n";
    let whole = data_all(input);
    assert_eq!(whole.end, Some(input.len() - 6));
    assert_eq!((whole.content.clone(), whole.end), data_reference(input));
    for a in 0..=input.len() {
        for b in a..=input.len() {
            assert_eq!(
                data_in_pieces(input, &[a, b], ContentLimits::default()),
                whole,
                "cuts {a} {b}"
            );
        }
    }
    let bytewise: Vec<usize> = (0..input.len()).collect();
    assert_eq!(
        data_in_pieces(input, &bytewise, ContentLimits::default()),
        whole
    );
}

#[test]
fn too_big_keeps_reading_to_the_end_and_emits_nothing_more() {
    let limits = ContentLimits {
        max_size: 100,
        ..ContentLimits::default()
    };
    let mut input = Vec::new();
    for _ in 0..50 {
        input.extend_from_slice(b"0123456789\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    let run = data_in_pieces(&input, &[7, 300, 301], limits);
    assert_eq!(run.end, Some(input.len() - 6));
    assert_eq!(run.result, Some(Err(ContentError::TooBig { limit: 100 })));
    assert!(run.content.len() <= 100);
    let r = ContentError::TooBig { limit: 100 }.reply();
    assert_eq!(
        r.to_wire(),
        b"552 5.3.4 Message too big: limit is 100 bytes\r\n"
    );
}

#[test]
fn long_lines_are_refused_not_truncated() {
    let limits = ContentLimits {
        max_line: 1000,
        ..ContentLimits::default()
    };
    let mut ok = vec![b'x'; 1000];
    ok.extend_from_slice(b"\r\n.\r\n");
    let run = data_in_pieces(&ok, &[500], limits);
    assert_eq!(run.content.len(), 1001);
    assert!(run.result.unwrap().is_ok());
    let mut long = vec![b'x'; 1001];
    long.extend_from_slice(b"\r\n.\r\n");
    let run = data_in_pieces(&long, &[500], limits);
    assert_eq!(
        run.result,
        Some(Err(ContentError::LineTooLong { limit: 1000 }))
    );
    assert_eq!(run.end, Some(long.len()));
    // The default accepts 64 KiB lines.
    let mut big = vec![b'y'; 64 * 1024];
    big.extend_from_slice(b"\r\n.\r\n");
    assert!(data_all(&big).result.unwrap().is_ok());
}

#[test]
fn loop_detection_counts_received_headers() {
    let msg = |n: usize| {
        let mut m = Vec::new();
        for i in 0..n {
            m.extend_from_slice(format!("Received: from hop{i}\r\n\tby x; date\r\n").as_bytes());
        }
        m.extend_from_slice(b"Subject: loop\r\n\r\nReceived: in the body\r\n.\r\n");
        m
    };
    let run = data_all(&msg(99));
    assert_eq!(run.result.unwrap().unwrap().received_headers, 99);
    let run = data_all(&msg(100));
    assert_eq!(run.result, Some(Err(ContentError::Loop { count: 100 })));
    assert_eq!(
        ContentError::Loop { count: 100 }.reply().to_wire(),
        b"554 5.4.6 Routing loop detected: too many Received headers\r\n"
    );
}

#[test]
fn stats_report_8bit_nul_bare_line_ends_and_size() {
    let run = data_all(b"a\xc3\xa9\r\nb\0\nc\r\n.\r\n");
    let s = run.result.unwrap().unwrap();
    assert!(s.has_8bit && s.has_nul);
    assert_eq!(s.bare_line_ends, 1);
    assert_eq!(s.lines, 3);
    assert_eq!(s.stored, run.content.len() as u64);
    assert_eq!(s.size, 3 + 2 + 2 + 2 + 1 + 2);
    let plain = data_all(b"abc\r\n.\r\n").result.unwrap().unwrap();
    assert!(!plain.has_8bit && !plain.has_nul);
}

/// Input biased towards the bytes that matter: CR, LF, '.', NUL.
fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            4 => Just(b'.'),
            1 => Just(0u8),
            3 => any::<u8>(),
        ],
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn matches_the_reference_model(mut input in tricky_bytes(64)) {
        input.extend_from_slice(b"\r\n.\r\nNEXT");
        let run = data_all(&input);
        let (content, end) = data_reference(&input);
        prop_assert_eq!(&run.content, &content);
        prop_assert_eq!(run.end, end);
        prop_assert!(!run.content.contains(&b'\r'));
    }

    #[test]
    fn any_chunking_gives_the_same_output(
        mut input in tricky_bytes(200),
        cuts in prop::collection::vec(0usize..220, 0..12),
    ) {
        input.extend_from_slice(b"\r\n.\r\nNEXT");
        let whole = data_all(&input);
        prop_assert_eq!(data_in_pieces(&input, &cuts, ContentLimits::default()), whole);
    }

    #[test]
    fn any_chunking_gives_the_same_result_when_limits_break(
        mut input in tricky_bytes(200),
        cuts in prop::collection::vec(0usize..220, 0..12),
        max_size in 0u64..120,
        max_line in 0usize..30,
    ) {
        input.extend_from_slice(b"\r\n.\r\nNEXT");
        let limits = ContentLimits { max_size, max_line, max_received: 2 };
        let whole = data_in_pieces(&input, &[], limits);
        prop_assert_eq!(data_in_pieces(&input, &cuts, limits), whole);
    }

    #[test]
    fn dot_transparency_round_trip(content in tricky_bytes(200)) {
        let mut expected = normalise(&content);
        if !expected.is_empty() && !expected.ends_with(b"\n") {
            expected.push(b'\n');
        }
        let wire = encode_for_data(&content);
        assert_no_bare_cr_lf(&wire);
        let run = data_all(&wire);
        prop_assert_eq!(run.end, Some(wire.len()));
        prop_assert_eq!(run.content, expected);
    }
}
