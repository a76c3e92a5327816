//! Stage 6, `plan → database`: apply sends a prepared plan's script
//! (`plan::script`) in one transaction, under a lock on veil's state, or
//! changes nothing.

use crate::catalog::CatalogObject;
use crate::db::{self, Db};
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::script as sql;
use crate::object::{ObjectId, ObjectKind, QualifiedName};
use crate::plan::script::{KEY_VARIABLE, LOCKING, Prepared, Statement, shown};
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
        commit: work.dialect.sql().commit(),
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
) -> Result<(), Diagnostic> {
    let dialect = work.dialect;
    let mut now = None;
    for statement in &work.script {
        match statement {
            Statement::Check { sql } => {
                out.flush()?;
                // Everything the plan read, read again under the lock.
                let state = db::read_state(
                    out.client,
                    &work.schemas,
                    dialect,
                    out.integration,
                    db::Reading::Guard,
                )?;
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
    objects: &[ObjectId],
    rewritten: &[ObjectId],
    recorded: Option<&BTreeMap<ObjectId, CatalogObject>>,
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
            recorded.and_then(|r| r.get(id))
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
