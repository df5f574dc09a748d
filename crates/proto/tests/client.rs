//! The client side: reply parsing over any cut of the input, command
//! writing (and its round trip through our own parser), content encoding.

use proptest::prelude::*;
use smtpd_proto::{
    parse_command, Body, Capabilities, Command, EncodeError, MailFrom, MailParams, Orcpt,
    ParseOptions, RcptParams, RcptTo, Recipient, Reply, ReplyParser,
};
use smtpd_types::{DsnNotify, DsnRet, EnhancedStatus, MailAddr};

fn replies_in_pieces(input: &[u8], cuts: &[usize]) -> Vec<Reply> {
    let mut p = ReplyParser::new();
    let mut out = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    points.sort_unstable();
    points.push(input.len());
    let mut start = 0;
    for end in points {
        let mut piece = &input[start..end];
        while !piece.is_empty() {
            let n = p.feed(piece);
            piece = &piece[n..];
            while let Some(r) = p.next_reply() {
                out.push(r.expect("valid reply"));
            }
        }
        start = end;
    }
    assert!(!p.has_pending_input());
    out
}

#[test]
fn replies_are_the_same_however_the_input_is_cut() {
    let input = b"220 mx.example ESMTP\r\n250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n250 2.1.0 Ok\r\n550-5.1.1 No such\r\n550 5.1.1 user\r\n354 End data with <CR><LF>.<CR><LF>\r\n";
    let whole = replies_in_pieces(input, &[]);
    assert_eq!(whole.len(), 5);
    assert_eq!(whole[3].esc, Some(EnhancedStatus::new(5, 1, 1)));
    assert_eq!(whole[3].lines, vec!["No such", "user"]);
    let caps = Capabilities::from_ehlo_reply(&whole[1]);
    assert!(caps.pipelining && caps.eightbitmime);
    assert_eq!(caps.size, Some(1000));
    for a in 0..=input.len() {
        for b in (a..=input.len()).step_by(7) {
            assert_eq!(replies_in_pieces(input, &[a, b]), whole, "cuts {a} {b}");
        }
    }
}

#[test]
fn lmtp_gives_one_reply_per_recipient_after_data() {
    let r = replies_in_pieces(
        b"250 2.1.5 a ok\r\n452 4.2.2 b over quota\r\n550 5.1.1 c unknown\r\n",
        &[],
    );
    let codes: Vec<u16> = r.iter().map(|r| r.code).collect();
    assert_eq!(codes, vec![250, 452, 550]);
    assert!(r[1].is_transient());
}

#[test]
fn our_replies_parse_back_to_themselves() {
    let replies = [
        Reply::with_esc(250, (2, 0, 0), "Ok: queued as 0a1b2c3d"),
        Reply::multiline(
            550,
            Some(EnhancedStatus::new(5, 7, 1)),
            vec!["a".into(), "b c".into()],
        ),
        Capabilities::server_default(1000).ehlo_reply("mx Hello"),
        Reply::new(354, None, "go ahead"),
    ];
    for r in replies {
        assert_eq!(replies_in_pieces(&r.to_wire(), &[]), vec![r]);
    }
}

#[test]
fn commands_are_written_as_expected() {
    let mail = Command::Mail(MailFrom {
        sender: Some(MailAddr::new("a", "b.example")),
        params: MailParams {
            size: Some(10),
            body: Some(Body::EightBitMime),
            smtputf8: true,
            ret: Some(DsnRet::Hdrs),
            envid: Some("id+1 x".into()),
        },
    });
    assert_eq!(
        mail.to_wire().unwrap(),
        b"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+20x\r\n"
    );
    let rcpt = Command::Rcpt(RcptTo {
        rcpt: Recipient::Mailbox(MailAddr::new("c", "d.example")),
        params: RcptParams {
            notify: DsnNotify {
                success: true,
                failure: true,
                delay: false,
                never: false,
            },
            orcpt: Some(Orcpt {
                addr_type: "rfc822".into(),
                addr: "c=x@d.example".into(),
            }),
        },
    });
    assert_eq!(
        rcpt.to_wire().unwrap(),
        b"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+3Dx@d.example\r\n"
    );
    let null = Command::Mail(MailFrom {
        sender: None,
        params: MailParams::default(),
    });
    assert_eq!(null.to_wire().unwrap(), b"MAIL FROM:<>\r\n");
    assert_eq!(
        Command::Lhlo("me.example".into()).to_wire().unwrap(),
        b"LHLO me.example\r\n"
    );
    assert_eq!(
        Command::Bdat {
            size: 42,
            last: true
        }
        .to_wire()
        .unwrap(),
        b"BDAT 42 LAST\r\n"
    );
    assert_eq!(Command::Data.to_wire().unwrap(), b"DATA\r\n");
    assert_eq!(Command::Quit.to_wire().unwrap(), b"QUIT\r\n");
}

#[test]
fn nothing_we_carry_can_inject_a_command() {
    let evil = Command::Ehlo("x\r\nMAIL FROM:<a@b>".into());
    assert_eq!(evil.to_wire(), Err(EncodeError::ControlCharacter));
    let evil = Command::Rcpt(RcptTo {
        rcpt: Recipient::Mailbox(MailAddr::new("a\nb", "x.example")),
        params: RcptParams::default(),
    });
    assert_eq!(evil.to_wire(), Err(EncodeError::ControlCharacter));
    let long = Command::Vrfy("x".repeat(5000));
    assert!(matches!(long.to_wire(), Err(EncodeError::TooLong { .. })));
}

#[test]
fn parameters_are_trimmed_to_what_the_peer_offers() {
    let params = MailParams {
        size: Some(1),
        body: Some(Body::EightBitMime),
        smtputf8: true,
        ret: Some(DsnRet::Full),
        envid: Some("x".into()),
    };
    let bare = Capabilities::default();
    let trimmed = params.for_peer(&bare);
    assert_eq!(
        trimmed,
        MailParams {
            smtputf8: true,
            ..MailParams::default()
        }
    );
    assert_eq!(params.for_peer(&Capabilities::server_default(10)), params);
    let rp = RcptParams {
        notify: DsnNotify {
            never: true,
            ..DsnNotify::default()
        },
        orcpt: None,
    };
    assert_eq!(rp.for_peer(&bare), RcptParams::default());
}

fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-zA-Z0-9_-]{1,10}){0,2}",
        "\"[a-zA-Z0-9 @<>(),.:;]{0,20}\"",
    ]
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}",
        (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("[192.0.{a}.{b}]")),
        Just("[IPv6:2001:db8::1]".to_string()),
    ]
}

fn addr() -> impl Strategy<Value = MailAddr> {
    (local_part(), domain()).prop_map(|(u, d)| MailAddr::new(u, d))
}

fn command() -> impl Strategy<Value = Command> {
    let mail_params = (
        proptest::option::of(any::<u64>()),
        proptest::option::of(prop_oneof![Just(Body::SevenBit), Just(Body::EightBitMime)]),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just(DsnRet::Full), Just(DsnRet::Hdrs)]),
        proptest::option::of("[ -~]{1,30}"),
    )
        .prop_map(|(size, body, smtputf8, ret, envid)| MailParams {
            size,
            body,
            smtputf8,
            ret,
            envid,
        });
    let notify = prop_oneof![
        Just(DsnNotify::default()),
        Just(DsnNotify {
            never: true,
            ..DsnNotify::default()
        }),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(success, failure, delay)| {
            DsnNotify {
                success,
                failure,
                delay,
                never: false,
            }
        }),
    ];
    let orcpt = proptest::option::of("[a-z+=]{1,10}@[a-z]{1,10}\\.example").prop_map(|o| {
        o.map(|addr| Orcpt {
            addr_type: "rfc822".into(),
            addr,
        })
    });
    prop_oneof![
        domain().prop_map(Command::Ehlo),
        (proptest::option::of(addr()), mail_params)
            .prop_map(|(sender, params)| Command::Mail(MailFrom { sender, params })),
        (addr(), notify, orcpt).prop_map(|(a, notify, orcpt)| Command::Rcpt(RcptTo {
            rcpt: Recipient::Mailbox(a),
            params: RcptParams { notify, orcpt }
        })),
        (any::<u64>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat { size, last }),
        Just(Command::Data),
        Just(Command::Rset),
        Just(Command::Quit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn written_commands_parse_back_to_themselves(cmd in command()) {
        let wire = cmd.to_wire().unwrap();
        prop_assert!(wire.ends_with(b"\r\n"));
        let line = &wire[..wire.len() - 2];
        prop_assert_eq!(parse_command(line, &ParseOptions::default()), Ok(cmd));
    }
}
