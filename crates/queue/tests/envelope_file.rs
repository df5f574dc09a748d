//! The version-3 envelope file: round trips, OpenSMTPD's own files, and
//! damaged input.

use proptest::prelude::*;
use smtpd_queue::envelope_file::{decode, encode, DecodeError, EncodeError};
use smtpd_types::envelope::{BounceInfo, BounceType};
use smtpd_types::{
    DsnNotify, DsnRet, EnhancedStatus, Envelope, EnvelopeFlags, EnvelopeKind, EvpId, MailAddr,
};

const ID: EvpId = EvpId(0x1234_5678_9abc_def0);

/// An envelope with every field set.
fn full_mda() -> Envelope {
    let mut e = Envelope::new(
        ID,
        EnvelopeKind::Mda,
        Some(MailAddr::new("alice", "example.net")),
        MailAddr::new("bob+lists", "example.org"),
    );
    e.dest = MailAddr::new("bob", "example.org");
    e.dispatcher = "local_mail".into();
    e.tag = Some("from-outside".into());
    e.smtpname = "mx.example.org".into();
    e.helo = "client.example.net".into();
    e.hostname = "client.example.net".into();
    e.username = Some("alice".into());
    e.errorline = Some("451 4.2.0 Mailbox busy".into());
    e.sockaddr = "2001:db8::1".into();
    e.ctime = 1_700_000_000;
    e.last_try = 1_700_000_400;
    e.last_bounce = 1_700_014_400;
    e.ttl = 345_600;
    e.retry = 3;
    e.flags = EnvelopeFlags {
        authenticated: true,
        bounce: false,
        internal: true,
    };
    e.dsn_notify = DsnNotify {
        success: true,
        failure: true,
        delay: false,
        never: false,
    };
    e.dsn_ret = Some(DsnRet::Hdrs);
    e.dsn_envid = Some("QQ314159".into());
    e.dsn_orcpt = Some("rfc822;bob+lists@example.org".into());
    e.esc = Some(EnhancedStatus::new(4, 2, 1));
    e.mda_exec = Some("/usr/bin/procmail -f-".into());
    e.mda_file = Some("/var/mail/archive".into());
    e.mda_subaddress = Some("lists".into());
    e.mda_user = Some("bob".into());
    e
}

#[test]
fn round_trip_every_field_of_an_mda_envelope() {
    let e = full_mda();
    let text = encode(&e).unwrap();
    assert_eq!(decode(ID, text.as_bytes()).unwrap(), e);
}

#[test]
fn round_trip_minimal_mta_envelope_with_null_sender() {
    let mut e = Envelope::new(
        ID,
        EnvelopeKind::Mta,
        None,
        MailAddr::new("x", "remote.test"),
    );
    e.sockaddr = "local".into();
    e.ctime = 1;
    e.ttl = 2;
    let text = encode(&e).unwrap();
    assert!(text.contains("\nsender: @\n"), "{text}");
    assert_eq!(decode(ID, text.as_bytes()).unwrap(), e);
}

#[test]
fn round_trip_bounce_envelopes() {
    for kind in [
        BounceType::Failed,
        BounceType::Delayed,
        BounceType::Delivered,
    ] {
        let mut e = Envelope::new(
            ID,
            EnvelopeKind::Bounce,
            None,
            MailAddr::new("alice", "example.net"),
        );
        e.flags.bounce = true;
        e.bounce = Some(BounceInfo {
            ttl: if kind == BounceType::Delayed {
                604_800
            } else {
                0
            },
            delay: if kind == BounceType::Delayed {
                14_400
            } else {
                0
            },
            kind,
        });
        e.esc = Some(EnhancedStatus::new(5, 7, 26));
        let text = encode(&e).unwrap();
        assert_eq!(decode(ID, text.as_bytes()).unwrap(), e, "{text}");
    }
}

#[test]
fn writes_keys_in_opensmtpd_order_and_omits_empty_strings() {
    let text = encode(&full_mda()).unwrap();
    let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "version",
            "dispatcher",
            "tag",
            "type",
            "smtpname",
            "helo",
            "hostname",
            "username",
            "errorline",
            "sockaddr",
            "sender",
            "rcpt",
            "dest",
            "ctime",
            "last-try",
            "last-bounce",
            "ttl",
            "retry",
            "flags",
            "dsn-notify",
            "dsn-ret",
            "dsn-envid",
            "dsn-orcpt",
            "esc-class",
            "esc-code",
            "mda-exec",
            "mda-file",
            "mda-subaddress",
            "mda-user",
        ]
    );
    assert!(text.contains("sockaddr: [2001:db8::1]\n"));
    assert!(text.contains("flags: authenticated internal\n"));
    assert!(text.contains("dsn-notify: 3\n"));
    assert!(text.contains("esc-class: 4\nesc-code: 21\n"));

    let bare = Envelope::new(ID, EnvelopeKind::Mta, None, MailAddr::new("x", "y"));
    let text = encode(&bare).unwrap();
    for absent in [
        "tag:",
        "username:",
        "errorline:",
        "flags:",
        "dsn-ret:",
        "esc-class:",
        "mda-",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    // Numbers are always written, as OpenSMTPD does.
    for present in ["retry: 0\n", "ttl: 0\n", "dsn-notify: 0\n", "last-try: 0\n"] {
        assert!(text.contains(present), "{present} not in {text}");
    }
}

/// A local delivery envelope exactly as OpenSMTPD 7.x writes it.
const OPENSMTPD_MDA: &str = "version: 3
dispatcher: local_mail
type: mda
smtpname: mx.example.org
helo: client.example.net
hostname: client.example.net
sockaddr: 192.0.2.10
sender: alice@example.net
rcpt: bob@example.org
dest: bob@example.org
ctime: 1700000000
last-try: 0
last-bounce: 0
ttl: 345600
retry: 0
flags: authenticated
dsn-notify: 6
dsn-ret: HDRS
dsn-envid: QQ314159
dsn-orcpt: rfc822;bob@example.org
mda-user: bob
";

#[test]
fn reads_an_opensmtpd_local_envelope() {
    let e = decode(ID, OPENSMTPD_MDA.as_bytes()).unwrap();
    assert_eq!(e.kind, EnvelopeKind::Mda);
    assert_eq!(e.dispatcher, "local_mail");
    assert_eq!(e.sockaddr, "192.0.2.10");
    assert_eq!(e.sender, Some(MailAddr::new("alice", "example.net")));
    assert_eq!(e.rcpt, MailAddr::new("bob", "example.org"));
    assert_eq!(e.ctime, 1_700_000_000);
    assert_eq!(e.ttl, 345_600);
    assert!(e.flags.authenticated && !e.flags.bounce);
    assert_eq!(
        e.dsn_notify,
        DsnNotify {
            success: false,
            failure: true,
            delay: true,
            never: false
        }
    );
    assert_eq!(e.dsn_ret, Some(DsnRet::Hdrs));
    assert_eq!(e.dsn_orcpt.as_deref(), Some("rfc822;bob@example.org"));
    assert_eq!(e.mda_user.as_deref(), Some("bob"));
    assert_eq!(e.esc, None);
    // Written back, it is the same file.
    assert_eq!(encode(&e).unwrap(), OPENSMTPD_MDA);
}

/// A delay report envelope in OpenSMTPD's spelling, with the older words
/// and odd spacing OpenSMTPD's reader accepts.
const OPENSMTPD_BOUNCE: &str = "version: 3
type: BOUNCE
smtpname: mx.example.org
helo: mx.example.org
hostname: localhost
errorline: 421 4.4.7 Delivery time expired
sockaddr: IPv6:::1
sender:@
RCPT :  alice@example.net
dest: alice@example.net
ctime: 1700000000
last-try: 1700003600
last-bounce: 0
ttl: 604800
retry: 2
flags: bounce,internal|enqueued
dsn-notify: 0
esc-class: 4
esc-code: 47
bounce-ttl: 604800
bounce-delay: 14400
bounce-type: warn";

#[test]
fn reads_an_opensmtpd_bounce_envelope() {
    let e = decode(ID, OPENSMTPD_BOUNCE.as_bytes()).unwrap();
    assert_eq!(e.kind, EnvelopeKind::Bounce);
    assert_eq!(e.sender, None);
    assert_eq!(e.rcpt, MailAddr::new("alice", "example.net"));
    assert_eq!(e.sockaddr, "::1");
    assert!(e.flags.bounce && e.flags.internal && !e.flags.authenticated);
    assert_eq!(e.esc, Some(EnhancedStatus::new(4, 4, 7)));
    assert_eq!(
        e.bounce,
        Some(BounceInfo {
            ttl: 604_800,
            delay: 14_400,
            kind: BounceType::Delayed
        })
    );
    assert_eq!(
        e.errorline.as_deref(),
        Some("421 4.4.7 Delivery time expired")
    );
}

fn decode_err(text: &str) -> DecodeError {
    match decode(ID, text.as_bytes()) {
        Err(e) => e,
        Ok(e) => panic!("decoded {e:?} from {text:?}"),
    }
}

#[test]
fn reports_what_is_wrong_with_damaged_files() {
    let good = OPENSMTPD_MDA;
    assert_eq!(decode_err(""), DecodeError::MissingKey("version"));
    assert_eq!(
        decode_err(&good.replace("version: 3", "version: 2")),
        DecodeError::UnsupportedVersion("2".into())
    );
    assert_eq!(
        decode_err(&good.replace("rcpt: bob@example.org\n", "")),
        DecodeError::MissingKey("rcpt")
    );
    assert!(matches!(
        decode_err(&format!("{good}frobnicate: yes\n")),
        DecodeError::UnknownKey { line: 22, .. }
    ));
    assert_eq!(
        decode_err(&format!("{good}retry: 1\n")),
        DecodeError::DuplicateKey("retry".into())
    );
    assert!(matches!(
        decode_err(&good.replace("ctime: 1700000000", "ctime: -5")),
        DecodeError::BadValue { key: "ctime", .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("type: mda", "type: smtp")),
        DecodeError::BadValue { key: "type", .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("flags: authenticated", "flags: sticky")),
        DecodeError::BadValue { key: "flags", .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("dsn-notify: 6", "dsn-notify: 16")),
        DecodeError::BadValue {
            key: "dsn-notify",
            ..
        }
    ));
    assert!(matches!(
        decode_err(&good.replace("dest: bob@example.org", "dest: @")),
        DecodeError::BadValue { key: "dest", .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("helo: ", "helo ")),
        DecodeError::Syntax { line: 5, .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("\nhelo", "\n\nhelo")),
        DecodeError::Syntax { line: 5, .. }
    ));
    assert!(matches!(
        decode_err(&good.replace("mda-user: bob", "mda-user: b\u{0}b")),
        DecodeError::Syntax { .. }
    ));
    assert_eq!(decode_err(&"x".repeat(70_000)), DecodeError::TooLarge);
}

#[test]
fn peer_text_is_cleaned_and_identity_text_refused() {
    let mut e = full_mda();
    e.errorline = Some("550 no\r\nversion: 9".into());
    e.helo = "\tevil\nhelo".into();
    let text = encode(&e).unwrap();
    let back = decode(ID, text.as_bytes()).unwrap();
    assert_eq!(back.errorline.as_deref(), Some("550 no  version: 9"));
    assert_eq!(back.helo, "evil helo");

    let mut e = full_mda();
    e.dest = MailAddr::new("bob\nmda-exec: /bin/sh", "example.org");
    assert_eq!(
        encode(&e),
        Err(EncodeError::BadValue {
            key: "dest",
            reason: "contains a line break or NUL"
        })
    );
    let mut e = full_mda();
    e.mda_user = Some(" bob".into());
    assert!(encode(&e).is_err());
}

proptest! {
    #[test]
    fn any_bytes_give_an_envelope_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(ID, &bytes);
    }

    #[test]
    fn damaged_real_files_never_panic(cut in 0usize..OPENSMTPD_BOUNCE.len(), pos in 0usize..OPENSMTPD_BOUNCE.len(), byte in any::<u8>()) {
        let mut bytes = OPENSMTPD_BOUNCE.as_bytes().to_vec();
        bytes[pos] = byte;
        let _ = decode(ID, &bytes);
        let _ = decode(ID, &bytes[..cut]);
    }

    #[test]
    fn storable_strings_round_trip(tag in "[^\\s\\x00-\\x1f][^\\x00-\\x1f]{0,40}", user in "[a-z0-9.+\"-]{1,20}", domain in "[a-z0-9.-]{0,20}") {
        let mut e = Envelope::new(ID, EnvelopeKind::Mda, Some(MailAddr::new(user.clone(), domain.clone())), MailAddr::new(user, domain));
        e.tag = Some(tag);
        let text = encode(&e).unwrap();
        prop_assert_eq!(decode(ID, text.as_bytes()).unwrap(), e);
    }
}

/// Regression (fuzz-extra/regressions/envelope_decode/dsn-orcpt-with-cr): a
/// value with a carriage return was accepted by the decoder though the
/// encoder refuses it, so the queue could load an envelope it could not
/// write back. Whatever decodes must encode.
#[test]
fn a_carriage_return_in_a_value_is_refused_at_load() {
    let text = "version: 3\ndispatcher: local\ntype: mda\nsender: a@example.net\nrcpt: b@example.org\ndest: b@example.org\nctime: 1700000000\nttl: 345600\ndsn-orcpt: rfc822;bob\r\r@example.org\n";
    let id = smtpd_types::EvpId(0x0123_4567_89ab_cdef);
    assert!(smtpd_queue::envelope_file::decode(id, text.as_bytes()).is_err());
    let ok = text.replace("\r\r", "");
    let env = smtpd_queue::envelope_file::decode(id, ok.as_bytes()).expect("decodes");
    smtpd_queue::envelope_file::encode(&env).expect("what decodes encodes");
}
