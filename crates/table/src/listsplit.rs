//! Splitting a comma-separated table value into items, as OpenSMTPD's
//! `expand_line_split()` and `mailaddr_line_split()` do.
//!
//! A comma inside double or single quotes does not split; quotes are kept
//! in the item (so `"|cmd a, b"` stays one quoted item for the alias parser);
//! a backslash makes the next character literal and is itself dropped.
//! Items are trimmed and empty items are skipped.

/// Why a list value cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    #[error("backslash at the end of the value")]
    TrailingBackslash,
}

/// Split `text` into trimmed, non-empty items.
pub fn split_list(text: &str) -> Result<Vec<String>, SplitError> {
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut escaped, mut in_double, mut in_single) = (false, false, false);
    for c in text.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' if !in_double && !in_single => {
                push_item(&mut items, &mut current);
            }
            _ => {
                current.push(c);
                if c == '"' && !in_single {
                    in_double = !in_double;
                }
                if c == '\'' && !in_double {
                    in_single = !in_single;
                }
            }
        }
    }
    if escaped {
        return Err(SplitError::TrailingBackslash);
    }
    if in_double {
        return Err(SplitError::UnterminatedQuote('"'));
    }
    if in_single {
        return Err(SplitError::UnterminatedQuote('\''));
    }
    push_item(&mut items, &mut current);
    Ok(items)
}

fn push_item(items: &mut Vec<String>, current: &mut String) {
    let item = current.trim();
    if !item.is_empty() {
        items.push(item.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_trims() {
        assert_eq!(split_list(" a , b,,c ").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(split_list("").unwrap(), Vec::<String>::new());
        assert_eq!(split_list(" , ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split_list("\"|cmd a, b\", joe").unwrap(),
            vec!["\"|cmd a, b\"", "joe"]
        );
        assert_eq!(split_list("'x,y'").unwrap(), vec!["'x,y'"]);
        assert_eq!(split_list("a\\,b").unwrap(), vec!["a,b"]);
        assert_eq!(split_list("\"it's\"").unwrap(), vec!["\"it's\""]);
        assert_eq!(split_list("a\\\"b").unwrap(), vec!["a\"b"]);
    }

    #[test]
    fn errors() {
        assert_eq!(split_list("\"abc"), Err(SplitError::UnterminatedQuote('"')));
        assert_eq!(split_list("'abc"), Err(SplitError::UnterminatedQuote('\'')));
        assert_eq!(split_list("abc\\"), Err(SplitError::TrailingBackslash));
    }
}
