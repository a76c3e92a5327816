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
use crate::catalog::CatalogObject;
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::Compiled;
use crate::ir::{self, Profile, Schemas};
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use crate::state::State;
use std::collections::{BTreeMap, HashSet};

/// What a recovery reads of the database.
pub struct Found<'a> {
    /// Every schema, relation and routine in veil's schemas.
    pub existing: HashSet<&'a ObjectId>,
    /// What the catalog says of them.
    pub catalog: &'a BTreeMap<ObjectId, CatalogObject>,
    /// The objects veil's state records (none when the state table is lost).
    pub recorded: HashSet<&'a ObjectId>,
}

impl<'a> Found<'a> {
    /// What a plan read of veil's state.
    pub fn of(state: &'a State) -> Found<'a> {
        Found {
            existing: state.existing.iter().collect(),
            catalog: &state.catalog,
            recorded: state.deployed.objects.iter().map(|o| &o.id).collect(),
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
) -> Vec<&'c QualifiedName> {
    let unrecorded: Vec<&Object> = compiled
        .objects
        .iter()
        .filter(|o| {
            o.kind() != ObjectKind::Schema
                && found.existing.contains(&o.id)
                && !found.recorded.contains(&o.id)
        })
        .collect();
    let veil_was_here = unrecorded
        .iter()
        .any(|o| o.kind() == ObjectKind::Table && o.name().schema == schemas.system);
    match veil_was_here {
        true => unrecorded.iter().map(|o| o.name()).collect(),
        false => Vec::new(),
    }
}

/// The objects a recovery keeps, their contents included: the schemas,
/// the hashing key's table and the deployment history.
fn kept(id: &ObjectId, schemas: &Schemas) -> bool {
    let system_table = |table: &str| {
        *id == ObjectId::new(
            ObjectKind::Table,
            QualifiedName::new(&schemas.system, table),
        )
    };
    id.kind == ObjectKind::Schema || system_table("hash_key") || system_table("deployments")
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
    let exists = |id: &ObjectId| found.existing.contains(id);
    let objects: Vec<_> = compiled
        .objects
        .iter()
        .filter(|o| o.kind() != ObjectKind::Profile)
        .collect();
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    // Dropped first, the last made first: views read the tables.
    for o in objects.iter().rev() {
        let made_again = o.kind() == ObjectKind::View
            || (o.kind() == ObjectKind::Table && !kept(&o.id, schemas));
        if made_again && exists(&o.id) {
            changes.push(Change {
                action: Action::Drop,
                id: o.id.clone(),
                reason: Some("recovery: dropped to be made again from the policies".into()),
                diff: String::new(),
                sql: String::new(),
            });
        }
    }
    let none = CatalogObject::default();
    for o in &objects {
        let now = found.catalog.get(&o.id).unwrap_or(&none);
        let (action, sql, reason) = match o.kind() {
            ObjectKind::Key => match key_step(o, found, &mut warnings) {
                Some(step) => step,
                None => continue,
            },
            kind if exists(&o.id) && (kept(&o.id, schemas) || kind.is_routine()) => {
                kept_step(o, now, (schemas, connected_as, dialect), &mut warnings)
            }
            _ => {
                let reason =
                    exists(&o.id).then(|| "recovery: made again from the policies".to_string());
                (Action::Create, o.sql.clone(), reason)
            }
        };
        changes.push(Change {
            action,
            id: o.id.clone(),
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

/// One step of a recovery: its action, SQL and reason.
type Step = (Action, String, Option<String>);

/// The hashing key: kept when its table holds one key, made when none,
/// made anew (with a warning) when several; `None` to keep it.
fn key_step(o: &Object, found: &Found<'_>, warnings: &mut Vec<String>) -> Option<Step> {
    let rows = found
        .catalog
        .get(&o.id)
        .and_then(|k| k.options.iter().find_map(|r| r.strip_prefix("rows ")))
        .unwrap_or("0");
    Some(match rows {
        "1" => return None,
        "0" => (Action::Create, o.sql.clone(), None),
        _ => {
            warnings.push(format!(
                    "the hash key's table `{}` holds {rows} rows, where veil keeps one: a new key is made, and every hashed value changes",
                    o.name()
                ));
            (
                Action::Replace,
                o.sql.clone(),
                Some(format!("recovery: the table holds {rows} keys")),
            )
        }
    })
}

/// An object a recovery keeps (a schema, the key's table, the deployment
/// history) or replaces in place (a routine): every grant revoked and the
/// owner set back, with warnings of what others could have done meanwhile.
fn kept_step(
    o: &Object,
    now: &CatalogObject,
    (schemas, connected_as, dialect): (&Schemas, &str, crate::dialect::Dialect),
    warnings: &mut Vec<String>,
) -> Step {
    let kind = o.kind();
    if now.signatures.len() > 1 {
        warnings.push(format!(
                "{kind} `{}` has other signatures beside veil's ({}): veil leaves them; drop the ones veil did not make by hand",
                o.name(),
                now.signatures.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
    }
    // The key is kept, but nobody can say who read or wrote it
    // while veil's record was gone: say who could have.
    let key_table = QualifiedName::new(&schemas.system, "hash_key");
    if *o.name() == key_table && (now.owner != connected_as || !now.grants.is_empty()) {
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
    let sql = crate::emit::script::repair(&o.id, now, now, &o.sql, connected_as, dialect);
    let reason = match kind {
        ObjectKind::Schema => "recovery: kept, its grants and owner reset to veil's",
        _ if kind.is_routine() => {
            "recovery: replaced from the policies, its grants and owner reset"
        }
        _ => "recovery: kept with its rows, its grants and owner reset to veil's",
    };
    (Action::Replace, sql, Some(reason.to_string()))
}

/// Turns `plan` into a recovery of lost state (`plan::recover`), or says
/// there is nothing to recover.
pub fn plan_recovery(
    compiled: &Compiled,
    lowered: &ir::Integration,
    state: &State,
    connected_as: &str,
    plan: &mut IntegrationPlan,
) -> Result<(), Diagnostic> {
    let found = Found::of(state);
    if unrecorded(compiled, &lowered.schemas, &found).is_empty() {
        return Err(Diagnostic::error(
            Code::PlanNothingToRecover,
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
