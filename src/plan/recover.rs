//! A recovery: veil's record of what it applied (its state table, or the
//! rows in it) is lost, while what it applied is still there. A normal
//! plan refuses such a database, because veil never adopts what it has no
//! record of creating; `--recover` plans taking it back instead:
//!
//! - the views and the profile and bookkeeping tables are dropped and made
//!   again from the policies (their definitions, options, owners and grants
//!   are then veil's, whatever they were), and every profile row written;
//! - the routines are replaced in place, every grant on them revoked first;
//! - the schemas, the hashing key's table and the deployment history are
//!   kept, every grant on them revoked and veil's own given again, so the
//!   key survives and no hashed value changes;
//! - anything else in veil's schemas is reported and left alone, as ever.
//!
//! Pure: the catalog was read by the plan.

use super::{Action, Change, IntegrationPlan, ProfileChange, diff_profiles, unified};
use crate::catalog::{self, CatalogObject, ObjectKey};
use crate::db;
use crate::diagnostic::Diagnostic;
use crate::emit::{Compiled, SqlObject};
use crate::ir::{self, Profile, Schemas};
use std::collections::{BTreeMap, HashSet};

/// What a recovery reads of the database.
pub struct Found<'a> {
    /// Every schema, relation and routine in veil's schemas, as `(kind, name)`.
    pub existing: &'a [(String, String)],
    /// What the catalog says of them.
    pub catalog: &'a BTreeMap<ObjectKey, CatalogObject>,
    /// The objects veil's state records (none when the state table is lost).
    pub recorded: Vec<(String, String)>,
}

impl<'a> Found<'a> {
    /// What a plan read of veil's state.
    pub fn of(state: &'a db::State) -> Found<'a> {
        Found {
            existing: &state.existing,
            catalog: &state.catalog,
            recorded: state
                .deployed
                .objects
                .iter()
                .map(|o| (o.kind.clone(), o.name.clone()))
                .collect(),
        }
    }
}

/// A recovery plan: its object changes, profile rows and warnings.
pub struct Recovery {
    pub changes: Vec<Change>,
    pub profile: Vec<ProfileChange>,
    pub warnings: Vec<String>,
}

/// The objects veil would create that are there with no record of veil
/// creating them, when veil's own tables show it was there (a schema of
/// the same name with a view of the same name is somebody else's).
pub fn unrecorded<'c>(
    compiled: &'c Compiled,
    schemas: &Schemas,
    found: &Found<'_>,
) -> Vec<&'c str> {
    let existing = keys(found.existing);
    let recorded = keys(&found.recorded);
    let system = format!("{}.", schemas.system);
    let unrecorded: Vec<&SqlObject> = compiled
        .objects
        .iter()
        .filter(|o| {
            o.kind != "schema"
                && existing.contains(&(o.kind, o.name.as_str()))
                && !recorded.contains(&(o.kind, o.name.as_str()))
        })
        .collect();
    let veil_was_here = unrecorded
        .iter()
        .any(|o| o.kind == "table" && o.name.starts_with(&system));
    match veil_was_here {
        true => unrecorded.iter().map(|o| o.name.as_str()).collect(),
        false => Vec::new(),
    }
}

fn keys(list: &[(String, String)]) -> HashSet<(&str, &str)> {
    list.iter().map(|(k, n)| (k.as_str(), n.as_str())).collect()
}

/// The objects a recovery keeps, their contents included: the schemas,
/// the hashing key's table and the deployment history.
fn kept(kind: &str, name: &str, schemas: &Schemas) -> bool {
    kind == "schema"
        || (kind == "table"
            && (name == format!("{}.hash_key", schemas.system)
                || name == format!("{}.deployments", schemas.system)))
}

/// Plans the recovery of one integration.
pub fn recovery(
    compiled: &Compiled,
    schemas: &Schemas,
    profiles: &[Profile],
    found: &Found<'_>,
    connected_as: &str,
) -> Recovery {
    let dialect = compiled.dialect;
    let existing = keys(found.existing);
    let exists = |kind: &str, name: &str| existing.contains(&(kind, name));
    let objects: Vec<_> = compiled
        .objects
        .iter()
        .filter(|o| o.kind != "profile")
        .collect();
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    // Dropped first, the last made first: views read the tables.
    for o in objects.iter().rev() {
        let made_again = o.kind == "view" || (o.kind == "table" && !kept(o.kind, &o.name, schemas));
        if made_again && exists(o.kind, &o.name) {
            changes.push(Change {
                action: Action::Drop,
                kind: o.kind.to_string(),
                object: o.name.clone(),
                reason: Some("recovery: dropped to be made again from the policies".into()),
                diff: String::new(),
                sql: String::new(),
            });
        }
    }
    let none = CatalogObject::default();
    for o in &objects {
        let now = found
            .catalog
            .get(&(o.kind.to_string(), o.name.clone()))
            .unwrap_or(&none);
        let (action, sql, reason) = match o.kind {
            "key" => {
                let rows = found
                    .catalog
                    .get(&("key".to_string(), o.name.clone()))
                    .and_then(|k| k.options.iter().find_map(|r| r.strip_prefix("rows ")))
                    .unwrap_or("0");
                match rows {
                    "1" => continue,
                    "0" => (Action::Create, o.sql.clone(), None),
                    _ => {
                        warnings.push(format!(
                            "the hash key's table `{}` holds {rows} rows, where veil keeps one: a new key is made, and every hashed value changes",
                            o.name
                        ));
                        (
                            Action::Replace,
                            o.sql.clone(),
                            Some(format!("recovery: the table holds {rows} keys")),
                        )
                    }
                }
            }
            kind if exists(kind, &o.name) && (kept(kind, &o.name, schemas) || is_routine(kind)) => {
                if now.signatures.len() > 1 {
                    warnings.push(format!(
                        "{kind} `{}` has other signatures beside veil's ({}): veil leaves them; drop the ones veil did not make by hand",
                        o.name,
                        now.signatures.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                // The key is kept, but nobody can say who read or wrote it
                // while veil's record was gone: say who could have.
                let key_table = format!("{}.hash_key", schemas.system);
                if o.name == key_table && (now.owner != connected_as || !now.grants.is_empty()) {
                    warnings.push(format!(
                        "the hash key's table `{key_table}` is owned by {} and granted to {}: they could have read or replaced the key; to make a new one (every hashed value changes), delete its row and apply again",
                        now.owner,
                        if now.grants.is_empty() {
                            "nobody else".to_string()
                        } else {
                            now.grants.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ));
                }
                let sql =
                    catalog::repair_sql(kind, &o.name, now, now, &o.sql, connected_as, dialect);
                let reason = match kind {
                    "schema" => "recovery: kept, its grants and owner reset to veil's",
                    _ if is_routine(kind) => {
                        "recovery: replaced from the policies, its grants and owner reset"
                    }
                    _ => "recovery: kept with its rows, its grants and owner reset to veil's",
                };
                (Action::Replace, sql, Some(reason.to_string()))
            }
            kind => {
                let reason = exists(kind, &o.name)
                    .then(|| "recovery: made again from the policies".to_string());
                (Action::Create, o.sql.clone(), reason)
            }
        };
        changes.push(Change {
            action,
            kind: o.kind.to_string(),
            object: o.name.clone(),
            reason,
            diff: unified("", &sql),
            sql,
        });
    }
    Recovery {
        changes,
        // The profile tables are made again: every row is written.
        profile: diff_profiles(profiles, &[]),
        warnings,
    }
}

fn is_routine(kind: &str) -> bool {
    matches!(kind, "function" | "procedure")
}

/// Turns `plan` into a recovery of lost state (`plan::recover`), or says
/// there is nothing to recover.
pub fn plan_recovery(
    compiled: &Compiled,
    lowered: &ir::Integration,
    state: &db::State,
    connected_as: &str,
    plan: &mut IntegrationPlan,
) -> Result<(), Diagnostic> {
    let found = Found::of(state);
    if unrecorded(compiled, &lowered.schemas, &found).is_empty() {
        return Err(Diagnostic::error(
            "plan::nothing_to_recover",
            format!(
                "integration `{}` has nothing to recover: every object of veil's there is in its record, or veil's own tables are not there",
                plan.name
            ),
        )
        .help("plan without `--recover`"));
    }
    let recovery = recovery(
        compiled,
        &lowered.schemas,
        &lowered.profiles,
        &found,
        connected_as,
    );
    plan.changes = recovery.changes;
    plan.profile = recovery.profile;
    plan.warnings.extend(recovery.warnings);
    plan.recovery = true;
    Ok(())
}
