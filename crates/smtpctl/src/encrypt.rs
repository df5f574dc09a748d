//! `smtpctl encrypt [STRING]`: a crypt(3) hash of STRING, or of each line
//! of standard input, for the password column of a credentials table
//! (`auth <table>`). OpenSMTPD prints the first scheme its libc knows
//! (bcrypt on OpenBSD); ours is SHA-512 crypt (`$6$`, 5000 rounds, a
//! random 16-character salt), which the server verifies as it verifies
//! `$2b$` and `$y$`.

use sha_crypt::{PasswordHasher, ShaCrypt};
use std::io::BufRead;

use crate::error::CtlError;
use crate::text;

/// SHA-crypt salts are at most 16 characters: 12 random bytes in its
/// base64.
const SALT_BYTES: usize = 12;

/// The hash of `password`.
pub fn hash(password: &str) -> Result<String, CtlError> {
    let salt: [u8; SALT_BYTES] = rand::random();
    ShaCrypt::SHA512
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CtlError::Failed(format!("hashing: {e}")))
}

pub fn run(string: Option<&str>) -> Result<(), CtlError> {
    if let Some(s) = string {
        return text::say(&hash(s)?);
    }
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| CtlError::Io(format!("reading standard input: {e}")))?;
        text::say(&hash(&line)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha_crypt::PasswordVerifier;

    #[test]
    fn the_hash_verifies_and_is_salted() {
        let a = hash("s3cret").unwrap();
        let b = hash("s3cret").unwrap();
        assert!(a.starts_with("$6$"), "{a}");
        assert_ne!(a, b, "a random salt each time");
        let v = ShaCrypt::default();
        assert!(v.verify_password(b"s3cret", a.as_str()).is_ok());
        assert!(v.verify_password(b"wrong", a.as_str()).is_err());
    }
}
