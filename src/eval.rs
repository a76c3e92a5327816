//! Decisions veil makes at compile time from `identities.yaml`: whether a
//! subject condition holds for a user, and which sources a user may query.

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
    let filters = model.filters.iter().filter_map(|f| f.except.as_ref());
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

/// Users who decide alike: the same entries but for the name, which counts
/// only when a rule names the user. Returns one representative per class
/// and each user's class.
pub fn user_classes<'u>(model: &Model, users: &'u [User]) -> (Vec<&'u User>, Vec<usize>) {
    type Key<'u> = (
        Option<&'u str>,
        &'u [String],
        &'u std::collections::BTreeMap<String, Vec<String>>,
        &'u [String],
        &'u [String],
    );
    let named = named_users(model);
    let mut index: std::collections::HashMap<Key<'u>, usize> = std::collections::HashMap::new();
    let mut representatives = Vec::new();
    let classes = users
        .iter()
        .map(|user| {
            // What `holds` reads of a user, and nothing else.
            let key: Key<'u> = (
                named
                    .contains(user.name.as_str())
                    .then_some(user.name.as_str()),
                &user.groups,
                &user.attributes,
                &user.purposes,
                &user.approved,
            );
            *index.entry(key).or_insert_with(|| {
                representatives.push(user);
                representatives.len() - 1
            })
        })
        .collect();
    (representatives, classes)
}

/// For each user, the sources among `sources` they may query, in order.
/// Sources covered by the same access rules share one decision per user,
/// so the work grows with users × distinct rule sets, not users × sources.
pub fn valid_tables(model: &Model, sources: &[usize], users: &[&User]) -> Vec<Vec<usize>> {
    let rules = access_rules_by_source(model);
    // Group the sources by the rules covering them; a rule set that reads
    // `approved` depends on the source itself and is decided per source.
    let mut groups: Vec<(Vec<usize>, Vec<usize>, bool)> = Vec::new();
    let mut index: std::collections::HashMap<&[usize], usize> = std::collections::HashMap::new();
    for &s in sources {
        let covering = rules[s].as_slice();
        let per_source = covering.iter().any(|&r| reads_approved(model, r));
        if per_source {
            groups.push((covering.to_vec(), vec![s], true));
            continue;
        }
        match index.get(covering) {
            Some(&g) => groups[g].1.push(s),
            None => {
                index.insert(covering, groups.len());
                groups.push((covering.to_vec(), vec![s], false));
            }
        }
    }
    // Each rule is decided once per user; a group of sources then only
    // combines the decisions of its rules.
    let used: Vec<usize> = {
        let mut used: Vec<usize> = groups
            .iter()
            .flat_map(|(c, _, _)| c.iter().copied())
            .collect();
        used.sort_unstable();
        used.dedup();
        used
    };
    let mut allow = vec![false; model.access.len()];
    let mut require = vec![false; model.access.len()];
    users
        .iter()
        .map(|user| {
            for &r in &used {
                let rule = &model.access[r];
                let source = rule.sources.first().map(|&s| model.sources[s].id.as_str());
                allow[r] = rule
                    .allow
                    .iter()
                    .any(|(subject, _)| holds(subject, user, source));
                require[r] = rule
                    .require
                    .iter()
                    .all(|(subject, _)| holds(subject, user, source));
            }
            let mut allowed: Vec<usize> = Vec::new();
            for (covering, members, per_source) in &groups {
                let ok = if *per_source {
                    may_query(model, covering, members[0], user)
                } else {
                    covering.iter().all(|&r| require[r]) && covering.iter().any(|&r| allow[r])
                };
                if ok {
                    allowed.extend(members.iter().copied());
                }
            }
            allowed.sort_unstable();
            allowed
        })
        .collect()
}

fn reads_approved(model: &Model, r: usize) -> bool {
    let rule = &model.access[r];
    rule.allow
        .iter()
        .chain(&rule.require)
        .any(|(subject, _)| mentions_approved(subject))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(policy: &str, identities: &str) -> Model {
        let project = crate::project::load_texts(&[("p.veil".into(), policy.into())], identities)
            .unwrap_or_else(|e| panic!("{:?}", e.diagnostics));
        let checked = project.check();
        checked
            .model
            .unwrap_or_else(|| panic!("{:?}", checked.diagnostics))
    }

    const POLICY: &str = r#"
integration w { dialect = postgres database = "d" view_schema = "v" }
source s.a { integration = w table = s.a columns { id int } }
source s.b { integration = w table = s.b columns { id int } }
access s.a { allow group "g" }
access s.b { allow user "ann" }
"#;

    #[test]
    fn users_alike_share_a_class_unless_a_rule_names_them() {
        let model = model(
            POLICY,
            "groups: [g]\nusers:\n  ann: { groups: [g] }\n  bo: { groups: [g] }\n  cy: { groups: [g] }\n  di: {}\n",
        );
        let (representatives, classes) = user_classes(&model, &model.directory.users);
        let names: Vec<&str> = representatives.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["ann", "bo", "di"]);
        assert_eq!(classes, [0, 1, 1, 2]);
        let sources: Vec<usize> = (0..model.sources.len()).collect();
        let valid = valid_tables(&model, &sources, &representatives);
        assert_eq!(valid, [vec![0, 1], vec![0], vec![]]);
    }
}
