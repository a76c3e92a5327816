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

/// How many rows of a view `veil test --live` compares.
pub const SAMPLE_ROWS: usize = 1000;

/// What `veil test --live` reads for one expectation: as the user, the
/// sources the database says they may query, the view's rows and a sample
/// of the columns the statements name; as the connection's own role, the
/// base table's rows and which sampled values it holds.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Index in `model.expectations`.
    pub expectation: usize,
    pub integration: usize,
    pub user: String,
    pub source: String,
    pub schemas: crate::ir::Schemas,
    /// `[schema, view]`, as the catalog names them.
    pub view: [String; 2],
    /// `[schema, table]`.
    pub table: [String; 2],
    /// Per column statement: its line, the column's catalog name, and
    /// whether the method that masks it for the user never shows a value
    /// of the table (so a shown value equal to one is a leak).
    pub columns: Vec<(usize, String, bool)>,
}

/// What the database returned for a probe.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The database refused the user the view (its message).
    pub refused: Option<String>,
    /// The source is among those the user may query (`valid_tables`).
    pub listed: bool,
    pub view_rows: u64,
    pub table_rows: u64,
    /// Per probed column: the non-null values sampled from the view, and
    /// those of them the base table holds.
    pub columns: Vec<(Vec<String>, std::collections::HashSet<String>)>,
}

/// The probes of every expectation a connection can check: on PostgreSQL
/// (which lets the connection act as the user with `SET ROLE`), with a
/// declared user and source. The others are the reason they are not.
pub fn probes(model: &Model) -> (Vec<Probe>, Vec<(usize, String)>) {
    let (mut probes, mut skipped) = (Vec::new(), Vec::new());
    let rules = eval::access_rules_by_source(model);
    for (e, expectation) in model.expectations.iter().enumerate() {
        let (Some(_), Some(s)) = (expectation.user_index, expectation.source_index) else {
            continue;
        };
        let source = &model.sources[s];
        let integration = &model.integrations[source.integration];
        if !source.dialect.sql().acts_as_users() {
            skipped.push((
                e,
                format!(
                    "integration `{}` is {}: the live checks act as the user with SET ROLE, which PostgreSQL has",
                    integration.name,
                    source.dialect.name()
                ),
            ));
            continue;
        }
        let schemas = crate::ir::Schemas::of(integration);
        let name = |n: &str| source.dialect.catalog_name(n);
        let user = expectation.user_index.map(|u| &model.directory.users[u]);
        let decided = user.map(|u| explain::decide(model, &rules[s], s, u));
        let columns = expectation
            .lines
            .iter()
            .enumerate()
            .filter_map(|(l, line)| match (&line.expect, line.target) {
                (Expect::Column { .. }, Some(c)) => {
                    let strict = decided
                        .as_ref()
                        .is_some_and(|d| keeps_no_value(&source.columns[c], d.columns[c].1));
                    Some((l, name(&source.columns[c].name), strict))
                }
                _ => None,
            })
            .collect();
        probes.push(Probe {
            expectation: e,
            integration: source.integration,
            user: expectation.user.clone(),
            source: source.id.clone(),
            view: [schemas.views.clone(), name(&source.view)],
            schemas,
            table: [name(&source.table.schema), name(&source.table.table)],
            columns,
        });
    }
    (probes, skipped)
}

/// What the database returned, statement by statement: `access denied` and
/// `rows none` get no rows, `access granted` is listed in `valid_tables`
/// and readable, `rows all` gets every row of the table, a clear column
/// shows values the table holds and a column masked by a method that
/// never keeps a value (`hash`, `null`, `show…`) shows none of them. The
/// other statements depend on the data and are not compared.
pub fn judge(model: &Model, files: &Files, probe: &Probe, seen: &Observed) -> Vec<Verdict> {
    let e = &model.expectations[probe.expectation];
    let mut out = Vec::new();
    let mut verdict = |line: &ExpectLine, holds: bool, decided: String| {
        out.push(Verdict {
            at: files.cite(line.loc),
            loc: line.loc,
            statement: format!("live: {}", crate::fmt::expect_text(&line.expect)),
            holds,
            decided,
            rule: None,
        })
    };
    let refused = |why: &str| format!("the database refused the user the view: {why}");
    for (l, line) in e.lines.iter().enumerate() {
        match &line.expect {
            Expect::Access(false) => {
                let holds = seen.refused.is_some() || (seen.view_rows == 0 && !seen.listed);
                let decided = match &seen.refused {
                    Some(why) => refused(why),
                    None => format!(
                        "the view returned {} rows; valid_tables {} it",
                        seen.view_rows,
                        if seen.listed {
                            "lists"
                        } else {
                            "does not list"
                        }
                    ),
                };
                verdict(line, holds, decided);
            }
            Expect::Access(true) => {
                let decided = match &seen.refused {
                    Some(why) => refused(why),
                    None if !seen.listed => "valid_tables does not list the source".into(),
                    None => format!("readable, {} rows", seen.view_rows),
                };
                verdict(line, seen.refused.is_none() && seen.listed, decided);
            }
            Expect::Rows(Rows::None) => {
                let decided = format!("the view returned {} rows", seen.view_rows);
                verdict(line, seen.view_rows == 0, decided);
            }
            Expect::Rows(Rows::All) => {
                let decided = format!(
                    "the view returned {} of the table's {} rows",
                    seen.view_rows, seen.table_rows
                );
                verdict(line, seen.view_rows == seen.table_rows, decided);
            }
            Expect::Column { state, .. } => {
                let Some(c) = probe.columns.iter().position(|(at, ..)| *at == l) else {
                    continue;
                };
                let (sampled, found) = &seen.columns[c];
                let strict = probe.columns[c].2;
                let (holds, decided) = match state {
                    ColumnState::Clear => {
                        let missing = sampled.iter().filter(|v| !found.contains(*v)).count();
                        (
                            missing == 0,
                            format!(
                                "{missing} of {} sampled values are not in the table",
                                sampled.len()
                            ),
                        )
                    }
                    ColumnState::Masked if strict => {
                        let kept = sampled.iter().filter(|v| found.contains(*v)).count();
                        (
                            kept == 0,
                            format!(
                                "{kept} of {} sampled values are values of the table",
                                sampled.len()
                            ),
                        )
                    }
                    _ => continue,
                };
                verdict(line, holds, decided);
            }
            _ => {}
        }
    }
    out
}

/// Whether the method of the deciding mask (`deciding`, an index into the
/// column's masks) never shows a value of the table: `hash`, `null` and the
/// `show` forms (a rounded, truncated, replaced or constant value may be
/// one).
fn keeps_no_value(column: &crate::model::Column, deciding: Option<usize>) -> bool {
    deciding.is_some_and(|i| {
        matches!(
            column.masks[i].method,
            crate::ast::Method::Hash
                | crate::ast::Method::Null
                | crate::ast::Method::ShowFirst(_)
                | crate::ast::Method::ShowLast(_)
                | crate::ast::Method::Show { .. }
        )
    })
}
