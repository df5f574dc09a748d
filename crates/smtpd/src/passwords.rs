//! Password hashes in the crypt(3) formats OpenSMTPD's `crypt_checkpass`
//! accepts, shared by lka (credentials tables) and the parent (the system's
//! passwords): SHA-crypt (`$5$`, `$6$`), bcrypt (`$2a$`, `$2b$`, `$2y$`)
//! and yescrypt (`$y$`, the default of /etc/shadow on Debian since 11 and
//! on Ubuntu, Fedora and Arch). Anything else is refused, with a warning
//! naming the user.
//! Checking is CPU-bound by design: callers run it off their runtime's
//! threads.

use sha_crypt::{PasswordVerifier, ShaCrypt};
use tracing::warn;

use crate::msg::to_smtp::AuthResult;

/// Checked when the user is unknown, so that an unknown user costs the
/// same time as a wrong password (no user enumeration by timing).
const DUMMY_HASH: &str =
    "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1";

/// Check `password` against the hash stored for `user` (`None`: unknown
/// user).
pub fn check(user: &str, password: &str, stored: Option<&str>) -> AuthResult {
    let Some(hash) = stored else {
        let _ = verify(password, DUMMY_HASH);
        return AuthResult::Failed;
    };
    match verify(password, hash) {
        Some(true) => AuthResult::Ok,
        Some(false) => AuthResult::Failed,
        None => {
            warn!(
                "auth: the password of {} is not a hash we know ($5$, $6$, $2b$, $y$)",
                user.escape_default()
            );
            AuthResult::Failed
        }
    }
}

/// `None` when `hash` is in no format we know.
pub fn verify(password: &str, hash: &str) -> Option<bool> {
    if hash.starts_with("$5$") || hash.starts_with("$6$") {
        return Some(
            ShaCrypt::default()
                .verify_password(password.as_bytes(), hash)
                .is_ok(),
        );
    }
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        return Some(bcrypt::verify(password, hash).unwrap_or(false));
    }
    if hash.starts_with("$y$") {
        return Some(
            yescrypt::Yescrypt::default()
                .verify_password(password.as_bytes(), hash)
                .is_ok(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by `openssl passwd -6 -salt saltsalt s3cret` and
    // `openssl passwd -5 -salt saltsalt s3cret`.
    const SHA512: &str = DUMMY_HASH;
    const SHA256: &str = "$5$saltsalt$i1q2ZQzc.tl/BQ6CHiENAcVDvEY6nJ1OWlWXKh94b1.";
    // OpenBSD's bcrypt test vector for "U*U".
    const BCRYPT: &str = "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

    #[test]
    fn sha_crypt_hashes_verify() {
        assert_eq!(verify("s3cret", SHA512), Some(true));
        assert_eq!(verify("secret", SHA512), Some(false));
        assert_eq!(verify("s3cret", SHA256), Some(true));
        assert_eq!(verify("", SHA256), Some(false));
    }

    #[test]
    fn bcrypt_hashes_verify() {
        assert_eq!(verify("U*U", BCRYPT), Some(true));
        assert_eq!(verify("U*V", BCRYPT), Some(false));
        let y = BCRYPT.replace("$2b$", "$2y$");
        assert_eq!(verify("U*U", &y), Some(true));
    }

    #[test]
    fn yescrypt_hashes_verify() {
        // Made by the system's libxcrypt: crypt("s3cret",
        // "$y$j9T$F5Jx5fExrKuJdk5HYvUSs1$"), j9T being the parameters
        // Debian's passwd uses.
        const YESCRYPT: &str =
            "$y$j9T$F5Jx5fExrKuJdk5HYvUSs1$IXBZSK/h5xLlPQAo/VU3cknuetgxlqDyGvgrlCWa3c4";
        assert_eq!(verify("s3cret", YESCRYPT), Some(true));
        assert_eq!(verify("s3cre", YESCRYPT), Some(false));
        assert_eq!(verify("s3cret", "$y$j9T$broken"), Some(false));
    }

    #[test]
    fn clear_text_and_unknown_formats_never_match() {
        assert_eq!(verify("s3cret", "s3cret"), None);
        assert_eq!(verify("x", "$1$abc$def"), None);
        assert_eq!(check("joe", "s3cret", Some("s3cret")), AuthResult::Failed);
        assert_eq!(check("joe", "s3cret", None), AuthResult::Failed);
        assert_eq!(check("joe", "s3cret", Some(SHA512)), AuthResult::Ok);
        assert_eq!(verify("s3cret", "$6$broken"), Some(false));
    }
}
