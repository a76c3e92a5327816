//! The commands, as library functions a test can call: each returns what to
//! print and whether it succeeded, and prints nothing itself.

mod apply;
mod compile;
mod explain;
mod fmt;
mod import;
mod init;
pub mod plan;
mod show;
mod test;
mod validate;

use crate::diagnostic::{Diagnostic, Files};
pub use apply::{ApplyOptions, apply, parse_timeout};
pub use compile::{Emit, compile, file_safe};
pub use explain::explain;
pub use fmt::{FmtMode, fmt, fmt_text};
pub use import::{ImportOptions, import};
pub use init::init;
pub use plan::{PlanOptions, plan};
pub use show::show;
pub use test::test;
pub use validate::validate;

/// The shape of command output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Markdown,
    /// The apply script, as apply sends it (`veil plan` only).
    Sql,
}

/// What a command produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The files diagnostics point into.
    pub files: Files,
    /// Errors and warnings, printed to standard error.
    pub diagnostics: Vec<Diagnostic>,
    /// The command's output, printed to standard output.
    pub output: String,
    pub status: Status,
}

/// How a command ended, as its exit status tells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    /// Exit 1: an error (usage errors included).
    #[default]
    Failed,
    /// Exit 0.
    Succeeded,
    /// Exit 2: succeeded, and there are changes (`plan --detailed-exitcode`).
    Changes,
}

impl Status {
    pub fn of(success: bool) -> Status {
        if success {
            Status::Succeeded
        } else {
            Status::Failed
        }
    }

    /// The process's exit status.
    pub fn code(self) -> u8 {
        match self {
            Status::Succeeded => 0,
            Status::Failed => 1,
            Status::Changes => 2,
        }
    }
}

impl Outcome {
    fn failed(files: Files, diagnostics: Vec<Diagnostic>) -> Outcome {
        Outcome {
            files,
            diagnostics,
            output: String::new(),
            status: Status::Failed,
        }
    }
}
