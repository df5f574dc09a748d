//! Delays (`4d`, `30m`) and sizes (`35M`), as OpenSMTPD's `delaytonum`
//! and `scan_scaled` read them, and back.

use std::time::Duration;

/// `N[smhd]` with N ≥ 1 (OpenSMTPD's `delaytonum`).
pub(crate) fn parse_delay(s: &str) -> Option<Duration> {
    let unit = s.bytes().last()?;
    let factor: u64 = match unit {
        b's' => 1,
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        _ => return None,
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    // OpenSMTPD keeps delays in an int.
    if n == 0 || n > i32::MAX as u64 / factor {
        return None;
    }
    Some(Duration::from_secs(n * factor))
}

/// A delay written with the largest unit that divides it.
pub(crate) fn format_delay(d: Duration) -> String {
    let s = d.as_secs();
    for (f, u) in [(86_400, 'd'), (3600, 'h'), (60, 'm')] {
        if s != 0 && s.is_multiple_of(f) {
            return format!("{}{u}", s / f);
        }
    }
    format!("{s}s")
}

/// A plain number of bytes, or a number with a binary unit suffix
/// (`B K M G T P E`, either case) and an optional fraction, as
/// `scan_scaled` reads it.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.bytes().last()? {
        b if b.is_ascii_digit() => (s, 1u64),
        b => {
            let exp = b"BKMGTPE"
                .iter()
                .position(|u| *u == b.to_ascii_uppercase())?;
            (&s[..s.len() - 1], 1u64.checked_shl(10 * exp as u32)?)
        }
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (num.contains('.') && frac.is_empty()) {
        return None;
    }
    let whole = int.parse::<u64>().ok()?.checked_mul(mult)?;
    // The fraction, exactly: mult × digits / 10^len (truncated).
    let frac = &frac[..frac.len().min(18)];
    let digits: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let part = u128::from(mult) * digits / 10u128.pow(frac.len() as u32);
    let total = whole.checked_add(u64::try_from(part).ok()?)?;
    // OpenSMTPD keeps sizes in a signed 64-bit integer.
    (total <= i64::MAX as u64).then_some(total)
}

/// A size written with the largest binary unit that divides it.
pub(crate) fn format_size(n: u64) -> String {
    for (exp, u) in [(4u32, 'T'), (3, 'G'), (2, 'M'), (1, 'K')] {
        let f = 1u64 << (10 * exp);
        if n != 0 && n.is_multiple_of(f) {
            return format!("{}{u}", n / f);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        assert_eq!(parse_delay("4d"), Some(Duration::from_secs(4 * 86_400)));
        assert_eq!(parse_delay("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_delay("1s"), Some(Duration::from_secs(1)));
        for bad in [
            "",
            "d",
            "0d",
            "4",
            "4x",
            "-1h",
            "1.5h",
            "4D",
            "99999999999d",
        ] {
            assert_eq!(parse_delay(bad), None, "{bad}");
        }
        assert_eq!(format_delay(Duration::from_secs(4 * 86_400)), "4d");
        assert_eq!(format_delay(Duration::from_secs(90)), "90s");
        assert_eq!(format_delay(Duration::from_secs(7200)), "2h");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("35M"), Some(35 * 1024 * 1024));
        assert_eq!(parse_size("50m"), Some(50 * 1024 * 1024));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1.5K"), Some(1536));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        for bad in ["", "M", "35Q", "3.M", "-1", "1e3", "99999999999E"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(format_size(35 * 1024 * 1024), "35M");
        assert_eq!(format_size(1000), "1000");
    }
}
