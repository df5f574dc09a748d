//! Semantic checks: those made while parsing ([`statics`]) and the full
//! check of `smtpd -n` ([`full_check`]).

mod full;
pub(crate) mod statics;

pub use full::{full_check, CheckEnv};
