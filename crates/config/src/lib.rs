//! Temporary stand-in for the config model while the parser is written on
//! its own branch; replaced wholesale at merge.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {}
