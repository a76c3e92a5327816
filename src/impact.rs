//! Access impact: who gains or loses what between two versions of the
//! policies, computed from the effective policies (explain's decisions), not
//! from SQL text. Only the sources whose policies changed, and the users
//! whose profiles changed, are compared, so a one-rule change costs one
//! source × all users. Users whose entries are alike (everything but the
//! name) get the same decisions, so each such class is decided once, and
//! each change lists the users it affects.

use crate::eval;
use crate::explain::{self, Decisions, State};
use crate::model::{Model, Source, User};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// One change in what some users see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Impact {
    pub source: String,
    /// `gains access`, `loses access`, `column clear`, `column masked`,
    /// `mask changed`, `filter added`, `filter removed`, `filter exempted`.
    pub change: String,
    pub column: Option<String>,
    /// The method now in force, the filter, or (`gains access`) the columns
    /// the users see clear.
    pub detail: Option<String>,
    /// A column concerned carries a sensitive tag (`pii` and below by
    /// default).
    pub sensitive: bool,
    /// The users affected, sorted.
    pub users: Vec<String>,
}

/// An impact before its users are known.
type Change = (String, String, Option<String>, Option<String>, bool);

/// Users alike in both versions: a representative's entries before and
/// after, whether they differ, and the names.
type Class<'a> = (Option<&'a User>, Option<&'a User>, bool, Vec<&'a str>);

/// A source's effective policy, without locations: two sources with the
/// same signature look the same to every user.
fn signature(model: &Model, covering: &[usize], s: usize) -> String {
    let source = &model.sources[s];
    let mut text = String::new();
    for &r in covering {
        let rule = &model.access[r];
        for (subject, _) in &rule.allow {
            text.push_str(&format!("allow {}\n", crate::fmt::subject(subject)));
        }
        for (subject, _) in &rule.require {
            text.push_str(&format!("require {}\n", crate::fmt::subject(subject)));
        }
        text.push_str("--\n");
    }
    for column in &source.columns {
        text.push_str(&format!("column {} {}\n", column.name, column.ty.sql));
        for m in &column.masks {
            let rule = &model.masks[m.rule];
            text.push_str(&format!(
                "  {} {:?} {:?} {}\n",
                crate::fmt::method(&m.method),
                rule.exemption,
                rule.when,
                rule.priority
            ));
        }
    }
    for f in model.filters.iter().filter(|f| f.sources.contains(&s)) {
        text.push_str(&format!("filter {:?} {:?}\n", f.kind, f.except));
    }
    text
}

/// Whether a column of `source` carries one of `tags` or a tag below one.
fn sensitive(source: &Source, column: &str, tags: &[String]) -> bool {
    let below = |tag: &str, t: &str| {
        t.strip_prefix(tag)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    source
        .columns
        .iter()
        .find(|c| c.name == column)
        .is_some_and(|c| {
            c.tags
                .iter()
                .any(|t| tags.iter().any(|tag| t == tag || below(tag, t)))
        })
}

/// The impact of moving from `before` to `after`, for the sources of the
/// integration named `integration`.
pub fn impact(
    old: &Model,
    new: &Model,
    integration: &str,
    sensitive_tags: &[String],
) -> Vec<Impact> {
    let old_rules = eval::access_rules_by_source(old);
    let new_rules = eval::access_rules_by_source(new);
    let old_index = sources_of(old, integration);
    let new_index = sources_of(new, integration);
    // Sources whose effective policy changed, appeared or went.
    let ids: BTreeSet<&str> = old_index.keys().chain(new_index.keys()).copied().collect();
    let all_sources: Vec<&str> = ids.iter().copied().collect();
    let changed: Vec<&str> = ids
        .into_iter()
        .filter(|id| match (old_index.get(id), new_index.get(id)) {
            (Some(&o), Some(&n)) => {
                signature(old, &old_rules[o], o) != signature(new, &new_rules[n], n)
            }
            _ => true,
        })
        .collect();
    let changed_set: std::collections::HashSet<&str> = changed.iter().copied().collect();
    let versions = Versions {
        old: (old, &old_index, &old_rules),
        new: (new, &new_index, &new_rules),
    };
    let mut grouped: std::collections::BTreeMap<Change, Vec<String>> = Default::default();
    for (ou, nu, user_changed, members) in classes(old, new) {
        // A user whose entry changed may see any source differently;
        // others only the sources whose policy changed.
        let sources = if user_changed { &all_sources } else { &changed };
        let found = versions.class_changes((ou, nu), sources, &changed_set, sensitive_tags);
        for change in found {
            grouped
                .entry(change)
                .or_default()
                .extend(members.iter().map(|m| m.to_string()));
        }
    }
    grouped
        .into_iter()
        .map(|((source, change, column, detail, sensitive), mut users)| {
            users.sort();
            Impact {
                source,
                change,
                column,
                detail,
                sensitive,
                users,
            }
        })
        .collect()
}

/// The sources of one integration, by id.
fn sources_of<'m>(m: &'m Model, integration: &str) -> HashMap<&'m str, usize> {
    m.sources
        .iter()
        .enumerate()
        .filter(|(_, s)| m.integrations[s.integration].name == integration)
        .map(|(i, s)| (s.id.as_str(), i))
        .collect()
}

/// The users of a model, by name.
fn users_of(m: &Model) -> HashMap<&str, &User> {
    m.directory
        .users
        .iter()
        .map(|u| (u.name.as_str(), u))
        .collect()
}

/// The users of both versions in classes: users alike in both versions
/// (everything but the name, unless a rule of either version names the
/// user) are decided once.
fn classes<'m>(old: &'m Model, new: &'m Model) -> Vec<Class<'m>> {
    let (old_users, new_users) = (users_of(old), users_of(new));
    let names: BTreeSet<&str> = old_users.keys().chain(new_users.keys()).copied().collect();
    let named: std::collections::HashSet<&str> = eval::named_users(old)
        .into_iter()
        .chain(eval::named_users(new))
        .collect();
    let unnamed = |u: Option<&&User>| {
        u.map(|u| User {
            name: if named.contains(u.name.as_str()) {
                u.name.clone()
            } else {
                String::new()
            },
            ..(*u).clone()
        })
    };
    let mut classes: HashMap<String, Class<'_>> = HashMap::new();
    for name in names {
        let (ou, nu) = (old_users.get(name), new_users.get(name));
        let (before, after) = (unnamed(ou), unnamed(nu));
        let user_changed = before != after;
        classes
            .entry(format!("{before:?}|{after:?}"))
            .or_insert_with(|| (ou.copied(), nu.copied(), user_changed, Vec::new()))
            .3
            .push(name);
    }
    classes.into_values().collect()
}

/// A model, its sources by id and each source's access rules.
type Version<'m> = (&'m Model, &'m HashMap<&'m str, usize>, &'m [Vec<usize>]);

/// The two versions an impact compares.
struct Versions<'m> {
    old: Version<'m>,
    new: Version<'m>,
}

impl Versions<'_> {
    /// What changes for one class of users (as it is in each version) on
    /// `sources`.
    fn class_changes(
        &self,
        (ou, nu): (Option<&User>, Option<&User>),
        sources: &[&str],
        changed_set: &std::collections::HashSet<&str>,
        sensitive_tags: &[String],
    ) -> Vec<Change> {
        let ((old, old_index, old_rules), (new, new_index, new_rules)) = (self.old, self.new);
        let mut found = Vec::new();
        for &id in sources {
            // A user who is not in a version has no profile row there, and
            // sees nothing: no decisions at all (not those of a user with
            // no groups, whom `allow everyone` or a negation would let in).
            let o = ou.and_then(|user| {
                old_index
                    .get(id)
                    .map(|&s| (s, explain::decide(old, &old_rules[s], s, user)))
            });
            let n = nu.and_then(|user| {
                new_index
                    .get(id)
                    .map(|&s| (s, explain::decide(new, &new_rules[s], s, user)))
            });
            if let (Some((_, a)), Some((_, b))) = (&o, &n)
                && a == b
                && !changed_set.contains(id)
            {
                continue;
            }
            compare(
                id,
                (old, o.as_ref()),
                (new, n.as_ref()),
                sensitive_tags,
                &mut found,
            );
        }
        found
    }
}

/// The differences between two sets of decisions for one class of users
/// and one source.
///
/// Long, because it walks access and then each column of one source in
/// one pass, each step a few lines (the filters are `filter_changes`).
fn compare(
    source_id: &str,
    before: (&Model, Option<&(usize, Decisions)>),
    after: (&Model, Option<&(usize, Decisions)>),
    sensitive_tags: &[String],
    out: &mut Vec<Change>,
) {
    let (old, before) = before;
    let (new, after) = after;
    let granted = |d: Option<&(usize, Decisions)>| d.is_some_and(|(_, d)| d.granted);
    let source = after
        .map(|(s, _)| &new.sources[*s])
        .or_else(|| before.map(|(s, _)| &old.sources[*s]));
    let push =
        |out: &mut Vec<Change>, change: &str, column: Option<&str>, detail: Option<String>| {
            out.push((
                source_id.to_string(),
                change.to_string(),
                column.map(str::to_string),
                detail,
                column.is_some_and(|c| source.is_some_and(|s| sensitive(s, c, sensitive_tags))),
            ));
        };
    let gained = match (granted(before), granted(after)) {
        (false, false) => return,
        (true, false) => {
            push(out, "loses access", None, None);
            return;
        }
        (false, true) => {
            // One entry names the columns the users now see clear.
            if let Some((s, decisions)) = after {
                let source = &new.sources[*s];
                let clear: Vec<&str> = source
                    .columns
                    .iter()
                    .zip(&decisions.columns)
                    .filter(|(_, (state, _))| *state == State::Clear)
                    .map(|(c, _)| c.name.as_str())
                    .collect();
                out.push((
                    source_id.to_string(),
                    "gains access".to_string(),
                    None,
                    (!clear.is_empty()).then(|| format!("clear: {}", clear.join(", "))),
                    clear.iter().any(|c| sensitive(source, c, sensitive_tags)),
                ));
            }
            true
        }
        (true, true) => false,
    };
    let Some((s, decisions)) = after else { return };
    let source = &new.sources[*s];
    let method_of = |model: &Model, s: usize, column: usize, deciding: Option<usize>| {
        deciding.map(|i| crate::fmt::method(&model.sources[s].columns[column].masks[i].method))
    };
    for (c, column) in source.columns.iter().enumerate() {
        let (state, deciding) = decisions.columns[c];
        let now_clear = state == State::Clear;
        let old_column = before.and_then(|(os, od)| {
            old.sources[*os]
                .columns
                .iter()
                .position(|oc| oc.name == column.name)
                .map(|oc| (*os, oc, od.columns[oc]))
        });
        match old_column {
            // A source newly queryable: its clear columns are listed above.
            _ if gained => {}
            Some((_, _, (old_state, _))) if old_state != State::Clear && now_clear => {
                push(out, "column clear", Some(&column.name), None)
            }
            Some((_, _, (old_state, _))) if old_state == State::Clear && !now_clear => push(
                out,
                "column masked",
                Some(&column.name),
                method_of(new, *s, c, deciding),
            ),
            Some((os, oc, (_, old_deciding))) if !now_clear => {
                let (was, is) = (
                    method_of(old, os, oc, old_deciding),
                    method_of(new, *s, c, deciding),
                );
                if was != is {
                    push(out, "mask changed", Some(&column.name), is);
                }
            }
            None if now_clear => push(out, "column clear", Some(&column.name), None),
            _ => {}
        }
    }
    let was = before.filter(|_| !gained);
    for (change, kind) in filter_changes((old, was), (new, (*s, decisions))) {
        push(out, change, None, Some(kind));
    }
}

/// How the filters in force on a source change for a class of users: each
/// filter added, exempted or removed, with its text. (A source newly
/// queryable, `before` none, had none in force.)
fn filter_changes(
    (old, before): (&Model, Option<&(usize, Decisions)>),
    (new, (s, decisions)): (&Model, (usize, &Decisions)),
) -> Vec<(&'static str, String)> {
    let kinds = |model: &Model, s: usize, applies: &[bool]| -> Vec<(String, bool)> {
        model
            .filters
            .iter()
            .filter(|f| f.sources.contains(&s))
            .zip(applies)
            .map(|(f, a)| (crate::fmt::filter_kind(&f.kind), *a))
            .collect()
    };
    let now = kinds(new, s, &decisions.filters);
    let was = match before {
        Some((os, od)) => kinds(old, *os, &od.filters),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for (kind, applies) in &now {
        if *applies && !was.iter().any(|(k, a)| k == kind && *a) {
            out.push(("filter added", kind.clone()));
        }
    }
    for (kind, applied) in &was {
        if *applied && !now.iter().any(|(k, a)| k == kind && *a) {
            let change = if now.iter().any(|(k, _)| k == kind) {
                "filter exempted"
            } else {
                "filter removed"
            };
            out.push((change, kind.clone()));
        }
    }
    out
}
