//! Decisions veil makes at compile time from `identities.yaml`: whether a
//! subject condition holds for a user, and whether a user may query a
//! source.

use crate::ast::Subject;
use crate::model::{Model, User};

/// Whether `subject` holds for `user`, reading `source` for `approved`.
pub fn holds(subject: &Subject, user: &User, source: Option<&str>) -> bool {
    match subject {
        Subject::Everyone => true,
        Subject::Approved => source.is_some_and(|s| user.approved.iter().any(|a| a == s)),
        Subject::User(name) => user.name == *name,
        Subject::Group(group) => user.groups.iter().any(|g| g == group),
        Subject::Attribute(key, None) => user.attributes.get(key).is_some_and(|v| !v.is_empty()),
        Subject::Attribute(key, Some(value)) => user
            .attributes
            .get(key)
            .is_some_and(|values| values.iter().any(|v| v == value)),
        Subject::Purpose(purpose) => user.purposes.iter().any(|p| p == purpose),
        Subject::AnyPurpose => !user.purposes.is_empty(),
        Subject::Not(inner) => !holds(inner, user, source),
        Subject::And(parts) => parts.iter().all(|p| holds(p, user, source)),
        Subject::Or(parts) => parts.iter().any(|p| holds(p, user, source)),
        Subject::Paren(inner) => holds(inner, user, source),
    }
}

/// For each source, the access rules that cover it, by index.
pub fn access_rules_by_source(model: &Model) -> Vec<Vec<usize>> {
    let mut by_source = vec![Vec::new(); model.sources.len()];
    for (r, rule) in model.access.iter().enumerate() {
        for &s in &rule.sources {
            by_source[s].push(r);
        }
    }
    by_source
}

/// The user names the rules test (`user "…"`). Users whose entries are
/// alike decide alike, unless one of them is named here.
pub fn named_users(model: &Model) -> std::collections::HashSet<&str> {
    fn walk<'m>(subject: &'m Subject, names: &mut std::collections::HashSet<&'m str>) {
        match subject {
            Subject::User(name) => {
                names.insert(name);
            }
            Subject::Not(inner) | Subject::Paren(inner) => walk(inner, names),
            Subject::And(parts) | Subject::Or(parts) => {
                parts.iter().for_each(|p| walk(p, names));
            }
            _ => {}
        }
    }
    let mut names = std::collections::HashSet::new();
    let access = model
        .access
        .iter()
        .flat_map(|r| r.allow.iter().chain(&r.require).map(|(s, _)| s));
    let masks = model
        .masks
        .iter()
        .filter_map(|m| m.exemption.as_ref().map(|(_, s)| s));
    let filters = model
        .filters
        .iter()
        .flat_map(|f| f.only_for.iter().chain(&f.except));
    for subject in access.chain(masks).chain(filters) {
        walk(subject, &mut names);
    }
    names
}

/// Whether a subject condition reads the source (`approved`).
pub fn mentions_approved(subject: &Subject) -> bool {
    match subject {
        Subject::Approved => true,
        Subject::Not(inner) | Subject::Paren(inner) => mentions_approved(inner),
        Subject::And(parts) | Subject::Or(parts) => parts.iter().any(|p| mentions_approved(p)),
        _ => false,
    }
}

/// Whether `user` may query source `s`: every `require` line of every rule
/// covering it holds, and at least one `allow` line does. A source no rule
/// covers is visible to nobody.
pub fn may_query(model: &Model, rules: &[usize], s: usize, user: &User) -> bool {
    let id = Some(model.sources[s].id.as_str());
    let rules = rules.iter().map(|&r| &model.access[r]);
    let mut allowed = false;
    for rule in rules {
        if !rule
            .require
            .iter()
            .all(|(subject, _)| holds(subject, user, id))
        {
            return false;
        }
        allowed = allowed
            || rule
                .allow
                .iter()
                .any(|(subject, _)| holds(subject, user, id));
    }
    allowed
}
