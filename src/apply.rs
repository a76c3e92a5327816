//! Stage 6, `plan → database`: one integration's plan as the script apply
//! sends, and apply itself, which sends exactly that script in one
//! transaction, under a lock on veil's state table, or changes nothing.
//!
//! The script is made when the plan is made (`prepare`): every statement is
//! known then but three, which `Statement` names: the bound on the wait for
//! the lock (it follows `--lock-timeout`), the hashing key (made at apply
//! time from the operating system's random source and sent as a parameter)
//! and the record of what the catalog says of each object after the
//! changes (it can only be read then). `veil plan --format sql` prints the
//! same script with a placeholder for each.

use crate::catalog::{CatalogObject, ObjectKey};
use crate::db::{self, Db};
use crate::diagnostic::Diagnostic;
use crate::emit::{self, SqlObject, quote::ident, quote::qualified_name};
use crate::ir::{Integration, Profile, Schemas};
use crate::model::Dialect;
use crate::plan::{Action, Change, IntegrationPlan, ProfileAction, ProfileChange};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
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
    pub kind: String,
    pub object: String,
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
    /// The deployment is the one planned. Apply reads everything the plan
    /// read and compares its fingerprint first; the SQL is the guard a hand
    /// run gets: it fails unless the deployment serial is the planned one.
    Check { sql: String },
    /// A new hashing key for the table, sent as a parameter, only when the
    /// table holds none.
    Key { table: String },
    /// What the catalog says of each object after the changes, written to
    /// its state row (`objects`), the rows this script rewrites among them.
    RecordCatalog {
        objects: Vec<ObjectKey>,
        rewritten: Vec<ObjectKey>,
    },
}

/// The most a single message to the database holds: far below Redshift's
/// 16 MB statement limit (`c_redshift-sql`), however a message of several
/// statements counts against it.
const MESSAGE_BYTES: usize = 4 << 20;

/// The longest statement apply sends: Redshift refuses one over 16 MB.
const STATEMENT_BYTES: usize = 15 << 20;

/// Text of a Redshift VARCHAR(65535) column, with room for multi-byte
/// characters cut at a boundary.
const TEXT_PART_BYTES: usize = 60_000;

/// The psql variable a hand run passes the key in.
pub const KEY_VARIABLE: &str = "veil_hash_key";

/// Prepares one integration's plan for apply: its whole script.
pub fn prepare(
    integration: &Integration,
    target: db::Target,
    objects: &[SqlObject],
    plan: &IntegrationPlan,
    state: &db::State,
    policy_files: Vec<(String, String)>,
) -> Prepared {
    let (changes, profile) = (&plan.changes, &plan.profile);
    // A recovery makes veil's record anew, whatever is left of the old one.
    let blank;
    let recorded = if plan.recovery {
        blank = db::State {
            deployed: Default::default(),
            policy_files: Vec::new(),
            records_catalog: true,
            ..state.clone()
        };
        &blank
    } else {
        state
    };
    let script = script(
        integration,
        objects,
        changes,
        profile,
        recorded,
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
                kind: c.kind.clone(),
                object: c.object.clone(),
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

/// The statements of one apply, in order.
fn script(
    integration: &Integration,
    objects: &[SqlObject],
    changes: &[Change],
    profile: &[ProfileChange],
    state: &db::State,
    policy_files: &[(String, String)],
) -> Vec<Statement> {
    let dialect = integration.dialect;
    let schemas = &integration.schemas;
    let system = ident(&schemas.system);
    let sql = |sql: String| Statement::Sql { step: None, sql };
    let target = db::Target {
        integration: integration.name.clone(),
        dialect,
        database: integration.database.clone(),
        connection_env: String::new(),
        time_zone: integration.time_zone.clone(),
    };
    let lock = lock_sql(dialect, schemas);
    let waiting = Some(LOCKING.to_string());
    let mut out = vec![sql("BEGIN;".into()), sql(target.settings_sql())];
    out.push(Statement::LockTimeout);
    if dialect == Dialect::Postgres {
        // Applies to one database wait for each other from the start, a
        // first one (with no state table to lock yet) included.
        out.push(Statement::Sql {
            step: waiting.clone(),
            sql: advisory_lock_sql(schemas),
        });
    }
    if state.initialized {
        out.push(Statement::Sql {
            step: waiting.clone(),
            sql: lock.clone(),
        });
    }
    out.push(Statement::LockTimeoutEnd);
    out.push(Statement::Check {
        sql: check_sql(dialect, schemas, state),
    });
    for change in changes {
        let step = Some(format!(
            "{} {} {}",
            change.action.word(),
            change.kind,
            change.object
        ));
        if change.kind == "key" {
            // The key never travels as SQL text.
            if change.action == Action::Replace {
                out.push(Statement::Sql {
                    step: step.clone(),
                    sql: format!("DELETE FROM {};", qualified_name(&change.object)),
                });
            }
            out.push(Statement::Key {
                table: change.object.clone(),
            });
            continue;
        }
        let text = match change.action {
            Action::Drop => drop_sql(&change.kind, &change.object),
            Action::Recreate => {
                format!("{}\n{}", drop_sql(&change.kind, &change.object), change.sql)
            }
            Action::Create | Action::Replace => change.sql.clone(),
        };
        out.push(Statement::Sql { step, sql: text });
        if !state.initialized && change.kind == "table" && change.object.ends_with(".deployments") {
            // veil's state tables exist from here on: hold the lock.
            out.push(sql(lock.clone()));
        }
    }
    if !profile.is_empty() {
        out.extend(
            profile_sql(integration, profile)
                .into_iter()
                .map(|text| Statement::Sql {
                    step: Some(format!("profile rows of {} users", profile.len())),
                    sql: text,
                }),
        );
    }
    if state.initialized && !state.records_catalog {
        // A deployment by an earlier veil: its state table gains the column.
        let text = match dialect {
            Dialect::Redshift => "VARCHAR(65535)",
            Dialect::Postgres => "text",
        };
        out.push(sql(format!(
            "ALTER TABLE {system}.\"state\" ADD COLUMN \"catalog_json\" {text};"
        )));
    }
    let (bookkeeping, rewritten) = state_sql(dialect, schemas, objects, state, policy_files);
    out.extend(bookkeeping.into_iter().map(sql));
    out.push(Statement::RecordCatalog {
        objects: objects
            .iter()
            .filter(|o| o.kind != "profile")
            .map(|o| (o.kind.to_string(), o.name.clone()))
            .collect(),
        rewritten,
    });
    out.push(sql("COMMIT;".into()));
    out
}

/// The lock on veil's state table, held until the transaction ends.
/// Redshift's `LOCK` has no mode clause and is always exclusive
/// (`r_LOCK`); PostgreSQL's exclusive mode still lets plans read.
fn lock_sql(dialect: Dialect, schemas: &Schemas) -> String {
    let table = format!("{}.\"state\"", ident(&schemas.system));
    match dialect {
        Dialect::Redshift => format!("LOCK TABLE {table};"),
        Dialect::Postgres => format!("LOCK TABLE {table} IN EXCLUSIVE MODE;"),
    }
}

/// What apply is doing while it waits for another apply.
const LOCKING: &str = "waiting for the lock on veil's state";

/// A transaction-scoped advisory lock on PostgreSQL, keyed by veil's system
/// schema, so two applies to one database never run at once.
fn advisory_lock_sql(schemas: &Schemas) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("veil apply {}", schemas.system).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash[..8]);
    format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({});",
        i64::from_be_bytes(bytes)
    )
}

/// A statement that fails unless the deployment is the one planned: the
/// serial it was planned against, or no veil state at all for a first
/// deployment. (A failed cast is the error both dialects can raise from a
/// plain query.)
fn check_sql(dialect: Dialect, schemas: &Schemas, state: &db::State) -> String {
    let moved = "'the deployment moved since this script was planned: plan again'";
    let lit = |s: &str| emit::quote::literal(s, dialect);
    let test = if state.initialized {
        format!(
            "(SELECT COALESCE(MAX(d.serial), 0) FROM {}.\"deployments\" AS d) = {}",
            ident(&schemas.system),
            state.serial
        )
    } else {
        format!(
            "(SELECT COUNT(*) FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relname = 'state') = 0",
            lit(&schemas.system)
        )
    };
    format!("SELECT CAST(CASE WHEN {test} THEN '1' ELSE {moved} END AS INTEGER) AS planned;")
}

/// The statements that record veil's state after the changes: the state
/// rows of the objects whose SQL, place or columns changed (others stay
/// as they are), their texts in parts a Redshift VARCHAR holds, the policy
/// files when they changed, and the new deployment serial. Returns them and
/// the objects whose rows are rewritten.
fn state_sql(
    dialect: Dialect,
    schemas: &Schemas,
    objects: &[SqlObject],
    state: &db::State,
    policy_files: &[(String, String)],
) -> (Vec<String>, Vec<ObjectKey>) {
    let system = ident(&schemas.system);
    let lit = |s: &str| emit::quote::literal(s, dialect);
    let version = lit(env!("CARGO_PKG_VERSION"));
    let clock = dialect.clock();
    let recorded: HashMap<(&str, &str), (usize, &crate::plan::DeployedObject)> = state
        .deployed
        .objects
        .iter()
        .enumerate()
        .map(|(position, o)| ((o.kind.as_str(), o.name.as_str()), (position, o)))
        .collect();
    let objects: Vec<&SqlObject> = objects.iter().filter(|o| o.kind != "profile").collect();
    let wanted: HashSet<(&str, &str)> = objects.iter().map(|o| (o.kind, o.name.as_str())).collect();
    let mut out = Vec::new();
    let delete = |kind: &str, name: &str| {
        format!(
            "DELETE FROM {system}.\"state\" WHERE object_kind = {k} AND object_name = {n};\nDELETE FROM {system}.\"state_text\" WHERE object_kind = {k} AND object_name = {n};",
            k = lit(kind),
            n = lit(name)
        )
    };
    for old in &state.deployed.objects {
        if !wanted.contains(&(old.kind.as_str(), old.name.as_str())) {
            out.push(delete(&old.kind, &old.name));
        }
    }
    let mut rewritten = Vec::new();
    for (position, object) in objects.iter().enumerate() {
        if let Some((old_position, old)) = recorded.get(&(object.kind, object.name.as_str())) {
            if *old_position == position && old.sql == object.sql && old.columns == object.columns {
                continue;
            }
            out.push(delete(object.kind, &object.name));
        }
        rewritten.push((object.kind.to_string(), object.name.clone()));
        let mut row = format!(
            "INSERT INTO {system}.\"state\" (object_kind, object_name, position, checksum, sql_text, columns_json, catalog_checksum, veil_version, applied_at) VALUES ({}, {}, {position}, {}, '', NULL, NULL, {version}, {clock});",
            lit(object.kind),
            lit(&object.name),
            lit(&db::checksum(&object.sql)),
        );
        let columns = object
            .columns
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        for (field, text) in [
            ("sql", Some(object.sql.as_str())),
            ("columns", columns.as_deref()),
        ] {
            let Some(text) = text else { continue };
            for (part, chunk) in chunks(text, TEXT_PART_BYTES).enumerate() {
                row.push_str(&format!(
                    "\nINSERT INTO {system}.\"state_text\" (object_kind, object_name, field, part, text) VALUES ({}, {}, '{field}', {part}, {});",
                    lit(object.kind),
                    lit(&object.name),
                    lit(chunk)
                ));
            }
        }
        out.push(row);
    }
    // The policies this deployment enforces, in parts a Redshift VARCHAR
    // holds; rewritten only when they changed.
    let mut before: Vec<&(String, String)> = state.policy_files.iter().collect();
    let mut after: Vec<&(String, String)> = policy_files.iter().collect();
    before.sort();
    after.sort();
    if before != after {
        out.push(format!("DELETE FROM {system}.\"policy_files\";"));
        for (path, text) in policy_files {
            for (part, chunk) in chunks(text, TEXT_PART_BYTES).enumerate() {
                out.push(format!(
                    "INSERT INTO {system}.\"policy_files\" (path, part, text) VALUES ({}, {part}, {});",
                    lit(path),
                    lit(chunk)
                ));
            }
        }
    }
    out.push(format!(
        "INSERT INTO {system}.\"deployments\" (serial, veil_version, applied_at) VALUES ({}, {version}, {clock});",
        state.serial + 1
    ));
    (out, rewritten)
}

/// The key insert as a hand run reads it: the key a psql variable.
fn key_sql(table: &str, value: &str) -> String {
    let table = qualified_name(table);
    format!(
        "INSERT INTO {table} (\"k\") SELECT CAST({value} AS VARCHAR(64)) FROM (SELECT COUNT(*) AS n FROM {table}) AS existing WHERE existing.n = 0;"
    )
}

/// The SQL of the lock-timeout statements. PostgreSQL bounds the wait for
/// a lock (`lock_timeout`); Redshift has no such setting, and bounds every
/// statement instead (`r_statement_timeout`), so the bound is set for the
/// `LOCK` alone.
fn lock_timeout_sql(dialect: Dialect, timeout: Duration, end: bool) -> String {
    let ms = timeout.as_millis();
    match (dialect, end) {
        (Dialect::Postgres, false) => format!("SET LOCAL lock_timeout = {ms};"),
        (Dialect::Postgres, true) => String::new(),
        (Dialect::Redshift, false) => format!("SET statement_timeout TO {ms};"),
        // Back to veil's own bound (RESET would go to the server's).
        (Dialect::Redshift, true) => {
            format!("SET statement_timeout TO {};", db::STATEMENT_TIMEOUT_MS)
        }
    }
}

/// A statement as `veil plan --format sql` shows it; `None` where a
/// dialect has nothing to send.
fn shown(statement: &Statement, dialect: Dialect, timeout: Duration) -> Option<String> {
    let text = match statement {
        Statement::Sql { sql, .. } | Statement::Check { sql } => sql.clone(),
        Statement::LockTimeout => lock_timeout_sql(dialect, timeout, false),
        Statement::LockTimeoutEnd => lock_timeout_sql(dialect, timeout, true),
        Statement::Key { table } => format!(
            "-- The hashing key: apply makes one from the operating system's random source and\n-- sends it as a parameter; run by hand: psql -v {KEY_VARIABLE}=\"$(openssl rand -hex 32)\"\n{}",
            key_sql(table, &format!(":'{KEY_VARIABLE}'"))
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

/// What an apply did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Messages sent (each one round trip).
    pub statements: usize,
    pub serial: i64,
}

/// Runs a prepared plan: every statement of its script, in one transaction.
/// A failure rolls everything back, and so does a deployment that moved
/// since the plan was made. `sent`, when given, receives the text of every
/// message as sent (the key as its placeholder).
pub fn apply(
    db: &mut Db,
    work: &Prepared,
    lock_timeout: Duration,
    progress: &mut dyn FnMut(&str),
    sent: Option<&mut Vec<String>>,
) -> Result<Applied, Diagnostic> {
    let mut out = Sender {
        client: &mut db.client,
        integration: &work.integration,
        pending: String::new(),
        messages: 0,
        sent,
        what: "starting the transaction".into(),
    };
    match run(&mut out, work, lock_timeout, progress) {
        Ok(()) => Ok(Applied {
            statements: out.messages,
            serial: work.serial + 1,
        }),
        Err(d) => {
            // A failed statement aborted the transaction; a refusal ends it
            // here.
            db::count_round_trip();
            let _ = out.client.batch_execute("ROLLBACK");
            Err(d)
        }
    }
}

/// Sends statements in messages of at most [`MESSAGE_BYTES`].
struct Sender<'a> {
    client: &'a mut postgres::Client,
    integration: &'a str,
    /// The statements gathered for the next message.
    pending: String,
    messages: usize,
    sent: Option<&'a mut Vec<String>>,
    /// What the pending statements do, for an error.
    what: String,
}

impl Sender<'_> {
    fn fail(&self, what: &str, e: &postgres::Error) -> Diagnostic {
        use postgres::error::SqlState;
        if what == LOCKING
            && matches!(
                e.code(),
                Some(&SqlState::LOCK_NOT_AVAILABLE) | Some(&SqlState::QUERY_CANCELED)
            )
        {
            return Diagnostic::error(
                "apply::locked",
                format!(
                    "integration `{}`: another apply is running (it holds the lock on veil's state)",
                    self.integration
                ),
            )
            .help("nothing was changed; apply again when it is done (or wait longer with `--lock-timeout 5m`)");
        }
        Diagnostic::error(
            "apply::failed",
            format!(
                "integration `{}`: {what} failed: {}",
                self.integration,
                db::error_detail(e)
            ),
        )
        .help("the transaction was rolled back: this integration is exactly as it was before")
    }

    /// Adds a statement, sending what is gathered first when the statement
    /// would take the message past the limit.
    fn add(&mut self, text: &str) -> Result<(), Diagnostic> {
        if text.len() > STATEMENT_BYTES {
            return Err(Diagnostic::error(
                "apply::statement_size",
                format!(
                    "integration `{}`: a statement of {} bytes ({}) is longer than Redshift's 16 MB",
                    self.integration,
                    text.len(),
                    self.what
                ),
            )
            .help("nothing was changed; split the source or its rules (this is a bug in veil if it comes from profile rows)"));
        }
        if !self.pending.is_empty() && self.pending.len() + text.len() > MESSAGE_BYTES {
            self.flush()?;
        }
        self.pending.push_str(text);
        if !text.ends_with('\n') {
            self.pending.push('\n');
        }
        Ok(())
    }

    /// Sends the statements gathered as one message.
    fn flush(&mut self) -> Result<(), Diagnostic> {
        if self.pending.is_empty() {
            return Ok(());
        }
        db::count_round_trip();
        self.messages += 1;
        let text = std::mem::take(&mut self.pending);
        if let Some(sent) = self.sent.as_deref_mut() {
            sent.push(text.clone());
        }
        let committing = text.trim_end().ends_with("COMMIT;");
        let _waiting = db::waiting(if committing { "committing" } else { &self.what });
        self.client.batch_execute(&text).map_err(|e| {
            if committing && e.as_db_error().is_none() {
                // The COMMIT was sent and no answer came back: the
                // transaction may or may not have been committed.
                Diagnostic::error(
                    "apply::unknown_outcome",
                    format!(
                        "integration `{}`: the connection was lost while committing ({e}): whether the apply went through is unknown",
                        self.integration
                    ),
                )
                .help("veil checks the deployment serial when it can reconnect; otherwise run `veil plan` to see whether the deployment moved")
            } else {
                self.fail(&self.what.clone(), &e)
            }
        })
    }

    /// Starts statements that do something else, for progress and errors.
    fn doing(&mut self, what: &str) -> Result<(), Diagnostic> {
        if what != self.what {
            self.flush()?;
            self.what = what.to_string();
        }
        Ok(())
    }
}

fn run(
    out: &mut Sender<'_>,
    work: &Prepared,
    lock_timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<(), Diagnostic> {
    let dialect = work.dialect;
    let mut now = None;
    for statement in &work.script {
        match statement {
            Statement::Check { sql } => {
                out.flush()?;
                // Everything the plan read, read again under the lock.
                let state = db::read_state(out.client, &work.schemas, dialect, out.integration)?;
                if state.initialized != work.initialized || state.fingerprint() != work.fingerprint
                {
                    return Err(stale(out.integration, work, &state));
                }
                now = Some(state);
                out.doing("checking the deployment")?;
                out.add(sql)?;
            }
            Statement::Key { table } => {
                out.doing(&format!("making the key of {table}"))?;
                progress(&format!("make a key for {table}"));
                let key = random_key().map_err(|e| {
                    Diagnostic::error(
                        "apply::random",
                        format!(
                            "integration `{}`: cannot read the operating system's random source: {e}",
                            out.integration
                        ),
                    )
                    .help("nothing was changed; check the machine's entropy source")
                })?;
                db::count_round_trip();
                out.messages += 1;
                if let Some(sent) = out.sent.as_deref_mut() {
                    sent.push(format!(
                        "{}\n",
                        key_sql(table, &format!(":'{KEY_VARIABLE}'"))
                    ));
                }
                let result = out.client.execute(&key_sql(table, "$1"), &[&key]);
                result.map_err(|e| out.fail(&format!("making the key of {table}"), &e))?;
            }
            Statement::RecordCatalog { objects, rewritten } => {
                out.flush()?;
                let recorded = now.as_ref().map(|s| &s.recorded_catalog);
                let updates = record_catalog(
                    out.client,
                    work,
                    objects,
                    rewritten,
                    recorded,
                    out.integration,
                )?;
                out.doing("recording what the catalog says")?;
                for update in updates {
                    out.add(&update)?;
                }
            }
            other => {
                let Some(text) = shown(other, dialect, lock_timeout) else {
                    continue;
                };
                if let Statement::Sql {
                    step: Some(step), ..
                } = other
                    && *step != out.what
                {
                    out.doing(step)?;
                    progress(step);
                }
                out.add(&text)?;
            }
        }
    }
    out.flush()
}

/// Reads the catalog after the changes and returns the statements that
/// record it in the state rows whose record changes.
fn record_catalog(
    client: &mut postgres::Client,
    work: &Prepared,
    objects: &[ObjectKey],
    rewritten: &[ObjectKey],
    recorded: Option<&BTreeMap<ObjectKey, CatalogObject>>,
    integration: &str,
) -> Result<Vec<String>, Diagnostic> {
    let key_table = format!("{}.hash_key", work.schemas.system);
    let existing = [("table".to_string(), key_table)];
    let catalog = db::read_catalog(client, &work.schemas, work.dialect, integration, &existing)?;
    let rewritten: HashSet<&ObjectKey> = rewritten.iter().collect();
    let system = ident(&work.schemas.system);
    let lit = |s: &str| emit::quote::literal(s, work.dialect);
    let mut out = Vec::new();
    for key in objects {
        let before = if rewritten.contains(key) {
            None
        } else {
            recorded.and_then(|r| r.get(key))
        };
        let found = catalog.get(key);
        if found == before {
            continue;
        }
        let (json, checksum) = match found {
            Some(object) => {
                let json = serde_json::to_string(object).unwrap_or_default();
                let checksum = db::checksum(&json);
                (lit(&json), lit(&checksum))
            }
            None => ("NULL".to_string(), "NULL".to_string()),
        };
        out.push(format!(
            "UPDATE {system}.\"state\" SET catalog_json = {json}, catalog_checksum = {checksum} WHERE object_kind = {} AND object_name = {};",
            lit(&key.0),
            lit(&key.1)
        ));
    }
    Ok(out)
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

/// A plan whose deployment moved, naming what moved.
pub fn stale(integration: &str, work: &Prepared, now: &db::State) -> Diagnostic {
    let now_parts = now.fingerprints();
    let moved: Vec<&str> = now_parts
        .iter()
        .filter(|(part, fingerprint)| work.fingerprints.get(*part) != Some(fingerprint))
        .map(|(part, _)| part.as_str())
        .collect();
    let moved = if moved.is_empty() {
        "the deployment".to_string()
    } else {
        moved.join(", ")
    };
    Diagnostic::error(
        "apply::stale",
        format!(
            "integration `{integration}` changed since the plan was made: {moved} moved (planned against deployment {}, now {})",
            work.serial, now.serial
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

/// The statements that rewrite the profile rows of the users whose rows
/// change: their rows deleted from every side table and the profile, then
/// inserted again (each statement below the limit of one message).
fn profile_sql(integration: &Integration, profile: &[ProfileChange]) -> Vec<String> {
    let dialect = integration.dialect;
    let system = &integration.schemas.system;
    let users: Vec<String> = profile
        .iter()
        .map(|p| emit::quote::literal(&p.user, dialect))
        .collect();
    let mut out = Vec::new();
    for chunk in users.chunks(500) {
        let list = chunk.join(", ");
        let mut sql = String::new();
        for table in emit::SIDE_TABLES {
            sql.push_str(&format!(
                "DELETE FROM {}.{} WHERE \"userid\" IN ({list});\n",
                ident(system),
                ident(table)
            ));
        }
        sql.push_str(&format!(
            "DELETE FROM {}.\"profile\" WHERE \"immuta__userid\" IN ({list});",
            ident(system)
        ));
        out.push(sql);
    }
    let by_user: HashMap<&str, &Profile> = integration
        .profiles
        .iter()
        .map(|p| (p.user.as_str(), p))
        .collect();
    let keep: Vec<&Profile> = profile
        .iter()
        .filter(|p| p.action != ProfileAction::Remove)
        .filter_map(|p| by_user.get(p.user.as_str()).copied())
        .collect();
    let inserts = emit::profile_insert_sql(integration, &keep);
    out.extend(
        inserts
            .split_inclusive(";\n")
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_cut_at_character_boundaries() {
        let text = "é".repeat(40_000);
        let parts: Vec<&str> = chunks(&text, TEXT_PART_BYTES).collect();
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= TEXT_PART_BYTES));
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn redshift_locks_without_a_mode() {
        let schemas = Schemas {
            system: "s".into(),
            functions: "f".into(),
            procedures: "p".into(),
            views: "v".into(),
        };
        assert_eq!(
            lock_sql(Dialect::Redshift, &schemas),
            "LOCK TABLE \"s\".\"state\";"
        );
        assert_eq!(
            lock_timeout_sql(Dialect::Redshift, Duration::from_secs(30), false),
            "SET statement_timeout TO 30000;"
        );
        assert_eq!(
            lock_timeout_sql(Dialect::Redshift, Duration::from_secs(30), true),
            format!("SET statement_timeout TO {};", db::STATEMENT_TIMEOUT_MS)
        );
    }
}
