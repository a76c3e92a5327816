//! What only a database can tell a plan: objects veil would create that
//! exist already (veil never adopts them), a relation of another kind in a
//! view's place, lost state, views others made that a drop would break,
//! and drift (what changed by hand), which apply repairs.

use super::IntegrationPlan;
use crate::catalog;
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::Compiled;
use crate::ir;
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use crate::state::State;
use std::collections::{HashMap, HashSet};

/// What only a database can tell: objects veil would create that exist
/// already (veil never adopts them), and views changed or dropped by hand
/// (drift, which apply repairs).
pub fn online_checks(
    compiled: &Compiled,
    schemas: &ir::Schemas,
    state: &State,
    connected_as: &str,
    plan: &mut IntegrationPlan,
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    if let Some(occupied) = occupied(compiled, state, &plan.name) {
        return Err(occupied);
    }
    if (!state.initialized || state.deployed.objects.is_empty())
        && !plan.recovery
        && let Some(lost) = lost_state(compiled, schemas, state, &plan.name)
    {
        return Err(vec![lost]);
    }
    for change in plan
        .changes
        .iter()
        .filter(|c| c.action == super::Action::Create && !plan.recovery)
    {
        // (`key` is the bootstrap INSERT, not a catalog object.)
        if state.existing.contains(&change.id) {
            errors.push(
                Diagnostic::error(
                    Code::PlanNotOurs,
                    format!(
                        "{} `{}` exists in integration `{}` but veil did not create it",
                        change.id.kind, change.id.name, plan.name
                    ),
                )
                .help(if state.initialized {
                    "veil never adopts or overwrites what it did not create: drop or rename it, or choose other names for veil's schemas. If veil made it and its record of it was lost, `veil plan --recover` shows how veil would take it back"
                } else {
                    "veil never adopts or overwrites what it did not create: drop or rename it, or choose other names for veil's schemas"
                }),
            );
        }
    }
    drift(compiled, state, connected_as, plan);
    errors.extend(dependent_views(compiled, state, plan));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Views veil drops (or drops to create again) that other views read: the
/// drop would fail in the middle of the apply. Said now instead.
fn dependent_views(compiled: &Compiled, state: &State, plan: &IntegrationPlan) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let managed: HashSet<&QualifiedName> = compiled
        .objects
        .iter()
        .map(|o| o.name())
        .chain(state.deployed.objects.iter().map(|o| o.name()))
        .collect();
    for change in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, super::Action::Drop | super::Action::Recreate))
    {
        let readers: Vec<&QualifiedName> = state
            .dependents
            .get(&change.id.name)
            .into_iter()
            .flatten()
            .filter(|d| !managed.contains(d))
            .collect();
        if !readers.is_empty() {
            errors.push(
                Diagnostic::error(
                    Code::PlanDependentViews,
                    format!(
                        "{} {} `{}` of integration `{}` is read by {}, which veil did not create: dropping it would fail",
                        change.action.word(),
                        change.id.kind,
                        change.id.name,
                        plan.name,
                        readers.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .help("drop those views first (and create them again after the apply), or have them read the table another way; nothing was changed"),
            );
        }
    }
    errors
}

/// Relations of another kind where veil keeps a view or a table (a table
/// made in a view's place): refused with the statements that clear the
/// way, since veil never drops what it did not create.
fn occupied(compiled: &Compiled, state: &State, integration: &str) -> Option<Vec<Diagnostic>> {
    let existing: HashSet<&ObjectId> = state.existing.iter().collect();
    let found: Vec<Diagnostic> = compiled
        .objects
        .iter()
        .filter_map(|o| {
            let other = match o.kind() {
                ObjectKind::View => ObjectKind::Table,
                ObjectKind::Table => ObjectKind::View,
                _ => return None,
            };
            if !existing.contains(&ObjectId::new(other, o.name().clone())) {
                return None;
            }
            let name = crate::emit::quote::qualified_name(o.name());
            let statement = other.as_str().to_ascii_uppercase();
            Some(
                Diagnostic::error(
                    Code::PlanOccupied,
                    format!(
                        "`{}` in integration `{integration}` is a {other}, where veil keeps a {}: nothing can be applied while it is there",
                        o.name(), o.kind()
                    ),
                )
                .help(format!(
                    "veil never drops what it did not create. Keep it elsewhere (`ALTER {statement} {name} RENAME TO …` or `ALTER {statement} {name} SET SCHEMA …`) or drop it (`DROP {statement} {name};`), then plan again"
                )),
            )
        })
        .collect();
    (!found.is_empty()).then_some(found)
}

/// veil's tables are there but its state table is not: the record of what
/// veil applied is lost. Said once, with the way back, instead of an error
/// for every object veil would create.
fn lost_state(
    compiled: &Compiled,
    schemas: &ir::Schemas,
    state: &State,
    integration: &str,
) -> Option<Diagnostic> {
    let found = super::recover::Found::of(state);
    let found = super::recover::unrecorded(compiled, schemas, &found);
    if found.is_empty() {
        return None;
    }
    let system = &schemas.system;
    Some(
        Diagnostic::error(
            Code::PlanLostState,
            format!(
                "integration `{integration}`: veil's record of what it applied (`{system}.state`) is {}, while {} of the objects it applies are there ({}{})",
                if state.initialized { "empty" } else { "missing" },
                found.len(),
                found.iter().take(3).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                if found.len() > 3 { ", …" } else { "" }
            ),
        )
        .help(format!(
            "`veil plan --recover` shows a recovery and `veil apply --recover` carries it out: veil's views, tables and routines are made again from the policies, every grant on what it keeps is reset, and the hashing key is kept, so hashed values do not change. Do not drop `{system}`: it holds the hashing key, and a new key changes every hashed value"
        )),
    )
}

/// Drift: what changed by hand in what decides who sees what. Every object
/// veil applied against what the catalog said of it right after the apply
/// (dropped, redefined, options, owner, grants, routines added beside it),
/// the hashing key, and every user's side-table rows against their profile
/// row. Each is repaired by the plan (an object veil did not create is only
/// reported: veil never drops what it did not make).
fn drift(compiled: &Compiled, state: &State, connected_as: &str, plan: &mut IntegrationPlan) {
    let dialect = compiled.dialect;
    let planned: HashMap<&ObjectId, &Object> =
        compiled.objects.iter().map(|o| (&o.id, o)).collect();
    let has_change =
        |plan: &IntegrationPlan, id: &ObjectId| plan.changes.iter().any(|c| c.id == *id);
    for (id, recorded) in &state.recorded_catalog {
        let now = state.catalog.get(id);
        let key = id.kind == ObjectKind::Key;
        let rules = id.kind == ObjectKind::Rules;
        let detail = match now {
            None if key => vec!["the hash key's table is gone".to_string()],
            None if rules => vec!["the access-rule table is gone".to_string()],
            Some(now) if rules && now != recorded => {
                vec!["the access-rule table's rows were changed by hand: the valid tables every user sees follow them".to_string()]
            }
            Some(_) if rules => Vec::new(),
            None => vec!["dropped by hand".to_string()],
            Some(now) if key => catalog::key_differences(recorded, now),
            Some(now) => catalog::differences(recorded, now),
        };
        if detail.is_empty() {
            continue;
        }
        plan.drift.push(super::Drift::of(id, detail.join("; ")));
        let Some(object) = planned.get(id) else {
            continue;
        };
        if has_change(plan, id) {
            continue;
        }
        let (action, sql) = match (id.kind, now) {
            (ObjectKind::View, None) => (super::Action::Create, object.sql.clone()),
            (ObjectKind::View, Some(_)) => (super::Action::Recreate, object.sql.clone()),
            (ObjectKind::Key | ObjectKind::Rules, _) => {
                (super::Action::Replace, object.sql.clone())
            }
            (_, None) => (super::Action::Create, object.sql.clone()),
            (_, Some(now)) => (
                super::Action::Replace,
                crate::emit::script::repair(id, recorded, now, &object.sql, connected_as, dialect),
            ),
        };
        plan.changes.push(super::Change {
            action,
            id: id.clone(),
            reason: Some(format!("repairs drift: {}", detail.join("; "))),
            diff: super::unified("", &sql),
            sql,
        });
    }
    // Objects in veil's schemas that veil did not create: reported, never
    // touched (one veil is about to create is an error already).
    let applied: HashSet<&ObjectId> = state.deployed.objects.iter().map(|o| &o.id).collect();
    for id in state.catalog.keys() {
        if matches!(id.kind, ObjectKind::Key | ObjectKind::Rules)
            || applied.contains(id)
            || has_change(plan, id)
        {
            continue;
        }
        plan.drift.push(super::Drift::of(
            id,
            "not created by veil, in one of its schemas: veil leaves it alone; drop it or move it elsewhere".into(),
        ));
    }
    side_table_drift(state, plan);
}

/// Side-table rows against the deployed profile rows: each user whose rows
/// differ is reported, and the user's rows written again.
fn side_table_drift(state: &State, plan: &mut IntegrationPlan) {
    if state.side_drift.is_empty() {
        return;
    }
    let deployed: HashMap<&str, &ir::Profile> = state
        .deployed
        .profiles
        .iter()
        .map(|p| (p.user.as_str(), p))
        .collect();
    for (user, tables) in state.side_drift.clone() {
        let mut fields = Vec::new();
        for table in &tables {
            let found = state
                .side_rows
                .get(&(table.clone(), user.clone()))
                .cloned()
                .unwrap_or_default();
            let wanted = deployed
                .get(user.as_str())
                .map(|p| catalog::side_rows_shown(p, table))
                .unwrap_or_default();
            let added: Vec<&str> = found
                .iter()
                .filter(|r| !wanted.contains(r))
                .map(String::as_str)
                .collect();
            let removed: Vec<&str> = wanted
                .iter()
                .filter(|r| !found.contains(r))
                .map(String::as_str)
                .collect();
            let words = catalog::added_removed(&added, &removed).unwrap_or_default();
            plan.drift.push(super::Drift {
                kind: table.clone(),
                object: user.clone(),
                detail: format!("rows differ from the user's profile row: {words}"),
            });
            fields.push(super::FieldChange {
                field: table.clone(),
                before: serde_json::json!(found),
                after: serde_json::json!(wanted),
            });
        }
        if plan.profile.iter().any(|p| p.user == user) {
            continue;
        }
        let action = if deployed.contains_key(user.as_str()) {
            super::ProfileAction::Change
        } else {
            super::ProfileAction::Remove
        };
        plan.profile.push(super::ProfileChange {
            user,
            action,
            fields,
        });
    }
}
