//! Envelope files (OpenSMTPD's version-3 `key: value` text) from bytes: the
//! queue reads them back from a spool that may be damaged or written by
//! another program. Any bytes must give an envelope or an error, never a
//! panic; and an envelope that was read must write out and read back to
//! itself (the queue rewrites envelopes it loaded) — except for what the
//! writer deliberately normalises: the free text that came from peers
//! (`helo`, `hostname`, `errorline`) loses its control characters, and the
//! type-specific keys (`mda-*`, `bounce-*`) are written for their type
//! only. Written text is a fixed point: writing what was read back from it
//! changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_queue::envelope_file::{clean_value, decode, encode};
use smtpd_types::{EnvelopeKind, EvpId};

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the envelope id (the file's name).
    let (id, text) = if data.len() >= 8 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[..8]);
        (EvpId(u64::from_be_bytes(b)), &data[8..])
    } else {
        (EvpId(0x0123_4567_89ab_cdef), data)
    };
    let Ok(env) = decode(id, text) else {
        return;
    };
    let written = encode(&env).expect("an envelope that was read can be written");
    let again = decode(id, written.as_bytes()).expect("what we wrote reads back");

    let mut expected = env.clone();
    expected.helo = clean_value(&expected.helo);
    expected.hostname = clean_value(&expected.hostname);
    expected.errorline = expected
        .errorline
        .as_deref()
        .map(clean_value)
        .filter(|e| !e.is_empty());
    if expected.kind != EnvelopeKind::Mda {
        expected.mda_exec = None;
        expected.mda_file = None;
        expected.mda_subaddress = None;
        expected.mda_user = None;
    }
    if expected.kind != EnvelopeKind::Bounce {
        expected.bounce = None;
    }
    assert_eq!(again, expected, "envelope round trip");
    assert_eq!(
        encode(&again).expect("rewritable"),
        written,
        "written text is a fixed point"
    );
});
