//! `explain`: what a user sees of each source and which rule decides each
//! column and each row filter, from the checked model alone.

use crate::ast::{ExemptionKind, Method, Subject};
use crate::diagnostic::Files;
use crate::eval::{self, holds};
use crate::model::{Model, User};
use serde::Serialize;

/// What one user sees of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceView {
    pub source: String,
    pub access: Access,
    pub columns: Vec<ColumnView>,
    pub filters: Vec<FilterView>,
}

/// The access decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub granted: bool,
    /// `file:line` of the `allow` line that grants it, or of the line that
    /// denies it.
    pub rule: Option<String>,
    pub reason: String,
}

/// How a column reaches the user.
pub use crate::ast::ColumnState as State;

/// One column's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnView {
    pub column: String,
    pub state: State,
    /// The method in effect (`hash`, `round(100)` …), when masked.
    pub method: Option<String>,
    /// `file:line` of the deciding rule.
    pub rule: Option<String>,
    /// The exemption that let the user through a rule, as written, with
    /// its `file:line`.
    pub exemption: Option<String>,
}

/// One row filter's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterView {
    pub rule: String,
    pub kind: String,
    /// Whether the filter limits this user's rows.
    pub applies: bool,
    /// The `except` condition that exempts the user, as written.
    pub exempt_by: Option<String>,
    /// The filter applies and keeps no row for this user (`never`, or a
    /// purpose the user does not act under).
    pub hides_every_row: bool,
    /// The lookup sources whose data decides which rows the filter keeps
    /// (a change there changes the rows without a plan).
    pub depends_on: Vec<String>,
}

/// Explains every source (or one) for one user.
pub fn explain_user(
    model: &Model,
    files: &Files,
    user: &User,
    only: Option<usize>,
) -> Vec<SourceView> {
    let rules = eval::access_rules_by_source(model);
    (0..model.sources.len())
        .filter(|s| only.is_none_or(|o| o == *s))
        .map(|s| explain_source(model, files, &rules[s], s, user))
        .collect()
}

/// The decisions for one user and one source, without any text: what
/// `explain` shows and what the access impact compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisions {
    pub granted: bool,
    /// Per column: the state, and the index in the column's masks of the
    /// deciding rule (`None` when no rule applies).
    pub columns: Vec<(State, Option<usize>)>,
    /// Per filter on the source, in order: whether it applies.
    pub filters: Vec<bool>,
}

/// Whether the mask rule applies to `user` (its `except` does not hold, its
/// `for` does).
fn mask_applies(model: &Model, rule: usize, user: &User, source: &str) -> bool {
    match &model.masks[rule].exemption {
        Some((ExemptionKind::Except, subject)) => !holds(subject, user, Some(source)),
        Some((ExemptionKind::For, subject)) => holds(subject, user, Some(source)),
        None => true,
    }
}

/// Decides one source for one user.
pub fn decide(model: &Model, covering: &[usize], s: usize, user: &User) -> Decisions {
    let source = &model.sources[s];
    Decisions {
        granted: eval::may_query(model, covering, s, user),
        columns: source
            .columns
            .iter()
            .map(|column| {
                // The first rule that applies decides; one with a `when`
                // decides only the rows where it holds, and the rest fall to
                // the next: a later mask that always applies makes the
                // column masked on every row.
                let mut conditional = None;
                for (i, applied) in column.masks.iter().enumerate() {
                    if !mask_applies(model, applied.rule, user, &source.id) {
                        continue;
                    }
                    if applied.method == Method::None {
                        return match conditional {
                            Some(first) => (State::Conditional, Some(first)),
                            None => (State::Clear, Some(i)),
                        };
                    }
                    if model.masks[applied.rule].when.is_some() {
                        conditional.get_or_insert(i);
                        continue;
                    }
                    return (State::Masked, Some(conditional.unwrap_or(i)));
                }
                match conditional {
                    Some(first) => (State::Conditional, Some(first)),
                    None => (State::Clear, None),
                }
            })
            .collect(),
        filters: model
            .filters
            .iter()
            .filter(|f| f.sources.contains(&s))
            .map(|f| filter_applies(f, user, &source.id))
            .collect(),
    }
}

/// Whether a filter applies to `user`: its `for` holds (or it has none)
/// and its `except` does not.
fn filter_applies(f: &crate::model::FilterRule, user: &User, source: &str) -> bool {
    let holds = |s: &Subject| holds(s, user, Some(source));
    f.only_for.as_ref().is_none_or(holds) && !f.except.as_ref().is_some_and(holds)
}

/// Explains one source for one user.
pub fn explain_source(
    model: &Model,
    files: &Files,
    covering: &[usize],
    s: usize,
    user: &User,
) -> SourceView {
    let source = &model.sources[s];
    let decisions = decide(model, covering, s, user);
    SourceView {
        source: source.id.clone(),
        access: access(model, files, covering, s, user),
        columns: source
            .columns
            .iter()
            .zip(&decisions.columns)
            .map(|(column, (state, deciding))| {
                // The last exemption passed before the deciding rule.
                let passed = deciding.unwrap_or(column.masks.len());
                let exemption = column.masks[..passed].iter().rev().find_map(|m| {
                    let (kind, subject) = model.masks[m.rule].exemption.as_ref()?;
                    let word = match kind {
                        ExemptionKind::Except => "except",
                        ExemptionKind::For => "for",
                    };
                    Some(format!(
                        "{word} {} ({})",
                        crate::fmt::subject(subject),
                        files.cite(model.masks[m.rule].loc)
                    ))
                });
                let decided = deciding.map(|i| &column.masks[i]);
                ColumnView {
                    column: column.name.clone(),
                    state: *state,
                    method: decided.map(|m| crate::fmt::method(&m.method)),
                    rule: decided.map(|m| files.cite(model.masks[m.rule].loc)),
                    exemption,
                }
            })
            .collect(),
        filters: model
            .filters
            .iter()
            .filter(|f| f.sources.contains(&s))
            .zip(&decisions.filters)
            .map(|(f, applies)| FilterView {
                rule: files.cite(f.loc),
                kind: crate::fmt::filter_kind(&f.kind),
                applies: *applies,
                depends_on: {
                    let mut sources = Vec::new();
                    if let crate::ast::FilterKind::Where(p) = &f.kind {
                        p.node
                            .lookups(&mut |source, _, _| sources.push(source.to_string()));
                    }
                    sources
                },
                hides_every_row: *applies
                    && matches!(
                        f.kind,
                        crate::ast::FilterKind::Never
                            | crate::ast::FilterKind::LimitToPurpose(_)
                            | crate::ast::FilterKind::LimitToAnyPurpose
                    ),
                exempt_by: (!applies)
                    .then(|| {
                        let id = Some(model.sources[s].id.as_str());
                        match &f.only_for {
                            Some(only_for) if !holds(only_for, user, id) => {
                                Some(format!("for {}", crate::fmt::subject(only_for)))
                            }
                            _ => f
                                .except
                                .as_ref()
                                .map(|e| format!("except {}", crate::fmt::subject(e))),
                        }
                    })
                    .flatten(),
            })
            .collect(),
    }
}

/// The access decision with the line that makes it.
fn access(model: &Model, files: &Files, covering: &[usize], s: usize, user: &User) -> Access {
    let id = Some(model.sources[s].id.as_str());
    if covering.is_empty() {
        return Access {
            granted: false,
            rule: None,
            reason: "no access rule covers this source: it is visible to nobody".into(),
        };
    }
    for &r in covering {
        for (subject, loc) in &model.access[r].require {
            if !holds(subject, user, id) {
                return Access {
                    granted: false,
                    rule: Some(files.cite(*loc)),
                    reason: format!("require {} does not hold", crate::fmt::subject(subject)),
                };
            }
        }
    }
    for &r in covering {
        for (subject, loc) in &model.access[r].allow {
            if holds(subject, user, id) {
                return Access {
                    granted: true,
                    rule: Some(files.cite(*loc)),
                    reason: format!("allow {}", describe(subject)),
                };
            }
        }
    }
    Access {
        granted: false,
        rule: covering.first().map(|&r| files.cite(model.access[r].loc)),
        reason: "no allow line holds".into(),
    }
}

fn describe(subject: &Subject) -> String {
    crate::fmt::subject(subject)
}
