//! Helpers shared by the integration tests: a seeded generator, scratch
//! directories, and throw-away PostgreSQL databases and roles.

pub mod redshift;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "{tag}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A scratch directory, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("veil-{}", unique(tag)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creates scratch dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn psql_command(database: &str, user: &str) -> Command {
    let mut command = Command::new("psql");
    command
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", user, "-d", database])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "|"])
        .env("PGCONNECT_TIMEOUT", "10");
    command
}

fn run(database: &str, sql: &str) -> Result<String, String> {
    let session = run_as(database, "postgres", sql);
    if session.ok {
        Ok(session.stdout)
    } else {
        Err(session.stderr)
    }
}

/// What one psql session printed: its rows on standard output, its
/// notices and errors on standard error.
pub struct Session {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

fn run_as(database: &str, user: &str, sql: &str) -> Session {
    run_with(database, user, sql, &[])
}

fn run_with(database: &str, user: &str, sql: &str, vars: &[(&str, &str)]) -> Session {
    let failed = |why: String| Session {
        ok: false,
        stdout: String::new(),
        stderr: why,
    };
    let mut command = psql_command(database, user);
    for (name, value) in vars {
        command.arg("-v").arg(format!("{name}={value}"));
    }
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot run psql: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take()
        && let Err(e) = stdin.write_all(sql.as_bytes())
    {
        return failed(e.to_string());
    }
    match child.wait_with_output() {
        Ok(output) => Session {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
        Err(e) => failed(e.to_string()),
    }
}

/// Whether the local PostgreSQL server answers.
pub fn psql_available() -> bool {
    run("postgres", "SELECT 1").is_ok()
}

/// A fresh database, dropped with its roles when this value is dropped.
pub struct Database {
    pub name: String,
    roles: std::cell::RefCell<Vec<String>>,
}

/// A double-quoted identifier for the tests' own SQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Database {
    /// The connection URL of the database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    pub fn create(tag: &str) -> Database {
        let name = format!("veil_{}", unique(tag));
        run("postgres", &format!("CREATE DATABASE {}", ident(&name)))
            .expect("creates a test database");
        Database {
            name,
            roles: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Runs SQL in this database.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        run(&self.name, sql)
    }

    /// Another session that holds the lock on veil's state (in
    /// `<prefix>_system`, the default prefix) while it runs `sql`, then
    /// sleeps `seconds` and commits; returned once it holds the lock. Wait
    /// for it to end.
    pub fn hold_state_lock(&self, sql: &str, seconds: u32) -> std::process::Child {
        let script = format!(
            "BEGIN; LOCK TABLE immuta_system.state IN EXCLUSIVE MODE; {sql} SELECT pg_catalog.pg_sleep({seconds}); COMMIT;"
        );
        let holder = psql_command(&self.name, "postgres")
            .args(["-c", &script])
            .spawn()
            .expect("starts psql");
        let held = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            self.psql("SELECT count(*) FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_class c ON c.oid = l.relation WHERE c.relname = 'state' AND l.mode = 'ExclusiveLock' AND l.granted")
                .is_ok_and(|n| n.trim() == "1")
        });
        assert!(held, "the other session takes the lock");
        holder
    }

    /// Runs a query; rows as `a|b` lines.
    pub fn query(&self, sql: &str) -> Result<String, String> {
        run(&self.name, sql)
    }

    /// Creates (or reuses) a login role of exactly this name for the test.
    pub fn role(&self, name: &str) -> String {
        let sql = format!(
            "DO $veil_test$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN CREATE ROLE {id}; END IF; END $veil_test$;",
            lit = literal(name),
            id = ident(name)
        );
        run("postgres", &sql).expect("creates a role");
        self.roles.borrow_mut().push(name.to_string());
        name.to_string()
    }

    /// Creates a role of exactly this name that may log in, and nothing more.
    pub fn login_role(&self, name: &str) -> String {
        self.role(name);
        run("postgres", &format!("ALTER ROLE {} LOGIN", ident(name))).expect("allows login");
        name.to_string()
    }

    /// Runs SQL in a session of its own, logged in as `role` (not `SET
    /// ROLE` from a superuser, which the SQL could undo).
    pub fn session(&self, role: &str, sql: &str) -> Session {
        run_as(&self.name, role, sql)
    }

    /// Runs a script as `role` with the psql variable `veil_hash_key` set,
    /// as an apply script run by hand takes its key.
    pub fn session_with_key(&self, role: &str, sql: &str, key: &str) -> Session {
        run_with(&self.name, role, sql, &[("veil_hash_key", key)])
    }

    /// Runs a query as `role`, the way a user of the database would.
    pub fn query_as(&self, role: &str, sql: &str) -> Result<String, String> {
        run(&self.name, &format!("SET ROLE {};\n{sql}", ident(role)))
    }
}

/// A standard-conforming string literal for the tests' own SQL.
pub fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = run(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&self.name)),
        );
        for role in self.roles.borrow().iter() {
            let _ = run("postgres", &format!("DROP ROLE IF EXISTS {}", ident(role)));
        }
    }
}

/// What one run of veil printed, and how it exited.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// One run of the `veil` binary, built up: `Veil::new().args(…).env(…)`,
/// then `run()`, or `succeeds()` / `fails()` to check the exit status too.
/// Colours are off.
pub struct Veil {
    command: Command,
    shown: Vec<String>,
    stdin: Option<String>,
}

impl Veil {
    pub fn new() -> Veil {
        let mut command = Command::new(env!("CARGO_BIN_EXE_veil"));
        command.env("NO_COLOR", "1");
        Veil {
            command,
            shown: Vec::new(),
            stdin: None,
        }
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Veil {
        for arg in args {
            self.shown.push(arg.as_ref().to_string_lossy().into_owned());
            self.command.arg(arg);
        }
        self
    }

    /// The project directory (or plan file) the command works on.
    pub fn project(self, dir: &Path) -> Veil {
        self.args([dir])
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Veil {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Veil {
        self.command.env_remove(key);
        self
    }

    /// The `shop` integration's URL pointing at `db`.
    pub fn shop(self, db: &Database) -> Veil {
        self.env("VEIL_SHOP_URL", db.url())
    }

    pub fn current_dir(mut self, dir: &Path) -> Veil {
        self.command.current_dir(dir);
        self
    }

    /// What veil reads on standard input.
    pub fn stdin(mut self, text: &str) -> Veil {
        self.stdin = Some(text.to_string());
        self
    }

    pub fn run(mut self) -> Run {
        let output = match self.stdin.take() {
            None => self.command.output().expect("runs veil"),
            Some(text) => {
                let mut child = self
                    .command
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("runs veil");
                child
                    .stdin
                    .take()
                    .expect("a pipe")
                    .write_all(text.as_bytes())
                    .expect("writes standard input");
                child.wait_with_output().expect("veil ends")
            }
        };
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs, and checks that veil exited with `expected`.
    pub fn status(self, expected: i32) -> Run {
        let args = self.shown.join(" ");
        let run = self.run();
        assert_eq!(
            run.status, expected,
            "veil {args}\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        run
    }

    pub fn succeeds(self) -> Run {
        self.status(0)
    }

    pub fn fails(self) -> Run {
        self.status(1)
    }
}

/// Runs veil with colours off and `env` set.
pub fn veil_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    env.iter()
        .fold(Veil::new().args(args), |v, (k, value)| v.env(k, value))
        .run()
}

/// Runs veil with the `shop` integration's URL pointing at `db`.
pub fn veil_on(db: &Database, args: &[&str]) -> Run {
    Veil::new().args(args).shop(db).run()
}

/// A run that must have succeeded.
pub fn ok(run: Run) -> Run {
    assert_eq!(
        run.status, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    run
}

/// A run that must have been refused, saying `why`.
pub fn refused(run: &Run, what: &str, why: &str) {
    assert_eq!(
        run.status, 1,
        "{what} was not refused:\n{}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains(why),
        "{what}: the refusal does not say `{why}`:\n{}",
        run.stderr
    );
}
