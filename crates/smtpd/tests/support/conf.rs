//! Configuration pieces for tests that deliver locally without depending
//! on system accounts: a userbase table whose users all map to the
//! invoking user (the delivery worker runs as that user in unprivileged
//! mode), with homes under the test directory.

/// The invoking user's uid and gid.
pub fn ids() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

/// `table users { "alice" = "UID:GID:{DIR}/home/alice", … }`: a userbase
/// where each named user exists.
pub fn userbase(names: &[&str]) -> String {
    let (uid, gid) = ids();
    let entries: Vec<String> = names
        .iter()
        .map(|n| format!("\"{n}\" = \"{uid}:{gid}:{{DIR}}/home/{n}\""))
        .collect();
    format!("table users {{ {} }}\n", entries.join(", "))
}

/// A listener on `{PORT}` and an action `local` delivering each user of
/// `names` into `{DIR}/mail/USER` (a Maildir); `rules` are the match
/// lines (and anything else) to append.
pub fn local(names: &[&str], rules: &str) -> String {
    format!(
        "{}listen on 127.0.0.1 port {{PORT}}\n\
         action \"local\" maildir \"{{DIR}}/mail/%{{user.username}}\" userbase <users>\n\
         {rules}\n",
        userbase(names)
    )
}

/// The usual test setup: alice and bob at `local.test` (and at the local
/// names), everything else refused.
pub fn basic(extra_global: &str) -> String {
    local(
        &["alice", "bob"],
        &format!(
            "{extra_global}\n\
             match from any for domain \"local.test\" action \"local\"\n\
             match from any for local action \"local\"\n"
        ),
    )
}
