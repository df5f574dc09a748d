//! What a delivery program's exit status means.
//!
//! OpenSMTPD: 0 delivered; `EX_TEMPFAIL` (75) and `EX_OSERR` (71) try again
//! later; killed by a signal try again later; anything else is permanent.
//! The enhanced status of a permanent failure follows the `sysexits.h`
//! meaning of the code, as Postfix's `pipe(8)` maps them, so that a bounce
//! says "no such user" when procmail or maildrop said so.

use smtpd_types::EnhancedStatus;

/// The enhanced status for a program's non-zero exit code.
pub fn exit_status(code: i32) -> EnhancedStatus {
    let (class, subject, detail) = match code {
        71 | 75 => (4, 3, 0), // EX_OSERR, EX_TEMPFAIL
        65 => (5, 6, 0),      // EX_DATAERR
        67 => (5, 1, 1),      // EX_NOUSER
        68 => (5, 1, 2),      // EX_NOHOST
        73 => (5, 2, 0),      // EX_CANTCREAT
        76 => (5, 5, 0),      // EX_PROTOCOL
        77 => (5, 7, 0),      // EX_NOPERM
        78 => (5, 3, 5),      // EX_CONFIG
        _ => (5, 3, 0),       // EX_USAGE, EX_UNAVAILABLE, EX_SOFTWARE, 1, …
    };
    EnhancedStatus::new(class, subject, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_codes() {
        assert_eq!(exit_status(75).class, 4);
        assert_eq!(exit_status(71).class, 4);
        for code in [
            1, 2, 64, 65, 67, 69, 70, 72, 73, 74, 76, 77, 78, 126, 127, 255,
        ] {
            assert_eq!(exit_status(code).class, 5, "{code}");
        }
        assert_eq!(exit_status(67).to_string(), "5.1.1");
    }
}
