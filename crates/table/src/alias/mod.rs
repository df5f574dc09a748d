//! The alias machinery that lives with tables: alias values (aliases(5) and
//! virtual entries), the lookup key orders, and `:include:` files.
//!
//! Expansion itself (recursion, loops, `.forward`, user checks) belongs to
//! the lookup process; this module gives it parsed nodes.

mod lookup;
mod node;

pub use lookup::{
    alias_keys, lookup_alias, lookup_virtual, read_include, resolve_includes, virtual_keys,
    AliasMatch, IncludeError,
};
pub use node::{parse_alias_list, parse_expand_node, AliasError, ErrorReply, ExpandNode};

#[cfg(test)]
mod tests;
