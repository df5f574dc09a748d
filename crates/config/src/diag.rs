//! Diagnostics: every error the parser or a check reports, with its position.

use serde::{Deserialize, Serialize};

use crate::model::Span;

/// One error in a configuration, located in the file it is in (an `include`d
/// file reports its own path). Displayed as `FILE:LINE:COL: message`, the
/// format `smtpd -n` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct Diag {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl Diag {
    /// A diagnostic at `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Diag {
            file: span.file.clone(),
            line: span.line,
            col: span.col,
            message: message.into(),
        }
    }
}
