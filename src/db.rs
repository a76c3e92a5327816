//! Talking to an integration's database over the PostgreSQL wire protocol:
//! connecting, reading veil's state and the catalog in a fixed number of
//! queries, and running statements. Every query plan and apply send is in
//! this file.

use crate::catalog::{self, CatalogObject, RowDigest};
use crate::diagnostic::{Code, Diagnostic};
use crate::emit::{reads, script as sql};
use crate::ir::{Profile, Schemas};
use crate::live;
use crate::model::{Dialect, Integration};
use crate::object::{ObjectId, ObjectKind, QualifiedName};
use crate::state::{Applied, AppliedText, RecordedFile, State};
use crate::verify;
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// SQL round trips this process has made: every query and every batch of
/// statements sent counts one. `--stats` prints it.
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// Counts one round trip to a database.
pub fn count_round_trip() {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
}

/// What veil is waiting on the database for, and since when.
static WAITING: std::sync::Mutex<Option<(std::time::Instant, String)>> =
    std::sync::Mutex::new(None);

/// A wait for the database's answer, bounded on this side too: the server
/// cancels a statement past its timeout, keepalives notice a dead network,
/// and if an answer is still withheld past both (a stopped server), veil
/// says what it was waiting for and stops rather than hold its locks.
pub struct Waiting;

/// Starts a bounded wait for `what` (while `Waiting` lives).
pub fn waiting(what: &str) -> Waiting {
    static WATCHDOG: std::sync::Once = std::sync::Once::new();
    WATCHDOG.call_once(|| {
        let _ = std::thread::Builder::new().spawn(|| {
            let limit = Duration::from_millis(STATEMENT_TIMEOUT_MS) + Duration::from_secs(120);
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let late = WAITING
                    .lock()
                    .ok()
                    .and_then(|w| w.as_ref().filter(|(t, _)| t.elapsed() > limit).map(|(_, w)| w.clone()));
                if let Some(what) = late {
                    eprintln!(
                        "error: the database gave no answer in {} minutes while {what}; veil stops here. \
                         If it was committing an apply, the outcome is unknown: run `veil plan` to see whether the deployment's serial moved",
                        limit.as_secs() / 60
                    );
                    std::process::exit(1);
                }
            }
        });
    });
    if let Ok(mut w) = WAITING.lock() {
        *w = Some((std::time::Instant::now(), what.to_string()));
    }
    Waiting
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Ok(mut w) = WAITING.lock() {
            *w = None;
        }
    }
}

/// The round trips this process has made so far.
pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(Ordering::Relaxed)
}

/// An open connection to one integration's database, its session pinned
/// (see [`connect`]).
pub struct Db {
    pub client: Client,
    pub integration: String,
    /// The search path the connecting role gets by default, read before the
    /// session was pinned: the live checks warn when others may create in a
    /// schema on it.
    pub default_search_path: String,
    /// The role the session runs as: apply makes it the owner of what it
    /// repairs.
    pub current_user: String,
    /// The apply transaction open on this connection, if any.
    pub opened: Option<Opened>,
}

/// An apply's transaction, opened with the lock on veil's state before the
/// plan read the state (`apply::open`).
#[derive(Debug, Default)]
pub struct Opened {
    /// The messages it sent, as sent.
    pub sent: Vec<String>,
    /// Whether it locked the state table (which exists).
    pub state_locked: bool,
}

/// The longest any one statement of veil's may run, in milliseconds: a
/// read or a change that takes longer is cancelled by the server.
pub const STATEMENT_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// Where one integration's database is and how its sessions are set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub integration: String,
    pub dialect: Dialect,
    pub database: String,
    /// The environment variable holding the connection URL.
    pub connection_env: String,
    /// The zone every session of veil's runs in.
    pub time_zone: String,
}

impl Target {
    pub fn of(integration: &Integration) -> Target {
        Target {
            integration: integration.name.clone(),
            dialect: integration.dialect,
            database: integration.database.clone(),
            connection_env: integration.connection_env.clone(),
            time_zone: integration.time_zone.clone(),
        }
    }

    /// What every session veil opens runs first: a search path no one else
    /// can add to (so nothing veil sends, and no view or function it
    /// creates, resolves a name to an object a user made), and fixed
    /// display and time settings, so literals in the policies read the
    /// same whatever the role's defaults. The first statement reads the
    /// role's own search path.
    fn session_setup(&self) -> String {
        sql::session_setup(self.dialect, &self.time_zone)
    }
}

/// Why a connection failed: the server's own message (a database or role
/// that does not exist, a password refused), or the network's (a refused
/// or timed-out connection), never just "db error".
fn connect_detail(error: &postgres::Error) -> String {
    if error.as_db_error().is_some() {
        return error_detail(error);
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.lines().next().unwrap_or("").to_string()
}

/// The database's message for an error, with its hint when it gives one.
/// (The driver's messages never carry the password.)
pub fn error_detail(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(e) => match e.hint() {
            Some(hint) => format!("{} (the database's hint: {hint})", e.message()),
            None => e.message().to_string(),
        },
        None => error.to_string(),
    }
}

fn db_error(integration: &str, what: &str, error: &postgres::Error) -> Diagnostic {
    let detail = error_detail(error);
    Diagnostic::error(
        Code::DbQuery,
        format!("integration `{integration}`: {what}: {detail}"),
    )
    .help("the database refused the statement; nothing of this integration was changed")
}

/// Connects to an integration's database with the URL in its environment
/// variable, and pins the session before anything else is sent.
pub fn connect(target: &Target) -> Result<Db, Diagnostic> {
    let (name, database, var) = (
        target.integration.as_str(),
        target.database.as_str(),
        target.connection_env.as_str(),
    );
    let url = std::env::var(var).map_err(|_| {
        Diagnostic::error(
            Code::DbNoUrl,
            format!("integration `{name}` has no connection URL: `{var}` is not set"),
        )
        .help(format!(
            "set `{var}` to a URL such as postgres://user@host:5432/{database}, or plan without a database with `--offline`"
        ))
    })?;
    let (url, tls) = split_tls(&url).map_err(|problem| {
        Diagnostic::error(Code::DbBadUrl, format!("`{var}`: {problem}"))
            .help("sslmode is one of disable, allow, prefer, require, verify-ca, verify-full")
    })?;
    let mut config = postgres::Config::from_str(&url).map_err(|_| {
        Diagnostic::error(
            Code::DbBadUrl,
            format!("`{var}` is not a valid connection URL"),
        )
        .help("write it as postgres://user:password@host:port/database?sslmode=…")
    })?;
    match config.get_dbname() {
        Some(db) if db == database => {}
        other => {
            return Err(Diagnostic::error(
                Code::DbWrongDatabase,
                format!(
                    "`{var}` names database `{}`, but integration `{name}` governs `{database}`",
                    other.unwrap_or("(none)"),
                ),
            )
            .help("the URL may change host and port (a tunnel), never the database"));
        }
    }
    if config.get_password().is_none()
        && let Some(password) = password_from_environment(&config)
    {
        config.password(password);
    }
    config.connect_timeout(Duration::from_secs(10));
    // A dead peer or network is noticed: keepalives, and the kernel gives up
    // on data the server never acknowledges.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    config.tcp_user_timeout(Duration::from_secs(120));
    config.ssl_mode(tls.mode);
    let connected = match tls.connector(name)? {
        None => config.connect(NoTls),
        Some(connector) => config.connect(postgres_native_tls::MakeTlsConnector::new(connector)),
    };
    let client = connected.map_err(|e| {
        Diagnostic::error(
            Code::DbConnect,
            format!(
                "cannot connect to integration `{name}`: {}",
                connect_detail(&e)
            ),
        )
        .help(format!(
            "check that the database is up and that `{var}` is right"
        ))
    })?;
    let mut client = client;
    count_round_trip();
    let _waiting = waiting("setting up the session");
    let setup = client
        .simple_query(&target.session_setup())
        .map_err(|e| db_error(name, "setting up the session", &e))?;
    // The first row is the role's own search path, the last the role.
    let rows: Vec<String> = setup
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    Ok(Db {
        client,
        integration: name.to_string(),
        default_search_path: rows.first().cloned().unwrap_or_default(),
        current_user: rows.last().cloned().unwrap_or_default(),
        opened: None,
    })
}

/// Builds, on a thread of its own, the TLS connector of a URL that asks
/// for no certificate checks (libpq's default, `sslmode=prefer`), so that
/// it is ready by the time a plan connects: started before the project is
/// loaded, it costs a plan nothing.
pub fn prepare_tls() {
    // If no thread can be started, the first connection builds it.
    let _ = std::thread::Builder::new().spawn(|| {
        if let Ok((_, tls)) = split_tls("") {
            let _ = tls.connector("");
        }
    });
}

/// What the URL asks of TLS, as libpq reads `sslmode`.
pub struct Tls {
    mode: postgres::config::SslMode,
    /// Check the server's certificate chain (`verify-ca`, `verify-full`).
    verify_chain: bool,
    /// Check that the certificate names the host (`verify-full`).
    verify_host: bool,
    /// A PEM file of trusted roots (`sslrootcert`).
    root: Option<String>,
}

impl Tls {
    /// The TLS connector, or `None` for a plain connection. Building one
    /// reads the system's certificate store (about a tenth of a second
    /// here), so the process builds one for each way of checking and the
    /// connections share it.
    fn connector(&self, integration: &str) -> Result<Option<native_tls::TlsConnector>, Diagnostic> {
        type Built = Vec<((bool, bool, Option<String>), native_tls::TlsConnector)>;
        static BUILT: std::sync::Mutex<Built> = std::sync::Mutex::new(Vec::new());
        if self.mode == postgres::config::SslMode::Disable {
            return Ok(None);
        }
        let key = (self.verify_chain, self.verify_host, self.root.clone());
        // Held while building: a second connection waits for the first
        // one's connector rather than building its own beside it.
        let mut built = BUILT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, connector)) = built.iter().find(|(k, _)| *k == key) {
            return Ok(Some(connector.clone()));
        }
        let connector = self.build(integration)?;
        built.push((key, connector.clone()));
        Ok(Some(connector))
    }

    fn build(&self, integration: &str) -> Result<native_tls::TlsConnector, Diagnostic> {
        let mut builder = native_tls::TlsConnector::builder();
        builder
            .danger_accept_invalid_certs(!self.verify_chain)
            .danger_accept_invalid_hostnames(!self.verify_host);
        if let Some(path) = &self.root {
            let tls_error = |message: String| {
                Diagnostic::error(
                    Code::DbTls,
                    format!("integration `{integration}`: {message}"),
                )
                .help("point sslrootcert at a PEM file of the certificate authority")
            };
            let pem = std::fs::read(path)
                .map_err(|e| tls_error(format!("cannot read sslrootcert `{path}`: {e}")))?;
            let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                tls_error(format!(
                    "sslrootcert `{path}` is not a PEM certificate: {e}"
                ))
            })?;
            builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| {
            Diagnostic::error(
                Code::DbTls,
                format!("integration `{integration}`: cannot set up TLS: {e}"),
            )
            .help("check the machine's OpenSSL installation")
        })
    }
}

/// The password of a URL that has none, as libpq finds it: `PGPASSWORD`,
/// else the first matching line of the password file (`PGPASSFILE`, or
/// `~/.pgpass`), which is not read when others may read it.
fn password_from_environment(config: &postgres::Config) -> Option<String> {
    if let Some(password) = std::env::var_os("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Some(password.to_string_lossy().into_owned());
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".pgpass"))
        })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        // A socket directory counts as `localhost`, as for libpq.
        _ => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default();
    let database = config.get_dbname().unwrap_or_default();
    pgpass_password(&text, [&host, &port, database, user])
}

/// The password of the first line of a password file whose host, port,
/// database and user fields match `wanted` (`*` matches anything; `\`
/// escapes `:` and itself).
pub fn pgpass_password(text: &str, wanted: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = vec![String::new()];
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => fields.last_mut()?.extend(chars.next()),
                ':' if fields.len() < 5 => fields.push(String::new()),
                c => fields.last_mut()?.push(c),
            }
        }
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, value)| field == "*" || field == value)
        {
            return fields.pop();
        }
    }
    None
}

/// Takes `sslmode` and `sslrootcert` out of a URL (or key=value string) and
/// says what they ask for: libpq's meaning, where the driver itself knows
/// only disable, prefer and require.
pub fn split_tls(url: &str) -> Result<(String, Tls), String> {
    let mut mode = "prefer".to_string();
    let mut root = None;
    let mut keep = |pair: &&str| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = value.to_string(),
            "sslrootcert" => root = Some(value.to_string()),
            _ => return true,
        }
        false
    };
    let rest = if let Some((base, query)) = url.split_once('?') {
        let kept: Vec<&str> = query.split('&').filter(|p| keep(p)).collect();
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if !url.contains("://") {
        url.split_whitespace()
            .filter(|p| keep(p))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        url.to_string()
    };
    use postgres::config::SslMode;
    let (mode, verify_chain, verify_host) = match mode.as_str() {
        "disable" => (SslMode::Disable, false, false),
        "allow" | "prefer" => (SslMode::Prefer, false, false),
        "require" => (SslMode::Require, false, false),
        "verify-ca" => (SslMode::Require, true, false),
        "verify-full" => (SslMode::Require, true, true),
        other => return Err(format!("unknown sslmode `{other}`")),
    };
    Ok((
        rest,
        Tls {
            mode,
            verify_chain,
            verify_host,
            root,
        },
    ))
}

impl Db {
    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, Diagnostic> {
        count_round_trip();
        let _waiting = waiting("checking the catalog");
        let integration = self.integration.clone();
        self.client
            .query(sql, params)
            .map_err(|e| db_error(&integration, "checking the catalog", &e))
    }

    /// Reads what veil has deployed, in a fixed number of queries whatever
    /// the number of objects.
    pub fn read_state(&mut self, schemas: &Schemas, dialect: Dialect) -> Result<State, Diagnostic> {
        let integration = self.integration.clone();
        read_state(&mut self.client, schemas, dialect, &integration)
    }
}

/// Reads veil's state and the catalog through any client (a connection or
/// a transaction), in a fixed number of queries whatever the number of
/// objects.
fn read_state(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    dialect: Dialect,
    integration: &str,
) -> Result<State, Diagnostic> {
    let mut state = State::default();
    // 1. veil's schemas and every relation and routine in them.
    let rows = query(
        client,
        integration,
        &reads::existing_objects(schemas, dialect),
    )?;
    for row in &rows {
        let (kind, name): (String, String) = (row.get(0), row.get(1));
        match ObjectKind::parse(&kind) {
            Some(kind) => state
                .existing
                .push(ObjectId::new(kind, QualifiedName::parse(&name))),
            // The state table's `catalog_json` column.
            None => state.records_catalog = true,
        }
    }
    state.initialized = state.has_table(schemas, "state");
    if !state.initialized && state.existing.is_empty() {
        return Ok(state);
    }
    if state.initialized {
        // 2. What veil applied; 3. the profile rows; 4. the policy files.
        read_records(client, schemas, integration, &mut state)?;
        let doing = "reading the deployed state";
        if state.has_table(schemas, "profile") {
            let profiles = &mut state.deployed.profiles;
            each_row(
                client,
                integration,
                doing,
                &reads::profiles(schemas),
                |row| profiles.push(profile_from_row(row)),
            )?;
        }
        if state.has_table(schemas, "policy_files") {
            let files = &mut state.policy_files;
            let sql = reads::policy_files(dialect, schemas);
            each_row(client, integration, doing, &sql, |row| {
                let (path, sum, text): (&str, &str, Option<&str>) =
                    (row.get(0), row.get(1), row.get(2));
                if files.last().is_none_or(|f| f.path != path) {
                    files.push(RecordedFile {
                        path: path.to_string(),
                        parts: Vec::new(),
                        text: text.map(|_| String::new()),
                    });
                }
                if let Some(file) = files.last_mut() {
                    file.parts.push(sum.to_string());
                    if let (Some(body), Some(text)) = (&mut file.text, text) {
                        body.push_str(text);
                    }
                }
            })?;
        }
    }
    // 5. The deployment serial; the views that read veil's relations; what
    // the catalog says of every object in veil's schemas and of the key.
    // (With veil's schemas there but its state not, this is what a
    // diagnosis and a recovery read: `plan::recover`.)
    state.serial = read_serial(client, schemas, &state, integration)?;
    state.dependents = read_dependents(client, schemas, dialect, integration)?;
    state.catalog = read_catalog(client, schemas, dialect, integration, &state.existing)?;
    if state.initialized {
        // 6. The side tables' digests, and the rows that differ.
        read_side_tables(client, schemas, dialect, integration, &mut state)?;
    }
    Ok(state)
}

/// One query of a plan's reads.
fn query(
    client: &mut impl postgres::GenericClient,
    integration: &str,
    sql: &str,
) -> Result<Vec<postgres::Row>, Diagnostic> {
    query_doing(client, integration, "reading the deployed state", sql)
}

/// One query, `doing` what its wait and its error say.
fn query_doing(
    client: &mut impl postgres::GenericClient,
    integration: &str,
    doing: &str,
    sql: &str,
) -> Result<Vec<postgres::Row>, Diagnostic> {
    count_round_trip();
    let _waiting = waiting(doing);
    client
        .query(sql, &[])
        .map_err(|e| db_error(integration, doing, &e))
}

/// One query, `doing` what its wait and its error say, each row handed to
/// `each` as it arrives: a large read is never held twice, as rows and as
/// what they are read into.
fn each_row(
    client: &mut impl postgres::GenericClient,
    integration: &str,
    doing: &str,
    sql: &str,
    mut each: impl FnMut(&postgres::Row),
) -> Result<(), Diagnostic> {
    use postgres::fallible_iterator::FallibleIterator as _;
    count_round_trip();
    let _waiting = waiting(doing);
    let fail = |e: postgres::Error| db_error(integration, doing, &e);
    let no_params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
    let mut rows = client.query_raw(sql, no_params).map_err(fail)?;
    while let Some(row) = rows.next().map_err(fail)? {
        each(&row);
    }
    Ok(())
}

/// The objects veil applied, in order, each with its checksum and with
/// what the catalog said of it after the apply (rows of an earlier veil
/// hold their texts too); [`Db::read_texts`] reads the texts of those a
/// plan changes.
fn read_records(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    integration: &str,
    state: &mut State,
) -> Result<(), Diagnostic> {
    let doing = "reading the deployed state";
    let sql = reads::state_rows(schemas, state.records_catalog);
    let (recorded, objects) = (&mut state.recorded_catalog, &mut state.deployed.objects);
    each_row(client, integration, doing, &sql, |row| {
        let Some(kind) = ObjectKind::parse(row.get(0)) else {
            // A row no veil writes: the plan sees the object as not
            // applied, and creates or replaces it.
            return;
        };
        let id = ObjectId::new(kind, QualifiedName::parse(row.get(1)));
        let (sql, columns): (Option<&str>, Option<&str>) = (row.get(3), row.get(4));
        if let Some(object) = row
            .get::<_, Option<&str>>(5)
            .and_then(|c| serde_json::from_str(c).ok())
        {
            recorded.insert(id.clone(), object);
        }
        let text = sql.filter(|s| !s.is_empty()).map(|sql| AppliedText {
            sql: sql.to_string(),
            columns: columns.and_then(|c| serde_json::from_str(c).ok()),
        });
        objects.push(Applied {
            id,
            checksum: row
                .get::<_, Option<&str>>(2)
                .unwrap_or_default()
                .trim()
                .to_string(),
            text,
        });
    })?;
    Ok(())
}

impl Db {
    /// The texts of the policy files recorded at the last apply, read into
    /// `state`, in one query.
    pub fn read_policy_texts(
        &mut self,
        schemas: &Schemas,
        state: &mut State,
    ) -> Result<(), Diagnostic> {
        if state.policy_files.iter().all(|f| f.text.is_some()) {
            return Ok(());
        }
        let mut texts: BTreeMap<String, String> = BTreeMap::new();
        let integration = self.integration.clone();
        each_row(
            &mut self.client,
            &integration,
            "reading the policies of the last apply",
            &reads::policy_texts(schemas),
            |row| {
                texts.entry(row.get(0)).or_default().push_str(row.get(1));
            },
        )?;
        for file in &mut state.policy_files {
            if file.text.is_none() {
                file.text = Some(texts.remove(&file.path).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// The recorded texts of the applied objects `wanted` (those without
    /// one yet), read into `state`, in one query.
    pub fn read_texts(
        &mut self,
        schemas: &Schemas,
        dialect: Dialect,
        state: &mut State,
        wanted: &std::collections::HashSet<ObjectId>,
    ) -> Result<(), Diagnostic> {
        let missing: Vec<&Applied> = state
            .deployed
            .objects
            .iter()
            .filter(|o| o.text.is_none() && wanted.contains(&o.id))
            .collect();
        if missing.is_empty() || !state.has_table(schemas, "state_text") {
            return Ok(());
        }
        let names: Vec<String> = missing.iter().map(|o| o.name().to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let sql = reads::state_texts(schemas, dialect, &names);
        let mut texts: BTreeMap<(String, String, String), String> = BTreeMap::new();
        let integration = self.integration.clone();
        each_row(
            &mut self.client,
            &integration,
            "reading the recorded SQL of what changes",
            &sql,
            |row| {
                texts
                    .entry((row.get(0), row.get(1), row.get(2)))
                    .or_default()
                    .push_str(row.get(3));
            },
        )?;
        for object in &mut state.deployed.objects {
            if object.text.is_some() || !wanted.contains(&object.id) {
                continue;
            }
            let (kind, name) = (object.id.kind.to_string(), object.name().to_string());
            let mut take = |field: &str| texts.remove(&(kind.clone(), name.clone(), field.into()));
            let sql = take("sql").unwrap_or_default();
            let columns = take("columns").and_then(|c| serde_json::from_str(&c).ok());
            object.text = Some(AppliedText { sql, columns });
        }
        Ok(())
    }
}

/// A digest of every user's side-table rows, and the rows of those whose
/// digest differs from what their profile row implies.
fn read_side_tables(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    dialect: Dialect,
    integration: &str,
    state: &mut State,
) -> Result<(), Diagnostic> {
    let present: Vec<&str> = crate::emit::SIDE_TABLES
        .into_iter()
        .filter(|t| state.has_table(schemas, t))
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let mut query =
        |sql: &str| query_doing(client, integration, "reading the profile side tables", sql);
    // Each table as a whole first: when every one holds what the profile
    // rows imply, no user's rows differ and nothing more is read.
    for row in query(&reads::side_totals(dialect, schemas, &present))? {
        state.side_totals.insert(row.get(0), row_digest(&row, 1));
    }
    let hash = dialect.sql().side_row_hash();
    let expected = catalog::expected_totals(&state.deployed.profiles, hash);
    let none = RowDigest::default();
    let differs = expected
        .iter()
        .any(|(table, digest)| state.side_totals.get(*table).unwrap_or(&none) != digest)
        || state
            .side_totals
            .iter()
            .any(|(table, digest)| expected.get(table.as_str()).unwrap_or(&none) != digest);
    if !differs {
        return Ok(());
    }
    let mut found = BTreeMap::new();
    for row in query(&reads::side_digests(dialect, schemas, &present))? {
        found.insert((row.get(0), row.get(1)), row_digest(&row, 2));
    }
    let expected = catalog::expected_digests(&state.deployed.profiles, hash);
    state.side_drift = catalog::side_drift(&expected, &found);
    if !state.side_drift.is_empty() {
        let users: Vec<&str> = state.side_drift.keys().map(String::as_str).collect();
        for row in query(&reads::side_rows(dialect, schemas, &present, &users))? {
            state
                .side_rows
                .entry((row.get(0), row.get(1)))
                .or_default()
                .push(row.get(2));
        }
        for rows in state.side_rows.values_mut() {
            rows.sort();
        }
    }
    Ok(())
}

/// A digest as a digest query returns it from column `at` on: the row
/// count, then the two sums as text (NULL over no rows).
fn row_digest(row: &postgres::Row, at: usize) -> RowDigest {
    let number = |i: usize| -> i128 {
        row.get::<_, Option<String>>(i)
            .and_then(|t| t.parse().ok())
            .unwrap_or_default()
    };
    RowDigest {
        rows: u64::try_from(row.get::<_, i64>(at)).unwrap_or_default(),
        low: number(at + 1),
        high: number(at + 2),
    }
}

/// The last deployment's serial (0 before the first).
fn read_serial(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    state: &State,
    integration: &str,
) -> Result<i64, Diagnostic> {
    if !state.has_table(schemas, "deployments") {
        return Ok(0);
    }
    let rows = query(client, integration, &sql::deployment_serial(schemas))?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

/// For each relation in veil's schemas, the views that read it.
fn read_dependents(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    dialect: Dialect,
    integration: &str,
) -> Result<BTreeMap<QualifiedName, Vec<QualifiedName>>, Diagnostic> {
    let rows = query(client, integration, &reads::dependents(schemas, dialect))?;
    let mut dependents: BTreeMap<QualifiedName, Vec<QualifiedName>> = BTreeMap::new();
    for row in rows {
        let (relation, reader): (String, String) = (row.get(0), row.get(1));
        dependents
            .entry(QualifiedName::parse(&relation))
            .or_default()
            .push(QualifiedName::parse(&reader));
    }
    Ok(dependents)
}

/// What the catalog says of every object in veil's schemas, and of the key
/// (when its table exists), in two queries.
pub fn read_catalog(
    client: &mut impl postgres::GenericClient,
    schemas: &Schemas,
    dialect: Dialect,
    integration: &str,
    existing: &[ObjectId],
) -> Result<BTreeMap<ObjectId, CatalogObject>, Diagnostic> {
    let mut query = |sql: &str| query_doing(client, integration, "reading the catalog", sql);
    let rows = query(&reads::catalog(dialect, schemas))?;
    let mut objects = catalog::collect(rows.iter().map(|r| {
        (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, Option<String>>(3).unwrap_or_default(),
        )
    }));
    let key = QualifiedName::new(&schemas.system, "hash_key");
    if existing.contains(&ObjectId::new(ObjectKind::Table, key.clone())) {
        let rows = query(&reads::key(dialect, schemas))?;
        if let Some(row) = rows.first() {
            let count: String = row.get(0);
            let fingerprint: Option<String> = row.get(1);
            objects.insert(
                ObjectId::new(ObjectKind::Key, key),
                catalog::key_object(&count, &fingerprint.unwrap_or_default()),
            );
        }
    }
    let rules = QualifiedName::new(&schemas.system, crate::emit::profile::RULES);
    if existing.contains(&ObjectId::new(ObjectKind::Table, rules.clone())) {
        let rows = query(&reads::rules_digest(dialect, schemas))?;
        if let Some(row) = rows.first() {
            let text = |i: usize| row.get::<_, Option<String>>(i).unwrap_or_default();
            objects.insert(
                ObjectId::new(ObjectKind::Rules, rules),
                catalog::rows_object(&text(0), &format!("{}:{}", text(1), text(2))),
            );
        }
    }
    Ok(objects)
}

/// A profile row as read back from the database.
fn profile_from_row(row: &postgres::Row) -> Profile {
    let list = |i: usize| -> Vec<String> {
        serde_json::from_str(&row.get::<_, String>(i)).unwrap_or_default()
    };
    let pairs: Vec<(String, String)> =
        serde_json::from_str(&row.get::<_, String>(2)).unwrap_or_default();
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        attributes.entry(k).or_default().push(v);
    }
    Profile {
        user: row.get(0),
        groups: list(1),
        attributes,
        projects: list(3),
        current_project: row.get(4),
        purposes: list(5),
        approved: list(6),
    }
}

/// A relation's column as `veil import` reads it.
#[derive(Debug, Clone)]
pub struct ImportedColumn {
    /// `table` or `view`.
    pub kind: String,
    pub column: live::CatalogColumn,
}

impl Db {
    /// Every column of every relation outside veil's schemas (`skip`), in
    /// one query.
    pub fn relations(
        &mut self,
        dialect: Dialect,
        skip: &[String],
    ) -> Result<Vec<ImportedColumn>, Diagnostic> {
        let int = |row: &postgres::Row, i: usize| row.try_get::<_, Option<i32>>(i).ok().flatten();
        Ok(self
            .query(&reads::relations(dialect, skip), &[])?
            .iter()
            .map(|row| ImportedColumn {
                kind: row.get(3),
                column: live::CatalogColumn {
                    database: row.get(0),
                    schema: row.get(1),
                    table: row.get(2),
                    column: row.get(4),
                    data_type: row.get(5),
                    char_length: int(row, 6),
                    precision: int(row, 7),
                    scale: int(row, 8),
                },
            })
            .collect())
    }

    /// `veil test --live`: what the database returns for one expectation,
    /// or why the connection may not act as its user. Each read as the
    /// user is a read-only transaction that `SET LOCAL ROLE` makes the
    /// user's and that is rolled back, so nothing of the user's lasts; the
    /// base table is read as the connection's own role.
    pub fn observe(
        &mut self,
        probe: &verify::Probe,
    ) -> Result<Result<verify::Observed, String>, Diagnostic> {
        let view = [probe.view[0].as_str(), probe.view[1].as_str()];
        let table = [probe.table[0].as_str(), probe.table[1].as_str()];
        let names: Vec<&str> = probe.columns.iter().map(|(_, c, _)| c.as_str()).collect();
        if let Err(e) = self.as_user(&probe.user, "SELECT 1") {
            return Ok(Err(error_detail(&e)));
        }
        let mut seen = verify::Observed {
            listed: self
                .as_user(&probe.user, &reads::may_query(&probe.schemas))
                .is_ok_and(|rows| {
                    rows.iter()
                        .any(|r| r.get::<_, Option<String>>(0).as_deref() == Some(&probe.source))
                }),
            ..verify::Observed::default()
        };
        let count = |rows: &[postgres::Row]| {
            rows.first()
                .and_then(|r| r.get::<_, Option<i64>>(0))
                .unwrap_or(0) as u64
        };
        match self.as_user(&probe.user, &reads::count(&view)) {
            Ok(rows) => seen.view_rows = count(&rows),
            Err(e) => seen.refused = Some(error_detail(&e)),
        }
        let mut samples = vec![Vec::new(); names.len()];
        if seen.refused.is_none() && !names.is_empty() {
            let sql = reads::sample(&view, &names, verify::SAMPLE_ROWS);
            match self.as_user(&probe.user, &sql) {
                Ok(rows) => {
                    for row in &rows {
                        for (c, values) in samples.iter_mut().enumerate() {
                            if let Some(v) = row.get::<_, Option<String>>(c) {
                                values.push(v);
                            }
                        }
                    }
                }
                Err(e) => seen.refused = Some(error_detail(&e)),
            }
        }
        seen.table_rows = count(&self.query(&reads::count(&table), &[])?);
        for (name, values) in names.iter().zip(samples) {
            let found = self
                .query(&reads::found(&table, name), &[&values])?
                .iter()
                .filter_map(|r| r.get::<_, Option<String>>(0))
                .collect();
            seen.columns.push((values, found));
        }
        Ok(Ok(seen))
    }

    /// Runs one query as `user`, in a read-only transaction rolled back
    /// after it.
    fn as_user(&mut self, user: &str, sql: &str) -> Result<Vec<postgres::Row>, postgres::Error> {
        count_round_trip();
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        tx.batch_execute(&reads::act_as(user))?;
        let rows = tx.query(sql, &[]);
        tx.rollback()?;
        rows
    }

    /// The live checks of a plan (see `live`), in three queries.
    pub fn live_checks(
        &mut self,
        dialect: Dialect,
        database: &str,
        tables: &[live::DeclaredTable],
    ) -> Result<(Vec<Diagnostic>, Vec<String>), Diagnostic> {
        let int = |row: &postgres::Row, i: usize| row.try_get::<_, Option<i32>>(i).ok().flatten();
        let names: Vec<reads::TableName<'_>> = tables
            .iter()
            .map(|t| reads::TableName {
                database: &t.database,
                schema: &t.schema,
                table: &t.table,
            })
            .collect();
        let path = live::path_schemas(&self.default_search_path);
        // Taken in as the rows arrive: 150,000 of them at 5,000 sources.
        let mut columns = live::ColumnsFound::new(dialect, tables);
        let sql = reads::columns(dialect, &names);
        each_row(
            &mut self.client,
            &self.integration,
            "checking the catalog",
            &sql,
            |row| {
                columns.add(live::CatalogColumn {
                    database: row.get(0),
                    schema: row.get(1),
                    table: row.get(2),
                    column: row.get(3),
                    data_type: row.get(4),
                    char_length: int(row, 5),
                    precision: int(row, 6),
                    scale: int(row, 7),
                })
            },
        )?;
        let grants: Vec<live::CatalogGrant> = self
            .query(&reads::grants(dialect, database, &names), &[])?
            .iter()
            .map(|row| live::CatalogGrant {
                schema: row.get(0),
                table: row.get(1),
                grantee_kind: row.get(2),
                grantee: row.get::<_, Option<String>>(3).unwrap_or_default(),
                privilege: row.get(4),
                owner: row.get(5),
                column: row.get(6),
            })
            .collect();
        let exposure: Vec<live::Exposure> = self
            .query(&reads::exposure(dialect, &path), &[])?
            .iter()
            .map(|row| live::Exposure {
                what: row.get(0),
                name: row.get(1),
                detail: row.get::<_, Option<String>>(2).unwrap_or_default(),
            })
            .collect();
        Ok(live::findings(
            &self.integration,
            dialect,
            database,
            &columns,
            &grants,
            &exposure,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_like_libpq() {
        let (url, tls) =
            split_tls("postgres://u:p@h:5439/db?sslmode=verify-full&application_name=x")
                .expect("parses");
        assert_eq!(url, "postgres://u:p@h:5439/db?application_name=x");
        assert!(tls.verify_chain && tls.verify_host);
        let (url, tls) = split_tls("postgres://u@h/db?sslmode=require").expect("parses");
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!(tls.mode, postgres::config::SslMode::Require);
        assert!(
            !tls.verify_chain,
            "require encrypts without checking, as libpq does"
        );
        let (_, tls) = split_tls("postgres://u@h/db").expect("parses");
        assert_eq!(tls.mode, postgres::config::SslMode::Prefer);
        let (url, tls) = split_tls("host=h dbname=db sslmode=disable").expect("parses");
        assert_eq!(url, "host=h dbname=db");
        assert_eq!(tls.mode, postgres::config::SslMode::Disable);
        assert!(split_tls("postgres://h/db?sslmode=sometimes").is_err());
    }

    #[test]
    fn a_password_file_is_read_like_libpq() {
        let file =
            "# comment\nother:5432:db:ann:wrong\nh:5439:db:ann:s3cr\\:et\\\\\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_password(file, ["h", "5439", "db", "ann"]).as_deref(),
            Some("s3cr:et\\")
        );
        assert_eq!(
            pgpass_password(file, ["h", "5432", "db", "ann"]).as_deref(),
            Some("fallback")
        );
        assert_eq!(
            pgpass_password("h:5432:db:ann\n", ["h", "5432", "db", "ann"]),
            None
        );
    }
}
