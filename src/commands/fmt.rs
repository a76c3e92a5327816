//! `veil fmt`: rewrite policy files in the canonical layout; with `--check`
//! list those that are not, with `--diff` show how they would change (both
//! write nothing and exit 1 when a file would change); `veil fmt -` formats
//! standard input to standard output.

use super::{Outcome, Status};
use crate::diagnostic::{Code, Files};
use crate::{fmt as layout, project, syntax};
use std::path::{Path, PathBuf};

/// What `veil fmt` does with a file that is not in the canonical layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FmtMode {
    /// Rewrite it.
    Write,
    /// Name it, and fail.
    Check,
    /// Print how it would change, and fail.
    Diff,
}

/// The name standard input goes by in diagnostics and diffs.
pub const STDIN: &str = "<stdin>";

/// Formats `text` (standard input): the canonical text as output, or (with
/// `--check` and `--diff`) whether and how it would change.
pub fn fmt_text(text: String, mode: FmtMode) -> Outcome {
    let mut outcome = Outcome {
        status: Status::Succeeded,
        ..Outcome::default()
    };
    let id = outcome.files.add(STDIN, text);
    let text = outcome.files.get(id).text.clone();
    let parsed = match syntax::parse(id, &text) {
        Ok(parsed) => parsed,
        Err(found) => {
            outcome.diagnostics = found;
            outcome.status = Status::Failed;
            return outcome;
        }
    };
    let formatted = layout::format(&parsed, &text);
    let changes = formatted != text;
    outcome.output = match mode {
        FmtMode::Write => formatted,
        FmtMode::Check if changes => format!("would reformat {STDIN}\n"),
        FmtMode::Diff if changes => diff(STDIN, &text, &formatted),
        _ => String::new(),
    };
    if changes && mode != FmtMode::Write {
        outcome.status = Status::Failed;
    }
    outcome
}

/// A unified diff of one file, from `old` to `new`.
fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(name, name)
        .to_string()
}

pub fn fmt(paths: &[PathBuf], mode: FmtMode) -> Outcome {
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
    let mut diffs = String::new();
    for path in &targets {
        match format_one(&mut outcome.files, path) {
            Ok(Some((old, formatted))) => {
                if mode == FmtMode::Write
                    && let Err(d) = write(path, &formatted)
                {
                    outcome.diagnostics.push(d);
                    continue;
                }
                if mode == FmtMode::Diff {
                    diffs.push_str(&diff(&path.display().to_string(), &old, &formatted));
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
    if mode != FmtMode::Write && !changed.is_empty() {
        outcome.status = Status::Failed;
    }
    outcome.output = match mode {
        FmtMode::Write => changed.iter().map(|p| format!("formatted {p}\n")).collect(),
        FmtMode::Check => changed
            .iter()
            .map(|p| format!("would reformat {p}\n"))
            .collect(),
        FmtMode::Diff => diffs,
    };
    outcome
}

/// One file's text and its formatted text, or `None` when it is already
/// canonical.
fn format_one(
    files: &mut Files,
    path: &Path,
) -> Result<Option<(String, String)>, Vec<crate::diagnostic::Diagnostic>> {
    let text = project::read(path).map_err(|d| vec![d])?;
    let id = files.add(path.display().to_string(), text);
    let text = &files.get(id).text;
    let parsed = syntax::parse(id, text)?;
    let formatted = layout::format(&parsed, text);
    Ok((formatted != *text).then(|| (text.clone(), formatted)))
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
