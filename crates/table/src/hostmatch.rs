//! Domain wildcard matching, exactly as OpenSMTPD's `hostname_match()`.
//!
//! A `*` in the pattern skips host name characters up to the first one equal
//! to the pattern character after the star, and never backtracks. So
//! `*.example.org` matches `mx.example.org` but neither `example.org` nor
//! `a.b.example.org` (the star stops at the first dot), and `*` alone matches
//! any non-empty name. Comparison is ASCII case-insensitive.
//!
//! Hand-written because glob crates backtrack, which would change which names
//! a `domain` table accepts compared with OpenSMTPD.

/// Whether `host` matches `pattern` under OpenSMTPD's rules.
pub fn hostname_match(host: &str, pattern: &str) -> bool {
    let host = host.as_bytes();
    let pat = pattern.as_bytes();
    let (mut h, mut p) = (0, 0);
    while p < pat.len() && h < host.len() {
        if pat[p] == b'*' {
            while p < pat.len() && pat[p] == b'*' {
                p += 1;
            }
            // The C code compares against the NUL after the pattern when the
            // star is last, which no host character equals: skip to the end.
            let next = pat.get(p).map(u8::to_ascii_lowercase);
            while h < host.len() && Some(host[h].to_ascii_lowercase()) != next {
                h += 1;
            }
            continue;
        }
        if !pat[p].eq_ignore_ascii_case(&host[h]) {
            return false;
        }
        p += 1;
        h += 1;
    }
    h == host.len() && p == pat.len()
}

#[cfg(test)]
mod tests {
    use super::hostname_match;

    #[test]
    fn exact_is_case_insensitive() {
        assert!(hostname_match("Example.ORG", "example.org"));
        assert!(!hostname_match("example.org", "example.net"));
        assert!(!hostname_match("example.or", "example.org"));
    }

    #[test]
    fn star_matches_one_label_without_backtracking() {
        assert!(hostname_match("mx.example.org", "*.example.org"));
        assert!(!hostname_match("example.org", "*.example.org"));
        assert!(!hostname_match("a.b.example.org", "*.example.org"));
        assert!(hostname_match("mx1.example.org", "mx*.example.org"));
    }

    #[test]
    fn lone_star() {
        assert!(hostname_match("anything", "*"));
        assert!(hostname_match("a.b.c", "**"));
        assert!(!hostname_match("", "*"));
        assert!(hostname_match("", ""));
    }
}
