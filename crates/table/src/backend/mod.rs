//! The built-in table backends.

pub mod db;
pub mod getpwnam;
pub mod static_table;
