//! `veil fmt`: rewrite policy files in the canonical layout, or with
//! `--check` list those that are not.

use super::{Outcome, Status};
use crate::diagnostic::{Code, Files};
use crate::{fmt as layout, project, syntax};
use std::path::{Path, PathBuf};

pub fn fmt(paths: &[PathBuf], check: bool) -> Outcome {
    let mut outcome = Outcome {
        status: Status::Succeeded,
        ..Outcome::default()
    };
    let mut targets = Vec::new();
    for path in paths {
        if path.is_dir() {
            match project::policy_files(path) {
                Ok(mut found) => targets.append(&mut found),
                Err(d) => outcome.diagnostics.push(d),
            }
        } else {
            targets.push(path.clone());
        }
    }
    let mut changed = Vec::new();
    for path in &targets {
        match format_one(&mut outcome.files, path) {
            Ok(Some(formatted)) => {
                if !check && let Err(d) = write(path, &formatted) {
                    outcome.diagnostics.push(d);
                    continue;
                }
                changed.push(path.display().to_string());
            }
            Ok(None) => {}
            Err(mut found) => outcome.diagnostics.append(&mut found),
        }
    }
    if !outcome.diagnostics.is_empty() {
        outcome.status = Status::Failed;
    }
    if check && !changed.is_empty() {
        outcome.status = Status::Failed;
        outcome.output = changed
            .iter()
            .map(|p| format!("would reformat {p}\n"))
            .collect();
    } else {
        outcome.output = changed.iter().map(|p| format!("formatted {p}\n")).collect();
    }
    outcome
}

/// The formatted text of one file, or `None` when it is already canonical.
fn format_one(
    files: &mut Files,
    path: &Path,
) -> Result<Option<String>, Vec<crate::diagnostic::Diagnostic>> {
    let text = project::read(path).map_err(|d| vec![d])?;
    let id = files.add(path.display().to_string(), text);
    let text = &files.get(id).text;
    let parsed = syntax::parse(id, text)?;
    let formatted = layout::format(&parsed, text);
    Ok((formatted != *text).then_some(formatted))
}

/// Replaces a file by writing a sibling and renaming it over, so that an
/// interrupted run never leaves half a file.
fn write(path: &Path, text: &str) -> Result<(), crate::diagnostic::Diagnostic> {
    let tmp = path.with_extension("veil.fmt-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            crate::diagnostic::Diagnostic::error(
                Code::FmtWrite,
                format!("cannot write `{}`: {e}", path.display()),
            )
            .help("check the file's permissions")
        })
}
