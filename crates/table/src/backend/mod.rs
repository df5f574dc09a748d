//! The built-in table backends.

pub mod db;
pub mod getpwnam;
pub mod proc_table;
pub mod static_table;
