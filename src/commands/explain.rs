//! `veil explain`: what a user sees of each source, and why; or, for one
//! source, every user side by side. No database is needed.

use super::OutputFormat;
use super::{Outcome, Status};
use crate::diagnostic::{Code, Diagnostic};
use crate::explain::{self, SourceView, State};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Serialize)]
struct Report<'a> {
    format_version: u32,
    users: Vec<UserReport<'a>>,
}

#[derive(Serialize)]
struct UserReport<'a> {
    user: &'a str,
    sources: Vec<SourceView>,
}

pub fn explain(
    dir: &Path,
    user: Option<&str>,
    source: Option<&str>,
    format: OutputFormat,
) -> Outcome {
    let (files, model, warnings) =
        match crate::project::load_checked(crate::project::ProjectSource::Dir(dir, None)) {
            Ok(checked) => checked,
            Err((files, diagnostics)) => return Outcome::failed(files, diagnostics),
        };
    let unknown = |what: &str, name: &str, known: Vec<&str>| {
        let help = crate::suggest::did_you_mean(name, known.iter().copied()).unwrap_or_else(|| {
            format!(
                "the {what}s are declared in the project; there are {}",
                known.len()
            )
        });
        Diagnostic::error(Code::ExplainUnknown, format!("unknown {what} `{name}`")).help(help)
    };
    let users: Vec<&crate::model::User> = match user {
        Some(name) => match model.directory.users.iter().find(|u| u.name == name) {
            Some(u) => vec![u],
            None => {
                let known = model
                    .directory
                    .users
                    .iter()
                    .map(|u| u.name.as_str())
                    .collect();
                return Outcome::failed(files, vec![unknown("user", name, known)]);
            }
        },
        None => model.directory.users.iter().collect(),
    };
    let only = match source {
        Some(id) => match model.sources.iter().position(|s| s.id == id) {
            Some(s) => Some(s),
            None => {
                let known = model.sources.iter().map(|s| s.id.as_str()).collect();
                return Outcome::failed(files, vec![unknown("source", id, known)]);
            }
        },
        None => None,
    };
    let report = Report {
        format_version: 1,
        users: users
            .iter()
            .map(|u| UserReport {
                user: &u.name,
                sources: explain::explain_user(&model, &files, u, only),
            })
            .collect(),
    };
    let output = match format {
        OutputFormat::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        _ if user.is_none() && only.is_some() => matrix(&report),
        _ => text(&report),
    };
    Outcome {
        files,
        diagnostics: warnings,
        output,
        status: Status::Succeeded,
    }
}

/// Per user, per source: access, columns and filters with their rules.
fn text(report: &Report<'_>) -> String {
    let mut out = String::new();
    for user in &report.users {
        let _ = writeln!(out, "user {}", user.user);
        for s in &user.sources {
            if !s.access.granted {
                let _ = writeln!(
                    out,
                    "  {}: no access ({}{})",
                    s.source,
                    s.access.reason,
                    s.access
                        .rule
                        .as_ref()
                        .map_or(String::new(), |r| format!(", {r}"))
                );
                continue;
            }
            let _ = writeln!(
                out,
                "  {}: access by {} ({})",
                s.source,
                s.access.reason,
                s.access.rule.as_deref().unwrap_or("")
            );
            let width = s
                .columns
                .iter()
                .map(|c| c.column.chars().count())
                .max()
                .unwrap_or(0);
            for c in &s.columns {
                let mut line = format!(
                    "    {}{}  {}",
                    c.column,
                    " ".repeat(width - c.column.chars().count()),
                    c.state.word()
                );
                if let Some(method) = &c.method {
                    let _ = write!(line, " by {method}");
                }
                if let Some(rule) = &c.rule {
                    let _ = write!(line, " ({rule})");
                }
                if let Some(e) = &c.exemption {
                    let _ = write!(line, "; exempt: {e}");
                }
                let _ = writeln!(out, "{line}");
            }
            for f in &s.filters {
                let verdict = match &f.exempt_by {
                    Some(e) => format!("exempt: {e}"),
                    None if f.hides_every_row => {
                        "applies: this user sees no rows of the source".into()
                    }
                    None => "applies".into(),
                };
                let data = match f.depends_on.as_slice() {
                    [] => String::new(),
                    sources => format!(
                        "; the rows follow the data in {}",
                        sources
                            .iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let _ = writeln!(out, "    filter {} ({}): {verdict}{data}", f.kind, f.rule);
            }
        }
    }
    out
}

/// One source, every user: a row per user, a column per source column.
fn matrix(report: &Report<'_>) -> String {
    let mut out = String::new();
    let Some(first) = report.users.first().and_then(|u| u.sources.first()) else {
        return "no users\n".into();
    };
    let _ = writeln!(out, "source {}", first.source);
    let mut header = vec!["user".to_string(), "access".to_string()];
    header.extend(first.columns.iter().map(|c| c.column.clone()));
    header.extend((1..=first.filters.len()).map(|i| format!("filter {i}")));
    let mut rows = vec![header];
    for user in &report.users {
        let s = &user.sources[0];
        let mut row = vec![
            user.user.to_string(),
            if s.access.granted {
                "yes".into()
            } else {
                "no".into()
            },
        ];
        row.extend(s.columns.iter().map(|c| match (&c.method, c.state) {
            (Some(m), State::Masked | State::Conditional) => format!("{} {m}", c.state.word()),
            _ => "clear".into(),
        }));
        row.extend(s.filters.iter().map(|f| {
            if f.applies {
                "applies".into()
            } else {
                "exempt".into()
            }
        }));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    for (i, f) in first.filters.iter().enumerate() {
        let _ = writeln!(out, "filter {}: {} ({})", i + 1, f.kind, f.rule);
    }
    out
}
