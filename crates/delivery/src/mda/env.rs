//! The environment a delivery program gets: OpenSMTPD's variables and
//! nothing else (no variable of the server's own environment leaks through).

use crate::context::DeliveryContext;
use crate::format::sanitize;
use smtpd_types::MailAddr;

/// `PATH` for delivery programs: the system directories, as
/// `_PATH_DEFPATH` on OpenBSD (without X11).
pub const DEFAULT_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/usr/local/sbin";

/// The variables of a delivery program's environment, with OpenSMTPD's
/// meanings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdaEnv {
    /// `SENDER`: the envelope sender, empty for `<>`.
    pub sender: Option<MailAddr>,
    /// `ORIGINAL_RECIPIENT` (whole), `LOCAL` (local part), `DOMAIN`: the
    /// recipient as given in `RCPT TO`.
    pub rcpt: MailAddr,
    /// `RECIPIENT`: the final recipient after expansion.
    pub dest: MailAddr,
    /// `USER` and `LOGNAME`.
    pub username: String,
    /// `HOME`.
    pub home: String,
    /// `SHELL`: the shell the command runs with.
    pub shell: String,
    /// `EXTENSION`: the sub-address, set only when there is one.
    pub extension: Option<String>,
    /// `PATH`.
    pub path: String,
}

impl MdaEnv {
    /// The environment for a delivery, run with `shell`.
    pub fn new(ctx: &DeliveryContext, shell: &str) -> Self {
        MdaEnv {
            sender: ctx.sender.clone(),
            rcpt: ctx.rcpt.clone(),
            dest: ctx.dest.clone(),
            username: ctx.user.username.clone(),
            home: ctx.user.directory.clone(),
            shell: shell.to_string(),
            extension: ctx.subaddress.clone().filter(|e| !e.is_empty()),
            path: DEFAULT_PATH.to_string(),
        }
    }

    /// The `NAME=value` pairs, sorted by name. Values taken from addresses
    /// (which the SMTP client chose) are sanitised like format specifiers
    /// (see [`sanitize`]): a script that uses `$SENDER` unquoted must not be
    /// open to injection. The user's name, home, shell and `PATH` come from
    /// the system and are passed as they are.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let addr = |a: &MailAddr| sanitize(&a.to_string());
        let mut vars = vec![
            ("DOMAIN", sanitize(&self.rcpt.domain)),
            ("HOME", self.home.clone()),
            ("LOCAL", sanitize(&self.rcpt.user)),
            ("LOGNAME", self.username.clone()),
            ("ORIGINAL_RECIPIENT", addr(&self.rcpt)),
            ("PATH", self.path.clone()),
            ("RECIPIENT", addr(&self.dest)),
            ("SENDER", self.sender.as_ref().map(addr).unwrap_or_default()),
            ("SHELL", self.shell.clone()),
            ("USER", self.username.clone()),
        ];
        if let Some(ext) = &self.extension {
            vars.push(("EXTENSION", sanitize(ext)));
        }
        vars.sort_by_key(|&(k, _)| k);
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::UserInfo;

    #[test]
    fn variables_and_meanings() {
        let mut ctx = DeliveryContext::new(
            None,
            MailAddr::new("bob+lists", "example.org"),
            MailAddr::new("robert", "mail.example.org"),
            UserInfo {
                username: "robert".into(),
                directory: "/home/robert".into(),
                shell: "/bin/zsh".into(),
            },
        );
        ctx.subaddress = Some("lists".into());
        let pairs = MdaEnv::new(&ctx, "/bin/sh").to_pairs();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("DOMAIN"), Some("example.org"));
        assert_eq!(get("EXTENSION"), Some("lists"));
        assert_eq!(get("HOME"), Some("/home/robert"));
        assert_eq!(get("LOCAL"), Some("bob+lists"));
        assert_eq!(get("LOGNAME"), Some("robert"));
        assert_eq!(get("ORIGINAL_RECIPIENT"), Some("bob+lists@example.org"));
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("RECIPIENT"), Some("robert@mail.example.org"));
        assert_eq!(get("SENDER"), Some(""));
        assert_eq!(get("SHELL"), Some("/bin/sh"));
        assert_eq!(get("USER"), Some("robert"));
        assert_eq!(pairs.len(), 11);

        ctx.subaddress = None;
        ctx.sender = Some(MailAddr::new("a$(id)", "x.org"));
        let pairs = MdaEnv::new(&ctx, "/bin/sh").to_pairs();
        assert!(pairs.iter().all(|(k, _)| k != "EXTENSION"));
        let sender = pairs.iter().find(|(k, _)| k == "SENDER").unwrap();
        assert_eq!(sender.1, "a::id:@x.org");
    }
}
