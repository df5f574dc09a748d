//! The command grammar of smtpctl(8), with OpenSMTPD's abbreviations: any
//! unambiguous prefix of a keyword stands for it (`sh q` = `show queue`,
//! `pa mda` = `pause mda`); a prefix of several keywords is an error that
//! names them.
//!
//! Identifiers are OpenSMTPD's: a message id is 8 hex digits, an envelope
//! id 16.

use smtpd_control_proto::{MtaView, Subsystem, Target, TRACE_SUBSYSTEMS};
use smtpd_types::{EvpId, MsgId};

use crate::error::CtlError;

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    ShowQueue(Option<MsgId>),
    ShowEnvelope(EvpId),
    ShowMessage(MsgId),
    ShowStats,
    ShowStatus,
    Pause(Subsystem),
    Resume(Subsystem),
    PauseEnvelope(Target),
    ResumeEnvelope(Target),
    Schedule(Target),
    Remove(Target),
    /// `monitor [--count N]`: stop after N lines (tests); forever without.
    Monitor {
        count: Option<u64>,
    },
    Log {
        verbose: bool,
    },
    /// `encrypt [STRING]`: no string, each line of standard input.
    Encrypt(Option<String>),
    /// `update table NAME`.
    UpdateTable(String),
    /// `show hosts|relays|routes`.
    ShowMta(MtaView),
    /// `trace|untrace SUBSYSTEM`.
    Trace {
        subsystem: &'static str,
        on: bool,
    },
    /// A command OpenSMTPD has and we do not yet, by its words.
    Unsupported(String),
}

const TOP: &[&str] = &[
    "discover",
    "encrypt",
    "log",
    "monitor",
    "pause",
    "profile",
    "remove",
    "resume",
    "schedule",
    "show",
    "spf",
    "trace",
    "unprofile",
    "untrace",
    "update",
];

const SHOW: &[&str] = &[
    "envelope",
    "hosts",
    "hoststats",
    "message",
    "mta",
    "queue",
    "relays",
    "routes",
    "stats",
    "status",
];

/// The keyword of `table` that `word` abbreviates. An exact match wins
/// (`hosts` is also a prefix of `hoststats`).
fn keyword(word: &str, table: &[&'static str]) -> Result<&'static str, CtlError> {
    if let Some(k) = table.iter().find(|k| **k == word) {
        return Ok(k);
    }
    let matches: Vec<&'static str> = table
        .iter()
        .copied()
        .filter(|k| !word.is_empty() && k.starts_with(word))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(CtlError::Usage(format!(
            "unknown argument {word:?}: expected one of {}",
            table.join(", ")
        ))),
        several => Err(CtlError::Usage(format!(
            "ambiguous argument {word:?}: {}",
            several.join(", ")
        ))),
    }
}

fn usage(text: impl Into<String>) -> CtlError {
    CtlError::Usage(text.into())
}

fn msgid(word: &str) -> Option<MsgId> {
    (word.len() == 8).then(|| word.parse().ok()).flatten()
}

fn evpid(word: &str) -> Option<EvpId> {
    (word.len() == 16).then(|| word.parse().ok()).flatten()
}

/// `ID|MSGID|all`.
fn target(words: &[String], what: &str) -> Result<Target, CtlError> {
    let [word] = words else {
        return Err(usage(format!("{what} needs one of: EVPID, MSGID, all")));
    };
    if word == "all" {
        return Ok(Target::All);
    }
    if let Some(e) = evpid(word) {
        return Ok(Target::Envelope(e));
    }
    if let Some(m) = msgid(word) {
        return Ok(Target::Message(m));
    }
    Err(usage(format!(
        "{what}: {word:?} is neither an envelope id (16 hex digits), a message id (8) nor \"all\""
    )))
}

fn no_more(words: &[String], what: &str) -> Result<(), CtlError> {
    match words.first() {
        None => Ok(()),
        Some(w) => Err(usage(format!("{what}: unexpected argument {w:?}"))),
    }
}

/// Parse a command line (the words after smtpctl's own options).
pub fn parse(words: &[String]) -> Result<Command, CtlError> {
    let Some((first, rest)) = words.split_first() else {
        return Err(usage("missing command"));
    };
    match keyword(first, TOP)? {
        "show" => parse_show(rest),
        "pause" => parse_pause_resume(rest, true),
        "resume" => parse_pause_resume(rest, false),
        "schedule" => target(rest, "schedule").map(Command::Schedule),
        "remove" => target(rest, "remove").map(Command::Remove),
        "monitor" => parse_monitor(rest),
        "log" => {
            let [word] = rest else {
                return Err(usage("log needs brief or verbose"));
            };
            let verbose = keyword(word, &["brief", "verbose"])? == "verbose";
            Ok(Command::Log { verbose })
        }
        "encrypt" => match rest {
            [] => Ok(Command::Encrypt(None)),
            [s] => Ok(Command::Encrypt(Some(s.clone()))),
            _ => Err(usage(
                "encrypt takes one string (or reads lines on standard input)",
            )),
        },
        "update" => match rest {
            [what, name] if keyword(what, &["table"]).is_ok() => {
                Ok(Command::UpdateTable(name.clone()))
            }
            _ => Err(usage("usage: update table NAME")),
        },
        verb @ ("trace" | "untrace") => {
            let names: Vec<&'static str> = TRACE_SUBSYSTEMS.iter().map(|(n, _)| *n).collect();
            let [word] = rest else {
                return Err(usage(format!("{verb} needs one of: {}", names.join(", "))));
            };
            let subsystem = keyword(word, &names)?;
            Ok(Command::Trace {
                subsystem,
                on: verb == "trace",
            })
        }
        "spf" => Ok(Command::Unsupported("spf walk".into())),
        other => Ok(Command::Unsupported(other.to_string())),
    }
}

fn parse_show(words: &[String]) -> Result<Command, CtlError> {
    let Some((first, rest)) = words.split_first() else {
        return Err(usage(format!("show needs one of: {}", SHOW.join(", "))));
    };
    match keyword(first, SHOW)? {
        "queue" => match rest {
            [] => Ok(Command::ShowQueue(None)),
            [word] => msgid(word)
                .map(|m| Command::ShowQueue(Some(m)))
                .ok_or_else(|| usage(format!("show queue: {word:?} is not a message id"))),
            _ => Err(usage("show queue takes at most one message id")),
        },
        "envelope" => match rest {
            [word] => evpid(word)
                .map(Command::ShowEnvelope)
                .ok_or_else(|| usage(format!("show envelope: {word:?} is not an envelope id"))),
            _ => Err(usage("show envelope needs an envelope id")),
        },
        "message" => match rest {
            [word] => evpid(word)
                .map(|e| e.msgid())
                .or_else(|| msgid(word))
                .map(Command::ShowMessage)
                .ok_or_else(|| usage(format!("show message: {word:?} is not an id"))),
            _ => Err(usage("show message needs an envelope or message id")),
        },
        "stats" => no_more(rest, "show stats").map(|()| Command::ShowStats),
        "status" => no_more(rest, "show status").map(|()| Command::ShowStatus),
        "hosts" => no_more(rest, "show hosts").map(|()| Command::ShowMta(MtaView::Hosts)),
        "relays" => no_more(rest, "show relays").map(|()| Command::ShowMta(MtaView::Relays)),
        "routes" => no_more(rest, "show routes").map(|()| Command::ShowMta(MtaView::Routes)),
        other => Ok(Command::Unsupported(format!("show {other}"))),
    }
}

fn parse_pause_resume(words: &[String], pause: bool) -> Result<Command, CtlError> {
    let verb = if pause { "pause" } else { "resume" };
    let table: &'static [&'static str] = if pause {
        &["envelope", "mda", "mta", "smtp"]
    } else {
        &["envelope", "mda", "mta", "route", "smtp"]
    };
    let Some((first, rest)) = words.split_first() else {
        return Err(usage(format!("{verb} needs one of: {}", table.join(", "))));
    };
    let what = keyword(first, table)?;
    let sub = match what {
        "envelope" => {
            let t = target(rest, &format!("{verb} envelope"))?;
            return Ok(if pause {
                Command::PauseEnvelope(t)
            } else {
                Command::ResumeEnvelope(t)
            });
        }
        "route" => return Ok(Command::Unsupported("resume route".into())),
        // `pause mta from ADDR for DOMAIN`: route blocking.
        "mta" if !rest.is_empty() => return Ok(Command::Unsupported(format!("{verb} mta from"))),
        "mda" => Subsystem::Mda,
        "mta" => Subsystem::Mta,
        _ => Subsystem::Smtp,
    };
    no_more(rest, verb)?;
    Ok(if pause {
        Command::Pause(sub)
    } else {
        Command::Resume(sub)
    })
}

fn parse_monitor(words: &[String]) -> Result<Command, CtlError> {
    match words {
        [] => Ok(Command::Monitor { count: None }),
        [flag, n] if flag == "--count" => n
            .parse()
            .map(|n| Command::Monitor { count: Some(n) })
            .map_err(|_| usage(format!("monitor --count: {n:?} is not a number"))),
        _ => Err(usage("usage: monitor [--count N]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command, CtlError> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words)
    }

    #[test]
    fn full_words_and_abbreviations_mean_the_same() {
        assert_eq!(p("show queue").unwrap(), Command::ShowQueue(None));
        assert_eq!(p("sh q").unwrap(), Command::ShowQueue(None));
        assert_eq!(p("sh stats").unwrap(), Command::ShowStats);
        assert_eq!(p("sh statu").unwrap(), Command::ShowStatus);
        assert_eq!(p("pa mda").unwrap(), Command::Pause(Subsystem::Mda));
        assert_eq!(p("resu smtp").unwrap(), Command::Resume(Subsystem::Smtp));
        assert_eq!(p("sch all").unwrap(), Command::Schedule(Target::All));
        assert_eq!(p("mon").unwrap(), Command::Monitor { count: None });
        assert_eq!(p("log v").unwrap(), Command::Log { verbose: true });
        assert_eq!(p("log b").unwrap(), Command::Log { verbose: false });
    }

    #[test]
    fn ambiguous_and_unknown_words_are_errors_that_say_so() {
        let e = p("s queue").unwrap_err().to_string();
        assert!(
            e.contains("ambiguous") && e.contains("schedule") && e.contains("show"),
            "{e}"
        );
        let e = p("sh stat").unwrap_err().to_string();
        assert!(e.contains("stats") && e.contains("status"), "{e}");
        assert!(p("re all").is_err(), "remove or resume");
        assert!(p("frobnicate").is_err());
        assert!(p("").is_err());
        assert!(p("pause m").is_err(), "mda or mta");
    }

    #[test]
    fn ids_are_told_apart_by_length() {
        let m = MsgId(0x0102_0304);
        let e = EvpId(0x0102_0304_0a0b_0c0d);
        assert_eq!(
            p("show queue 01020304").unwrap(),
            Command::ShowQueue(Some(m))
        );
        assert_eq!(
            p("remove 01020304").unwrap(),
            Command::Remove(Target::Message(m))
        );
        assert_eq!(
            p("schedule 010203040a0b0c0d").unwrap(),
            Command::Schedule(Target::Envelope(e))
        );
        assert_eq!(
            p("pause envelope all").unwrap(),
            Command::PauseEnvelope(Target::All)
        );
        assert_eq!(
            p("show message 010203040a0b0c0d").unwrap(),
            Command::ShowMessage(m)
        );
        assert_eq!(p("show message 01020304").unwrap(), Command::ShowMessage(m));
        assert_eq!(
            p("show envelope 010203040a0b0c0d").unwrap(),
            Command::ShowEnvelope(e)
        );
        for bad in [
            "remove 123",
            "remove xyzxyzxy",
            "show envelope 01020304",
            "schedule",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_we_lack_are_named_not_guessed() {
        for (line, name) in [
            ("show hoststats", "show hoststats"),
            ("profile queue", "profile"),
            ("discover 01020304", "discover"),
            ("spf walk", "spf walk"),
            ("resume route 1", "resume route"),
            ("pause mta from 1.2.3.4 for x", "pause mta from"),
        ] {
            assert_eq!(
                p(line).unwrap(),
                Command::Unsupported(name.into()),
                "{line}"
            );
        }
    }

    #[test]
    fn trace_takes_opensmtpd_s_subsystems() {
        assert_eq!(
            p("trace all").unwrap(),
            Command::Trace {
                subsystem: "all",
                on: true
            }
        );
        assert_eq!(
            p("untr sch").unwrap(),
            Command::Trace {
                subsystem: "scheduler",
                on: false
            }
        );
        assert!(p("trace nothing").is_err());
        assert!(p("trace").is_err());
    }

    #[test]
    fn encrypt_and_update_table() {
        assert_eq!(p("encrypt").unwrap(), Command::Encrypt(None));
        assert_eq!(p("enc pw").unwrap(), Command::Encrypt(Some("pw".into())));
        assert!(p("encrypt a b").is_err());
        assert_eq!(
            p("up t aliases").unwrap(),
            Command::UpdateTable("aliases".into())
        );
        assert!(p("update table").is_err());
        assert!(p("update aliases").is_err());
        assert!(p("sh ho").unwrap_err().to_string().contains("hoststats"));
        assert_eq!(p("sh hosts").unwrap(), Command::ShowMta(MtaView::Hosts));
        assert_eq!(p("sh rel").unwrap(), Command::ShowMta(MtaView::Relays));
        assert_eq!(p("sh rou").unwrap(), Command::ShowMta(MtaView::Routes));
    }

    #[test]
    fn monitor_may_stop_after_a_count() {
        assert_eq!(
            p("monitor --count 3").unwrap(),
            Command::Monitor { count: Some(3) }
        );
        assert!(p("monitor --count x").is_err());
    }
}
