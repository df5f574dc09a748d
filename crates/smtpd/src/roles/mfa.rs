//! The mail filter agent (the seed's §3.2.7). It will drive the filter
//! programs of `filter` statements for the smtp sessions. Filters come with
//! their own issue; today the process runs, chrooted and unprivileged,
//! wired to smtp, control and the parent, and has nothing to filter.

use anyhow::Result;

use crate::child::{ChildSetup, Flow};
use crate::msg::ToMfa;

pub fn main(setup: ChildSetup) -> Result<()> {
    setup.drop_privileges()?;
    setup.run::<ToMfa, _, _>(|mut ctx| async move {
        super::serve(&mut ctx, |_, msg, _| match msg {
            ToMfa::Shutdown => Ok(Flow::Stop),
            // Applied on arrival (`logging::apply_verbose`).
            ToMfa::Verbose(_) => Ok(Flow::Continue),
        })
        .await
    })
}
