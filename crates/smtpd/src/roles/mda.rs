//! Skeleton: replaced by the role's real loop.

use anyhow::Result;

use crate::child::{ChildSetup, Flow};
use crate::msg::ToMda;

pub fn main(setup: ChildSetup) -> Result<()> {
    setup.drop_privileges()?;
    setup.run::<ToMda, _, _>(|mut ctx| async move {
        super::serve(&mut ctx, |_, _msg: ToMda, _| Ok(Flow::Continue)).await
    })
}
