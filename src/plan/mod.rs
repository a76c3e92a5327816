//! Stage 5, `compiled SQL + deployed state → plan`: what must be created,
//! replaced, recreated and dropped, and which profile rows change, in the
//! order apply will run them.

pub mod build;
pub mod checks;
pub mod online;
pub mod recover;
pub mod render;
pub mod saved;
pub mod script;
pub mod sources;

use crate::emit::Compiled;
use crate::ir::Profile;
use crate::model::Dialect;
use crate::object::{ObjectId, ObjectKind};
use crate::state::{Applied, AppliedText, Deployed};
use serde::Serialize;
use similar::TextDiff;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The version of the JSON shape of a plan.
pub const FORMAT_VERSION: u32 = 2;

/// A plan for every integration.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// Made without a database: can be shown, never applied.
    pub offline: bool,
    /// The environment of `veil.yaml` planned for, if one was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub integrations: Vec<IntegrationPlan>,
}

/// The changes to one integration's database.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct IntegrationPlan {
    pub name: String,
    pub dialect: Dialect,
    pub changes: Vec<Change>,
    pub profile: Vec<ProfileChange>,
    /// Objects veil manages that were changed or dropped by hand.
    pub drift: Vec<Drift>,
    pub access_impact: Vec<crate::impact::Impact>,
    /// Whether the access impact was computed (it is not when the policies
    /// recorded at the last apply do not load): an empty impact then means
    /// nobody's access changes.
    pub access_impact_known: bool,
    pub warnings: Vec<String>,
    /// Every `sql "…"` and `using none` in force on this integration.
    pub escape_hatches: Vec<EscapeHatch>,
    /// A recovery of lost state (`recover`), not a plan from a record.
    pub recovery: bool,
}

impl Drift {
    pub fn of(id: &ObjectId, detail: String) -> Drift {
        Drift {
            kind: id.kind.to_string(),
            object: id.name.to_string(),
            detail,
        }
    }
}

/// What happens to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    /// Replaced in place (`CREATE OR REPLACE`): same columns.
    Replace,
    /// Dropped and created again (a view's columns changed), grants restored.
    Recreate,
    Drop,
}

impl Action {
    pub fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Recreate => "recreate",
            Action::Drop => "drop",
        }
    }

    /// Whether the change removes something users may rely on.
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Recreate | Action::Drop)
    }
}

/// One object change.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Change {
    pub action: Action,
    #[serde(flatten)]
    pub id: ObjectId,
    /// Why, where it is not plain: what makes a view be dropped and created
    /// again, what drift a change repairs.
    pub reason: Option<String>,
    /// A unified diff of the SQL, deployed to planned.
    pub diff: String,
    /// The SQL to run (empty for a drop).
    #[serde(skip)]
    pub sql: String,
}

/// A change of one user's profile row.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ProfileChange {
    pub user: String,
    pub action: ProfileAction,
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileAction {
    Add,
    Change,
    Remove,
}

/// One field of a profile row, before and after.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// An object changed or dropped outside veil, or a user's side-table rows.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Drift {
    /// An object's kind, or the side table whose rows drifted.
    pub kind: String,
    /// An object's name, or the user whose rows drifted.
    pub object: String,
    pub detail: String,
}

/// A deliberate hole in the policies, listed in every plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct EscapeHatch {
    /// `sql` or `none`.
    pub kind: String,
    /// `file:line` of the rule.
    pub rule: String,
    pub text: String,
}

/// The object changes that turn `deployed` into `planned`, in order: drops
/// of objects no longer planned first (last created, first dropped), then
/// every other change in the planned order.
///
/// `checksums` are those of `planned`'s objects (`state::checksum`): an
/// applied object whose recorded checksum is its compiled SQL's is
/// unchanged, and its recorded text is not needed (nor read); the texts of
/// the others are ([`texts_needed`]).
pub fn diff_objects(planned: &Compiled, checksums: &[String], deployed: &Deployed) -> Vec<Change> {
    let by_id: HashMap<&ObjectId, &Applied> = deployed.objects.iter().map(|o| (&o.id, o)).collect();
    let wanted: HashSet<&ObjectId> = planned.objects.iter().map(|o| &o.id).collect();
    let none = AppliedText::default();
    let mut changes: Vec<Change> = deployed
        .objects
        .iter()
        .rev()
        .filter(|o| !wanted.contains(&o.id))
        .map(|o| Change {
            action: Action::Drop,
            id: o.id.clone(),
            reason: None,
            diff: unified(o.text.as_ref().map_or("", |t| t.sql.as_str()), ""),
            sql: String::new(),
        })
        .collect();
    let planned = planned
        .objects
        .iter()
        .zip(checksums)
        .filter(|(o, _)| o.kind() != ObjectKind::Profile);
    for (object, checksum) in planned {
        let deployed = by_id.get(&object.id);
        let old = deployed.map(|o| o.text.as_ref().unwrap_or(&none));
        let action = match (deployed, &old) {
            (None, _) => Action::Create,
            (Some(applied), _) if applied.text.is_none() && applied.checksum == *checksum => {
                continue;
            }
            (_, Some(old)) if old.sql == object.sql => continue,
            (_, Some(old)) if old.columns.is_some() && old.columns != object.columns => {
                Action::Recreate
            }
            (Some(_), _) => Action::Replace,
        };
        let old = old.unwrap_or(&none);
        let reason = (action == Action::Recreate).then(|| {
            column_changes(
                old.columns.as_deref().unwrap_or_default(),
                object.columns.as_deref().unwrap_or_default(),
            )
        });
        let old = old.sql.as_str();
        changes.push(Change {
            action,
            id: object.id.clone(),
            reason,
            diff: unified(old, &object.sql),
            sql: object.sql.clone(),
        });
    }
    changes
}

/// The applied objects whose recorded texts [`diff_objects`] needs: those
/// the plan drops, and those whose recorded checksum is not their
/// compiled SQL's.
pub fn texts_needed(
    planned: &Compiled,
    checksums: &[String],
    deployed: &Deployed,
) -> HashSet<ObjectId> {
    let compiled: HashMap<&ObjectId, &String> = planned
        .objects
        .iter()
        .map(|o| &o.id)
        .zip(checksums)
        .collect();
    deployed
        .objects
        .iter()
        .filter(|o| compiled.get(&o.id).is_none_or(|sum| **sum != o.checksum))
        .map(|o| o.id.clone())
        .collect()
}

/// Why a view's columns make it be created again, in words: the columns
/// whose type changes (for every user), those added and those gone.
pub fn column_changes(before: &[(String, String)], after: &[(String, String)]) -> String {
    let mut words = Vec::new();
    for (name, ty) in after {
        match before.iter().find(|(n, _)| n == name) {
            Some((_, old)) if old != ty => words.push(format!("column {name} {old} → {ty}")),
            None => words.push(format!("column {name} added")),
            _ => {}
        }
    }
    for (name, _) in before {
        if !after.iter().any(|(n, _)| n == name) {
            words.push(format!("column {name} gone"));
        }
    }
    if words.is_empty() {
        return "the columns change order".into();
    }
    format!(
        "its columns change, which CREATE OR REPLACE VIEW cannot do: {}",
        words.join(", ")
    )
}

/// A unified diff of two SQL texts.
pub fn unified(old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header("deployed", "planned")
        .to_string()
}

/// The profile rows to add, change and remove, by user name.
pub fn diff_profiles(planned: &[Profile], deployed: &[Profile]) -> Vec<ProfileChange> {
    let old: BTreeMap<&str, &Profile> = deployed.iter().map(|p| (p.user.as_str(), p)).collect();
    let new: BTreeMap<&str, &Profile> = planned.iter().map(|p| (p.user.as_str(), p)).collect();
    let mut changes = Vec::new();
    for (user, after) in &new {
        match old.get(user) {
            None => changes.push(ProfileChange {
                user: user.to_string(),
                action: ProfileAction::Add,
                fields: fields(None, Some(after)),
            }),
            Some(before) if before != after => changes.push(ProfileChange {
                user: user.to_string(),
                action: ProfileAction::Change,
                fields: fields(Some(before), Some(after)),
            }),
            Some(_) => {}
        }
    }
    for (user, before) in &old {
        if !new.contains_key(user) {
            changes.push(ProfileChange {
                user: user.to_string(),
                action: ProfileAction::Remove,
                fields: fields(Some(before), None),
            });
        }
    }
    changes
}

/// The fields that differ between two versions of a profile row.
fn fields(before: Option<&Profile>, after: Option<&Profile>) -> Vec<FieldChange> {
    let values = |p: Option<&Profile>| -> [serde_json::Value; 6] {
        p.map_or_else(Default::default, |p| {
            [
                serde_json::json!(p.groups),
                serde_json::json!(p.attributes),
                serde_json::json!(p.projects),
                serde_json::json!(p.current_project),
                serde_json::json!(p.purposes),
                serde_json::json!(p.approved),
            ]
        })
    };
    crate::emit::profile::FIELDS
        .iter()
        .zip(values(before).into_iter().zip(values(after)))
        .filter(|(_, (before, after))| before != after)
        .map(|(field, (before, after))| FieldChange {
            field: field.to_string(),
            before,
            after,
        })
        .collect()
}

impl Plan {
    /// Whether applying the plan would change anything (drift included).
    pub fn has_changes(&self) -> bool {
        self.integrations
            .iter()
            .any(|i| !i.changes.is_empty() || !i.profile.is_empty() || !i.drift.is_empty())
    }
}
