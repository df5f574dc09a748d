//! Format specifiers in Maildir paths, `mda` commands, wrappers and LMTP
//! destinations: `%{dest.user:lowercase}`, `%{rcpt.domain[0]}`, `~/Maildir`.
//!
//! The semantics follow OpenSMTPD's `mda_variables.c`:
//!
//! * `%{NAME}` with the names of [`Specifier`] (case-insensitive); `%%` is a
//!   literal `%`; a `%` not followed by `{` is copied as is; a leading `~/`
//!   means `%{user.directory}/`.
//! * Substrings by character offsets: `[n]` one character (negative counts
//!   from the end: `[-1]` is the last one — OpenSMTPD refuses that form);
//!   `[n:]` from `n` on; `[:m]` / `[n:m]` up to and **including** `m`; a
//!   negative end drops that many characters from the end (`[0:-4]`), a
//!   negative start counts from the end (`[-3:]` is the last three). A start
//!   past the end is an error; an end past the end is clamped.
//! * Modifiers after `:`, chained with `|`, applied left to right:
//!   `lowercase`, `uppercase` (ASCII, as OpenSMTPD), `strip` (drop the
//!   sub-address: `joe+x@d` → `joe@d`, `joe+x` → `joe`; a delimiter at the
//!   very start is not a sub-address, as everywhere else in the server),
//!   `raw` (no sanitising). They may follow a substring:
//!   `%{dest.user[0]:lowercase}` (OpenSMTPD fails to parse that form).
//! * Unless `:raw`, every substituted value except `%{user.directory}` and
//!   `%{mda}` is sanitised by [`sanitize`].
//!
//! Modifiers apply before the substring, and sanitising after it, so that a
//! substring can never uncover a dangerous leading dot.

mod sanitize;
mod token;

#[cfg(test)]
mod tests;

pub use sanitize::sanitize;
pub use token::Specifier;

use crate::context::DeliveryContext;

/// Longest expansion, in bytes: a path or a command line, as OpenSMTPD's
/// `EXPAND_BUFFER`.
pub const MAX_EXPANSION: usize = 4096;

/// Longest `%{…}` body, as OpenSMTPD's `MAXTOKENLEN`.
const MAX_TOKEN: usize = 128;

/// Why a template could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `%{` without a closing `}`.
    #[error("unterminated format specifier at byte {offset}")]
    Unterminated { offset: usize },
    #[error("unknown format specifier %{{{0}}}")]
    UnknownSpecifier(String),
    #[error("unknown format modifier :{0}")]
    UnknownModifier(String),
    /// The `[…]` part is not a substring expression.
    #[error("invalid substring in format specifier %{{{0}}}")]
    BadSubstring(String),
    /// The specifier is too long or has junk after its substring.
    #[error("malformed format specifier %{{{0}}}")]
    Malformed(String),
    /// `%{mda}` outside an `mda wrapper`.
    #[error("%{{mda}} is only available in an mda wrapper")]
    NoMdaCommand,
    /// The substring does not fit this value (e.g. `[5]` of `bob`).
    #[error("substring of %{{{specifier}}} out of range for a value of {len} characters")]
    OutOfRange { specifier: String, len: usize },
    /// The expansion exceeds [`MAX_EXPANSION`] bytes.
    #[error("expansion longer than {MAX_EXPANSION} bytes")]
    TooLong,
}

impl FormatError {
    /// Whether the template itself is wrong (a config mistake that every
    /// message would hit), as opposed to a template that does not fit this
    /// particular recipient.
    pub fn is_config_error(&self) -> bool {
        !matches!(self, FormatError::OutOfRange { .. } | FormatError::TooLong)
    }
}

/// Expand a template for a delivery (Maildir path, `mda` command, LMTP
/// destination). `%{mda}` is an error here.
pub fn expand(template: &str, ctx: &DeliveryContext) -> Result<String, FormatError> {
    expand_with(template, ctx, None)
}

/// Expand an `mda wrapper` template, where `%{mda}` is the (already
/// expanded) command being wrapped.
pub fn expand_wrapper(
    template: &str,
    ctx: &DeliveryContext,
    mda_command: &str,
) -> Result<String, FormatError> {
    expand_with(template, ctx, Some(mda_command))
}

/// Check a template's syntax without a recipient: unknown specifiers and
/// modifiers, bad substrings and unterminated specifiers are found here, so
/// that a config checker can refuse them before any mail arrives.
pub fn check_syntax(template: &str) -> Result<(), FormatError> {
    walk(template, &mut |piece| match piece {
        Piece::Text(_) => Ok(()),
        Piece::Token(body) => token::parse(body).map(|_| ()),
    })
}

fn expand_with(
    template: &str,
    ctx: &DeliveryContext,
    mda: Option<&str>,
) -> Result<String, FormatError> {
    let mut out = String::new();
    let rest = match template.strip_prefix("~/") {
        Some(rest) => {
            out.push_str(&ctx.user.directory);
            out.push('/');
            rest
        }
        None => template,
    };
    walk(rest, &mut |piece| {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Token(body) => out.push_str(&token::parse(body)?.evaluate(body, ctx, mda)?),
        }
        if out.len() > MAX_EXPANSION {
            return Err(FormatError::TooLong);
        }
        Ok(())
    })?;
    Ok(out)
}

/// A piece of a template: literal text, or the body of a `%{…}`.
enum Piece<'a> {
    Text(&'a str),
    Token(&'a str),
}

/// Split a template into pieces, handing each to `f` in order.
fn walk<'a>(
    template: &'a str,
    f: &mut dyn FnMut(Piece<'a>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut rest = template;
    let mut offset = 0;
    while let Some(pct) = rest.find('%') {
        f(Piece::Text(&rest[..pct]))?;
        let after = &rest[pct + 1..];
        let consumed = if after.starts_with('%') {
            f(Piece::Text("%"))?;
            2
        } else if let Some(body_on) = after.strip_prefix('{') {
            let close = body_on.find('}').ok_or(FormatError::Unterminated {
                offset: offset + pct,
            })?;
            let body = &body_on[..close];
            if body.len() >= MAX_TOKEN {
                return Err(FormatError::Malformed(body.to_string()));
            }
            f(Piece::Token(body))?;
            close + 3
        } else {
            f(Piece::Text("%"))?;
            1
        };
        offset += pct + consumed;
        rest = &rest[pct + consumed..];
    }
    f(Piece::Text(rest))
}
