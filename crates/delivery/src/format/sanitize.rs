//! Making an address-derived value safe inside a path or a shell command.
//!
//! OpenSMTPD replaces the characters of `MAILADDR_ESCAPE`
//! (`` !#$%&'*/?^`{|}~ ``) with `:`. Its SMTP parser refuses quoted local
//! parts, so nothing else can reach that point there. Ours keeps quoted
//! local parts (`"a b;c"@example.org`), so we replace a wider set with `:`:
//!
//! * `MAILADDR_ESCAPE`, as OpenSMTPD;
//! * shell syntax a quoted local part or an address literal could carry:
//!   `` " ( ) ; < > [ \ ] ``;
//! * whitespace and control characters;
//! * a leading `.`, so that no value can be `.` or `..` (a path component
//!   that climbs out of the directory the template names) or a hidden file.
//!
//! `:` itself, `@`, `.`, `-`, `_`, `+`, `=`, `,`, letters, digits and any
//! non-ASCII character are kept.

/// OpenSMTPD's `MAILADDR_ESCAPE`.
const MAILADDR_ESCAPE: &str = "!#$%&'*/?^`{|}~";

/// Shell metacharacters OpenSMTPD never sees in an address, but we may.
const SHELL_EXTRA: &str = "\"();<>[\\]";

/// The replacement for every dangerous character.
const REPLACEMENT: char = ':';

/// Replace dangerous characters of a value with `:` (see the module doc).
pub fn sanitize(value: &str) -> String {
    let mut out: String = value
        .chars()
        .map(|c| {
            if MAILADDR_ESCAPE.contains(c)
                || SHELL_EXTRA.contains(c)
                || c.is_whitespace()
                || c.is_control()
            {
                REPLACEMENT
            } else {
                c
            }
        })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, ":");
    }
    out
}
