//! `veil test`: every expectation checked against the decisions `explain`
//! makes, from the checked model alone. Each statement holds or fails; a
//! failure says what was decided instead and by which rule.

use crate::ast::{ColumnState, Expect, Rows};
use crate::diagnostic::Files;
use crate::eval;
use crate::explain::{self, SourceView};
use crate::model::{ExpectLine, Expectation, Model};
use crate::span::Loc;
use serde::Serialize;

/// One expectation, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// `file:line` of the `expect`.
    pub at: String,
    pub user: String,
    pub source: String,
    pub statements: Vec<Verdict>,
}

/// One statement, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// `file:line` of the statement.
    pub at: String,
    #[serde(skip)]
    pub loc: Loc,
    /// The statement as `veil fmt` prints it.
    pub statement: String,
    pub holds: bool,
    /// What the policies decide, in words.
    pub decided: String,
    /// `file:line` of the rule that decides it, when one does.
    pub rule: Option<String>,
}

impl Checked {
    pub fn failures(&self) -> impl Iterator<Item = &Verdict> {
        self.statements.iter().filter(|v| !v.holds)
    }
}

/// Checks every expectation of the project.
pub fn verify(model: &Model, files: &Files) -> Vec<Checked> {
    let rules = eval::access_rules_by_source(model);
    model
        .expectations
        .iter()
        .map(|e| {
            let view = match (e.user_index, e.source_index) {
                (Some(u), Some(s)) => Ok(explain::explain_source(
                    model,
                    files,
                    &rules[s],
                    s,
                    &model.directory.users[u],
                )),
                (None, _) => Err(format!("the project has no user `{}`", e.user)),
                (_, None) => Err(format!("the project has no source `{}`", e.source)),
            };
            Checked {
                at: files.cite(e.loc),
                user: e.user.clone(),
                source: e.source.clone(),
                statements: e
                    .lines
                    .iter()
                    .map(|line| {
                        let (holds, decided, rule) = match &view {
                            Ok(view) => statement(model, e, line, view),
                            Err(unknown) => (false, unknown.clone(), None),
                        };
                        Verdict {
                            at: files.cite(line.loc),
                            loc: line.loc,
                            statement: crate::fmt::expect_text(&line.expect),
                            holds,
                            decided,
                            rule,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Whether one statement holds, what was decided, and the deciding rule.
fn statement(
    model: &Model,
    e: &Expectation,
    line: &ExpectLine,
    view: &SourceView,
) -> (bool, String, Option<String>) {
    let access = &view.access;
    match &line.expect {
        Expect::Access(granted) => {
            let decided = if access.granted {
                format!("access granted: {}", access.reason)
            } else {
                format!("no access: {}", access.reason)
            };
            (access.granted == *granted, decided, access.rule.clone())
        }
        // What a user sees of a source they cannot query is nothing.
        _ if !access.granted => {
            let decided = format!("no access to `{}`: {}", e.source, access.reason);
            (false, decided, access.rule.clone())
        }
        Expect::Column { state, method, .. } => {
            let Some(column) = line.target.map(|c| &view.columns[c]) else {
                return (false, "the source has no such column".into(), None);
            };
            let method_holds = method.as_ref().is_none_or(|m| {
                column.method.as_deref() == Some(crate::fmt::method(&m.node).as_str())
            });
            let mut decided = match (column.state, &column.method) {
                (ColumnState::Clear, _) | (_, None) => column.state.word().to_string(),
                (state, Some(m)) => format!("{} using {m}", state.word()),
            };
            if column.rule.is_none() {
                decided.push_str(": no mask rule applies");
            }
            if let Some(exemption) = &column.exemption {
                decided.push_str(&format!(" (passed `{exemption}`)"));
            }
            let holds = column.state == *state && method_holds;
            (holds, decided, column.rule.clone())
        }
        Expect::Filter { applies, .. } => {
            // The source's filters in `view.filters` are in the order of
            // `model.filters`.
            let Some(f) = line.target.map(|target| {
                let before = model.filters[..target]
                    .iter()
                    .filter(|f| e.source_index.is_some_and(|s| f.sources.contains(&s)))
                    .count();
                &view.filters[before]
            }) else {
                return (false, "the source has no such filter".into(), None);
            };
            let decided = match (&f.exempt_by, f.applies) {
                (_, true) => "the filter applies".to_string(),
                (Some(by), false) => format!("exempt: `{by}` holds"),
                (None, false) => "exempt".to_string(),
            };
            (f.applies == *applies, decided, Some(f.rule.clone()))
        }
        Expect::Rows(rows) => {
            let applying: Vec<_> = view.filters.iter().filter(|f| f.applies).collect();
            let hiding = applying.iter().find(|f| f.hides_every_row);
            let holds = match rows {
                Rows::All => applying.is_empty(),
                Rows::Filtered => !applying.is_empty(),
                Rows::None => hiding.is_some(),
            };
            let (decided, rule) = match (hiding, applying.first()) {
                (Some(f), _) => (
                    format!("no rows: `{}` applies and keeps none", f.kind),
                    Some(f.rule.clone()),
                ),
                (None, Some(f)) => {
                    let kinds: Vec<String> =
                        applying.iter().map(|f| format!("`{}`", f.kind)).collect();
                    (
                        format!("rows filtered by {}", kinds.join(", ")),
                        Some(f.rule.clone()),
                    )
                }
                (None, None) => ("every row: no filter applies".to_string(), None),
            };
            (holds, decided, rule)
        }
    }
}
