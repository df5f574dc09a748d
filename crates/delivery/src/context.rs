//! Who a local delivery is for: the envelope's addresses and the user whose
//! rights and home the delivery uses.
//!
//! One context feeds both the format specifiers of paths and commands
//! ([`crate::format`]) and the environment of delivery programs
//! ([`crate::mda::MdaEnv`]), so that the two can never disagree.

use smtpd_types::MailAddr;

/// The user a delivery runs as, from the userbase (`getpwnam` by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The login name (`%{user.username}`, `USER`, `LOGNAME`).
    pub username: String,
    /// The home directory (`%{user.directory}`, `~/`, `HOME`, the working
    /// directory of programs).
    pub directory: String,
    /// The login shell. OpenSMTPD always runs programs with `/bin/sh`; the
    /// caller decides what to pass (see [`crate::mda::MdaCommand`]).
    pub shell: String,
}

/// The addresses of one envelope at final delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryContext {
    /// The envelope sender; `None` is the null sender `<>`.
    pub sender: Option<MailAddr>,
    /// The recipient as the client gave it in `RCPT TO`.
    pub rcpt: MailAddr,
    /// The final recipient after alias, virtual and `.forward` expansion.
    pub dest: MailAddr,
    /// The user the delivery runs as.
    pub user: UserInfo,
    /// The sub-address (`tag` of `user+tag`) the envelope carries, if any
    /// (`EXTENSION`, and the Maildir folder it may select).
    pub subaddress: Option<String>,
    /// The sub-address delimiter (`sub-addr-delim`, `+` by default), which
    /// the `:strip` modifier removes from.
    pub sub_addr_delim: char,
}

impl DeliveryContext {
    /// A context with no sub-address and the default delimiter `+`.
    pub fn new(sender: Option<MailAddr>, rcpt: MailAddr, dest: MailAddr, user: UserInfo) -> Self {
        DeliveryContext {
            sender,
            rcpt,
            dest,
            user,
            subaddress: None,
            sub_addr_delim: '+',
        }
    }

    /// The sender as `user@domain`, or the empty string for `<>`.
    pub fn sender_string(&self) -> String {
        self.sender
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default()
    }

    /// The sender as an mbox `From ` line names it: the address, or
    /// `MAILER-DAEMON` for `<>`.
    pub fn mbox_from(&self) -> String {
        mbox_from(self.sender.as_ref())
    }
}

/// The sender as an mbox `From ` line and `%{mbox.from}` name it.
pub(crate) fn mbox_from(sender: Option<&MailAddr>) -> String {
    match sender {
        Some(s) => s.to_string(),
        None => "MAILER-DAEMON".to_string(),
    }
}
