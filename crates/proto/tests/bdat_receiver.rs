//! The BDAT receiver: exact chunk sizes, LAST, normalisation across chunk
//! and read boundaries, no dot handling, limits.

mod support;

use proptest::prelude::*;
use smtpd_proto::{encode_for_bdat, ContentError, ContentLimits};
use support::{bdat_in_pieces, normalise};

fn chunks(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

#[test]
fn dots_are_data_and_line_ends_are_normalised() {
    let run = bdat_in_pieces(
        &chunks(&[b".\r\n..\r\n.\n\r\n.\r\n"]),
        &[],
        ContentLimits::default(),
    );
    assert_eq!(run.content, b".\n..\n.\n\n.\n");
    assert_eq!(run.result.unwrap().bare_line_ends, 1);
}

#[test]
fn cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next() {
    let c = chunks(&[b"a\r", b"\nb\r", b"c\r"]);
    let run = bdat_in_pieces(&c, &[], ContentLimits::default());
    assert_eq!(run.content, b"a\nb\nc\n");
    let s = run.result.unwrap();
    // b CR c: bare; the final CR: bare.
    assert_eq!(s.bare_line_ends, 2);
    assert_eq!(s.lines, 3);
}

#[test]
fn every_cut_of_a_chunked_message_gives_the_same_result() {
    let c = chunks(&[
        b"Received: x\r",
        b"\n\r\nbody\r",
        b"",
        b"\r\n.\r\n\0\xff",
        b"\r",
    ]);
    let whole = bdat_in_pieces(&c, &[], ContentLimits::default());
    assert_eq!(whole.content, b"Received: x\n\nbody\n\n.\n\0\xff\n");
    let stream_len: usize = c.iter().map(|p| p.len() + 4).sum();
    for a in 0..=stream_len {
        for b in a..=stream_len {
            assert_eq!(
                bdat_in_pieces(&c, &[a, b], ContentLimits::default()),
                whole,
                "cuts {a} {b}"
            );
        }
    }
}

#[test]
fn limits_apply_across_chunks() {
    let big = chunks(&[&[b'x'; 60], &[b'y'; 60]]);
    let limits = ContentLimits {
        max_size: 100,
        ..ContentLimits::default()
    };
    let run = bdat_in_pieces(&big, &[10, 70], limits);
    assert_eq!(run.result, Err(ContentError::TooBig { limit: 100 }));
    assert!(run.content.len() <= 100);

    let limits = ContentLimits {
        max_line: 100,
        ..ContentLimits::default()
    };
    let run = bdat_in_pieces(&big, &[], limits);
    assert_eq!(run.result, Err(ContentError::LineTooLong { limit: 100 }));

    let mut hdrs = Vec::new();
    for _ in 0..100 {
        hdrs.push(b"Received: by x\r\n".to_vec());
    }
    hdrs.push(b"\r\nbody\r\n".to_vec());
    let run = bdat_in_pieces(&hdrs, &[], ContentLimits::default());
    assert_eq!(run.result, Err(ContentError::Loop { count: 100 }));
}

fn tricky_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![3 => Just(b'\r'), 3 => Just(b'\n'), 2 => Just(b'.'), 2 => any::<u8>()],
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_chunking_gives_the_normalised_message(
        message in tricky_bytes(200),
        chunk_cuts in prop::collection::vec(0usize..200, 0..6),
        read_cuts in prop::collection::vec(0usize..240, 0..10),
    ) {
        let mut points: Vec<usize> = chunk_cuts.into_iter().map(|c| c.min(message.len())).collect();
        points.sort_unstable();
        let mut parts = Vec::new();
        let mut start = 0;
        for p in points {
            parts.push(message[start..p].to_vec());
            start = p;
        }
        parts.push(message[start..].to_vec());
        let run = bdat_in_pieces(&parts, &read_cuts, ContentLimits::default());
        prop_assert_eq!(run.content, normalise(&message));
    }

    #[test]
    fn any_chunking_gives_the_same_result_when_limits_break(
        message in tricky_bytes(200),
        read_cuts in prop::collection::vec(0usize..240, 0..10),
        max_size in 0u64..120,
        max_line in 0usize..30,
    ) {
        let limits = ContentLimits { max_size, max_line, max_received: 2 };
        let parts = vec![message.clone(), Vec::new()];
        let whole = bdat_in_pieces(&parts, &[], limits);
        prop_assert_eq!(bdat_in_pieces(&parts, &read_cuts, limits), whole);
    }

    #[test]
    fn bdat_encoding_round_trip(content in tricky_bytes(200)) {
        let wire = encode_for_bdat(&content);
        let mut expected = normalise(&content);
        if !expected.is_empty() && !expected.ends_with(b"\n") {
            expected.push(b'\n');
        }
        let run = bdat_in_pieces(&[wire], &[], ContentLimits::default());
        prop_assert_eq!(run.content, expected);
    }
}
