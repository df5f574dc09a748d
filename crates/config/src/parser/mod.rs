//! Recursive-descent parser for smtpd.conf, both grammars at once.
//!
//! One statement per line. Each statement is parsed and lowered straight
//! into the [`Config`] being built, with the checks OpenSMTPD makes at that
//! point (so names must be defined before they are used, as in OpenSMTPD).
//! On an error the statement is reported and skipped to its end, and
//! parsing goes on: every error of a file is reported.

mod action;
mod builder;
mod filter;
mod global;
mod keywords;
mod listen;
mod rule_new;
mod rule_old;
mod table;

use std::collections::VecDeque;

pub(crate) use keywords::{is_reserved, Dialect};

use crate::diag::Diag;
use crate::lexer::{Lexer, Pos, Tok, Token};
use crate::{ParseOptions, Parsed};
use builder::Builder;

/// A statement was abandoned; its diagnostic is already recorded.
pub(crate) struct Stop;

pub(crate) type PResult<T> = Result<T, Stop>;

pub(crate) struct Parser {
    lex: Lexer,
    ahead: VecDeque<Token>,
    diags: Vec<Diag>,
    b: Builder,
    dialect: Dialect,
    /// Error recovery must not skip: the next token starts a statement.
    resume_here: bool,
}

/// Parse `data` (the contents of the file `name`) into a configuration and
/// its diagnostics.
pub(crate) fn parse(name: &str, data: Vec<u8>, opts: &ParseOptions) -> Parsed {
    let mut p = Parser {
        lex: Lexer::new(name, data, &opts.macros),
        ahead: VecDeque::new(),
        diags: Vec::new(),
        b: Builder::new(name),
        dialect: Dialect::Shared,
        resume_here: false,
    };
    let end = p.run();
    let (config, mut late) = p.b.finish(&end);
    p.diags.append(&mut late);
    Parsed {
        config,
        diags: p.diags,
    }
}

impl Parser {
    /// Parse every statement; returns the end-of-input position.
    fn run(&mut self) -> Pos {
        loop {
            match &self.peek().tok {
                Tok::Eof => return self.peek().pos.clone(),
                Tok::Newline => {
                    self.bump();
                }
                _ => {
                    self.dialect = Dialect::Shared;
                    if self.statement().is_err() {
                        self.recover();
                    }
                }
            }
        }
    }

    fn statement(&mut self) -> PResult<()> {
        let t = self.peek().clone();
        if matches!(self.peek2().tok, Tok::Eq) {
            return self.macro_definition();
        }
        let kw = match &t.tok {
            Tok::Word {
                text,
                quoted: false,
            } => text.clone(),
            Tok::Invalid => return Err(Stop),
            _ => return self.unexpected("a statement"),
        };
        match kw.as_str() {
            "include" => self.include(),
            "table" => self.table_statement(),
            "pki" => self.pki(),
            "ca" => self.ca(),
            "listen" => self.listen(),
            "action" => self.action(),
            "match" => self.match_rule(),
            "accept" | "reject" => self.old_rule(),
            "filter" => self.filter(),
            "proc" => self.proc(),
            "queue" => self.queue(),
            "smtp" => self.smtp(),
            "srs" => self.srs(),
            "mta" => self.mta(),
            "mda" => self.mda(),
            "scheduler" => self.scheduler(),
            "bounce" => self.bounce(),
            "admd" => self.admd(),
            "expire"
            | "bounce-warn"
            | "max-message-size"
            | "limit"
            | "ciphers"
            | "curve"
            | "subaddressing-delimiter"
            | "max-mta-deferred" => self.old_global(&kw),
            _ => self.unexpected("a statement"),
        }
    }

    /// `name = value`
    fn macro_definition(&mut self) -> PResult<()> {
        let (name, pos) = self.string("a macro name")?;
        if name.chars().any(char::is_whitespace) {
            return self.fail(&pos, "macro name cannot contain whitespace");
        }
        self.bump(); // '='
        let value = match self.peek().tok.clone() {
            Tok::Word { text, .. } => {
                self.bump();
                text
            }
            _ => return self.unexpected("a macro value"),
        };
        self.end()?;
        self.lex.define(name, value);
        Ok(())
    }

    /// `include "path"`
    fn include(&mut self) -> PResult<()> {
        let kw = self.bump();
        let (path, _) = self.string("a file name")?;
        self.end()?;
        if let Err(e) = self.lex.include(&path) {
            return self.fail(&kw.pos, format!("failed to include file {path}: {e}"));
        }
        Ok(())
    }

    /// Skip the rest of a bad statement: up to the end of its line, or past
    /// an unclosed `{` until a line that starts a new statement.
    fn recover(&mut self) {
        if std::mem::take(&mut self.resume_here) {
            return;
        }
        let mut depth = 0usize;
        loop {
            let t = self.bump();
            match t.tok {
                Tok::Eof => {
                    self.ahead.push_front(t);
                    return;
                }
                Tok::LBrace => depth += 1,
                Tok::RBrace => depth = depth.saturating_sub(1),
                Tok::Newline if depth == 0 => return,
                Tok::Newline => {
                    if let Tok::Word {
                        text,
                        quoted: false,
                    } = &self.peek().tok
                    {
                        if keywords::STATEMENT_WORDS.contains(&text.as_str()) {
                            return;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    // ---- tokens ----

    fn fill(&mut self, n: usize) {
        // At the end the lexer keeps returning EOF.
        while self.ahead.len() <= n {
            let t = self.lex.next_token();
            self.diags.append(&mut self.lex.take_diags());
            self.ahead.push_back(t);
        }
    }

    fn peek(&mut self) -> &Token {
        self.fill(0);
        &self.ahead[0]
    }

    /// The token after the next one, never past the end of the line.
    fn peek2(&mut self) -> &Token {
        self.fill(0);
        if matches!(self.ahead[0].tok, Tok::Newline | Tok::Eof) {
            return &self.ahead[0];
        }
        self.fill(1);
        &self.ahead[1]
    }

    fn bump(&mut self) -> Token {
        self.fill(0);
        match self.ahead.pop_front() {
            Some(t) => t,
            None => unreachable_token(),
        }
    }

    fn pos(&mut self) -> Pos {
        self.peek().pos.clone()
    }

    /// Is the next token the unquoted keyword `kw`?
    fn at(&mut self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word { text, quoted: false } if text == kw)
    }

    fn at_tok(&mut self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    fn eat(&mut self, kw: &str) -> bool {
        let yes = self.at(kw);
        if yes {
            self.bump();
        }
        yes
    }

    fn eat_tok(&mut self, tok: &Tok) -> bool {
        let yes = self.at_tok(tok);
        if yes {
            self.bump();
        }
        yes
    }

    fn at_eol(&mut self) -> bool {
        matches!(self.peek().tok, Tok::Newline | Tok::Eof)
    }

    /// The next token is an unquoted word reserved in either grammar: it
    /// ends an optional operand (`auth mask-src`: no table after `auth`).
    fn at_keyword(&mut self) -> bool {
        matches!(&self.peek().tok, Tok::Word { text, quoted: false }
            if keywords::is_reserved(text, Dialect::Modern) || keywords::is_reserved(text, Dialect::Old))
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<Pos> {
        if self.at(kw) {
            return Ok(self.bump().pos);
        }
        self.unexpected(&format!("'{kw}'"))
    }

    fn expect_tok(&mut self, tok: Tok, what: &str) -> PResult<Pos> {
        if self.at_tok(&tok) {
            return Ok(self.bump().pos);
        }
        self.unexpected(what)
    }

    /// A string operand (OpenSMTPD's STRING): a quoted string, or an
    /// unquoted word that is neither a keyword nor a number.
    fn string(&mut self, what: &str) -> PResult<(String, Pos)> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Word { text, quoted } => {
                if !quoted && keywords::is_reserved(text, self.dialect) {
                    return self.fail(
                        &t.pos,
                        format!("found keyword '{text}', expected {what} (quote it to use it as a string)"),
                    );
                }
                if !quoted && is_number(text) {
                    return self.fail(
                        &t.pos,
                        format!(
                            "found number {text}, expected {what} (quote it to use it as a string)"
                        ),
                    );
                }
                self.bump();
                Ok((text.clone(), t.pos))
            }
            _ => self.unexpected(what),
        }
    }

    /// Any word, keyword or not (for values such as limit names).
    fn word(&mut self, what: &str) -> PResult<(String, bool, Pos)> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Word { text, quoted } => {
                self.bump();
                Ok((text, quoted, t.pos))
            }
            _ => self.unexpected(what),
        }
    }

    /// An unquoted number (OpenSMTPD's NUMBER).
    fn number(&mut self, what: &str) -> PResult<(u64, Pos)> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Word {
                text,
                quoted: false,
            } if is_number(text) => {
                self.bump();
                match text.parse::<u64>() {
                    Ok(n) if n <= i64::MAX as u64 => Ok((n, t.pos)),
                    _ => self.fail(&t.pos, format!("\"{text}\" invalid number: too large")),
                }
            }
            _ => self.unexpected(what),
        }
    }

    /// The statement must end here.
    fn end(&mut self) -> PResult<()> {
        match self.peek().tok {
            Tok::Newline => {
                self.bump();
                Ok(())
            }
            Tok::Eof => Ok(()),
            _ => self.unexpected("end of line"),
        }
    }

    // ---- diagnostics ----

    fn error(&mut self, pos: &Pos, msg: impl Into<String>) {
        self.diags.push(Diag::at(&pos.span(), msg));
    }

    /// A `protocols` value, checked (see [`crate::tls_lists`]).
    fn protocol_list(&mut self) -> PResult<String> {
        let (s, pos) = self.string("a protocol list")?;
        match crate::tls_lists::parse_protocols(&s) {
            Ok(_) => Ok(s),
            Err(e) => self.fail(&pos, format!("protocols: {e}")),
        }
    }

    /// A `ciphers` value, checked (see [`crate::tls_lists`]).
    fn cipher_list(&mut self) -> PResult<String> {
        let (s, pos) = self.string("a cipher list")?;
        match crate::tls_lists::parse_ciphers(&s) {
            Ok(_) => Ok(s),
            Err(e) => self.fail(&pos, format!("ciphers: {e}")),
        }
    }

    fn fail<T>(&mut self, pos: &Pos, msg: impl Into<String>) -> PResult<T> {
        self.error(pos, msg);
        Err(Stop)
    }

    /// "found X, expected Y" at the next token.
    fn unexpected<T>(&mut self, expected: &str) -> PResult<T> {
        let t = self.peek().clone();
        if t.tok == Tok::Invalid {
            return Err(Stop);
        }
        let msg = format!("found {}, expected {expected}", describe(&t.tok));
        self.fail(&t.pos, msg)
    }
}

/// Words OpenSMTPD's lexer reads as a NUMBER token.
pub(crate) fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn describe(t: &Tok) -> String {
    // Long strings are cut: the position says where the rest is.
    let short = |s: &str| match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    };
    match t {
        Tok::Word {
            text,
            quoted: false,
        } => format!("'{}'", short(text)),
        Tok::Word { text, quoted: true } => format!("\"{}\"", short(text)),
        Tok::LBrace => "'{'".into(),
        Tok::RBrace => "'}'".into(),
        Tok::LAngle => "'<'".into(),
        Tok::RAngle => "'>'".into(),
        Tok::Bang => "'!'".into(),
        Tok::Comma => "','".into(),
        Tok::Eq => "'='".into(),
        Tok::Arrow => "'=>'".into(),
        Tok::Newline => "end of line".into(),
        Tok::Eof => "end of file".into(),
        Tok::Other(b) if b.is_ascii_graphic() => format!("'{}'", *b as char),
        Tok::Other(b) => format!("byte 0x{b:02x}"),
        Tok::Invalid => "an invalid token".into(),
    }
}

/// `fill(0)` guarantees a token; this is never reached.
#[cold]
fn unreachable_token() -> Token {
    Token {
        tok: Tok::Eof,
        pos: Pos {
            file: std::rc::Rc::from(""),
            line: 0,
            col: 0,
        },
    }
}
