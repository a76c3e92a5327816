//! `identities.yaml`: the declared vocabulary and the users, cross-checked.

use super::{Checker, loc, valid_name};
use crate::diagnostic::{Code, Diagnostic};
use crate::hash::{FastMap, FastSet};
use crate::identities::{Identities, YamlName};
use crate::model::{Dialect, User};
use crate::span::{FileId, Loc};
use std::collections::BTreeMap;

/// Why a name could pass for another in review: control or invisible
/// characters, or whitespace at either end.
fn suspicious(name: &str) -> Option<&'static str> {
    if name.chars().any(char::is_control) {
        Some("holds a control character")
    } else if name.chars().any(crate::span::is_invisible) {
        Some("holds an invisible character")
    } else if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        Some("begins or ends with whitespace")
    } else {
        None
    }
}

impl Checker<'_> {
    /// Reports a second declaration of a name in one list, and names that
    /// could pass for others.
    fn declare<'n>(
        &mut self,
        file: FileId,
        what: &str,
        names: impl IntoIterator<Item = &'n YamlName>,
    ) -> Vec<String> {
        let names: Vec<&YamlName> = names.into_iter().collect();
        for name in &names {
            if let Some(why) = suspicious(&name.node) {
                self.push(
                    Diagnostic::warning(
                        Code::CheckSuspiciousName,
                        format!("{what} `{}` {why}", name.node.escape_debug()),
                    )
                    .at_loc(loc(file, name.span), "declared here")
                    .help("such a name reads like another in a review; rename it unless the database's name really is this"),
                );
            }
        }
        self.unique(file, what, names)
    }

    /// Reports a second declaration of a name in one list.
    fn unique<'n>(
        &mut self,
        file: FileId,
        what: &str,
        names: impl IntoIterator<Item = &'n YamlName>,
    ) -> Vec<String> {
        let mut seen: FastMap<&str, Loc> = FastMap::default();
        let mut out = Vec::new();
        for name in names {
            let here = loc(file, name.span);
            if let Some(first) = seen.get(name.node.as_str()) {
                self.push(
                    Diagnostic::error(
                        Code::CheckDuplicate,
                        format!("{what} `{}` is listed twice", name.node),
                    )
                    .at_loc(here, "listed again here")
                    .related(*first, "first listed here")
                    .help("remove the second entry"),
                );
                continue;
            }
            seen.insert(&name.node, here);
            out.push(name.node.clone());
        }
        out
    }

    /// Checks that `name` is one of `known`.
    fn declared(
        &mut self,
        file: FileId,
        what: &str,
        name: &YamlName,
        known: &FastSet<String>,
        section: &str,
    ) -> bool {
        if known.contains(&name.node) {
            return true;
        }
        self.unknown(
            what,
            &name.node,
            loc(file, name.span),
            known.iter().map(String::as_str),
            &format!("declare it under `{section}` at the top of identities.yaml"),
        );
        false
    }

    pub(super) fn directory(&mut self, file: FileId, ids: &Identities) {
        let vocabulary = self.vocabulary(file, ids);
        // A user name must do on every integration: the shortest limit,
        // and a warning where the catalog folds case.
        let dialects: Vec<Dialect> = self.model.integrations.iter().map(|i| i.dialect).collect();
        let folds = dialects.iter().any(|d| d.sql().folds_case());
        let strictest = dialects
            .iter()
            .copied()
            .min_by_key(|d| d.max_name_bytes())
            .unwrap_or(Dialect::Redshift);

        self.declare(file, "user", ids.users.0.iter().map(|(k, _)| k));
        let mut users = Vec::new();
        let mut seen_users: FastMap<&str, ()> = FastMap::default();
        for (name, def) in &ids.users.0 {
            if seen_users.insert(&name.node, ()).is_some() {
                continue;
            }
            users.push(self.user(file, name, def, &vocabulary, (strictest, folds)));
        }
        self.user_names = users.iter().map(|u| u.name.clone()).collect();
        let Vocabulary {
            groups,
            attributes,
            purposes,
            projects,
            ..
        } = vocabulary;
        self.group_names = groups.iter().cloned().collect();
        let directory = &mut self.model.directory;
        directory.groups = groups;
        directory.attributes = attributes;
        directory.purposes = purposes;
        directory.projects = projects;
        directory.users = users;
    }

    /// The groups, attributes, purposes and projects the identities declare.
    fn vocabulary(&mut self, file: FileId, ids: &Identities) -> Vocabulary {
        let groups = self.declare(file, "group", &ids.groups);
        let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let keys = self.declare(file, "attribute", ids.attributes.0.iter().map(|(k, _)| k));
        for (key, values) in &ids.attributes.0 {
            let values = self.declare(file, "attribute value", values);
            attributes.entry(key.node.clone()).or_insert(values);
        }
        let _ = keys;
        let purpose_names: FastSet<String> = self
            .declare(file, "purpose", ids.purposes.0.iter().map(|(k, _)| k))
            .into_iter()
            .collect();
        let purposes: BTreeMap<String, String> = ids
            .purposes
            .0
            .iter()
            .map(|(k, v)| (k.node.clone(), v.clone()))
            .collect();
        self.declare(file, "project", ids.projects.0.iter().map(|(k, _)| k));
        let mut projects = BTreeMap::new();
        for (name, project) in &ids.projects.0 {
            let mut list = Vec::new();
            for p in &project.purposes {
                if self.declared(file, "purpose", p, &purpose_names, "purposes") {
                    list.push(p.node.clone());
                }
            }
            projects.entry(name.node.clone()).or_insert(list);
        }
        Vocabulary {
            group_set: groups.iter().cloned().collect(),
            groups,
            attributes,
            purposes,
            purpose_names,
            project_names: projects.keys().cloned().collect(),
            projects,
        }
    }

    /// One user's entry, checked against the vocabulary: a valid name on
    /// every integration (`strictest`; a warning for upper case where a
    /// catalog `folds`), known groups, attribute values, projects and
    /// purposes, a current project among the user's own.
    fn user(
        &mut self,
        file: FileId,
        name: &YamlName,
        def: &crate::identities::UserDef,
        vocabulary: &Vocabulary,
        (strictest, folds): (Dialect, bool),
    ) -> User {
        let Vocabulary {
            group_set,
            attributes,
            projects,
            purpose_names,
            project_names,
            ..
        } = vocabulary;
        let at = loc(file, name.span);
        if let Err(problem) = valid_name(&name.node, strictest) {
            self.error(
                Code::CheckInvalidName,
                format!(
                    "invalid user name `{}`: {problem}",
                    name.node.escape_debug()
                ),
                at,
                "not a valid user name",
                "user names must be valid database user names on every integration",
            );
        }
        if folds && name.node.chars().any(|c| c.is_ascii_uppercase()) {
            self.push(
                Diagnostic::warning(
                    Code::CheckUppercaseUser,
                    format!("user `{}` has upper-case letters", name.node),
                )
                .at_loc(at, "matched exactly against current_user")
                .help("on Redshift this only matches a user created with a quoted name; write the name in lower case unless it was"),
            );
        }
        let mut user = User {
            name: name.node.clone(),
            ..User::default()
        };
        for g in self.unique(file, "group", &def.groups) {
            user.groups.push(g);
        }
        let declared_groups: Vec<&YamlName> = def.groups.iter().collect();
        for g in declared_groups {
            self.declared(file, "group", g, group_set, "groups");
        }
        user.attributes = self.user_attributes(file, name, def, attributes);
        for p in &def.projects {
            if self.declared(file, "project", p, project_names, "projects") {
                user.projects.push(p.node.clone());
            }
        }
        for a in &def.acknowledged {
            if self.declared(file, "purpose", a, purpose_names, "purposes") {
                user.acknowledged.push(a.node.clone());
            }
        }
        self.current_project(file, name, def, projects, project_names, &mut user);
        user.approved = def.approved.iter().map(|a| a.node.clone()).collect();
        user
    }

    /// A user's attributes: known keys, allowed values, each key once.
    fn user_attributes(
        &mut self,
        file: FileId,
        name: &YamlName,
        def: &crate::identities::UserDef,
        attributes: &BTreeMap<String, Vec<String>>,
    ) -> BTreeMap<String, Vec<String>> {
        let mut user_attributes = BTreeMap::new();
        for (key, values) in &def.attributes.0 {
            let Some(allowed) = attributes.get(&key.node) else {
                let keys: FastSet<String> = attributes.keys().cloned().collect();
                self.declared(file, "attribute", key, &keys, "attributes");
                continue;
            };
            let allowed = allowed.clone();
            let mut list = Vec::new();
            for v in self.unique(file, "attribute value", &values.0) {
                list.push(v);
            }
            if !allowed.is_empty() {
                for v in &values.0 {
                    if !allowed.contains(&v.node) {
                        let container = format!("of attribute `{}`", key.node);
                        self.unknown_in(
                            "value",
                            &v.node,
                            &container,
                            loc(file, v.span),
                            allowed.iter().map(String::as_str),
                            &format!("the allowed values are {}", allowed.join(", ")),
                        );
                    }
                }
            }
            if user_attributes.insert(key.node.clone(), list).is_some() {
                self.error(
                    Code::CheckDuplicate,
                    format!(
                        "attribute `{}` is set twice for user `{}`",
                        key.node, name.node
                    ),
                    loc(file, key.span),
                    "set again here",
                    "list every value once, as a list",
                );
            }
        }
        user_attributes
    }

    /// A user's current project, one of the user's own, and the purposes
    /// in effect: its purposes the user has acknowledged.
    fn current_project(
        &mut self,
        file: FileId,
        name: &YamlName,
        def: &crate::identities::UserDef,
        projects: &BTreeMap<String, Vec<String>>,
        project_names: &FastSet<String>,
        user: &mut User,
    ) {
        if let Some(current) = &def.current_project
            && self.declared(file, "project", current, project_names, "projects")
        {
            if !user.projects.contains(&current.node) {
                self.error(
                    Code::CheckCurrentProject,
                    format!(
                        "user `{}` is not a member of project `{}`",
                        name.node, current.node
                    ),
                    loc(file, current.span),
                    "not one of the user's projects",
                    format!(
                        "add `{}` to the user's `projects`, or choose one of them",
                        current.node
                    ),
                );
            } else {
                user.current_project = Some(current.node.clone());
                // Purposes in effect: the current project's
                // purposes that the user has acknowledged.
                user.purposes = projects
                    .get(&current.node)
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| user.acknowledged.contains(p))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
    }

    /// Every source a user's entry approves must exist.
    pub(super) fn check_approved(&mut self, file: FileId, ids: &Identities) {
        let sources: Vec<String> = self.source_index.keys().cloned().collect();
        for (_, def) in &ids.users.0 {
            for approved in &def.approved {
                if !self.source_index.contains_key(&approved.node) {
                    self.unknown(
                        "source",
                        &approved.node,
                        loc(file, approved.span),
                        sources.iter().map(String::as_str),
                        "`approved` lists source ids declared with `source ID { … }`",
                    );
                }
            }
        }
    }
}

/// What the identities declare besides users.
struct Vocabulary {
    groups: Vec<String>,
    group_set: FastSet<String>,
    attributes: BTreeMap<String, Vec<String>>,
    purposes: BTreeMap<String, String>,
    purpose_names: FastSet<String>,
    projects: BTreeMap<String, Vec<String>>,
    project_names: FastSet<String>,
}
