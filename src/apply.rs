//! Stage 6, `plan → database`: apply sends a prepared plan's script
//! (`plan::script`) in one transaction, under a lock on veil's state, or
//! changes nothing.

use crate::catalog::CatalogObject;
use crate::db::{self, Db};
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::script as sql;
use crate::ir::Schemas;
use crate::object::{ObjectId, ObjectKind, QualifiedName};
use crate::plan::script::{KEY_VARIABLE, LOCKING, Prepared, Statement, prologue, shown};
use crate::state::State;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The most a single message to the database holds: far below Redshift's
/// 16 MB statement limit (`c_redshift-sql`), however a message of several
/// statements counts against it.
const MESSAGE_BYTES: usize = 4 << 20;

/// The longest statement apply sends: Redshift refuses one over 16 MB.
const STATEMENT_BYTES: usize = 15 << 20;

/// What an apply did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Messages sent (each one round trip).
    pub statements: usize,
    pub serial: i64,
}

/// Opens an apply's transaction on `db` and takes the lock on veil's state,
/// before a plan reads that state: the plan is then made against a
/// deployment no other apply can move, and [`apply`] goes on in the same
/// transaction without reading it again. What it sends is the script's own
/// opening (`plan::script::prologue`), the state table's lock included
/// where that table exists.
pub fn open(
    db: &mut Db,
    target: &db::Target,
    schemas: &Schemas,
    lock_timeout: Duration,
) -> Result<(), Diagnostic> {
    let dialect = target.dialect;
    let mut sent = Vec::new();
    let mut out = Sender {
        client: &mut db.client,
        integration: &target.integration,
        pending: String::new(),
        messages: 0,
        sent: Some(&mut sent),
        what: "starting the transaction".into(),
        commit: dialect.sql().commit(),
    };
    let opened = (|| {
        // Everything but the state table's lock and the end of the wait's
        // bound, then whether there is a state table to lock.
        let first = prologue(dialect, schemas, &target.time_zone, false);
        let before_end = first.len().saturating_sub(1);
        for statement in &first[..before_end] {
            send(&mut out, statement, dialect, lock_timeout, &mut |_| {})?;
        }
        out.flush()?;
        db::count_round_trip();
        let exists = out
            .client
            .query_one(&sql::state_exists(dialect, schemas), &[])
            .map_err(|e| out.fail("reading whether veil's state exists", &e))?
            .get::<_, i64>(0)
            > 0;
        let all = prologue(dialect, schemas, &target.time_zone, exists);
        for statement in &all[before_end..] {
            send(&mut out, statement, dialect, lock_timeout, &mut |_| {})?;
        }
        out.flush()?;
        Ok(exists)
    })();
    match opened {
        Ok(state_locked) => {
            db.opened = Some(db::Opened { sent, state_locked });
            Ok(())
        }
        Err(d) => {
            db::count_round_trip();
            let _ = db.client.batch_execute(dialect.sql().rollback());
            Err(d)
        }
    }
}

/// Runs the rest of a prepared plan's script in the transaction [`open`]
/// opened on `db` before the plan read `planned` under the lock: the state
/// the plan read is the state now. A failure rolls everything back.
/// `sent`, when given, receives the text of every message as sent, the
/// opening included (the key as its placeholder).
pub fn apply(
    db: &mut Db,
    work: &Prepared,
    planned: &State,
    lock_timeout: Duration,
    progress: &mut dyn FnMut(&str),
    mut sent: Option<&mut Vec<String>>,
) -> Result<Applied, Diagnostic> {
    let Some(opened) = db.opened.take() else {
        return Err(Diagnostic::error(
            Code::ApplyFailed,
            format!(
                "integration `{}`: no transaction was opened before the plan (a bug in veil)",
                work.integration
            ),
        )
        .help("nothing was changed"));
    };
    if let Some(sent) = sent.as_deref_mut() {
        sent.extend(opened.sent.iter().cloned());
    }
    let mut out = Sender {
        client: &mut db.client,
        integration: &work.integration,
        pending: String::new(),
        messages: opened.sent.len(),
        sent,
        what: "starting the transaction".into(),
        commit: work.dialect.sql().commit(),
    };
    match run(
        &mut out,
        work,
        lock_timeout,
        progress,
        (opened.state_locked, planned),
    ) {
        Ok(()) => Ok(Applied {
            statements: out.messages,
            serial: work.serial + 1,
        }),
        Err(d) => {
            // A failed statement aborted the transaction; a refusal ends it
            // here.
            db::count_round_trip();
            let _ = out.client.batch_execute(work.dialect.sql().rollback());
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
    /// The statement that ends the transaction.
    commit: &'static str,
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
                Code::ApplyLocked,
                format!(
                    "integration `{}`: another apply is running (it holds the lock on veil's state)",
                    self.integration
                ),
            )
            .help("nothing was changed; apply again when it is done (or wait longer with `--lock-timeout 5m`)");
        }
        Diagnostic::error(
            Code::ApplyFailed,
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
                Code::ApplyStatementSize,
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
        let committing = text.trim_end().ends_with(self.commit);
        let _waiting = db::waiting(if committing { "committing" } else { &self.what });
        self.client.batch_execute(&text).map_err(|e| {
            if committing && e.as_db_error().is_none() {
                // The COMMIT was sent and no answer came back: the
                // transaction may or may not have been committed.
                Diagnostic::error(
                    Code::ApplyUnknownOutcome,
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
    (state_locked, now): (bool, &State),
) -> Result<(), Diagnostic> {
    let dialect = work.dialect;
    // The script opens as `open` did, for the state the plan read.
    let opening = prologue(dialect, &work.schemas, &work.target.time_zone, state_locked);
    if !work.script.starts_with(&opening)
        || now.initialized != work.initialized
        || now.serial != work.serial
    {
        return Err(stale(out.integration, work, now));
    }
    for statement in &work.script[opening.len()..] {
        match statement {
            Statement::Check { sql } => {
                // The guard a hand run of the script gets; here the lock
                // has held since the plan read the state.
                out.doing("checking the deployment")?;
                out.add(sql)?;
            }
            Statement::Key { table } => {
                out.doing(&format!("making the key of {table}"))?;
                progress(&format!("make a key for {table}"));
                let key = random_key().map_err(|e| {
                    Diagnostic::error(
                        Code::ApplyRandom,
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
                        sql::key_insert(table, &format!(":'{KEY_VARIABLE}'"))
                    ));
                }
                let result = out.client.execute(&sql::key_insert(table, "$1"), &[&key]);
                result.map_err(|e| out.fail(&format!("making the key of {table}"), &e))?;
            }
            Statement::RecordCatalog { objects, rewritten } => {
                out.flush()?;
                let updates = record_catalog(
                    out.client,
                    work,
                    objects,
                    rewritten,
                    &now.recorded_catalog,
                    out.integration,
                )?;
                out.doing("recording what the catalog says")?;
                for update in updates {
                    out.add(&update)?;
                }
            }
            other => send(out, other, dialect, lock_timeout, progress)?,
        }
    }
    out.flush()
}

/// Adds a statement sent as the script shows it, its step announced.
fn send(
    out: &mut Sender<'_>,
    statement: &Statement,
    dialect: crate::model::Dialect,
    lock_timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<(), Diagnostic> {
    let Some(text) = shown(statement, dialect, lock_timeout) else {
        return Ok(());
    };
    if let Statement::Sql {
        step: Some(step), ..
    } = statement
        && *step != out.what
    {
        out.doing(step)?;
        progress(step);
    }
    out.add(&text)
}

/// Reads the catalog after the changes and returns the statements that
/// record it in the state rows whose record changes.
fn record_catalog(
    client: &mut postgres::Client,
    work: &Prepared,
    objects: &[ObjectId],
    rewritten: &[ObjectId],
    recorded: &BTreeMap<ObjectId, CatalogObject>,
    integration: &str,
) -> Result<Vec<String>, Diagnostic> {
    // The tables whose rows the catalog record holds: they exist now.
    let tables = ["hash_key", crate::emit::profile::RULES].map(|t| {
        ObjectId::new(
            ObjectKind::Table,
            QualifiedName::new(&work.schemas.system, t),
        )
    });
    let catalog = db::read_catalog(client, &work.schemas, work.dialect, integration, &tables)?;
    let rewritten: HashSet<&ObjectId> = rewritten.iter().collect();
    let mut out = Vec::new();
    for id in objects {
        let before = if rewritten.contains(id) {
            None
        } else {
            recorded.get(id)
        };
        let found = catalog.get(id);
        if found == before {
            continue;
        }
        let json = found.map(|object| {
            let json = serde_json::to_string(object).unwrap_or_default();
            let checksum = crate::state::checksum(&json);
            (json, checksum)
        });
        let found = json.as_ref().map(|(j, c)| (j.as_str(), c.as_str()));
        out.push(sql::catalog_record(work.dialect, &work.schemas, id, found));
    }
    Ok(out)
}

/// A plan whose deployment moved, naming what moved.
pub fn stale(integration: &str, work: &Prepared, now: &crate::state::State) -> Diagnostic {
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
        Code::ApplyStale,
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
