//! sendmail's command line, the BSD getopt way (flags may be grouped,
//! `-fuser` or `-f user`, options end at the first non-option or `--`):
//! `sendmail [-t] [-f from] [-F name] [-i] [-oi] [-bi] [-bm] [-bp] [-v]
//! [-N dsn] [-R full|hdrs] [-V envid] [-S] [rcpt…]`. The DSN options
//! become the DSN parameters of the SMTP transaction (`NOTIFY=`, `RET=`,
//! `ENVID=`). Other sendmail flags (`-B type`, `-odb`, `-odi`, `-oem`, …)
//! are accepted and ignored, as OpenSMTPD's enqueuer does, so that
//! programs written for sendmail keep working.

use smtpd_types::{DsnNotify, DsnRet};

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read a message and enqueue it (`-bm`, the default).
    Send,
    /// `-bi`: newaliases.
    Newaliases,
    /// `-bp`: mailq.
    ListQueue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// `-f ADDR` (or `-r`): the envelope sender.
    pub from: Option<String>,
    /// `-F NAME`: the sender's full name, for an added From: header.
    pub full_name: Option<String>,
    /// `-t`: recipients from the To:, Cc: and Bcc: headers too.
    pub header_rcpts: bool,
    /// `-i`, `-oi`: a line with a lone dot does not end the message.
    pub ignore_dots: bool,
    /// `-v`: show the SMTP conversation.
    pub verbose: bool,
    /// `-N never|success,failure,delay`: DSN NOTIFY for every recipient.
    pub notify: Option<DsnNotify>,
    /// `-R full|hdrs`: DSN RET.
    pub ret: Option<DsnRet>,
    /// `-V envid`: DSN ENVID.
    pub envid: Option<String>,
    /// `-S` (OpenSMTPD's): the daemon is replaying an offline file, running
    /// us as its owner. The sender is that user whatever `-f` says, and
    /// the message is never dropped offline again.
    pub replay: bool,
    pub rcpts: Vec<String>,
}

/// Options that take a value (sendmail's and OpenSMTPD's lists).
const WITH_VALUE: &[char] = &[
    'A', 'B', 'b', 'C', 'e', 'F', 'f', 'h', 'L', 'N', 'O', 'o', 'p', 'R', 'r', 'V', 'X',
];

/// Parse the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mode: Mode::Send,
        from: None,
        full_name: None,
        header_rcpts: false,
        ignore_dots: false,
        verbose: false,
        notify: None,
        ret: None,
        envid: None,
        replay: false,
        rcpts: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            i -= 1;
            break;
        };
        for (at, c) in flags.char_indices() {
            if WITH_VALUE.contains(&c) {
                let attached = &flags[at + c.len_utf8()..];
                let value = if !attached.is_empty() {
                    attached.to_string()
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(format!("option -{c} needs a value"));
                };
                set(&mut o, c, value)?;
                break;
            }
            match c {
                't' => o.header_rcpts = true,
                'i' => o.ignore_dots = true,
                'v' => o.verbose = true,
                'S' => o.replay = true,
                // -E, -J take optional values; -m, -q, -S, -x, -U, -d, -G,
                // -n: ignored.
                'E' | 'J' => break,
                _ => {}
            }
        }
    }
    o.rcpts.extend(args[i..].iter().cloned());
    Ok(o)
}

fn set(o: &mut Options, c: char, value: String) -> Result<(), String> {
    match c {
        'f' | 'r' => o.from = Some(value),
        'F' => o.full_name = Some(value),
        'o' if value == "i" => o.ignore_dots = true,
        'N' => o.notify = Some(notify(&value)?),
        'R' => {
            o.ret = Some(match value.to_ascii_lowercase().as_str() {
                "full" => DsnRet::Full,
                "hdrs" => DsnRet::Hdrs,
                _ => return Err(format!("-R {value}: full or hdrs")),
            })
        }
        'V' => {
            // RFC 3461's ENVID: printable ASCII, at most 100 characters
            // (xtext-encoded on the wire by the protocol crate).
            if value.is_empty()
                || value.len() > 100
                || !value.bytes().all(|b| (33..=126).contains(&b))
            {
                return Err(format!("-V {value:?}: not an envelope id"));
            }
            o.envid = Some(value);
        }
        'b' => {
            o.mode = match value.as_str() {
                "m" => Mode::Send,
                "i" => Mode::Newaliases,
                "p" => Mode::ListQueue,
                other => return Err(format!("-b{other} is not supported")),
            }
        }
        _ => {}
    }
    Ok(())
}

/// `-N`: `never`, or a comma list of `success`, `failure`, `delay`.
fn notify(value: &str) -> Result<DsnNotify, String> {
    let mut n = DsnNotify::default();
    for item in value.split(',').map(str::trim) {
        match item.to_ascii_lowercase().as_str() {
            "never" => n.never = true,
            "success" => n.success = true,
            "failure" => n.failure = true,
            "delay" => n.delay = true,
            _ => return Err(format!("-N {value}: never, or success,failure,delay")),
        }
    }
    if n.never && (n.success || n.failure || n.delay) {
        return Err(format!("-N {value}: never goes alone"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Options, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    #[test]
    fn the_usual_invocations() {
        let o = p("-t -i").unwrap();
        assert!(o.header_rcpts && o.ignore_dots && o.rcpts.is_empty());
        let o = p("-oi -f alice@example.org -F Alice bob carol@example.net").unwrap();
        assert!(o.ignore_dots);
        assert_eq!(o.from.as_deref(), Some("alice@example.org"));
        assert_eq!(o.full_name.as_deref(), Some("Alice"));
        assert_eq!(o.rcpts, ["bob", "carol@example.net"]);
        let o = p("-ti -falice bob").unwrap();
        assert!(o.header_rcpts && o.ignore_dots);
        assert_eq!(o.from.as_deref(), Some("alice"));
        assert_eq!(o.rcpts, ["bob"]);
    }

    #[test]
    fn modes_and_ignored_flags() {
        assert_eq!(p("-bi").unwrap().mode, Mode::Newaliases);
        assert_eq!(p("-bp").unwrap().mode, Mode::ListQueue);
        assert!(p("-bd").is_err());
        let o = p("-odb -oem -N never -v -- -notaflag").unwrap();
        assert!(o.verbose && !o.ignore_dots);
        assert_eq!(o.rcpts, ["-notaflag"]);
        assert!(p("-f").is_err());
        let o = p("-N success,delay -R hdrs -V env-1 -B 8BITMIME -bm -odi -S bob").unwrap();
        assert!(o.replay && o.mode == Mode::Send);
        let n = o.notify.unwrap();
        assert!(n.success && n.delay && !n.failure && !n.never);
        assert_eq!(o.ret, Some(DsnRet::Hdrs));
        assert_eq!(o.envid.as_deref(), Some("env-1"));
        assert_eq!(o.rcpts, ["bob"]);
        assert!(p("-N never,success").is_err());
        assert!(p("-R all").is_err());
        // Options end at the first recipient.
        assert_eq!(p("bob -t").unwrap().rcpts, ["bob", "-t"]);
    }
}
