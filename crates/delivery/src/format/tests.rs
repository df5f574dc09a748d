use super::*;
use crate::context::{DeliveryContext, UserInfo};
use smtpd_types::MailAddr;

fn ctx() -> DeliveryContext {
    DeliveryContext::new(
        Some(MailAddr::new("Alice.Smith", "Sender.Example")),
        MailAddr::new("Gilles+Hackers", "Poolp.ORG"),
        MailAddr::new("gilles", "poolp.org"),
        UserInfo {
            username: "vmail".into(),
            directory: "/home/vmail".into(),
            shell: "/bin/sh".into(),
        },
    )
}

fn x(t: &str) -> String {
    expand(t, &ctx()).unwrap()
}

#[test]
fn every_specifier() {
    assert_eq!(x("%{sender}"), "Alice.Smith@Sender.Example");
    assert_eq!(x("%{sender.user}"), "Alice.Smith");
    assert_eq!(x("%{sender.domain}"), "Sender.Example");
    assert_eq!(x("%{rcpt}"), "Gilles+Hackers@Poolp.ORG");
    assert_eq!(x("%{rcpt.user}"), "Gilles+Hackers");
    assert_eq!(x("%{rcpt.domain}"), "Poolp.ORG");
    assert_eq!(x("%{dest}"), "gilles@poolp.org");
    assert_eq!(x("%{dest.user}"), "gilles");
    assert_eq!(x("%{dest.domain}"), "poolp.org");
    assert_eq!(x("%{user.username}"), "vmail");
    assert_eq!(x("%{user.directory}"), "/home/vmail");
    assert_eq!(x("%{mbox.from}"), "Alice.Smith@Sender.Example");
    assert_eq!(
        expand_wrapper("/usr/bin/spamc -e %{mda}", &ctx(), "/bin/procmail -f -").unwrap(),
        "/usr/bin/spamc -e /bin/procmail -f -"
    );
}

#[test]
fn names_are_case_insensitive() {
    assert_eq!(x("%{DEST.User}"), "gilles");
}

#[test]
fn null_sender() {
    let mut c = ctx();
    c.sender = None;
    assert_eq!(expand("[%{sender}]", &c).unwrap(), "[]");
    assert_eq!(
        expand("[%{sender.user}%{sender.domain}]", &c).unwrap(),
        "[]"
    );
    assert_eq!(expand("%{mbox.from}", &c).unwrap(), "MAILER-DAEMON");
}

#[test]
fn literal_text_and_percent() {
    assert_eq!(
        x("/var/vmail/%{dest.domain}/%{dest.user}"),
        "/var/vmail/poolp.org/gilles"
    );
    assert_eq!(x("100%% sure"), "100% sure");
    assert_eq!(x("50% off %"), "50% off %");
    assert_eq!(x(""), "");
}

#[test]
fn tilde_means_home_at_the_start_only() {
    assert_eq!(x("~/Maildir"), "/home/vmail/Maildir");
    assert_eq!(x("/x/~/Maildir"), "/x/~/Maildir");
    assert_eq!(x("~user/Maildir"), "~user/Maildir");
}

#[test]
fn substrings() {
    // "gilles": g0 i1 l2 l3 e4 s5
    assert_eq!(x("%{dest.user[0]}"), "g");
    assert_eq!(x("%{dest.user[2]}"), "l");
    assert_eq!(x("%{dest.user[-1]}"), "s");
    assert_eq!(x("%{dest.user[1:]}"), "illes");
    assert_eq!(x("%{dest.user[-3:]}"), "les");
    assert_eq!(x("%{dest.user[0:-4]}"), "gi");
    assert_eq!(x("%{dest.user[0:2]}"), "gil");
    assert_eq!(x("%{dest.user[:1]}"), "gi");
    assert_eq!(x("%{dest.user[:]}"), "gilles");
    assert_eq!(x("%{dest.user[2:100]}"), "lles");
    assert_eq!(x("%{dest.domain[-3:]}"), "org");
}

#[test]
fn substring_by_characters_not_bytes() {
    let mut c = ctx();
    c.dest = MailAddr::new("élodie", "exemple.fr");
    assert_eq!(expand("%{dest.user[0]}", &c).unwrap(), "é");
    assert_eq!(expand("%{dest.user[1:2]}", &c).unwrap(), "lo");
}

#[test]
fn substring_out_of_range() {
    for t in [
        "%{dest.user[6]}",
        "%{dest.user[6:]}",
        "%{dest.user[-7]}",
        "%{dest.user[3:1]}",
        "%{dest.user[-7:]}",
    ] {
        match expand(t, &ctx()) {
            Err(FormatError::OutOfRange { len: 6, .. }) => {}
            other => panic!("{t}: {other:?}"),
        }
    }
    let e = expand("%{dest.user[9]}", &ctx()).unwrap_err();
    assert!(!e.is_config_error());
}

#[test]
fn substring_of_empty_value_is_empty() {
    let mut c = ctx();
    c.sender = None;
    assert_eq!(expand("%{sender.user[3:5]}", &c).unwrap(), "");
}

#[test]
fn modifiers() {
    assert_eq!(x("%{rcpt.domain:lowercase}"), "poolp.org");
    assert_eq!(x("%{dest.user:uppercase}"), "GILLES");
    assert_eq!(x("%{rcpt.user:strip}"), "Gilles");
    assert_eq!(x("%{rcpt:strip}"), "Gilles@Poolp.ORG");
    assert_eq!(x("%{rcpt.user:lowercase|strip}"), "gilles");
    assert_eq!(x("%{rcpt.user:STRIP|Uppercase}"), "GILLES");
    assert_eq!(x("%{rcpt.user[0:2]:lowercase}"), "gil");
}

#[test]
fn strip_uses_the_configured_delimiter() {
    let mut c = ctx();
    c.rcpt = MailAddr::new("joe-list", "x.org");
    assert_eq!(expand("%{rcpt.user:strip}", &c).unwrap(), "joe-list");
    c.sub_addr_delim = '-';
    assert_eq!(expand("%{rcpt.user:strip}", &c).unwrap(), "joe");
    c.rcpt = MailAddr::new("-joe", "x.org");
    assert_eq!(expand("%{rcpt:strip}", &c).unwrap(), "-joe@x.org");
}

#[test]
fn modifiers_apply_before_substring() {
    // strip first, then the last three characters of what is left
    assert_eq!(x("%{rcpt.user[-3:]:strip}"), "les");
}

#[test]
fn dangerous_characters_are_sanitised() {
    let mut c = ctx();
    c.dest = MailAddr::new("a/b$(rm -rf ~)`x`;y|z", "d.org");
    assert_eq!(expand("%{dest.user}", &c).unwrap(), "a:b::rm:-rf::::x::y:z");
    c.dest = MailAddr::new("\"x y\"", "[192.0.2.1]");
    assert_eq!(expand("%{dest}", &c).unwrap(), ":x:y:@:192.0.2.1:");
    c.dest = MailAddr::new("..", "..");
    assert_eq!(
        expand("/var/vmail/%{dest.domain}/%{dest.user}", &c).unwrap(),
        "/var/vmail/:./:."
    );
    c.dest = MailAddr::new(".hidden", "d");
    assert_eq!(expand("%{dest.user}", &c).unwrap(), ":hidden");
    c.dest = MailAddr::new("ok.name-1_2+3=4", "d");
    assert_eq!(expand("%{dest.user}", &c).unwrap(), "ok.name-1_2+3=4");
}

#[test]
fn sanitising_after_substring() {
    let mut c = ctx();
    c.dest = MailAddr::new("a..", "d");
    assert_eq!(expand("%{dest.user[1:]}", &c).unwrap(), ":.");
}

#[test]
fn raw_skips_sanitising() {
    let mut c = ctx();
    c.dest = MailAddr::new("a/b'c", "d");
    assert_eq!(expand("%{dest.user:raw}", &c).unwrap(), "a/b'c");
    assert_eq!(expand("%{dest.user:lowercase|raw}", &c).unwrap(), "a/b'c");
}

#[test]
fn home_and_mda_are_not_sanitised() {
    let mut c = ctx();
    c.user.directory = "/home/o'neil".into();
    assert_eq!(
        expand("%{user.directory}/Maildir", &c).unwrap(),
        "/home/o'neil/Maildir"
    );
    assert_eq!(
        expand_wrapper("w %{mda}", &c, "cat | tee /tmp/x").unwrap(),
        "w cat | tee /tmp/x"
    );
}

#[test]
fn errors() {
    let c = ctx();
    assert_eq!(
        expand("/x/%{dest.user", &c),
        Err(FormatError::Unterminated { offset: 3 })
    );
    assert_eq!(
        expand("%{nope}", &c),
        Err(FormatError::UnknownSpecifier("nope".into()))
    );
    assert_eq!(
        expand("%{dest.user:shout}", &c),
        Err(FormatError::UnknownModifier("shout".into()))
    );
    assert_eq!(
        expand("%{dest.user:}", &c),
        Err(FormatError::UnknownModifier("".into()))
    );
    assert_eq!(
        expand("%{dest.user:lowercase|}", &c),
        Err(FormatError::UnknownModifier("".into()))
    );
    for bad in [
        "%{dest.user[]}",
        "%{dest.user[a]}",
        "%{dest.user[1:b]}",
        "%{dest.user[1}",
    ] {
        assert!(
            matches!(expand(bad, &c), Err(FormatError::BadSubstring(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        expand("%{dest.user[1]x}", &c),
        Err(FormatError::Malformed(_))
    ));
    assert_eq!(expand("%{mda}", &c), Err(FormatError::NoMdaCommand));
    let long = format!("%{{{}}}", "a".repeat(200));
    assert!(matches!(expand(&long, &c), Err(FormatError::Malformed(_))));
    let mut big = ctx();
    big.user.directory = "/h".repeat(2100);
    assert_eq!(expand("%{user.directory}", &big), Err(FormatError::TooLong));
    assert!(FormatError::Unterminated { offset: 0 }.is_config_error());
}

#[test]
fn syntax_check_without_a_recipient() {
    assert!(check_syntax("/var/vmail/%{dest.domain:lowercase}/%{dest.user[0]}").is_ok());
    assert!(check_syntax("%{x}").is_err());
    assert!(check_syntax("%{dest").is_err());
}

#[test]
fn arbitrary_input_never_panics() {
    let c = ctx();
    let pieces = [
        "%",
        "{",
        "}",
        "[",
        "]",
        ":",
        "|",
        "-",
        "9",
        "dest.user",
        "é",
        "~/",
        "%%",
    ];
    // every string of up to four pieces
    let mut stack = vec![(String::new(), 0)];
    while let Some((s, depth)) = stack.pop() {
        let _ = expand(&s, &c);
        let _ = check_syntax(&s);
        if depth < 4 {
            for p in pieces {
                stack.push((format!("{s}{p}"), depth + 1));
            }
        }
    }
}
