//! AUTH against the system's passwords (OpenSMTPD's `parent_auth_user`,
//! `getspnam` + `crypt_checkpass` on Linux): only the parent, as root, may
//! read the shadow file. Locked accounts (`!…`, `*`) and empty hashes never
//! authenticate.

use std::path::Path;
use tracing::warn;

use crate::msg::to_smtp::AuthResult;
use crate::passwords;

/// The hash field of `user`'s line in a shadow(5) file.
fn hash_of(shadow: &str, user: &str) -> Option<String> {
    shadow.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(user)).then(|| fields.next().unwrap_or("").to_string())
    })
}

/// Check `password` for `user` against the shadow file at `path`.
pub fn check(path: &Path, user: &str, password: &str) -> AuthResult {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            warn!("auth: cannot read {}: {e}", path.display());
            return AuthResult::TempFail;
        }
    };
    // A name with ':' or a line break could only match a wrong line.
    let hash = if user.contains([':', '\n']) {
        None
    } else {
        hash_of(&text, user)
    };
    let usable = hash.filter(|h| !h.is_empty() && !h.starts_with('!') && h != "*");
    passwords::check(user, password, usable.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str =
        "$6$saltsalt$As4wrv0kZlfch1du9WeH7qhskyLriQWySXrZzynnvi46nFnNxjdpl6ksRegrrKexvhIa/Iny8S8uF3fVWTMuC1";

    #[test]
    fn users_locked_accounts_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shadow");
        std::fs::write(
            &path,
            format!("root:*:19000:0:99999:7:::\nalice:{HASH}:19000:0:99999:7:::\nlocked:!{HASH}:1::::::\nempty::1::::::\n"),
        )
        .unwrap();
        assert_eq!(check(&path, "alice", "s3cret"), AuthResult::Ok);
        assert_eq!(check(&path, "alice", "wrong"), AuthResult::Failed);
        assert_eq!(check(&path, "locked", "s3cret"), AuthResult::Failed);
        assert_eq!(check(&path, "empty", ""), AuthResult::Failed);
        assert_eq!(check(&path, "root", "*"), AuthResult::Failed);
        assert_eq!(check(&path, "nobody", "s3cret"), AuthResult::Failed);
        assert_eq!(check(&path, "alice:x", "s3cret"), AuthResult::Failed);
        assert_eq!(
            check(&dir.path().join("nosuch"), "alice", "s3cret"),
            AuthResult::TempFail
        );
    }
}
