//! The message sendmail reads: where it ends, its header, the recipients
//! `-t` takes from it, and the header fields a message must have that
//! sendmail adds when they are missing (From:, Date:, Message-ID:).
//!
//! The header is handled as raw lines, so what the user wrote reaches the
//! queue unchanged; only address lists are parsed, with mail-parser, which
//! knows RFC 5322's groups, comments and encoded words.

use mail_parser::MessageParser;

/// The input up to its end: all of it with `-i`, else up to a line with a
/// lone dot (sendmail's traditional end of input).
pub fn until_end(input: &[u8], ignore_dots: bool) -> &[u8] {
    if ignore_dots {
        return input;
    }
    let mut start = 0;
    while start < input.len() {
        let end = input[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |p| start + p + 1);
        let line = &input[start..end];
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare == b"." {
            return &input[..start];
        }
        start = end;
    }
    input
}

/// A message split into its header fields (each with its continuation
/// lines, line ends included) and its body.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub fields: Vec<&'a [u8]>,
    pub body: &'a [u8],
    /// The header ended with an empty line (else the body starts right
    /// after the last field, or there was no header at all).
    pub separated: bool,
}

/// `Name:` where Name is printable ASCII without a colon.
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    (!name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))).then_some(name)
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// Split `msg`. A leading mbox `From ` line is dropped, as sendmail does.
pub fn parse(msg: &[u8]) -> Parsed<'_> {
    let mut lines = msg.split_inclusive(|&b| b == b'\n').peekable();
    let mut offset = 0;
    if let Some(first) = lines.peek() {
        if first.starts_with(b"From ") {
            offset += first.len();
            lines.next();
        }
    }
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in lines {
        let starts = offset;
        if is_blank(line) {
            fields.extend(current.map(|(a, b)| &msg[a..b]));
            return Parsed {
                fields,
                body: &msg[starts + line.len()..],
                separated: true,
            };
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, end)) = current.as_mut() {
                *end += line.len();
                offset += line.len();
                continue;
            }
        } else if field_name(line).is_some() {
            fields.extend(current.take().map(|(a, b)| &msg[a..b]));
            current = Some((starts, starts + line.len()));
            offset += line.len();
            continue;
        }
        // Not a header line: the body starts here.
        fields.extend(current.map(|(a, b)| &msg[a..b]));
        return Parsed {
            fields,
            body: &msg[starts..],
            separated: false,
        };
    }
    fields.extend(current.map(|(a, b)| &msg[a..b]));
    Parsed {
        fields,
        body: &msg[msg.len()..],
        separated: false,
    }
}

fn name_is(field: &[u8], name: &str) -> bool {
    field_name(field).is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
}

/// Does the header have a field called `name`?
pub fn has(p: &Parsed<'_>, name: &str) -> bool {
    p.fields.iter().any(|f| name_is(f, name))
}

/// The addresses of the To:, Cc: and Bcc: fields (`sendmail -t`).
pub fn header_rcpts(p: &Parsed<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for f in &p.fields {
        if !["to", "cc", "bcc"].iter().any(|n| name_is(f, n)) {
            continue;
        }
        let mut one = f.to_vec();
        one.extend_from_slice(b"\n");
        let Some(parsed) = MessageParser::default().parse_headers(&one[..]) else {
            continue;
        };
        for list in [parsed.to(), parsed.cc(), parsed.bcc()]
            .into_iter()
            .flatten()
        {
            out.extend(list.iter().filter_map(|a| a.address()).map(String::from));
        }
    }
    out
}

/// The message to enqueue: Bcc: fields removed, `added` fields appended
/// to the header, the header separated from the body.
pub fn rebuild(p: &Parsed<'_>, added: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in p.fields.iter().filter(|f| !name_is(f, "bcc")) {
        out.extend_from_slice(f);
        if !f.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    for a in added {
        out.extend_from_slice(a.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(p.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_dot_ends_the_input_unless_dots_are_ignored() {
        let input = b"Subject: x\n\nline\n.\nafter\n";
        assert_eq!(until_end(input, false), b"Subject: x\n\nline\n");
        assert_eq!(until_end(input, true), input);
        assert_eq!(until_end(b"a\r\n.\r\nb", false), b"a\r\n");
        assert_eq!(until_end(b"a\n..\nb\n", false), b"a\n..\nb\n");
    }

    #[test]
    fn header_fields_keep_their_continuations() {
        let msg = b"From alice Mon Jan 1\nTo: bob@example.org,\n carol@example.org\nSubject: hi\n\nbody\n";
        let p = parse(msg);
        assert_eq!(
            p.fields,
            vec![
                &b"To: bob@example.org,\n carol@example.org\n"[..],
                &b"Subject: hi\n"[..]
            ]
        );
        assert_eq!(p.body, b"body\n");
        assert!(p.separated);
        assert!(has(&p, "subject") && !has(&p, "date"));
    }

    #[test]
    fn text_without_a_header_is_all_body() {
        let p = parse(b"just some text\nmore\n");
        assert!(p.fields.is_empty());
        assert_eq!(p.body, b"just some text\nmore\n");
        let out = rebuild(&p, &["From: a@b".into()]);
        assert_eq!(out, b"From: a@b\n\njust some text\nmore\n");
    }

    #[test]
    fn recipients_come_from_to_cc_and_bcc_and_bcc_is_dropped() {
        let msg = b"To: Bob <bob@example.org>, carol@example.org\nCc: team: dan@example.org;\nBcc: eve@example.org\nSubject: s\n\nbody\n";
        let p = parse(msg);
        assert_eq!(
            header_rcpts(&p),
            [
                "bob@example.org",
                "carol@example.org",
                "dan@example.org",
                "eve@example.org"
            ]
        );
        let out = String::from_utf8(rebuild(&p, &[])).unwrap();
        assert!(!out.contains("Bcc") && !out.contains("eve"), "{out}");
        assert!(out.contains("Cc: team: dan@example.org;\n"), "{out}");
    }
}
