//! Command framing with PIPELINING, and the hand-over between command mode
//! and the DATA/BDAT receivers, driven the way the session will drive them.

use smtpd_proto::{
    parse_command, BdatReceiver, BdatStatus, Command, CommandBuffer, CommandError, ContentLimits,
    DataReceiver, DataStatus, ParseOptions,
};

/// A miniature session loop: what the server would see, as a transcript
/// of verbs, errors and message contents.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Cmd(&'static str),
    Err(CommandError),
    Message(Vec<u8>),
}

enum Mode {
    Commands,
    Data(DataReceiver),
    /// Receiving a chunk into the transaction's BDAT receiver.
    Bdat,
}

fn run_session(reads: &[&[u8]]) -> Vec<Event> {
    let mut cb = CommandBuffer::new();
    let mut mode = Mode::Commands;
    // Lives from the first BDAT to the LAST chunk, across the commands in
    // between.
    let mut bdat: Option<BdatReceiver> = None;
    let mut events = Vec::new();
    let mut content = Vec::new();
    let opts = ParseOptions::default();
    for read in reads {
        let mut input: Vec<u8> = read.to_vec();
        loop {
            match &mut mode {
                Mode::Commands => {
                    let n = cb.feed(&input);
                    input.drain(..n);
                    let mut switched = false;
                    while let Some(line) = cb.next_line() {
                        match line.and_then(|l| parse_command(&l, &opts)) {
                            Ok(cmd) => {
                                events.push(Event::Cmd(cmd.verb()));
                                match cmd {
                                    Command::Data => {
                                        mode =
                                            Mode::Data(DataReceiver::new(ContentLimits::default()));
                                    }
                                    Command::Bdat { size, last } => {
                                        let r = bdat.get_or_insert_with(|| {
                                            BdatReceiver::new(ContentLimits::default())
                                        });
                                        assert!(r.start_chunk(size, last));
                                        mode = Mode::Bdat;
                                    }
                                    _ => continue,
                                }
                                // Bytes already buffered belong to the message.
                                let mut rest = cb.take_buffered();
                                rest.extend_from_slice(&input);
                                input = rest;
                                switched = true;
                                break;
                            }
                            Err(e) => events.push(Event::Err(e)),
                        }
                    }
                    if !switched && input.is_empty() {
                        break;
                    }
                }
                Mode::Data(r) => match r.feed(&input, &mut content) {
                    DataStatus::NeedMore => break,
                    DataStatus::Done { consumed, result } => {
                        assert!(result.is_ok());
                        events.push(Event::Message(std::mem::take(&mut content)));
                        input.drain(..consumed);
                        mode = Mode::Commands;
                    }
                },
                Mode::Bdat => {
                    let r = bdat.as_mut().expect("BDAT mode has a receiver");
                    match r.feed(&input, &mut content) {
                        BdatStatus::NeedMore => break,
                        BdatStatus::ChunkDone { consumed } => {
                            input.drain(..consumed);
                            mode = Mode::Commands;
                        }
                        BdatStatus::MessageDone { consumed, result } => {
                            assert!(result.is_ok());
                            events.push(Event::Message(std::mem::take(&mut content)));
                            input.drain(..consumed);
                            bdat = None;
                            mode = Mode::Commands;
                        }
                    }
                }
            }
        }
    }
    events
}

#[test]
fn several_commands_in_one_read_and_one_command_across_reads() {
    let ev = run_session(&[
        b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRC",
        b"PT TO:<e@f.example>\r",
        b"\nNOOP\n",
    ]);
    assert_eq!(
        ev,
        vec![
            Event::Cmd("EHLO"),
            Event::Cmd("MAIL"),
            Event::Cmd("RCPT"),
            Event::Cmd("RCPT"),
            Event::Cmd("NOOP")
        ]
    );
}

#[test]
fn data_then_pipelined_commands_after_the_end() {
    let ev = run_session(&[
        b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\n..hi\r\n.\r\nMAIL FROM:<>\r\nQUIT\r\n",
    ]);
    assert_eq!(
        ev,
        vec![
            Event::Cmd("MAIL"),
            Event::Cmd("RCPT"),
            Event::Cmd("DATA"),
            Event::Message(b"Subject: x\n\n.hi\n".to_vec()),
            Event::Cmd("MAIL"),
            Event::Cmd("QUIT"),
        ]
    );
}

#[test]
fn smuggled_commands_stay_in_the_message() {
    let ev = run_session(&[
        b"DATA\r\nhello\n.\nMAIL FROM:<evil@x.example>\r\n",
        b"RCPT TO:<v@y.example>\r\nDATA\r\nbad\r\n.\r\nQUIT\r\n",
    ]);
    assert_eq!(
        ev,
        vec![
            Event::Cmd("DATA"),
            Event::Message(
                b"hello\n.\nMAIL FROM:<evil@x.example>\nRCPT TO:<v@y.example>\nDATA\nbad\n"
                    .to_vec()
            ),
            Event::Cmd("QUIT"),
        ]
    );
}

#[test]
fn bdat_chunks_pipelined_with_their_commands() {
    let ev = run_session(&[
        b"MAIL FROM:<a@b.example>\r\nBDAT 5\r\nab\r\nc",
        b"BDAT 3 LAST\r\n\nd\nRSET\r\n",
    ]);
    assert_eq!(
        ev,
        vec![
            Event::Cmd("MAIL"),
            Event::Cmd("BDAT"),
            Event::Cmd("BDAT"),
            Event::Message(b"ab\nc\nd\n".to_vec()),
            Event::Cmd("RSET"),
        ]
    );
}

#[test]
fn a_ten_megabyte_line_is_refused_once_and_never_buffered() {
    let mut cb = CommandBuffer::new();
    let mut reports = Vec::new();
    let chunk = vec![b'A'; 64 * 1024];
    let mut fed = 0usize;
    while fed < 10 * 1024 * 1024 {
        let mut input: &[u8] = &chunk;
        while !input.is_empty() {
            let n = cb.feed(input);
            input = &input[n..];
            fed += n;
            while let Some(l) = cb.next_line() {
                reports.push(l);
            }
        }
    }
    assert_eq!(reports, vec![Err(CommandError::LineTooLong)]);
    assert!(!cb.has_pending_input());
    // The end of the long line, then a real command.
    cb.feed(b"AAAA\r\nQUIT\r\n");
    assert_eq!(cb.next_line(), Some(Ok(b"QUIT".to_vec())));
    assert_eq!(
        CommandError::LineTooLong.reply().to_wire(),
        b"500 5.5.2 Line too long\r\n"
    );
}

#[test]
fn the_tail_of_a_long_line_is_never_a_command() {
    let mut line = b"NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 5000));
    line.extend_from_slice(b"MAIL FROM:<evil@x.example>\r\nQUIT\r\n");
    let ev = run_session(&[&line]);
    assert_eq!(
        ev,
        vec![Event::Err(CommandError::LineTooLong), Event::Cmd("QUIT")]
    );
}

#[test]
fn command_line_limit_is_4096_with_the_terminator() {
    let mut cb = CommandBuffer::new();
    let mut ok = b"NOOP ".to_vec();
    ok.resize(4094, b'x');
    ok.extend_from_slice(b"\r\n");
    let mut too_long = b"NOOP ".to_vec();
    too_long.resize(4095, b'x');
    too_long.extend_from_slice(b"\r\n");
    cb.feed(&ok);
    assert!(matches!(cb.next_line(), Some(Ok(l)) if l.len() == 4094));
    cb.feed(&too_long);
    assert_eq!(cb.next_line(), Some(Err(CommandError::LineTooLong)));
    assert_eq!(cb.next_line(), None);
}

#[test]
fn starttls_clear_drops_pipelined_plaintext() {
    let mut cb = CommandBuffer::new();
    cb.feed(b"STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n");
    assert_eq!(cb.next_line(), Some(Ok(b"STARTTLS".to_vec())));
    assert!(cb.has_pending_input());
    cb.clear();
    assert!(!cb.has_pending_input());
    assert_eq!(cb.next_line(), None);
}
