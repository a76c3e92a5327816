//! Stage 6, `plan → database`: carries out one integration's plan in one
//! transaction, under a lock on veil's state table, or changes nothing.

use crate::db::{self, Db};
use crate::diagnostic::Diagnostic;
use crate::emit::{self, SqlObject, quote::ident};
use crate::ir::{Integration, Profile};
use crate::model::Dialect;
use crate::plan::{Action, Change, ProfileAction, ProfileChange};
use std::time::Duration;

/// Everything apply needs for one integration.
pub struct Work<'a> {
    pub integration: &'a Integration,
    /// Every object of the compiled integration, in order (the new state).
    pub objects: &'a [SqlObject],
    pub changes: &'a [Change],
    pub profile: &'a [ProfileChange],
    /// The deployment serial the plan was made against.
    pub serial: i64,
    /// Whether veil's state existed when the plan was made.
    pub initialized: bool,
    pub lock_timeout: Duration,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Applied {
    pub statements: usize,
    pub serial: i64,
}

/// Runs `work` in one transaction: a failure rolls everything back.
pub fn apply(
    db: &mut Db,
    work: &Work<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Applied, Diagnostic> {
    let integration = work.integration.name.clone();
    let dialect = work.integration.dialect;
    let system = ident(&work.integration.schemas.system);
    let fail = |what: &str, e: postgres::Error| {
        let detail = e
            .as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string());
        Diagnostic::error(
            "apply::failed",
            format!("integration `{integration}`: {what} failed: {detail}"),
        )
        .help("the transaction was rolled back: this integration is exactly as it was before")
    };
    let mut tx = db
        .client
        .transaction()
        .map_err(|e| fail("starting a transaction", e))?;
    let mut statements = 0;
    let timeout_ms = work.lock_timeout.as_millis();
    if dialect == Dialect::Postgres {
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {timeout_ms}"))
            .map_err(|e| fail("setting the lock timeout", e))?;
    }
    // Another apply holds the lock until it commits; then the serial tells
    // whether this plan is still current.
    let lock = format!("LOCK TABLE {system}.\"state\" IN EXCLUSIVE MODE");
    if work.initialized {
        tx.batch_execute(&lock)
            .map_err(|e| fail("waiting for the lock on veil's state", e))?;
        let serial: i64 = tx
            .query_one(
                &format!("SELECT COALESCE(MAX(serial), 0) FROM {system}.\"deployments\""),
                &[],
            )
            .map_err(|e| fail("reading the deployment serial", e))?
            .get(0);
        if serial != work.serial {
            return Err(stale(&integration, work.serial, serial));
        }
    }
    for change in work.changes {
        progress(&format!(
            "{} {} {}",
            change.action.word(),
            change.kind,
            change.object
        ));
        let sql = match change.action {
            Action::Drop => drop_sql(&change.kind, &change.object, dialect),
            Action::Recreate => format!(
                "{}\n{}",
                drop_sql(&change.kind, &change.object, dialect),
                change.sql
            ),
            Action::Create | Action::Replace => change.sql.clone(),
        };
        tx.batch_execute(&sql).map_err(|e| {
            fail(
                &format!("{} {} {}", change.action.word(), change.kind, change.object),
                e,
            )
        })?;
        statements += 1;
        if !work.initialized && change.kind == "table" && change.object.ends_with(".deployments") {
            // The state tables now exist: take the lock from here on.
            tx.batch_execute(&lock)
                .map_err(|e| fail("locking veil's state", e))?;
        }
    }
    if !work.profile.is_empty() {
        progress(&format!("profile rows: {} users", work.profile.len()));
        let sql = profile_sql(work);
        tx.batch_execute(&sql)
            .map_err(|e| fail("writing profile rows", e))?;
        statements += 1;
    }
    // The new state: every object with its SQL and, for views, the
    // catalog's text, so a later plan can tell a hand-made change.
    let catalog = tx
        .query(
            &db::view_definitions_sql(dialect),
            &[&vec![
                work.integration.schemas.system.clone(),
                work.integration.schemas.views.clone(),
            ]],
        )
        .map_err(|e| fail("reading view definitions", e))?;
    let definitions: std::collections::HashMap<String, String> = catalog
        .iter()
        .map(|r| (r.get::<_, String>(0), db::checksum(&r.get::<_, String>(1))))
        .collect();
    let mut state = format!("DELETE FROM {system}.\"state\";\n");
    let lit = |s: &str| emit::quote::literal(s, dialect);
    let version = lit(env!("CARGO_PKG_VERSION"));
    let now = match dialect {
        Dialect::Redshift => "GETDATE()",
        Dialect::Postgres => "CURRENT_TIMESTAMP",
    };
    for (position, object) in work
        .objects
        .iter()
        .filter(|o| o.kind != "profile")
        .enumerate()
    {
        let columns = object.columns.as_ref().map_or("NULL".to_string(), |c| {
            lit(&serde_json::to_string(c).unwrap_or_default())
        });
        let catalog = definitions
            .get(&object.name)
            .map_or("NULL".to_string(), |c| lit(c));
        state.push_str(&format!(
            "INSERT INTO {system}.\"state\" (object_kind, object_name, position, checksum, sql_text, columns_json, catalog_checksum, veil_version, applied_at) VALUES ({}, {}, {position}, {}, {}, {columns}, {catalog}, {version}, {now});\n",
            lit(object.kind),
            lit(&object.name),
            lit(&db::checksum(&object.sql)),
            lit(&object.sql),
        ));
    }
    let serial = work.serial + 1;
    state.push_str(&format!(
        "INSERT INTO {system}.\"deployments\" (serial, veil_version, applied_at) VALUES ({serial}, {version}, {now});\n"
    ));
    tx.batch_execute(&state)
        .map_err(|e| fail("recording veil's state", e))?;
    statements += 1;
    tx.commit().map_err(|e| fail("committing", e))?;
    db.round_trips += statements as u32 + 4;
    Ok(Applied { statements, serial })
}

fn stale(integration: &str, planned: i64, now: i64) -> Diagnostic {
    Diagnostic::error(
        "apply::stale",
        format!("integration `{integration}` changed since the plan was made (deployment {planned}, now {now})"),
    )
    .help("plan again and review the new plan; nothing was changed")
}

/// The statement that removes an object veil created.
fn drop_sql(kind: &str, name: &str, _dialect: Dialect) -> String {
    let parts: Vec<&str> = name.splitn(2, '.').collect();
    let qualified = match parts.as_slice() {
        [schema, object] => format!("{}.{}", ident(schema), ident(object)),
        _ => ident(name),
    };
    match kind {
        "view" => format!("DROP VIEW IF EXISTS {qualified};"),
        "table" => format!("DROP TABLE IF EXISTS {qualified};"),
        "schema" => format!("DROP SCHEMA IF EXISTS {};", ident(name)),
        "function" | "procedure" => format!(
            "-- {kind} {} is kept: it is dropped with its schema",
            emit::quote::comment(name)
        ),
        _ => format!(
            "-- nothing to drop for {kind} {}",
            emit::quote::comment(name)
        ),
    }
}

/// Rewrites the profile rows of the users whose rows change.
fn profile_sql(work: &Work<'_>) -> String {
    let dialect = work.integration.dialect;
    let system = &work.integration.schemas.system;
    let users: Vec<String> = work
        .profile
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
    let keep: Vec<&Profile> = work
        .profile
        .iter()
        .filter(|p| p.action != ProfileAction::Remove)
        .filter_map(|p| work.integration.profiles.iter().find(|q| q.user == p.user))
        .collect();
    sql.push_str(&emit::profile_insert_sql(work.integration, &keep));
    sql
}
