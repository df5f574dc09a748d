//! Small text helpers for smtpctl's output.

use std::io::Write;

use crate::error::{output_error, CtlError};

/// Print one line on standard output (no panic when nobody reads it).
pub fn say(line: &str) -> Result<(), CtlError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(output_error)
}

/// OpenSMTPD's `duration_to_text` (see the protocol crate).
pub fn duration(secs: u64) -> String {
    smtpd_control_proto::duration_text(secs)
}

/// `1 envelope`, `0 envelope`, `3 envelopes`, as OpenSMTPD's smtpctl
/// counts (`%zu envelope%s`, plural above one).
pub fn envelopes(n: usize) -> String {
    format!("{n} envelope{}", if n > 1 { "s" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_opensmtpd_writes_them() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(106), "1m46s");
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(90_061), "1d1h1m1s");
    }

    #[test]
    fn envelope_counts() {
        assert_eq!(envelopes(0), "0 envelope");
        assert_eq!(envelopes(1), "1 envelope");
        assert_eq!(envelopes(2), "2 envelopes");
    }
}
