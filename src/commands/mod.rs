//! The commands, as library functions a test can call: each returns what to
//! print and whether it succeeded, and prints nothing itself.

mod apply;
mod compile;
mod explain;
mod fmt;
mod init;
pub mod plan;
mod validate;

use crate::diagnostic::{Diagnostic, Files};
pub use apply::{ApplyOptions, apply, parse_timeout};
pub use compile::{Compiled, Emit, compile, compile_ir, file_safe};
pub use explain::explain;
pub use fmt::fmt;
pub use init::init;
pub use plan::{PlanOptions, plan};
pub use validate::validate;

/// What a command produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The files diagnostics point into.
    pub files: Files,
    /// Errors and warnings, printed to standard error.
    pub diagnostics: Vec<Diagnostic>,
    /// The command's output, printed to standard output.
    pub output: String,
    pub success: bool,
    /// An exit code other than 0 or 1 (`plan --detailed-exitcode` gives 2
    /// when there are changes).
    pub exit_code: Option<u8>,
}

impl Outcome {
    fn failed(files: Files, diagnostics: Vec<Diagnostic>) -> Outcome {
        Outcome {
            files,
            diagnostics,
            output: String::new(),
            success: false,
            exit_code: None,
        }
    }
}
