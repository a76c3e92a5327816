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
use crate::model::Model;
use crate::project;
pub use apply::{
    ApplyOptions, SavedPlan, apply, load as load_saved_plan, parse_timeout, prepare_all,
};
pub use compile::{Emit, compile, file_safe};
pub use explain::explain;
pub use fmt::fmt;
pub use init::init;
pub use plan::{PlanOptions, plan};
use std::path::Path;
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

/// A loaded and checked project: its files, model and warnings.
type Checked = (Files, Model, Vec<Diagnostic>);

/// Where a project comes from.
#[derive(Debug, Clone, Copy)]
pub enum ProjectSource<'a> {
    /// A project directory.
    Dir(&'a Path),
    /// The files (path, text) a saved plan recorded, `identities.yaml`
    /// among them.
    Files(&'a [(String, String)]),
}

/// Loads and checks a project; on errors, the files and every diagnostic.
fn load_checked(dir: &Path) -> Result<Checked, (Files, Vec<Diagnostic>)> {
    load_checked_from(ProjectSource::Dir(dir))
}

/// Loads and checks a project from a directory or recorded files.
fn load_checked_from(source: ProjectSource<'_>) -> Result<Checked, (Files, Vec<Diagnostic>)> {
    let loaded = match source {
        ProjectSource::Dir(dir) => project::load(dir),
        ProjectSource::Files(files) => {
            let (identities_path, identities) = files
                .iter()
                .find(|(path, _)| path.ends_with(project::IDENTITIES))
                .map_or((project::IDENTITIES, ""), |(path, text)| {
                    (path.as_str(), text.as_str())
                });
            let policies: Vec<(String, String)> = files
                .iter()
                .filter(|(path, _)| path.ends_with(".veil"))
                .cloned()
                .collect();
            project::load_texts_at(&policies, identities_path, identities)
        }
    };
    let project = loaded.map_err(|e| (e.files, e.diagnostics))?;
    let checked = project.check();
    let project::Project {
        files,
        policies,
        identities,
        ..
    } = project;
    // The syntax trees are done with once checked.
    drop_aside((policies, identities));
    match checked.model {
        Some(model) => Ok((files, model, checked.diagnostics)),
        None => Err((files, checked.diagnostics)),
    }
}

/// Drops `value` on a thread of its own, for large values a command no
/// longer needs: the command goes on (or the process exits) meanwhile.
fn drop_aside<T: Send + 'static>(value: T) {
    // If no thread can be started, the value is dropped here.
    let _ = std::thread::Builder::new().spawn(move || drop(value));
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
