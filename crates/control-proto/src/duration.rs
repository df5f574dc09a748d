//! Durations as OpenSMTPD's smtpctl writes them, shared by the client
//! (`show queue`, `show stats`) and the processes that describe their
//! state (`show relays`).

/// OpenSMTPD's `duration_to_text`: `1d2h3m4s`, units that are zero left
/// out, `0s` for nothing.
pub fn duration_text(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3_600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    let mut out = String::new();
    for (n, unit) in [(d, 'd'), (h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}
