//! The smtpd.conf lexer, hand-written to reproduce OpenSMTPD's `yylex`
//! exactly where real files depend on it (a parser generator could not):
//!
//! - `\` + newline continues a line, inside quoted strings too; `\` + any
//!   other character outside quotes yields that character, so a backslash
//!   followed by spaces does NOT continue the line;
//! - quoted strings (`"…"` or `'…'`) take `\"` escapes; a raw newline in
//!   them is dropped;
//! - an unquoted word starts with a letter, digit, `:` or `_` and goes on
//!   with letters, digits and punctuation except `( ) { } < > ! = # ,`;
//! - `#` starts a comment; `$name` expands a macro, and the expansion is
//!   lexed again (tokens from it carry the position of the `$name`);
//! - a CR right before LF is dropped (CRLF files are read like LF files).
//!
//! Every token carries file:line:column. Lexical errors are recorded as
//! diagnostics and yield [`Tok::Invalid`]; the lexer never panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::diag::Diag;
use crate::model::Span;

/// OpenSMTPD's token buffer size; longer words are an error.
const MAX_WORD: usize = 8192;
/// Nested `include` depth beyond which we stop (guards against cycles).
const MAX_INCLUDE_DEPTH: usize = 16;

/// A position in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub file: Rc<str>,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn from_span(s: &Span) -> Pos {
        Pos {
            file: Rc::from(s.file.as_str()),
            line: s.line,
            col: s.col,
        }
    }

    pub fn span(&self) -> Span {
        Span {
            file: self.file.to_string(),
            line: self.line,
            col: self.col,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A string: an unquoted word or a quoted string.
    Word {
        text: String,
        quoted: bool,
    },
    LBrace,
    RBrace,
    LAngle,
    RAngle,
    Bang,
    Comma,
    Eq,
    /// `=>`
    Arrow,
    Newline,
    /// Any other character (a syntax error wherever it appears).
    Other(u8),
    /// A lexical error, already reported.
    Invalid,
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

struct Source {
    name: Rc<str>,
    dir: PathBuf,
    data: Vec<u8>,
    i: usize,
    line: u32,
    col: u32,
    eol_sent: bool,
}

struct Expansion {
    data: Vec<u8>,
    i: usize,
    pos: Pos,
    /// Characters read ahead before the expansion began; they come after it.
    tail: Vec<Ch>,
}

/// One character with where it came from.
#[derive(Clone)]
struct Ch {
    b: u8,
    pos: Pos,
    /// It came from a macro expansion (no further `$` expansion there).
    expanded: bool,
}

pub(crate) struct Lexer {
    files: Vec<Source>,
    exp: Option<Expansion>,
    pushback: Vec<Ch>,
    /// name → (value, persistent: set with `-D`, not overridden by the file)
    macros: HashMap<String, (String, bool)>,
    diags: Vec<Diag>,
}

impl Lexer {
    pub fn new(name: &str, data: Vec<u8>, macros: &[(String, String)]) -> Self {
        Lexer {
            files: vec![new_source(name, data)],
            exp: None,
            pushback: Vec::new(),
            macros: macros
                .iter()
                .map(|(k, v)| (k.clone(), (v.clone(), true)))
                .collect(),
            diags: Vec::new(),
        }
    }

    /// Diagnostics recorded since the last call.
    pub fn take_diags(&mut self) -> Vec<Diag> {
        std::mem::take(&mut self.diags)
    }

    /// Define a macro from the file (does not override `-D` ones).
    pub fn define(&mut self, name: String, value: String) {
        match self.macros.get(&name) {
            Some((_, true)) => {}
            _ => {
                self.macros.insert(name, (value, false));
            }
        }
    }

    /// Start reading `path` (relative paths: against the including file's
    /// directory); its tokens come next. Called once the `include`
    /// statement's newline is consumed.
    pub fn include(&mut self, path: &str) -> Result<(), String> {
        if self.files.len() >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "include nested deeper than {MAX_INCLUDE_DEPTH} files"
            ));
        }
        let p = Path::new(path);
        let full = match self.files.last() {
            Some(f) if p.is_relative() => f.dir.join(p),
            _ => p.to_path_buf(),
        };
        let data = std::fs::read(&full).map_err(|e| e.to_string())?;
        self.files.push(new_source(&full.to_string_lossy(), data));
        Ok(())
    }

    /// The next input character: read-ahead first, then the macro being
    /// expanded, then the current file (CR before LF dropped).
    fn raw(&mut self) -> Option<Ch> {
        if let Some(c) = self.pushback.pop() {
            return Some(c);
        }
        if let Some(e) = &mut self.exp {
            if let Some(&b) = e.data.get(e.i) {
                e.i += 1;
                return Some(Ch {
                    b,
                    pos: e.pos.clone(),
                    expanded: true,
                });
            }
            if let Some(c) = e.tail.pop() {
                return Some(c);
            }
            self.exp = None;
        }
        let f = self.files.last_mut()?;
        let mut b = *f.data.get(f.i)?;
        if b == b'\r' && f.data.get(f.i + 1) == Some(&b'\n') {
            f.i += 1;
            b = b'\n';
        }
        let pos = Pos {
            file: f.name.clone(),
            line: f.line,
            col: f.col,
        };
        f.i += 1;
        if b == b'\n' {
            f.line = f.line.saturating_add(1);
            f.col = 1;
        } else if b & 0xC0 != 0x80 {
            f.col = f.col.saturating_add(1);
        }
        Some(Ch {
            b,
            pos,
            expanded: false,
        })
    }

    fn unget(&mut self, c: Ch) {
        self.pushback.push(c);
    }

    /// A character outside quotes: `\`-newline is skipped, `\`+c yields c.
    fn lgetc(&mut self) -> Option<Ch> {
        loop {
            let c = self.raw()?;
            if c.b != b'\\' {
                return Some(c);
            }
            let n = self.raw()?;
            if n.b != b'\n' {
                return Some(n);
            }
        }
    }

    fn error(&mut self, pos: &Pos, msg: impl Into<String>) {
        self.diags.push(Diag::at(&pos.span(), msg));
    }

    /// Skip to the end of the line, leaving the newline to be read.
    fn skip_line(&mut self) {
        while let Some(c) = self.lgetc() {
            if c.b == b'\n' {
                self.unget(c);
                return;
            }
        }
    }

    pub fn next_token(&mut self) -> Token {
        loop {
            let c = loop {
                match self.lgetc() {
                    Some(c) if c.b == b' ' || c.b == b'\t' => continue,
                    other => break other,
                }
            };
            let Some(c) = c else {
                match self.end_of_file() {
                    Some(t) => return t,
                    None => continue,
                }
            };
            if c.b == b'#' {
                while let Some(n) = self.lgetc() {
                    if n.b == b'\n' {
                        self.unget(n);
                        break;
                    }
                }
                continue;
            }
            let pos = c.pos.clone();
            let tok = match c.b {
                b'$' if !c.expanded => {
                    if self.expand(&pos) {
                        continue;
                    }
                    Tok::Invalid
                }
                b'"' | b'\'' => return self.quoted(c.b, pos),
                b'=' => match self.lgetc() {
                    Some(n) if n.b == b'>' => Tok::Arrow,
                    Some(n) => {
                        self.unget(n);
                        Tok::Eq
                    }
                    None => Tok::Eq,
                },
                b'{' => Tok::LBrace,
                b'}' => Tok::RBrace,
                b'<' => Tok::LAngle,
                b'>' => Tok::RAngle,
                b'!' => Tok::Bang,
                b',' => Tok::Comma,
                b'\n' => Tok::Newline,
                b if b.is_ascii_alphanumeric() || b == b':' || b == b'_' => return self.word(c),
                b => Tok::Other(b),
            };
            return Token { tok, pos };
        }
    }

    /// End of the current file: first a newline (so an unterminated last
    /// line still ends its statement), then back to the including file.
    fn end_of_file(&mut self) -> Option<Token> {
        let f = self.files.last_mut()?;
        let pos = Pos {
            file: f.name.clone(),
            line: f.line,
            col: f.col,
        };
        if !f.eol_sent && f.data.last().is_some_and(|b| *b != b'\n') {
            f.eol_sent = true;
            return Some(Token {
                tok: Tok::Newline,
                pos,
            });
        }
        if self.files.len() > 1 {
            self.files.pop();
            return None;
        }
        Some(Token { tok: Tok::Eof, pos })
    }

    /// `$name`: push the value back as input. `false` on error (reported).
    fn expand(&mut self, pos: &Pos) -> bool {
        let mut name = Vec::new();
        while let Some(c) = self.lgetc() {
            if c.b.is_ascii_alphanumeric() || c.b == b'_' {
                name.push(c.b);
                if name.len() > MAX_WORD {
                    self.error(pos, "macro name too long");
                    self.skip_line();
                    return false;
                }
            } else {
                self.unget(c);
                break;
            }
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        match self.macros.get(&name) {
            Some((value, _)) => {
                // Characters already read ahead must come after the value.
                self.exp = Some(Expansion {
                    data: value.clone().into_bytes(),
                    i: 0,
                    pos: pos.clone(),
                    tail: std::mem::take(&mut self.pushback),
                });
                true
            }
            None => {
                self.error(pos, format!("macro '{name}' not defined"));
                self.skip_line();
                false
            }
        }
    }

    fn quoted(&mut self, quote: u8, pos: Pos) -> Token {
        let mut buf = Vec::new();
        loop {
            let Some(c) = self.raw() else {
                self.error(&pos, "reached end of file while parsing quoted string");
                return Token {
                    tok: Tok::Invalid,
                    pos,
                };
            };
            match c.b {
                b'\n' => continue,
                b'\\' => match self.raw() {
                    None => continue,
                    Some(n) if n.b == quote || n.b == b' ' || n.b == b'\t' => buf.push(n.b),
                    Some(n) if n.b == b'\n' => continue,
                    Some(n) => {
                        buf.push(b'\\');
                        self.unget(n);
                    }
                },
                b if b == quote => break,
                0 => {
                    self.error(&c.pos, "syntax error: NUL byte in quoted string");
                    self.skip_line();
                    return Token {
                        tok: Tok::Invalid,
                        pos,
                    };
                }
                b => buf.push(b),
            }
            if buf.len() > MAX_WORD {
                self.error(&pos, "string too long");
                self.skip_line();
                return Token {
                    tok: Tok::Invalid,
                    pos,
                };
            }
        }
        Token {
            tok: Tok::Word {
                text: String::from_utf8_lossy(&buf).into_owned(),
                quoted: true,
            },
            pos,
        }
    }

    fn word(&mut self, first: Ch) -> Token {
        let pos = first.pos.clone();
        let mut buf = vec![first.b];
        while let Some(c) = self.lgetc() {
            if !allowed_in_word(c.b) {
                self.unget(c);
                break;
            }
            buf.push(c.b);
            if buf.len() > MAX_WORD {
                self.error(&pos, "string too long");
                self.skip_line();
                return Token {
                    tok: Tok::Invalid,
                    pos,
                };
            }
        }
        Token {
            tok: Tok::Word {
                text: String::from_utf8_lossy(&buf).into_owned(),
                quoted: false,
            },
            pos,
        }
    }
}

fn allowed_in_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || (b.is_ascii_punctuation() && !b"(){}<>!=#,".contains(&b))
}

fn new_source(name: &str, data: Vec<u8>) -> Source {
    let dir = Path::new(name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Source {
        name: Rc::from(name),
        dir,
        data,
        i: 0,
        line: 1,
        col: 1,
        eol_sent: false,
    }
}

#[cfg(test)]
mod tests;
