//! The BDAT receiver: chunk sizes and read sizes taken from the input; the
//! receiver consumes exactly the announced bytes and its output does not
//! depend on how reads cut the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_proto::{BdatReceiver, BdatStatus, ContentLimits};

fn receive(sizes: &[usize], stream: &[u8], step: usize) -> Vec<u8> {
    let mut r = BdatReceiver::new(ContentLimits {
        max_size: 1 << 20,
        max_line: 256,
        max_received: 5,
    });
    let mut out = Vec::new();
    let mut pos = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let last = i + 1 == sizes.len();
        assert!(r.start_chunk(size as u64, last));
        loop {
            let end = (pos + step.max(1)).min(stream.len());
            match r.feed(&stream[pos..end], &mut out) {
                BdatStatus::NeedMore => {
                    pos = end;
                    if pos == stream.len() {
                        // The stream ended inside a chunk.
                        return out;
                    }
                }
                BdatStatus::ChunkDone { consumed } => {
                    assert!(!last);
                    pos += consumed;
                    break;
                }
                BdatStatus::MessageDone { consumed, .. } => {
                    assert!(last);
                    assert!(pos + consumed <= stream.len());
                    assert!(r.is_finished());
                    return out;
                }
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    // Layout: read step, number of chunks n, n chunk sizes, then the stream.
    let [step, n, rest @ ..] = data else { return };
    let n = usize::from(*n % 8) + 1;
    if rest.len() < n {
        return;
    }
    let (sizes, stream) = rest.split_at(n);
    let sizes: Vec<usize> = sizes.iter().map(|&s| usize::from(s)).collect();
    let whole = receive(&sizes, stream, stream.len());
    assert_eq!(receive(&sizes, stream, usize::from(*step)), whole);
    assert!(!whole.contains(&b'\r'));
});
