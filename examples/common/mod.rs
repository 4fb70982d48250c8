//! Helpers shared by the examples: result tables, figures, the training loop and the trainers'
//! command line. Each example includes this folder with `#[path]`; not every example uses every
//! helper.

pub mod cli;
pub mod figure;
pub mod grid;
pub mod table;
pub mod trainer;
pub mod workload;

use std::path::Path;
use std::process::ExitCode;

/// The examples allocate through mimalloc. Each fused op hands its outputs to Burn as fresh
/// multi-megabyte buffers; glibc's malloc serves those from new pages and returns them to the
/// system when they are freed, so every op paid page faults and cross-core TLB flushes (W1's
/// forward took 25 ms with it, 11 ms with mimalloc). PyTorch keeps its own caching allocator for
/// the same reason.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exit code of an example whose work ended in `result`: an error is printed as
/// `error: ...` (a user's mistake gets a message, not a backtrace).
pub fn exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Creates `folder` and its parents, naming it if that fails.
pub fn create_folder(folder: &Path) -> Result<(), String> {
    std::fs::create_dir_all(folder)
        .map_err(|error| format!("cannot create `{}`: {error}", folder.display()))
}
