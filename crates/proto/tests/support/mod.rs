//! Helpers shared by the receiver tests: drivers that feed input in given
//! pieces, and straightforward reference models to compare against.

#![allow(dead_code)]

use smtpd_proto::{
    BdatReceiver, BdatStatus, ContentError, ContentLimits, ContentStats, DataReceiver, DataStatus,
};

/// What a DATA receiver made of some input.
#[derive(Debug, PartialEq, Eq)]
pub struct DataRun {
    pub content: Vec<u8>,
    /// Offset in the whole input just past the end-of-data mark.
    pub end: Option<usize>,
    pub result: Option<Result<ContentStats, ContentError>>,
}

/// Feed `input` to a DATA receiver cut at the given offsets.
pub fn data_in_pieces(input: &[u8], cuts: &[usize], limits: ContentLimits) -> DataRun {
    let mut r = DataReceiver::new(limits);
    let mut content = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    points.sort_unstable();
    points.push(input.len());
    let mut start = 0;
    for p in points {
        match r.feed(&input[start..p], &mut content) {
            DataStatus::NeedMore => start = p,
            DataStatus::Done { consumed, result } => {
                return DataRun {
                    content,
                    end: Some(start + consumed),
                    result: Some(result),
                }
            }
        }
    }
    DataRun {
        content,
        end: None,
        result: None,
    }
}

pub fn data_all(input: &[u8]) -> DataRun {
    data_in_pieces(input, &[], ContentLimits::default())
}

/// Reference model of the DATA rules, written line by line for clarity
/// rather than speed: returns the content and the end offset.
pub fn data_reference(input: &[u8]) -> (Vec<u8>, Option<usize>) {
    #[derive(PartialEq)]
    enum End {
        Crlf,
        Bare,
    }
    let mut out = Vec::new();
    let mut prev = End::Crlf;
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let Some(k) = rest.iter().position(|&c| c == b'\r' || c == b'\n') else {
            return (out, None);
        };
        let line = &rest[..k];
        let (term, len) = if rest[k] == b'\r' {
            match rest.get(k + 1) {
                Some(b'\n') => (End::Crlf, 2),
                Some(_) => (End::Bare, 1),
                None => return (out, None),
            }
        } else {
            (End::Bare, 1)
        };
        if prev == End::Crlf && line == b"." && term == End::Crlf {
            return (out, Some(i + k + len));
        }
        let text = if prev == End::Crlf && line.len() > 1 && line[0] == b'.' {
            &line[1..]
        } else {
            line
        };
        out.extend_from_slice(text);
        out.push(b'\n');
        prev = term;
        i += k + len;
    }
    (out, None)
}

/// CRLF, bare CR and bare LF all become LF.
pub fn normalise(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.push(b'\n');
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// What a BDAT receiver made of some chunks.
#[derive(Debug, PartialEq, Eq)]
pub struct BdatRun {
    pub content: Vec<u8>,
    pub result: Result<ContentStats, ContentError>,
}

/// Send `chunks` as BDAT chunks (the last with LAST), each followed by
/// `NEXT` as pipelined bytes; feed the whole stream cut at `cuts`.
pub fn bdat_in_pieces(chunks: &[Vec<u8>], cuts: &[usize], limits: ContentLimits) -> BdatRun {
    let mut stream = Vec::new();
    for c in chunks {
        stream.extend_from_slice(c);
        stream.extend_from_slice(b"NEXT");
    }
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(stream.len())).collect();
    points.sort_unstable();
    points.push(stream.len());
    let mut r = BdatReceiver::new(limits);
    let mut content = Vec::new();
    let mut chunk_no = 0;
    let mut pos = 0;
    let mut pieces = points.into_iter();
    let mut piece_end = pieces.next().unwrap_or(stream.len());
    assert!(r.start_chunk(chunks[0].len() as u64, chunks.len() == 1));
    loop {
        while pos == piece_end {
            piece_end = pieces.next().expect("stream ended inside a chunk");
        }
        match r.feed(&stream[pos..piece_end], &mut content) {
            BdatStatus::NeedMore => pos = piece_end,
            BdatStatus::ChunkDone { consumed } => {
                pos += consumed;
                assert_eq!(&stream[pos..pos + 4], b"NEXT");
                pos += 4;
                chunk_no += 1;
                let last = chunk_no + 1 == chunks.len();
                assert!(r.start_chunk(chunks[chunk_no].len() as u64, last));
                while piece_end < pos {
                    piece_end = pieces.next().unwrap_or(stream.len());
                }
            }
            BdatStatus::MessageDone { consumed, result } => {
                pos += consumed;
                assert_eq!(&stream[pos..], b"NEXT");
                assert_eq!(chunk_no + 1, chunks.len());
                return BdatRun { content, result };
            }
        }
    }
}
