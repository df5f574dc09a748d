//! The server side of SASL PLAIN (RFC 4616) and LOGIN for AUTH (RFC 4954),
//! without I/O: the session feeds the AUTH command and each response line,
//! and gets back a challenge, the credentials to check, or a refusal.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use smtpd_proto::Reply;

/// The mechanisms offered, in the order EHLO lists them.
pub const MECHANISMS: [&str; 2] = ["PLAIN", "LOGIN"];

/// What the next response line answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The PLAIN message, after an empty challenge.
    Plain,
    /// LOGIN's user name.
    LoginUser,
    /// LOGIN's password, for this user.
    LoginPassword { user: String },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Send `334 text` and wait for a response line.
    Challenge { step: Step, text: &'static str },
    /// Check these credentials.
    Done { user: String, password: String },
    /// The exchange is over: give this reply.
    Refused(Reply),
}

/// `Username:` and `Password:`, base64, as LOGIN asks for them.
const USERNAME: &str = "VXNlcm5hbWU6";
const PASSWORD: &str = "UGFzc3dvcmQ6";

fn refuse(code: u16, esc: (u8, u16, u16), text: &str) -> Progress {
    Progress::Refused(Reply::with_esc(code, esc, text))
}

fn bad_base64() -> Progress {
    refuse(501, (5, 5, 2), "Invalid base64 data")
}

/// The AUTH command: `mechanism` upper case, `initial` the initial
/// response as sent (`=` for an empty one).
pub fn start(mechanism: &str, initial: Option<&str>) -> Progress {
    match (mechanism, initial) {
        ("PLAIN", None) => Progress::Challenge {
            step: Step::Plain,
            text: "",
        },
        ("PLAIN", Some(ir)) => respond(Step::Plain, ir.as_bytes()),
        ("LOGIN", None) => Progress::Challenge {
            step: Step::LoginUser,
            text: USERNAME,
        },
        // Some clients send the user name with the command.
        ("LOGIN", Some(ir)) => respond(Step::LoginUser, ir.as_bytes()),
        _ => refuse(504, (5, 5, 4), "Unrecognized authentication type"),
    }
}

/// A response line (without its CRLF) to the challenge of `step`.
pub fn respond(step: Step, line: &[u8]) -> Progress {
    if line == b"*" {
        return refuse(501, (5, 7, 0), "Authentication cancelled");
    }
    let decoded = if line == b"=" {
        Vec::new()
    } else {
        match B64.decode(line) {
            Ok(d) => d,
            Err(_) => return bad_base64(),
        }
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return bad_base64();
    };
    match step {
        Step::Plain => plain(&text),
        Step::LoginUser => {
            if text.is_empty() || text.contains('\0') {
                return refuse(501, (5, 5, 2), "Invalid user name");
            }
            Progress::Challenge {
                step: Step::LoginPassword { user: text },
                text: PASSWORD,
            }
        }
        Step::LoginPassword { user } => {
            if text.contains('\0') {
                return refuse(501, (5, 5, 2), "Invalid password");
            }
            Progress::Done {
                user,
                password: text,
            }
        }
    }
}

/// `[authzid] NUL authcid NUL passwd`. The authorization identity is
/// ignored, as OpenSMTPD does: the session acts as the authenticated user.
fn plain(text: &str) -> Progress {
    let mut parts = text.split('\0');
    let (Some(_authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return refuse(501, (5, 5, 2), "Invalid PLAIN response");
    };
    if user.is_empty() {
        return refuse(501, (5, 5, 2), "Invalid PLAIN response");
    }
    Progress::Done {
        user: user.to_string(),
        password: password.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        B64.encode(s)
    }

    fn done(user: &str, password: &str) -> Progress {
        Progress::Done {
            user: user.into(),
            password: password.into(),
        }
    }

    fn code(p: &Progress) -> u16 {
        match p {
            Progress::Refused(r) => r.code,
            _ => 0,
        }
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let msg = b64("\0alice\0s3cret");
        assert_eq!(start("PLAIN", Some(&msg)), done("alice", "s3cret"));
        let Progress::Challenge { step, text } = start("PLAIN", None) else {
            panic!("no challenge");
        };
        assert_eq!(text, "");
        assert_eq!(respond(step, msg.as_bytes()), done("alice", "s3cret"));
        // An authorization identity is ignored.
        let msg = b64("bob\0alice\0pw");
        assert_eq!(start("PLAIN", Some(&msg)), done("alice", "pw"));
    }

    #[test]
    fn login_asks_user_then_password() {
        let Progress::Challenge { step, text } = start("LOGIN", None) else {
            panic!("no challenge");
        };
        assert_eq!(B64.decode(text).unwrap(), b"Username:");
        let Progress::Challenge { step, text } = respond(step, b64("alice").as_bytes()) else {
            panic!("no password challenge");
        };
        assert_eq!(B64.decode(text).unwrap(), b"Password:");
        assert_eq!(
            respond(step, b64("s3cret").as_bytes()),
            done("alice", "s3cret")
        );
    }

    #[test]
    fn cancel_bad_base64_and_bad_messages() {
        assert_eq!(code(&respond(Step::Plain, b"*")), 501);
        assert_eq!(code(&respond(Step::LoginUser, b"not base64!")), 501);
        assert_eq!(code(&start("PLAIN", Some("="))), 501);
        assert_eq!(code(&start("PLAIN", Some(&b64("alice\0pw")))), 501);
        assert_eq!(code(&start("PLAIN", Some(&b64("\0\0pw")))), 501);
        assert_eq!(code(&start("CRAM-MD5", None)), 504);
    }
}
