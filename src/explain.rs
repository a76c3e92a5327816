//! `explain`: what a user sees of each source and which rule decides each
//! column and each row filter, from the checked model alone.

use crate::ast::{ExemptionKind, FilterKind, Method, Subject};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Clear,
    Masked,
    /// Masked on the rows where the rule's `when` holds.
    Conditional,
}

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

/// Explains one source for one user.
pub fn explain_source(
    model: &Model,
    files: &Files,
    covering: &[usize],
    s: usize,
    user: &User,
) -> SourceView {
    let source = &model.sources[s];
    SourceView {
        source: source.id.clone(),
        access: access(model, files, covering, s, user),
        columns: source
            .columns
            .iter()
            .map(|column| {
                let mut exemption = None;
                for applied in &column.masks {
                    let rule = &model.masks[applied.rule];
                    let at = files.cite(rule.loc);
                    let exempt = match &rule.exemption {
                        Some((ExemptionKind::Except, subject)) => {
                            holds(subject, user, Some(&source.id))
                        }
                        Some((ExemptionKind::For, subject)) => {
                            !holds(subject, user, Some(&source.id))
                        }
                        None => false,
                    };
                    if exempt {
                        if let Some((kind, subject)) = &rule.exemption {
                            let word = match kind {
                                ExemptionKind::Except => "except",
                                ExemptionKind::For => "for",
                            };
                            exemption =
                                Some(format!("{word} {} ({at})", crate::fmt::subject(subject)));
                        }
                        continue;
                    }
                    let method = crate::fmt::method(&applied.method);
                    let state = if applied.method == Method::None {
                        State::Clear
                    } else if rule.when.is_some() {
                        State::Conditional
                    } else {
                        State::Masked
                    };
                    return ColumnView {
                        column: column.name.clone(),
                        state,
                        method: Some(method),
                        rule: Some(at),
                        exemption,
                    };
                }
                ColumnView {
                    column: column.name.clone(),
                    state: State::Clear,
                    method: None,
                    rule: None,
                    exemption,
                }
            })
            .collect(),
        filters: model
            .filters
            .iter()
            .filter(|f| f.sources.contains(&s))
            .map(|f| {
                let exempt = f
                    .except
                    .as_ref()
                    .filter(|e| holds(e, user, Some(&source.id)));
                FilterView {
                    rule: files.cite(f.loc),
                    kind: filter_kind(&f.kind),
                    applies: exempt.is_none(),
                    exempt_by: exempt.map(|e| format!("except {}", crate::fmt::subject(e))),
                }
            })
            .collect(),
    }
}

fn filter_kind(kind: &FilterKind) -> String {
    match kind {
        FilterKind::Where(p) => format!("where {}", crate::fmt::predicate(p)),
        FilterKind::Time {
            newer,
            amount,
            unit,
        } => format!(
            "{} than {amount} {}",
            if *newer { "newer" } else { "older" },
            unit.keyword()
        ),
        FilterKind::Sample { percent, column } => {
            format!("sample {percent} percent by {}", column.node)
        }
        FilterKind::LimitToPurpose(p) => format!("limit to purpose {}", crate::fmt::string(p)),
        FilterKind::LimitToAnyPurpose => "limit to any purpose".into(),
        FilterKind::Never => "never".into(),
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
