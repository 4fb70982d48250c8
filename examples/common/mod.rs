//! Helpers shared by the examples: result tables, figures, the training loop and the trainers'
//! command line. Each example includes this folder with `#[path]`; not every example uses every
//! helper.

pub mod cli;
pub mod figure;
pub mod table;
pub mod trainer;
