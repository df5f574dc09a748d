//! Every command, every parameter and every error of the command parser.

use smtpd_proto::{
    parse_command, Body, Command, CommandError, MailFrom, MailParams, Orcpt, ParseOptions,
    PathError, RcptParams, RcptTo, Recipient,
};
use smtpd_types::{DsnNotify, DsnRet, MailAddr};

fn parse(line: &str) -> Result<Command, CommandError> {
    parse_command(line.as_bytes(), &ParseOptions::default())
}

fn code(line: &str) -> String {
    let e = parse(line).expect_err(line);
    let r = e.reply();
    format!("{} {}", r.code, r.esc.unwrap())
}

fn mail(line: &str) -> MailFrom {
    match parse(line) {
        Ok(Command::Mail(m)) => m,
        other => panic!("{line}: {other:?}"),
    }
}

fn rcpt(line: &str) -> RcptTo {
    match parse(line) {
        Ok(Command::Rcpt(r)) => r,
        other => panic!("{line}: {other:?}"),
    }
}

fn addr(u: &str, d: &str) -> MailAddr {
    MailAddr::new(u, d)
}

#[test]
fn helo_ehlo_lhlo() {
    assert_eq!(
        parse("HELO mx.example.org"),
        Ok(Command::Helo("mx.example.org".into()))
    );
    assert_eq!(
        parse("ehlo  client.example "),
        Ok(Command::Ehlo("client.example".into()))
    );
    assert_eq!(parse("LHLO x"), Ok(Command::Lhlo("x".into())));
    assert_eq!(
        parse("EHLO [192.0.2.1]"),
        Ok(Command::Ehlo("[192.0.2.1]".into()))
    );
    assert_eq!(
        parse("EHLO [IPv6:2001:db8::1]"),
        Ok(Command::Ehlo("[IPv6:2001:db8::1]".into()))
    );
    assert_eq!(parse("EHLO my_pc"), Ok(Command::Ehlo("my_pc".into())));
    assert_eq!(code("EHLO"), "501 5.5.4");
    assert_eq!(code("HELO a b"), "501 5.5.4");
    assert_eq!(code("EHLO -bad-"), "501 5.5.4");
    assert_eq!(code("EHLO a..b"), "501 5.5.4");
    assert_eq!(code("EHLO [300.1.1.1]"), "501 5.5.4");
    assert_eq!(code("EHLO exämple.org"), "501 5.5.4");
    assert_eq!(parse("EHLO a..b"), Err(CommandError::InvalidHelo));
}

#[test]
fn simple_commands_and_their_arguments() {
    assert_eq!(parse("DATA"), Ok(Command::Data));
    assert_eq!(parse("data "), Ok(Command::Data));
    assert_eq!(parse("RSET"), Ok(Command::Rset));
    assert_eq!(parse("QUIT"), Ok(Command::Quit));
    assert_eq!(parse("STARTTLS"), Ok(Command::StartTls));
    assert_eq!(parse("NOOP"), Ok(Command::Noop));
    assert_eq!(parse("NOOP anything at all"), Ok(Command::Noop));
    assert_eq!(parse("HELP"), Ok(Command::Help(None)));
    assert_eq!(parse("HELP MAIL"), Ok(Command::Help(Some("MAIL".into()))));
    assert_eq!(parse("VRFY root"), Ok(Command::Vrfy("root".into())));
    assert_eq!(parse("EXPN staff"), Ok(Command::Expn("staff".into())));
    for bad in [
        "DATA x",
        "RSET now",
        "QUIT please",
        "STARTTLS x",
        "VRFY",
        "EXPN",
    ] {
        assert_eq!(code(bad), "501 5.5.4", "{bad}");
    }
}

#[test]
fn bdat() {
    assert_eq!(
        parse("BDAT 100"),
        Ok(Command::Bdat {
            size: 100,
            last: false
        })
    );
    assert_eq!(
        parse("bdat 0 last"),
        Ok(Command::Bdat {
            size: 0,
            last: true
        })
    );
    assert_eq!(
        parse("BDAT 18446744073709551615 LAST"),
        Ok(Command::Bdat {
            size: u64::MAX,
            last: true
        })
    );
    for bad in [
        "BDAT",
        "BDAT x",
        "BDAT -1",
        "BDAT 1 FIRST",
        "BDAT 1 LAST x",
        "BDAT 18446744073709551616",
    ] {
        assert_eq!(code(bad), "501 5.5.4", "{bad}");
    }
    let no_chunking = ParseOptions {
        chunking: false,
        ..ParseOptions::default()
    };
    assert!(matches!(
        parse_command(b"BDAT 1 LAST", &no_chunking),
        Err(CommandError::UnknownCommand { .. })
    ));
}

#[test]
fn auth() {
    assert_eq!(
        parse("AUTH plain dGVzdAB0ZXN0AHRlc3Q="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some("dGVzdAB0ZXN0AHRlc3Q=".into())
        })
    );
    assert_eq!(
        parse("AUTH LOGIN"),
        Ok(Command::Auth {
            mechanism: "LOGIN".into(),
            initial_response: None
        })
    );
    assert_eq!(
        parse("AUTH PLAIN ="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial_response: Some("=".into())
        })
    );
    for bad in [
        "AUTH",
        "AUTH P!AIN",
        "AUTH PLAIN a b",
        "AUTH PLAIN not*base64",
        "AUTH ABCDEFGHIJKLMNOPQRSTU",
    ] {
        assert_eq!(code(bad), "501 5.5.4", "{bad}");
    }
    let r = CommandError::UnsupportedAuthMechanism("X".into()).reply();
    assert_eq!(
        r.to_wire(),
        b"504 5.5.4 Unrecognized authentication type\r\n"
    );
}

#[test]
fn unknown_and_bad_characters() {
    assert_eq!(
        parse("WIZ"),
        Err(CommandError::UnknownCommand { verb: "WIZ".into() })
    );
    assert_eq!(code("FOO bar"), "500 5.5.1");
    assert_eq!(code(""), "500 5.5.1");
    assert_eq!(code("NOOP\0"), "500 5.5.2");
    assert_eq!(code("NOOP\rMAIL FROM:<a@b>"), "500 5.5.2");
    assert_eq!(code("MAIL\u{7f} FROM:<a@b>"), "500 5.5.2");
    assert_eq!(
        parse_command(b"MAIL FROM:<\xff@x>", &ParseOptions::default()),
        Err(CommandError::InvalidUtf8)
    );
    // A tab is whitespace, not a control character to refuse.
    assert_eq!(parse("MAIL\tFROM:<a@b.c>").map(|c| c.verb()), Ok("MAIL"));
}

#[test]
fn mail_from_forms() {
    assert_eq!(
        mail("MAIL FROM:<a@b.example>").sender,
        Some(addr("a", "b.example"))
    );
    assert_eq!(
        mail("mail from:<a@b.example>").sender,
        Some(addr("a", "b.example"))
    );
    assert_eq!(
        mail("MAIL FROM: <a@b.example>").sender,
        Some(addr("a", "b.example"))
    );
    assert_eq!(mail("MAIL FROM:<>").sender, None);
    assert_eq!(mail("MAIL FROM:<> ").sender, None);
    assert_eq!(code("MAIL"), "501 5.5.4");
    assert_eq!(code("MAIL TO:<a@b>"), "501 5.5.4");
    assert_eq!(code("MAIL FROM:"), "501 5.5.4");
    assert_eq!(code("MAIL FROM <a@b>"), "501 5.5.4");
    assert_eq!(code("MAIL FROM:a@b.example"), "553 5.1.7");
    assert_eq!(code("MAIL FROM:<postmaster>"), "553 5.1.7");
    assert_eq!(code("MAIL FROM:<a@b.example>x"), "553 5.1.7");
    assert_eq!(code("MAIL FROM:<a@b.example"), "553 5.1.7");
}

#[test]
fn unbracketed_paths_when_allowed() {
    let opts = ParseOptions {
        unbracketed_paths: true,
        ..ParseOptions::default()
    };
    let Ok(Command::Mail(m)) = parse_command(b"MAIL FROM:a@b.example SIZE=10", &opts) else {
        panic!()
    };
    assert_eq!(m.sender, Some(addr("a", "b.example")));
    assert_eq!(m.params.size, Some(10));
    let Ok(Command::Rcpt(r)) = parse_command(b"RCPT TO:\"x y\"@b.example", &opts) else {
        panic!()
    };
    assert_eq!(r.rcpt, Recipient::Mailbox(addr("\"x y\"", "b.example")));
    assert!(parse_command(b"MAIL FROM:a", &opts).is_err());
    assert!(parse_command(b"MAIL FROM:a@b>", &opts).is_err());
}

#[test]
fn mail_parameters() {
    let m = mail(
        "MAIL FROM:<a@b.example> SIZE=12345 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ+2B1 AUTH=<>",
    );
    assert_eq!(
        m.params,
        MailParams {
            size: Some(12345),
            body: Some(Body::EightBitMime),
            smtputf8: true,
            ret: Some(DsnRet::Hdrs),
            envid: Some("QQ+1".into()),
        }
    );
    let m = mail("MAIL FROM:<a@b.example>   body=7BIT  ret=FULL\t");
    assert_eq!(m.params.body, Some(Body::SevenBit));
    assert_eq!(m.params.ret, Some(DsnRet::Full));
    assert_eq!(
        mail("MAIL FROM:<a@b.example> AUTH=joe+40example.org").params,
        MailParams::default()
    );

    let cases = [
        ("SIZE=", "501 5.5.4"),
        ("SIZE", "501 5.5.4"),
        ("SIZE=12a", "501 5.5.4"),
        ("SIZE=-1", "501 5.5.4"),
        ("SIZE=99999999999999999999", "501 5.5.4"),
        ("SIZE=1 SIZE=2", "501 5.5.4"),
        ("BODY=BINARYMIME", "555 5.5.4"),
        ("BODY=9BIT", "501 5.5.4"),
        ("BODY=7BIT BODY=7BIT", "501 5.5.4"),
        ("SMTPUTF8=yes", "501 5.5.4"),
        ("SMTPUTF8 SMTPUTF8", "501 5.5.4"),
        ("RET=ALL", "501 5.5.4"),
        ("RET=FULL RET=HDRS", "501 5.5.4"),
        ("ENVID=a+zz", "501 5.5.4"),
        ("ENVID=a+0A", "501 5.5.4"),
        ("ENVID=a ENVID=b", "501 5.5.4"),
        ("AUTH", "501 5.5.4"),
        ("AUTH=a AUTH=b", "501 5.5.4"),
        ("XFOO=1", "555 5.5.4"),
        ("NOTIFY=NEVER", "555 5.5.4"),
        ("=x", "501 5.5.4"),
        ("SIZE==1", "501 5.5.4"),
    ];
    for (params, want) in cases {
        assert_eq!(
            code(&format!("MAIL FROM:<a@b.example> {params}")),
            want,
            "{params}"
        );
    }
    let long_envid = "x".repeat(101);
    assert_eq!(
        code(&format!("MAIL FROM:<a@b.example> ENVID={long_envid}")),
        "501 5.5.4"
    );
    let ok_envid = "x".repeat(100);
    assert_eq!(
        mail(&format!("MAIL FROM:<a@b.example> ENVID={ok_envid}"))
            .params
            .envid,
        Some(ok_envid)
    );
    assert_eq!(
        parse("MAIL FROM:<a@b.example> XFOO"),
        Err(CommandError::UnknownParameter("XFOO".into()))
    );
}

#[test]
fn parameters_of_extensions_not_offered_are_unknown() {
    let opts = ParseOptions {
        dsn: false,
        smtputf8: false,
        ..ParseOptions::default()
    };
    for line in [
        "MAIL FROM:<a@b.example> RET=FULL",
        "MAIL FROM:<a@b.example> ENVID=x",
        "MAIL FROM:<a@b.example> SMTPUTF8",
        "RCPT TO:<a@b.example> NOTIFY=NEVER",
        "RCPT TO:<a@b.example> ORCPT=rfc822;a@b",
    ] {
        let e = parse_command(line.as_bytes(), &opts).unwrap_err();
        assert!(
            matches!(e, CommandError::UnknownParameter(_)),
            "{line}: {e:?}"
        );
    }
}

#[test]
fn rcpt_to_forms_and_parameters() {
    assert_eq!(
        rcpt("RCPT TO:<a@b.example>").rcpt,
        Recipient::Mailbox(addr("a", "b.example"))
    );
    assert_eq!(
        rcpt("rcpt to: <a@b.example>").rcpt,
        Recipient::Mailbox(addr("a", "b.example"))
    );
    assert_eq!(rcpt("RCPT TO:<Postmaster>").rcpt, Recipient::Postmaster);
    assert_eq!(rcpt("RCPT TO:<postMASTER>").rcpt, Recipient::Postmaster);
    assert_eq!(
        rcpt("RCPT TO:<postmaster@b.example>").rcpt,
        Recipient::Mailbox(addr("postmaster", "b.example"))
    );
    assert_eq!(code("RCPT TO:<>"), "553 5.1.3");
    assert_eq!(
        parse("RCPT TO:<>"),
        Err(CommandError::BadRecipient(PathError::NullNotAllowed))
    );
    assert_eq!(code("RCPT TO:<root>"), "553 5.1.3");
    assert_eq!(code("RCPT FROM:<a@b>"), "501 5.5.4");
    assert_eq!(code("RCPT TO:"), "501 5.5.4");

    let r = rcpt("RCPT TO:<a@b.example> NOTIFY=success,Delay ORCPT=rfc822;x+2By@c.example");
    assert_eq!(
        r.params,
        RcptParams {
            notify: DsnNotify {
                success: true,
                failure: false,
                delay: true,
                never: false
            },
            orcpt: Some(Orcpt {
                addr_type: "rfc822".into(),
                addr: "x+y@c.example".into()
            }),
        }
    );
    assert!(
        rcpt("RCPT TO:<a@b.example> NOTIFY=NEVER")
            .params
            .notify
            .never
    );
    assert!(rcpt("RCPT TO:<a@b.example>").params.notify.is_unset());
    let cases = [
        ("NOTIFY=NEVER,SUCCESS", "501 5.5.4"),
        ("NOTIFY=FAILURE,NEVER", "501 5.5.4"),
        ("NOTIFY=", "501 5.5.4"),
        ("NOTIFY=SOMETIMES", "501 5.5.4"),
        ("NOTIFY=SUCCESS,", "501 5.5.4"),
        ("NOTIFY=SUCCESS NOTIFY=DELAY", "501 5.5.4"),
        ("ORCPT=x400;a@b", "555 5.5.4"),
        ("ORCPT=rfc822", "501 5.5.4"),
        ("ORCPT=rfc822;nobody", "501 5.5.4"),
        ("ORCPT=rfc822;a+0Ab@c", "501 5.5.4"),
        ("ORCPT=rfc822;a@b ORCPT=rfc822;a@b", "501 5.5.4"),
        ("SIZE=1", "555 5.5.4"),
        ("BODY=8BITMIME", "555 5.5.4"),
    ];
    for (params, want) in cases {
        assert_eq!(
            code(&format!("RCPT TO:<a@b.example> {params}")),
            want,
            "{params}"
        );
    }
    let long = format!("ORCPT=rfc822;{}@b", "x".repeat(495));
    assert_eq!(code(&format!("RCPT TO:<a@b.example> {long}")), "501 5.5.4");
}

#[test]
fn utf8_addresses_need_smtputf8() {
    assert_eq!(code("MAIL FROM:<jösé@exämple.org>"), "553 5.6.7");
    let m = mail("MAIL FROM:<jösé@exämple.org> SMTPUTF8");
    assert_eq!(m.sender, Some(addr("jösé", "exämple.org")));
    assert_eq!(code("RCPT TO:<用户@例子.广告>"), "553 5.6.7");
    let in_utf8_tx = ParseOptions {
        utf8_transaction: true,
        ..ParseOptions::default()
    };
    let Ok(Command::Rcpt(r)) = parse_command("RCPT TO:<用户@例子.广告>".as_bytes(), &in_utf8_tx)
    else {
        panic!()
    };
    assert_eq!(r.rcpt, Recipient::Mailbox(addr("用户", "例子.广告")));
}

#[test]
fn every_error_reply_carries_an_enhanced_status() {
    for line in [
        "",
        "FOO",
        "EHLO",
        "EHLO !",
        "MAIL",
        "MAIL FROM:<a>",
        "MAIL FROM:<a@b> X=1",
        "RCPT TO:<>",
        "RCPT TO:<ü@x>",
        "DATA x",
        "BDAT x",
        "AUTH",
        "NOOP\0",
        "MAIL FROM:<a@b> BODY=BINARYMIME",
    ] {
        let r = parse(line).unwrap_err().reply();
        assert!(r.esc.is_some(), "{line}");
        assert!(r.is_permanent(), "{line}");
    }
}
