//! Helpers shared by the examples: result tables, figures and the training loop. Each example
//! includes this folder with `#[path]`; not every example uses every helper.

pub mod figure;
pub mod table;
pub mod trainer;
