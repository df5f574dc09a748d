//! `table` statements and table operands (`<name>`, `{ … }`, `"string"`).

use crate::check::statics::table_fit;
use crate::lexer::{Pos, Tok};
use crate::model::{
    is_builtin_table, Operand, TableDef, TableOrigin, TableSource, UseSite, GENERATED_PREFIX,
};

use super::{keywords, PResult, Parser, Stop};

impl Parser {
    /// `table NAME [type:]/path` | `table NAME { … }`
    pub(super) fn table_statement(&mut self) -> PResult<()> {
        self.bump();
        let (name, npos) = self.string("a table name")?;
        self.check_user_name(&name, &npos, "table")?;
        let source = if self.at_tok(&Tok::LBrace) {
            self.inline_table()?
        } else {
            let (s, spos) = self.string("a table source (file:/path, db:/path or { … })")?;
            match table_source(&s) {
                Ok(src) => src,
                Err(e) => return self.fail(&spos, format!("{e} for table {name}")),
            }
        };
        self.end()?;
        if let Some(prev) = self.b.cfg.tables.iter().find(|t| t.name == name) {
            let at = prev.span.clone();
            return self.fail(&npos, format!("table {name} defined twice (first at {at})"));
        }
        self.b.cfg.tables.push(TableDef {
            name,
            source,
            origin: TableOrigin::Declared,
            span: npos.span(),
        });
        Ok(())
    }

    /// Names users give (tables, actions, filters) cannot start with `<`:
    /// generated names do.
    pub(super) fn check_user_name(&mut self, name: &str, pos: &Pos, what: &str) -> PResult<()> {
        if name.starts_with(GENERATED_PREFIX) {
            return self.fail(pos, format!("{what} name {name:?} may not start with '<'"));
        }
        if name.is_empty() {
            return self.fail(pos, format!("empty {what} name"));
        }
        Ok(())
    }

    /// `{ a, b }` or `{ k = v, k2 => v2 }`; elements may be separated by
    /// commas, newlines or nothing, and may span lines.
    pub(super) fn inline_table(&mut self) -> PResult<TableSource> {
        let open = self.bump().pos;
        let mut list = Vec::new();
        let mut map = Vec::new();
        loop {
            while self.eat_tok(&Tok::Newline) {
                self.stop_at_statement(&open)?;
            }
            if self.eat_tok(&Tok::RBrace) {
                break;
            }
            if self.at_tok(&Tok::Eof) {
                return self.fail(&open, "unterminated '{': missing '}'");
            }
            let (key, kpos) = self.string("a table value or '}'")?;
            if self.eat_tok(&Tok::Eq) || self.eat_tok(&Tok::Arrow) {
                let (value, _) = self.string("a value after '='")?;
                map.push((key, value));
            } else {
                list.push(key);
            }
            if !list.is_empty() && !map.is_empty() {
                return self.fail(&kpos, "a table cannot mix values and key = value pairs");
            }
            self.eat_tok(&Tok::Comma);
        }
        if list.is_empty() && map.is_empty() {
            return self.fail(
                &open,
                "empty inline table { }: a table needs at least one value",
            );
        }
        Ok(if map.is_empty() {
            TableSource::List(list)
        } else {
            TableSource::Map(map)
        })
    }

    /// Inside an unclosed `{`, a line starting a statement means the `}`
    /// is missing: report it and resume at that line.
    pub(super) fn stop_at_statement(&mut self, open: &Pos) -> PResult<()> {
        if let Tok::Word {
            text,
            quoted: false,
        } = &self.peek().tok
        {
            if keywords::STATEMENT_WORDS.contains(&text.as_str()) {
                self.resume_here = true;
                return self.fail(open, "unterminated '{': missing '}'");
            }
        }
        Ok(())
    }

    /// Does a table operand start here? (`<`, `{`, or a string.)
    pub(super) fn at_table(&mut self) -> bool {
        let reserved = self.at_keyword();
        match &self.peek().tok {
            Tok::LAngle | Tok::LBrace => true,
            Tok::Word { text, quoted } => *quoted || !(reserved || super::is_number(text)),
            _ => false,
        }
    }

    /// A table operand, checked against its use; returns the table name
    /// (inline and literal tables get a generated one).
    pub(super) fn table_ref(&mut self, site: UseSite, regex: bool) -> PResult<String> {
        let pos = self.pos();
        let name = match self.peek().tok {
            Tok::LAngle => {
                self.bump();
                let (name, npos) = self.string("a table name")?;
                self.expect_tok(Tok::RAngle, "'>'")?;
                let generated = name.starts_with(GENERATED_PREFIX);
                if generated || (self.b.cfg.table(&name).is_none() && !is_builtin_table(&name)) {
                    return self.fail(&npos, format!("no such table: {name}"));
                }
                name
            }
            Tok::LBrace => {
                let source = self.inline_table()?;
                self.b.anon_table(source, TableOrigin::Inline, pos.span())
            }
            Tok::Word { .. } => {
                let (s, _) = self.string("a table (<name>, { … } or a string)")?;
                self.b
                    .anon_table(TableSource::List(vec![s]), TableOrigin::Literal, pos.span())
            }
            _ => return self.unexpected("a table (<name>, { … } or a string)"),
        };
        if let Err(e) = table_fit(&name, self.b.cfg.table(&name), site, regex) {
            self.error(&pos, e);
            return Err(Stop);
        }
        Ok(name)
    }

    /// `[regex] TABLE`
    pub(super) fn operand(&mut self, site: UseSite) -> PResult<Operand> {
        let regex = self.eat("regex");
        let table = self.table_ref(site, regex)?;
        Ok(Operand { table, regex })
    }

    /// An optional `[regex] TABLE`.
    pub(super) fn opt_operand(&mut self, site: UseSite) -> PResult<Option<Operand>> {
        if self.at("regex") || self.at_table() {
            return self.operand(site).map(Some);
        }
        Ok(None)
    }
}

/// `table NAME STRING`: `/path` (static file), `TYPE:/config`, or a bare
/// backend name.
pub(crate) fn table_source(s: &str) -> Result<TableSource, String> {
    if s.starts_with('/') {
        return Ok(TableSource::File {
            path: s.to_string(),
        });
    }
    let (backend, config) = match s.split_once(':') {
        Some((b, c)) => (b, Some(c)),
        None => (s, None),
    };
    if let Some(c) = config {
        if !c.starts_with('/') {
            return Err("invalid backend parameter (the path must be absolute)".to_string());
        }
    }
    Ok(match (backend, config) {
        ("file" | "static", Some(c)) => TableSource::File {
            path: c.to_string(),
        },
        ("db", Some(c)) => TableSource::Db {
            path: c.to_string(),
        },
        ("file" | "static" | "db", None) => {
            return Err(format!("{backend}: backend needs a path"));
        }
        ("getpwnam", _) => TableSource::Getpwnam,
        (b, c) => TableSource::External {
            backend: b.to_string(),
            config: c.map(str::to_string),
        },
    })
}
