//! Stage 6, `plan → database`: carries out one integration's plan in one
//! transaction, under a lock on veil's state table, or changes nothing.

use crate::db::{self, Db};
use crate::diagnostic::Diagnostic;
use crate::emit::{self, SqlObject, quote::ident};
use crate::ir::{Integration, Profile, Schemas};
use crate::model::Dialect;
use crate::plan::{Action, Change, ProfileAction, ProfileChange};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One integration's plan, ready to run: exactly the statements apply will
/// send, and what the deployment looked like when it was planned. A saved
/// plan file is a list of these.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepared {
    pub integration: String,
    pub dialect: Dialect,
    /// Where the database is and how its sessions are set up.
    pub target: db::Target,
    pub schemas: Schemas,
    /// The deployment serial and fingerprint the plan was made against.
    pub serial: i64,
    pub fingerprint: String,
    pub initialized: bool,
    pub steps: Vec<Step>,
    /// How many users' profile rows change, and the SQL that rewrites them.
    pub profile_users: usize,
    pub profile_sql: String,
    /// Every object of the integration after the apply, in order.
    pub objects: Vec<StateObject>,
    /// The project's files (path, text), recorded for later plans.
    pub policy_files: Vec<(String, String)>,
}

/// One object change with its SQL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub kind: String,
    pub object: String,
    pub sql: String,
}

/// An object as veil's state table records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateObject {
    pub kind: String,
    pub name: String,
    pub sql: String,
    pub columns: Option<Vec<(String, String)>>,
}

/// Prepares one integration's plan for apply.
pub fn prepare(
    integration: &Integration,
    target: db::Target,
    objects: &[SqlObject],
    changes: &[Change],
    profile: &[ProfileChange],
    state: &db::State,
    policy_files: Vec<(String, String)>,
) -> Prepared {
    Prepared {
        integration: integration.name.clone(),
        dialect: integration.dialect,
        target,
        schemas: integration.schemas.clone(),
        serial: state.serial,
        fingerprint: state.fingerprint(),
        initialized: state.initialized,
        steps: changes
            .iter()
            .map(|c| Step {
                action: c.action,
                kind: c.kind.clone(),
                object: c.object.clone(),
                sql: c.sql.clone(),
            })
            .collect(),
        profile_users: profile.len(),
        profile_sql: if profile.is_empty() {
            String::new()
        } else {
            profile_sql(integration, profile)
        },
        objects: objects
            .iter()
            .filter(|o| o.kind != "profile")
            .map(|o| StateObject {
                kind: o.kind.to_string(),
                name: o.name.clone(),
                sql: o.sql.clone(),
                columns: o.columns.clone(),
            })
            .collect(),
        policy_files,
    }
}

impl Prepared {
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty() || self.profile_users > 0
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Applied {
    pub statements: usize,
    pub serial: i64,
}

/// Runs a prepared plan in one transaction: a failure rolls everything back,
/// and so does a deployment that moved since the plan was made.
pub fn apply(
    db: &mut Db,
    work: &Prepared,
    lock_timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<Applied, Diagnostic> {
    let integration = work.integration.clone();
    let dialect = work.dialect;
    let system = ident(&work.schemas.system);
    let fail = |what: &str, e: postgres::Error| {
        let detail = db::error_detail(&e);
        Diagnostic::error(
            "apply::failed",
            format!("integration `{integration}`: {what} failed: {detail}"),
        )
        .help("the transaction was rolled back: this integration is exactly as it was before")
    };
    db::count_round_trip();
    let mut tx = db
        .client
        .transaction()
        .map_err(|e| fail("starting a transaction", e))?;
    // Every batch sent inside the transaction, each one round trip.
    let statements = std::cell::Cell::new(0);
    let send = |tx: &mut postgres::Transaction<'_>, sql: &str| {
        db::count_round_trip();
        statements.set(statements.get() + 1);
        tx.batch_execute(sql)
    };
    if dialect == Dialect::Postgres {
        send(
            &mut tx,
            &format!("SET LOCAL lock_timeout = {}", lock_timeout.as_millis()),
        )
        .map_err(|e| fail("setting the lock timeout", e))?;
    }
    // Another apply holds the lock until it commits; then the fingerprint
    // tells whether this plan still describes the deployment.
    let lock = format!("LOCK TABLE {system}.\"state\" IN EXCLUSIVE MODE");
    if work.initialized {
        send(&mut tx, &lock).map_err(|e| fail("waiting for the lock on veil's state", e))?;
    }
    let now = db::read_state(&mut tx, &work.schemas, dialect, &integration)?;
    if now.initialized != work.initialized || now.fingerprint() != work.fingerprint {
        return Err(stale(&integration, work.serial, now.serial));
    }
    for step in &work.steps {
        progress(&format!(
            "{} {} {}",
            step.action.word(),
            step.kind,
            step.object
        ));
        let what = format!("{} {} {}", step.action.word(), step.kind, step.object);
        if step.kind == "key" {
            // The key never travels as SQL text: it is made here from the
            // operating system's random source and sent as a parameter,
            // only when the table holds none (a replaced key is deleted
            // first).
            let table = qualified_name(&step.object);
            if step.action == Action::Replace {
                send(&mut tx, &format!("DELETE FROM {table}")).map_err(|e| fail(&what, e))?;
            }
            let key = random_key().map_err(|e| {
                Diagnostic::error(
                    "apply::random",
                    format!("integration `{integration}`: cannot read the operating system's random source: {e}"),
                )
                .help("nothing was changed; check the machine's entropy source (getrandom)")
            })?;
            db::count_round_trip();
            statements.set(statements.get() + 1);
            tx.execute(
                &format!(
                    "INSERT INTO {table} (\"k\") SELECT CAST($1 AS VARCHAR(64)) FROM (SELECT COUNT(*) AS n FROM {table}) AS existing WHERE existing.n = 0"
                ),
                &[&key],
            )
            .map_err(|e| fail(&what, e))?;
            continue;
        }
        let sql = match step.action {
            Action::Drop => drop_sql(&step.kind, &step.object),
            Action::Recreate => format!("{}\n{}", drop_sql(&step.kind, &step.object), step.sql),
            Action::Create | Action::Replace => step.sql.clone(),
        };
        send(&mut tx, &sql).map_err(|e| fail(&what, e))?;
        if !work.initialized && step.kind == "table" && step.object.ends_with(".deployments") {
            // veil's state tables exist from here on: hold the lock.
            send(&mut tx, &lock).map_err(|e| fail("locking veil's state", e))?;
        }
    }
    if !work.profile_sql.is_empty() {
        progress(&format!("profile rows of {} users", work.profile_users));
        send(&mut tx, &work.profile_sql).map_err(|e| fail("writing profile rows", e))?;
    }
    // The new state: every object with its SQL and what the catalog says
    // of it now (owner, grants, options, definition), so a later plan can
    // tell a change made by hand.
    let key_table = format!("{}.hash_key", work.schemas.system);
    let existing = [("table".to_string(), key_table)];
    let catalog = db::read_catalog(&mut tx, &work.schemas, dialect, &integration, &existing)?;
    if now.initialized && !now.records_catalog {
        // A deployment by an earlier veil: its state table gains the column.
        let text = match dialect {
            Dialect::Redshift => "VARCHAR(65535)",
            Dialect::Postgres => "text",
        };
        send(
            &mut tx,
            &format!("ALTER TABLE {system}.\"state\" ADD COLUMN \"catalog_json\" {text}"),
        )
        .map_err(|e| fail("adding the catalog column to veil's state", e))?;
    }
    let lit = |s: &str| emit::quote::literal(s, dialect);
    let version = lit(env!("CARGO_PKG_VERSION"));
    let clock = match dialect {
        Dialect::Redshift => "GETDATE()",
        Dialect::Postgres => "CURRENT_TIMESTAMP",
    };
    // Only the rows that change are rewritten: a one-rule change records
    // one row, not every object's SQL again.
    let recorded: std::collections::HashMap<(&str, &str), (usize, &crate::plan::DeployedObject)> =
        now.deployed
            .objects
            .iter()
            .enumerate()
            .map(|(position, o)| ((o.kind.as_str(), o.name.as_str()), (position, o)))
            .collect();
    let mut state = String::new();
    let delete_row = |state: &mut String, kind: &str, name: &str| {
        state.push_str(&format!(
            "DELETE FROM {system}.\"state\" WHERE object_kind = {} AND object_name = {};\n",
            lit(kind),
            lit(name)
        ));
    };
    let wanted: std::collections::HashSet<(&str, &str)> = work
        .objects
        .iter()
        .map(|o| (o.kind.as_str(), o.name.as_str()))
        .collect();
    for old in &now.deployed.objects {
        if !wanted.contains(&(old.kind.as_str(), old.name.as_str())) {
            delete_row(&mut state, &old.kind, &old.name);
        }
    }
    for (position, object) in work.objects.iter().enumerate() {
        let key = (object.kind.clone(), object.name.clone());
        let found = catalog.get(&key);
        if let Some((old_position, old)) =
            recorded.get(&(object.kind.as_str(), object.name.as_str()))
        {
            if *old_position == position
                && old.sql == object.sql
                && old.columns == object.columns
                && now.recorded_catalog.get(&key) == found
            {
                continue;
            }
            delete_row(&mut state, &object.kind, &object.name);
        }
        let columns = object.columns.as_ref().map_or("NULL".to_string(), |c| {
            lit(&serde_json::to_string(c).unwrap_or_default())
        });
        let found = found.map(|c| serde_json::to_string(c).unwrap_or_default());
        let (catalog_json, catalog_checksum) = match &found {
            Some(json) => (lit(json), lit(&db::checksum(json))),
            None => ("NULL".to_string(), "NULL".to_string()),
        };
        state.push_str(&format!(
            "INSERT INTO {system}.\"state\" (object_kind, object_name, position, checksum, sql_text, columns_json, catalog_checksum, catalog_json, veil_version, applied_at) VALUES ({}, {}, {position}, {}, {}, {columns}, {catalog_checksum}, {catalog_json}, {version}, {clock});\n",
            lit(&object.kind),
            lit(&object.name),
            lit(&db::checksum(&object.sql)),
            lit(&object.sql),
        ));
    }
    // The policies this deployment enforces, in parts a Redshift VARCHAR
    // holds; rewritten only when they changed.
    let mut before: Vec<&(String, String)> = now.policy_files.iter().collect();
    let mut after: Vec<&(String, String)> = work.policy_files.iter().collect();
    before.sort();
    after.sort();
    if before != after {
        state.push_str(&format!("DELETE FROM {system}.\"policy_files\";\n"));
        for (path, text) in &work.policy_files {
            for (part, chunk) in chunks(text, 60_000).enumerate() {
                state.push_str(&format!(
                    "INSERT INTO {system}.\"policy_files\" (path, part, text) VALUES ({}, {part}, {});\n",
                    lit(path),
                    lit(chunk)
                ));
            }
        }
    }
    let serial = now.serial + 1;
    state.push_str(&format!(
        "INSERT INTO {system}.\"deployments\" (serial, veil_version, applied_at) VALUES ({serial}, {version}, {clock});\n"
    ));
    send(&mut tx, &state).map_err(|e| fail("recording veil's state", e))?;
    db::count_round_trip();
    tx.commit().map_err(|e| fail("committing", e))?;
    Ok(Applied {
        statements: statements.get(),
        serial,
    })
}

/// `text` in pieces of at most `max` bytes, cut at character boundaries.
fn chunks(text: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

fn stale(integration: &str, planned: i64, now: i64) -> Diagnostic {
    Diagnostic::error(
        "apply::stale",
        format!(
            "integration `{integration}` changed since the plan was made (planned against deployment {planned}, now {now})"
        ),
    )
    .help("plan again and review the new plan; nothing was changed")
}

/// A key for `hash`: 32 bytes from the operating system's random source,
/// as 64 lower-case hex characters.
fn random_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `schema.name` as a quoted, qualified name.
fn qualified_name(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, object)) => format!("{}.{}", ident(schema), ident(object)),
        None => ident(name),
    }
}

/// The statement that removes an object veil created.
fn drop_sql(kind: &str, name: &str) -> String {
    let qualified = qualified_name(name);
    match kind {
        "view" => format!("DROP VIEW IF EXISTS {qualified};"),
        "table" => format!("DROP TABLE IF EXISTS {qualified};"),
        "schema" => format!("DROP SCHEMA IF EXISTS {};", ident(name)),
        _ => format!(
            "-- {kind} {} stays until its schema goes",
            emit::quote::comment(name)
        ),
    }
}

/// Rewrites the profile rows of the users whose rows change.
fn profile_sql(integration: &Integration, profile: &[ProfileChange]) -> String {
    let dialect = integration.dialect;
    let system = &integration.schemas.system;
    let users: Vec<String> = profile
        .iter()
        .map(|p| emit::quote::literal(&p.user, dialect))
        .collect();
    let mut sql = String::new();
    for chunk in users.chunks(500) {
        let list = chunk.join(", ");
        for table in emit::SIDE_TABLES {
            sql.push_str(&format!(
                "DELETE FROM {}.{} WHERE \"userid\" IN ({list});\n",
                ident(system),
                ident(table)
            ));
        }
        sql.push_str(&format!(
            "DELETE FROM {}.\"profile\" WHERE \"immuta__userid\" IN ({list});\n",
            ident(system)
        ));
    }
    let by_user: std::collections::HashMap<&str, &Profile> = integration
        .profiles
        .iter()
        .map(|p| (p.user.as_str(), p))
        .collect();
    let keep: Vec<&Profile> = profile
        .iter()
        .filter(|p| p.action != ProfileAction::Remove)
        .filter_map(|p| by_user.get(p.user.as_str()).copied())
        .collect();
    sql.push_str(&emit::profile_insert_sql(integration, &keep));
    sql
}
