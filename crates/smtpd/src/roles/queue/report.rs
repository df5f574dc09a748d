//! The text of a report for the sender: a delivery status notification
//! (RFC 3464) in a `multipart/report; report-type=delivery-status` (RFC
//! 6522) with three parts: a note for people listing each recipient and
//! why, the `message/delivery-status` part for programs, and the original
//! message (`message/rfc822`) or only its header (`text/rfc822-headers`).
//!
//! Written by hand rather than with `mail-builder`: the original message
//! is streamed from its spool file into the session ([`Report::head`] and
//! [`Report::tail`] go around it), never held in memory, and the two
//! `message/*` parts must go out unencoded (RFC 2046 §5.2.1 allows no
//! base64 or quoted-printable there), so the builder would only have
//! written the boundaries. Lines end in LF here; the session's encoder
//! makes them CRLF and stuffs dots.

use smtpd_proto::{format_path, xtext_decode};
use smtpd_types::envelope::BounceType;
use smtpd_types::{EnhancedStatus, Envelope, MailAddr};
use std::fmt::Write as _;

/// What of the original message the report carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// The whole message (`message/rfc822`).
    Full,
    /// Its header only (`text/rfc822-headers`): `RET=HDRS`, delay notices
    /// and success notices.
    Headers,
    /// Its header only, because the whole message would make the report
    /// too large for our own `max-message-size`.
    HeadersTooBig,
}

/// One recipient the report is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The final recipient (after aliases and forwards).
    pub dest: MailAddr,
    /// `ORCPT=` of the original RCPT, decoded: `(type, address)`.
    pub orcpt: Option<(String, String)>,
    pub status: EnhancedStatus,
    /// Why, without the status code.
    pub reason: String,
    pub last_attempt: u64,
    /// Delay notices: when the original will be given up.
    pub retry_until: Option<u64>,
}

/// A report about one message, for its sender.
#[derive(Clone, Debug)]
pub struct Report {
    /// Our name: `Reporting-MTA`, `MAILER-DAEMON@` and the Message-ID.
    pub name: String,
    pub kind: BounceType,
    /// The original sender, who gets the report.
    pub to: MailAddr,
    pub envid: Option<String>,
    /// When the original message arrived.
    pub arrival: u64,
    /// Delay notices: the `bounce warn-interval` that was passed.
    pub delayed_for: u64,
    pub recipients: Vec<Recipient>,
    pub attach: Attach,
    pub boundary: String,
    pub message_id: String,
    pub date: u64,
}

/// Replace control characters (CR, LF, tabs…) by spaces: every value here
/// goes into a header field or a one-line entry.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A date as RFC 5322 writes it, in local time.
pub fn rfc5322_date(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .with_timezone(&chrono::Local)
        .to_rfc2822()
}

/// A duration in the largest whole unit, for people.
fn duration(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The reply code a status stands for in `Diagnostic-Code: smtp; …`.
fn reply_code(status: EnhancedStatus) -> u16 {
    match status.class {
        2 => 250,
        4 => 450,
        _ => 550,
    }
}

/// `ORCPT` as the envelope keeps it (`rfc822;xtext`), decoded.
fn decode_orcpt(stored: &str) -> Option<(String, String)> {
    let (kind, addr) = stored.split_once(';')?;
    let addr = xtext_decode(addr)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|| addr.to_string());
    Some((one_line(kind), one_line(&addr)))
}

/// The default status of a report kind, for an envelope that has none.
fn default_status(kind: BounceType) -> EnhancedStatus {
    match kind {
        BounceType::Failed => EnhancedStatus::new(5, 0, 0),
        BounceType::Delayed => EnhancedStatus::new(4, 0, 0),
        BounceType::Delivered => EnhancedStatus::new(2, 0, 0),
    }
}

impl Recipient {
    /// The recipient a report envelope stands for (see `store::reports`
    /// for what its fields hold).
    pub fn from_envelope(env: &Envelope, kind: BounceType) -> Recipient {
        let status = env.esc.unwrap_or_else(|| default_status(kind));
        let line = env.errorline.as_deref().unwrap_or("");
        let prefix = format!("{status} ");
        let reason = line.strip_prefix(&prefix).unwrap_or(line);
        let retry_until = match (&env.bounce, kind) {
            (Some(b), BounceType::Delayed) => Some(arrival_of(env).saturating_add(b.ttl)),
            _ => None,
        };
        Recipient {
            dest: env.dest.clone(),
            orcpt: env.dsn_orcpt.as_deref().and_then(decode_orcpt),
            status,
            reason: one_line(reason),
            last_attempt: env.ctime,
            retry_until,
        }
    }
}

/// When the original of a report envelope arrived: a failure (or success)
/// report is made at once and keeps how long the original had waited in
/// `bounce-delay`; a delay notice keeps the warning's time in
/// `last-bounce` and the `warn-interval` that was passed in `bounce-delay`.
pub fn arrival_of(env: &Envelope) -> u64 {
    let delay = env.bounce.as_ref().map(|b| b.delay).unwrap_or(0);
    match env.bounce.as_ref().map(|b| b.kind) {
        Some(BounceType::Delayed) => env.last_bounce.saturating_sub(delay),
        _ => env.ctime.saturating_sub(delay),
    }
}

impl Report {
    /// Subject word and `Action:` value.
    fn action(&self) -> &'static str {
        self.kind.as_str()
    }

    /// Everything before the original message: the message header, the
    /// two first parts and the third part's header.
    pub fn head(&self) -> String {
        let mut s = String::with_capacity(2048);
        let name = one_line(&self.name);
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "From: Mail Delivery System <MAILER-DAEMON@{name}>\n\
             To: {to}\n\
             Subject: Delivery status notification: {action}\n\
             Date: {date}\n\
             Message-ID: <{mid}>\n\
             Auto-Submitted: auto-replied\n\
             MIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=delivery-status;\n\
             \tboundary=\"{b}\"\n\
             \n\
             This is a MIME-encapsulated message.\n\
             \n\
             --{b}\n\
             Content-Description: Notification\n\
             Content-Type: text/plain; charset=utf-8\n\
             \n",
            to = format_path(&self.to),
            action = self.action(),
            date = rfc5322_date(self.date),
            mid = one_line(&self.message_id),
            b = self.boundary,
        );
        self.notice(&mut s);
        let _ = write!(
            s,
            "\n--{b}\n\
             Content-Description: Delivery report\n\
             Content-Type: message/delivery-status\n\
             \n",
            b = self.boundary
        );
        self.status_fields(&mut s);
        let (what, ctype) = match self.attach {
            Attach::Full => ("Undelivered message", "message/rfc822"),
            Attach::Headers | Attach::HeadersTooBig => ("Message headers", "text/rfc822-headers"),
        };
        let _ = write!(
            s,
            "\n--{b}\n\
             Content-Description: {what}\n\
             Content-Type: {ctype}\n\
             \n",
            b = self.boundary
        );
        s
    }

    /// What follows the original message: the closing boundary.
    pub fn tail(&self) -> String {
        format!("\n--{}--\n", self.boundary)
    }

    /// The part for people.
    fn notice(&self, s: &mut String) {
        let name = one_line(&self.name);
        let _ = write!(
            s,
            "Hello,\n\n\
             This is the mail system at {name}; this message was written\n\
             by a program, please do not answer it.\n\n"
        );
        s.push_str(match self.kind {
            BounceType::Failed => {
                "Your message could not be delivered to the following\n\
                 recipients, and will not be retried:\n\n"
            }
            BounceType::Delayed => "",
            BounceType::Delivered => "Your message was delivered to the following recipients:\n\n",
        });
        if self.kind == BounceType::Delayed {
            let _ = write!(
                s,
                "Your message has not been delivered after more than {} to\n\
                 the following recipients:\n\n",
                duration(self.delayed_for)
            );
        }
        for r in &self.recipients {
            let _ = writeln!(
                s,
                "  <{}>: {} {}",
                one_line(&r.dest.to_string()),
                r.status,
                r.reason
            );
        }
        s.push('\n');
        if self.kind == BounceType::Delayed {
            let until = self.recipients.iter().filter_map(|r| r.retry_until).max();
            s.push_str(
                "This is only a warning: the mail system keeps trying. You do\n\
                 not need to send the message again.\n",
            );
            if let Some(t) = until {
                let _ = writeln!(s, "It gives up after {}.", rfc5322_date(t));
            }
            s.push('\n');
        }
        s.push_str(match self.attach {
            Attach::Full => "The original message follows.\n",
            Attach::Headers => "The header of the original message follows.\n",
            Attach::HeadersTooBig => {
                "The original message is too large to be returned; its header\nfollows.\n"
            }
        });
    }

    /// The `message/delivery-status` part (RFC 3464 §2): per-message
    /// fields, then one group per recipient.
    fn status_fields(&self, s: &mut String) {
        let _ = writeln!(s, "Reporting-MTA: dns; {}", one_line(&self.name));
        if let Some(id) = &self.envid {
            let _ = writeln!(s, "Original-Envelope-Id: {}", one_line(id));
        }
        let _ = writeln!(s, "Arrival-Date: {}", rfc5322_date(self.arrival));
        for r in &self.recipients {
            s.push('\n');
            let _ = writeln!(
                s,
                "Final-Recipient: rfc822; {}",
                one_line(&r.dest.to_string())
            );
            if let Some((kind, addr)) = &r.orcpt {
                let _ = writeln!(s, "Original-Recipient: {kind}; {addr}");
            }
            let _ = writeln!(s, "Action: {}", self.action());
            let _ = writeln!(s, "Status: {}", r.status);
            if self.kind != BounceType::Delivered {
                let _ = writeln!(
                    s,
                    "Diagnostic-Code: smtp; {} {} {}",
                    reply_code(r.status),
                    r.status,
                    r.reason
                );
            }
            let _ = writeln!(s, "Last-Attempt-Date: {}", rfc5322_date(r.last_attempt));
            if let Some(t) = r.retry_until {
                let _ = writeln!(s, "Will-Retry-Until: {}", rfc5322_date(t));
            }
        }
    }
}

/// A boundary that cannot occur in the original message by chance (128
/// random bits), and a Message-ID for the report.
pub fn fresh_ids(name: &str) -> (String, String) {
    let a: u128 = rand::random();
    let b: u64 = rand::random();
    (
        format!("=_report_{a:032x}"),
        format!("{b:016x}.report@{}", one_line(name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpd_types::envelope::BounceInfo;
    use smtpd_types::{EnvelopeKind, EvpId, MsgId};

    fn bounce_env(kind: BounceType) -> Envelope {
        let mut e = Envelope::new(
            EvpId::random_in(MsgId(7)),
            EnvelopeKind::Bounce,
            Some(MailAddr::new("alice", "a.test")),
            MailAddr::new("bob", "b.test"),
        );
        e.ctime = 1_000_000;
        e.last_bounce = 999_000;
        e.esc = Some(EnhancedStatus::new(5, 1, 1));
        e.errorline = Some("5.1.1 no such\r\nuser".into());
        e.dsn_orcpt = Some("rfc822;b+2Bx@b.test".into());
        e.bounce = Some(BounceInfo {
            ttl: 3600,
            delay: 100,
            kind,
        });
        e
    }

    #[test]
    fn recipient_from_envelope() {
        let r = Recipient::from_envelope(&bounce_env(BounceType::Failed), BounceType::Failed);
        assert_eq!(r.reason, "no such  user", "status stripped, one line");
        assert_eq!(r.orcpt, Some(("rfc822".into(), "b+x@b.test".into())));
        assert_eq!(r.retry_until, None);
        assert_eq!(arrival_of(&bounce_env(BounceType::Failed)), 999_900);
        let d = Recipient::from_envelope(&bounce_env(BounceType::Delayed), BounceType::Delayed);
        assert_eq!(arrival_of(&bounce_env(BounceType::Delayed)), 998_900);
        assert_eq!(d.retry_until, Some(998_900 + 3600));
    }

    #[test]
    fn report_structure() {
        let (boundary, message_id) = fresh_ids("mx.test");
        let env = bounce_env(BounceType::Failed);
        let report = Report {
            name: "mx.test".into(),
            kind: BounceType::Failed,
            to: MailAddr::new("alice", "a.test"),
            envid: Some("ID1".into()),
            arrival: arrival_of(&env),
            delayed_for: 0,
            recipients: vec![Recipient::from_envelope(&env, BounceType::Failed)],
            attach: Attach::Full,
            boundary: boundary.clone(),
            message_id,
            date: 1_000_000,
        };
        let head = report.head();
        assert!(head.starts_with("From: Mail Delivery System <MAILER-DAEMON@mx.test>\n"));
        assert!(head.contains("\nSubject: Delivery status notification: failed\n"));
        assert!(head.contains("\nAuto-Submitted: auto-replied\n"));
        assert!(head.contains("report-type=delivery-status"));
        assert!(head.contains("\nFinal-Recipient: rfc822; bob@b.test\n"));
        assert!(head.contains("\nOriginal-Recipient: rfc822; b+x@b.test\n"));
        assert!(head.contains("\nDiagnostic-Code: smtp; 550 5.1.1 no such  user\n"));
        assert!(head.contains("\nOriginal-Envelope-Id: ID1\n"));
        assert!(head.ends_with("Content-Type: message/rfc822\n\n"));
        assert_eq!(head.matches(&format!("--{boundary}\n")).count(), 3);
        assert_eq!(report.tail(), format!("\n--{boundary}--\n"));
        assert!(!head.contains('\r'));
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(7200), "2 hours");
        assert_eq!(duration(4 * 86_400), "4 days");
    }
}
