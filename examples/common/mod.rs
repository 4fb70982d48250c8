//! Helpers shared by the examples: result tables and figures. Each example includes this
//! folder with `#[path]`; not every example uses every helper.

pub mod figure;
pub mod table;
