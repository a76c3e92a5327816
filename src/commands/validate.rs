//! `veil validate`: parse and check; exit 0 when there is no error.

use super::OutputFormat;
use super::{Outcome, Status};
use crate::diagnostic::Severity;
use crate::project;
use std::path::Path;

pub fn validate(dir: &Path, format: OutputFormat) -> Outcome {
    let project = match project::load(dir) {
        Ok(project) => project,
        Err(error) => return Outcome::failed(error.files, error.diagnostics),
    };
    let checked = project.check();
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = checked.diagnostics.len() - errors;
    let output = match (&checked.model, format) {
        (Some(model), OutputFormat::Json) => {
            let summary = serde_json::json!({
                "format_version": 1,
                "valid": true,
                "errors": 0,
                "warnings": warnings,
                "files": project.policies.len(),
                "integrations": model.integrations.len(),
                "sources": model.sources.len(),
                "access_rules": model.access.len(),
                "mask_rules": model.masks.len(),
                "filter_rules": model.filters.len(),
                "users": model.directory.users.len(),
            });
            format!("{summary}\n")
        }
        (Some(model), _) => format!(
            "{}: valid ({} files, {} integrations, {} sources, {} access rules, {} mask rules, {} filter rules, {} users{})\n",
            dir.display(),
            project.policies.len(),
            model.integrations.len(),
            model.sources.len(),
            model.access.len(),
            model.masks.len(),
            model.filters.len(),
            model.directory.users.len(),
            match warnings {
                0 => String::new(),
                1 => "; 1 warning".to_string(),
                n => format!("; {n} warnings"),
            }
        ),
        (None, OutputFormat::Json) => format!(
            "{}\n",
            serde_json::json!({"format_version": 1, "valid": false, "errors": errors, "warnings": warnings})
        ),
        (None, _) => String::new(),
    };
    Outcome {
        status: Status::of(checked.model.is_some()),
        files: project.files,
        diagnostics: checked.diagnostics,
        output,
    }
}
