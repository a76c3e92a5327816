//! One integration's plan as the script apply sends (`prepare`), and that
//! script as `veil plan --format sql` prints it (`render_script`).
//!
//! Every statement is known when the plan is made but three, which
//! `Statement` names: the bound on the wait for the lock (it follows
//! `--lock-timeout`), the hashing key (made at apply time from the
//! operating system's random source and sent as a parameter) and the record
//! of what the catalog says of each object after the changes (it can only
//! be read then). The SQL text itself comes from `emit::script`.

use super::{Action, Change, IntegrationPlan, ProfileAction, ProfileChange};
use crate::db;
use crate::dialect::Dialect;
use crate::emit::{self, script as sql};
use crate::ir::{Integration, Profile, Schemas};
use crate::object::{Object, ObjectId, ObjectKind, QualifiedName};
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One integration's plan, ready to run: the script apply will send, and
/// what the deployment looked like when it was planned. A saved plan file
/// is a list of these.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepared {
    pub integration: String,
    pub dialect: Dialect,
    /// Where the database is and how its sessions are set up.
    pub target: db::Target,
    pub schemas: Schemas,
    /// The deployment serial and fingerprint the plan was made against, and
    /// the fingerprint of each part of it.
    pub serial: i64,
    pub fingerprint: String,
    pub fingerprints: BTreeMap<String, String>,
    pub initialized: bool,
    /// The object changes, in order (their SQL is in the script).
    pub steps: Vec<Step>,
    /// How many users' profile rows change.
    pub profile_users: usize,
    /// Every statement apply sends, in order.
    pub script: Vec<Statement>,
    /// The project's files (path, text), recorded for later plans.
    pub policy_files: Vec<(String, String)>,
    /// A recovery of lost state (`plan::recover`).
    #[serde(default)]
    pub recover: bool,
}

/// One object change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    #[serde(flatten)]
    pub id: ObjectId,
}

/// One statement of an apply script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statement {
    /// SQL sent as it is; `step` names the change it makes, for progress.
    Sql { step: Option<String>, sql: String },
    /// The bound on the wait for the lock on veil's state (`--lock-timeout`).
    LockTimeout,
    /// The end of that bound, where the dialect needs one.
    LockTimeoutEnd,
    /// The deployment is the one planned: the SQL fails unless the
    /// deployment serial is the planned one. (Apply has held the lock since
    /// its plan read the state; a hand run of the script relies on this.)
    Check { sql: String },
    /// A new hashing key for the table, sent as a parameter, only when the
    /// table holds none.
    Key { table: QualifiedName },
    /// What the catalog says of each object after the changes, written to
    /// its state row (`objects`), the rows this script rewrites among them.
    RecordCatalog {
        objects: Vec<ObjectId>,
        rewritten: Vec<ObjectId>,
    },
}

/// The statements that open an apply's transaction, up to the guard: the
/// settings, then the locks (the state table's where it exists,
/// `initialized`).
pub fn prologue(
    dialect: Dialect,
    schemas: &Schemas,
    time_zone: &str,
    initialized: bool,
) -> Vec<Statement> {
    let plain = |sql: String| Statement::Sql { step: None, sql };
    let waiting = |sql: String| Statement::Sql {
        step: Some(LOCKING.to_string()),
        sql,
    };
    let mut out = vec![
        plain(dialect.sql().begin().into()),
        plain(sql::session_settings(dialect, time_zone)),
        Statement::LockTimeout,
    ];
    // Applies to one database wait for each other from the start, a first
    // one (with no state table to lock yet) included, where the dialect
    // can.
    out.extend(sql::first_lock(dialect, schemas).map(waiting));
    if initialized {
        out.push(waiting(sql::lock(dialect, schemas)));
    }
    out.push(Statement::LockTimeoutEnd);
    out
}

/// The psql variable a hand run passes the key in.
pub const KEY_VARIABLE: &str = "veil_hash_key";

/// What apply is doing while it waits for another apply.
pub const LOCKING: &str = "waiting for the lock on veil's state";

/// Prepares one integration's plan for apply: its whole script.
pub fn prepare(
    integration: &Integration,
    target: db::Target,
    objects: &[Object],
    plan: &IntegrationPlan,
    state: &State,
    policy_files: Vec<(String, String)>,
) -> Prepared {
    let (changes, profile) = (&plan.changes, &plan.profile);
    let changed = changes
        .iter()
        .filter(|c| c.action != Action::Drop)
        .map(|c| &c.id)
        .collect::<std::collections::HashSet<_>>();
    // A recovery makes veil's record anew, whatever is left of the old one.
    let recorded = if plan.recovery {
        sql::Recorded {
            objects: &[],
            changed,
            serial: state.serial,
            policy_files: &[],
        }
    } else {
        sql::Recorded {
            objects: &state.deployed.objects,
            changed,
            serial: state.serial,
            policy_files: &state.policy_files,
        }
    };
    let records_catalog = plan.recovery || state.records_catalog;
    let script = script(
        integration,
        objects,
        changes,
        profile,
        (state.initialized, records_catalog),
        &recorded,
        &policy_files,
    );
    Prepared {
        integration: integration.name.clone(),
        dialect: integration.dialect,
        target,
        schemas: integration.schemas.clone(),
        serial: state.serial,
        fingerprint: state.fingerprint(),
        fingerprints: state.fingerprints(),
        initialized: state.initialized,
        steps: changes
            .iter()
            .map(|c| Step {
                action: c.action,
                id: c.id.clone(),
            })
            .collect(),
        profile_users: profile.len(),
        script,
        policy_files,
        recover: plan.recovery,
    }
}

impl Prepared {
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty() || self.profile_users > 0
    }
}

/// The statements of one apply, in order: the transaction, the session
/// settings, the locks and the guard, each change, the profile rows,
/// veil's record of it all.
fn script(
    integration: &Integration,
    objects: &[Object],
    changes: &[Change],
    profile: &[ProfileChange],
    (initialized, records_catalog): (bool, bool),
    recorded: &sql::Recorded<'_>,
    policy_files: &[(String, String)],
) -> Vec<Statement> {
    let dialect = integration.dialect;
    let schemas = &integration.schemas;
    let plain = |sql: String| Statement::Sql { step: None, sql };
    let lock = sql::lock(dialect, schemas);
    let mut out = prologue(dialect, schemas, &integration.time_zone, initialized);
    out.push(Statement::Check {
        sql: sql::guard(dialect, schemas, initialized, recorded.serial),
    });
    let deployments = QualifiedName::new(&schemas.system, "deployments");
    for change in changes {
        out.extend(change_statements(change));
        let made = ObjectId::new(ObjectKind::Table, deployments.clone());
        if !initialized && change.id == made {
            // veil's state tables exist from here on: hold the lock.
            out.push(plain(lock.clone()));
        }
    }
    if !profile.is_empty() {
        let step = format!("profile rows of {} users", profile.len());
        out.extend(
            profile_statements(integration, profile)
                .into_iter()
                .map(|sql| Statement::Sql {
                    step: Some(step.clone()),
                    sql,
                }),
        );
    }
    if initialized && !records_catalog {
        // A deployment by an earlier veil: its state table gains the column.
        out.push(plain(sql::add_catalog_column(dialect, schemas)));
    }
    let (bookkeeping, rewritten) =
        sql::state_rows(dialect, schemas, objects, recorded, policy_files);
    out.extend(bookkeeping.into_iter().map(plain));
    out.push(Statement::RecordCatalog {
        objects: objects
            .iter()
            .filter(|o| o.kind() != ObjectKind::Profile)
            .map(|o| o.id.clone())
            .collect(),
        rewritten,
    });
    out.push(plain(dialect.sql().commit().into()));
    out
}

/// The statements of one object change. The key never travels as SQL text.
fn change_statements(change: &Change) -> Vec<Statement> {
    let step = Some(format!("{} {}", change.action.word(), change.id));
    if change.id.kind == ObjectKind::Key {
        let mut out = Vec::new();
        if change.action == Action::Replace {
            out.push(Statement::Sql {
                step: step.clone(),
                sql: sql::key_delete(&change.id.name),
            });
        }
        out.push(Statement::Key {
            table: change.id.name.clone(),
        });
        return out;
    }
    let text = match change.action {
        Action::Drop => sql::drop(&change.id),
        Action::Recreate => format!("{}\n{}", sql::drop(&change.id), change.sql),
        Action::Create | Action::Replace => change.sql.clone(),
    };
    vec![Statement::Sql { step, sql: text }]
}

/// The statements that rewrite the profile rows of the users whose rows
/// change.
fn profile_statements(integration: &Integration, profile: &[ProfileChange]) -> Vec<String> {
    let by_user: HashMap<&str, &Profile> = integration
        .profiles
        .iter()
        .map(|p| (p.user.as_str(), p))
        .collect();
    let users: Vec<&str> = profile.iter().map(|p| p.user.as_str()).collect();
    let keep: Vec<&Profile> = profile
        .iter()
        .filter(|p| p.action != ProfileAction::Remove)
        .filter_map(|p| by_user.get(p.user.as_str()).copied())
        .collect();
    sql::profile_rewrite(integration, &users, &keep)
}

/// A statement as `veil plan --format sql` shows it (and apply sends it,
/// but for the key); `None` where a dialect has nothing to send.
pub fn shown(statement: &Statement, dialect: Dialect, timeout: Duration) -> Option<String> {
    let text = match statement {
        Statement::Sql { sql, .. } | Statement::Check { sql } => sql.clone(),
        Statement::LockTimeout => sql::lock_timeout(dialect, timeout, false),
        Statement::LockTimeoutEnd => sql::lock_timeout(dialect, timeout, true),
        Statement::Key { table } => format!(
            "-- The hashing key: apply makes one from the operating system's random source and\n-- sends it as a parameter; run by hand: psql -v {KEY_VARIABLE}=\"$(openssl rand -hex 32)\"\n{}",
            sql::key_insert(table, &format!(":'{KEY_VARIABLE}'"))
        ),
        Statement::RecordCatalog { .. } => "-- Apply reads here what the catalog says of each object (owner, grants,\n-- options, a fingerprint of its definition) and records it in its state row:\n-- UPDATE … SET catalog_json = … for each object whose record changes. A hand\n-- run skips it; the next plan then reports no catalog drift until veil applies.".into(),
    };
    (!text.is_empty()).then_some(text)
}

/// The script of one integration as `veil plan --format sql` prints it.
pub fn render_script(work: &Prepared, timeout: Duration) -> String {
    let mut out = format!(
        "-- veil {}: apply script of integration {} ({}), planned against deployment {}.\n-- Run by hand with: psql -v ON_ERROR_STOP=1 -f FILE (it is one transaction).\n",
        env!("CARGO_PKG_VERSION"),
        emit::quote::comment(&work.integration),
        work.dialect.name(),
        work.serial
    );
    for statement in &work.script {
        if let Some(text) = shown(statement, work.dialect, timeout) {
            out.push_str(&text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}
