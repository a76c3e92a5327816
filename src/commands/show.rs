//! `veil show PLAN_FILE`: a plan saved with `veil plan --out`, printed as
//! the plan that made it printed it. (Apply checks a saved plan against
//! the databases before it runs anything; showing it reads the file alone.)

use super::{Outcome, OutputFormat, Status};
use crate::diagnostic::Files;
use crate::plan::render;
use crate::plan::saved::load;
use crate::plan::script::render_script;
use std::path::Path;
use std::time::Duration;

/// Prints the saved plan at `path` in `format`; `sql` prints its scripts,
/// the lock's wait bounded by `lock_timeout`.
pub fn show(path: &Path, format: OutputFormat, color: bool, lock_timeout: Duration) -> Outcome {
    let saved = match load(path) {
        Ok(saved) => saved,
        Err(d) => return Outcome::failed(Files::default(), vec![d]),
    };
    let output = match format {
        OutputFormat::Text => render::text(&saved.plan, color),
        OutputFormat::Json => render::json(&saved.plan),
        OutputFormat::Markdown => render::markdown(&saved.plan),
        OutputFormat::Sql => saved
            .prepared
            .iter()
            .map(|p| render_script(p, lock_timeout))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Outcome {
        output,
        status: Status::Succeeded,
        ..Outcome::default()
    }
}
