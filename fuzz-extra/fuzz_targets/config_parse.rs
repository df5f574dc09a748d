//! smtpd.conf text from bytes: the parser must turn any input into a
//! configuration or diagnostics, never a panic; and a configuration that
//! parsed cleanly must print (in today's grammar) to text that parses
//! cleanly again and prints the same (`print` is idempotent).
//!
//! Inputs that mention `include` are skipped: an include of /dev/zero or a
//! FIFO would make the target read without end, which says nothing about
//! the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpd_config::{parse_bytes, parse_str, print, ParseOptions};

/// Where relative includes would be looked for: nowhere.
const NAME: &str = "/nonexistent/fuzz/smtpd.conf";

fuzz_target!(|data: &[u8]| {
    if data.windows(7).any(|w| w.eq_ignore_ascii_case(b"include")) {
        return;
    }
    let opts = ParseOptions::default();
    let parsed = parse_bytes(NAME, data, &opts);
    if !parsed.is_ok() {
        return;
    }
    let text = print(&parsed.config);
    let again = parse_str(NAME, &text, &opts);
    assert!(
        again.is_ok(),
        "printed config does not parse: {:?}\n{text}",
        again.diags
    );
    assert_eq!(print(&again.config), text, "print is not idempotent");
});
