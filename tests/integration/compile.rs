//! The compiler: reviewed snapshots of the SQL for every fixture, Redshift
//! statements read by an independent parser, hostile names kept inside their
//! quoting, and the PostgreSQL output run on a real server, twice.

use crate::common::{Database, Rng, psql_available};
use sqlparser::dialect::RedshiftSqlDialect;
use sqlparser::parser::Parser;
use std::path::{Path, PathBuf};
use veil::diagnostic::{ErrorFormat, render_all};
use veil::emit::{Compiled, compile_ir};
use veil::model::Dialect;
use veil::{ir, project};

/// Compiles a project directory, panicking with the diagnostics if it fails.
fn compile_dir(dir: &Path) -> Vec<Compiled> {
    compile_ir(&ir::lower(&model_of(dir))).unwrap_or_else(|d| panic!("{d:?}"))
}

/// A project directory's checked model, panicking with the diagnostics if
/// it fails.
fn model_of(dir: &Path) -> veil::model::Model {
    let project = project::load(dir).unwrap_or_else(|e| {
        panic!(
            "{}:\n{}",
            dir.display(),
            render_all(&e.files, &e.diagnostics, ErrorFormat::Human, false)
        )
    });
    let checked = project.check();
    checked.model.unwrap_or_else(|| {
        panic!(
            "{}:\n{}",
            dir.display(),
            render_all(
                &project.files,
                &checked.diagnostics,
                ErrorFormat::Human,
                false
            )
        )
    })
}

/// `compile` and a plan lower each view as they emit it; the snapshots
/// are of the IR lowered whole: both give every object alike.
#[test]
fn views_lowered_one_at_a_time_emit_as_the_whole_ir() {
    for dir in projects() {
        let model = model_of(&dir);
        let whole = compile_ir(&ir::lower(&model)).unwrap_or_else(|d| panic!("{d:?}"));
        let lazily = veil::emit::compile_each(
            (&ir::lower_but_views(&model), ir::Views::FromModel(&model)),
            veil::emit::ProfileRows::Render,
            &|_, _, object| object,
        )
        .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(whole.len(), lazily.len(), "{}", dir.display());
        for (a, b) in whole.iter().zip(&lazily) {
            assert_eq!(listing(a), listing(b), "{}", dir.display());
        }
    }
}

fn projects() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("tests/fixtures/ok")
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    dirs.push(PathBuf::from("policies"));
    dirs
}

/// All of an integration's files, each under a header line.
fn listing(compiled: &Compiled) -> String {
    compiled
        .objects
        .iter()
        .enumerate()
        .map(|(i, o)| format!("-- ==== {:04} {} {}\n{}", i + 1, o.kind(), o.name(), o.sql))
        .collect()
}

#[test]
fn compiled_sql_matches_reviewed_snapshots() {
    for dir in projects() {
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        for compiled in compile_dir(&dir) {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path("../fixtures/snapshots");
            settings.set_prepend_module_to_snapshot(false);
            settings.set_omit_expression(true);
            settings.set_description(format!(
                "{} integration of {}",
                compiled.dialect.name(),
                dir.display()
            ));
            settings.bind(|| {
                insta::assert_snapshot!(
                    format!("compile@{name}__{}", compiled.integration),
                    listing(&compiled)
                );
            });
        }
    }
}

fn stage_settings(description: String) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../fixtures/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(description);
    settings
}

/// The stages before and after SQL: the IR of every project, as JSON, and
/// its offline plan, as a reviewer reads it.
#[test]
fn ir_and_offline_plan_match_reviewed_snapshots() {
    for dir in projects() {
        let name = dir.file_name().expect("name").to_string_lossy().to_string();
        let project = project::load(&dir).expect("loads");
        let model = project.check().model.expect("checks");
        let ir = serde_json::to_string_pretty(&ir::lower(&model)).expect("IR serialises");
        let run = crate::common::veil_with(&["plan", "--offline", &dir.to_string_lossy()], &[]);
        assert_eq!(run.status, 0, "{}", run.stderr);
        stage_settings(format!("IR of {}", dir.display())).bind(|| {
            insta::assert_snapshot!(format!("ir@{name}"), ir);
        });
        stage_settings(format!("offline plan of {}", dir.display())).bind(|| {
            insta::assert_snapshot!(format!("plan@{name}"), run.stdout);
        });
    }
}

#[test]
fn compiling_twice_gives_identical_output() {
    for dir in projects() {
        let first: Vec<String> = compile_dir(&dir).iter().map(listing).collect();
        let second: Vec<String> = compile_dir(&dir).iter().map(listing).collect();
        assert_eq!(first, second, "{}", dir.display());
    }
}

/// Statement kinds the `sqlparser` Redshift dialect cannot read, and why.
const UNPARSED: [(&str, &str); 2] = [
    (
        "function",
        "sqlparser reads no CREATE FUNCTION … $$ … $$ LANGUAGE sql; the body is parsed on its own below",
    ),
    (
        "procedure",
        "sqlparser reads no CREATE PROCEDURE, nor PL/pgSQL bodies",
    ),
];

#[test]
fn every_redshift_statement_parses() {
    let dialect = RedshiftSqlDialect {};
    let mut parsed = 0;
    for dir in projects() {
        for compiled in compile_dir(&dir) {
            if compiled.dialect != Dialect::Redshift {
                continue;
            }
            for object in &compiled.objects {
                let result = Parser::parse_sql(&dialect, &object.sql);
                match UNPARSED
                    .iter()
                    .find(|(kind, _)| *kind == object.kind().as_str())
                {
                    None => {
                        let statements = result.unwrap_or_else(|e| {
                            panic!(
                                "{} {} does not parse: {e}\n{}",
                                object.kind(),
                                object.name(),
                                object.sql
                            )
                        });
                        parsed += statements.len();
                    }
                    Some(_) if object.kind().as_str() == "function" => {
                        // The body is one SELECT; the grant after it parses too.
                        let body = object.sql.split("$$").nth(1).expect("a $$ body");
                        Parser::parse_sql(&dialect, body).unwrap_or_else(|e| {
                            panic!("body of {} does not parse: {e}", object.name())
                        });
                        let grant = object.sql.rsplit("$$ LANGUAGE sql;").next().expect("grant");
                        Parser::parse_sql(&dialect, grant).unwrap_or_else(|e| {
                            panic!("grant of {} does not parse: {e}", object.name())
                        });
                        parsed += 2;
                    }
                    Some(_) => {}
                }
            }
        }
    }
    assert!(parsed > 100, "only {parsed} statements parsed");
}

// -- hostile names -----------------------------------------------------------

/// Pieces of names that try to break out of SQL quoting.
const HOSTILE: [&str; 16] = [
    "\"", "'", "\\", "$$", ";--", ",", "=", "%", "😀", "`", "*/", "/*", " ", "''", "\\'", "_",
];

/// A hostile name carrying the marker `zq` and a unique number.
fn hostile(rng: &mut Rng, n: usize, newlines: bool) -> String {
    let mut name = format!("zq{n}");
    for _ in 0..1 + rng.below(4) {
        name.push_str(HOSTILE[rng.below(HOSTILE.len())]);
        if newlines && rng.below(4) == 0 {
            name.push('\n');
        }
    }
    if rng.below(2) == 0 {
        name.push('\\');
    }
    name
}

/// A name in policy syntax: backticks, inner backticks doubled.
fn bt(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string in policy syntax.
fn st(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The hostile names of one generated project.
struct Hostile {
    source: String,
    schema: String,
    table: String,
    columns: [String; 3],
    user: String,
    group: String,
    key: String,
    value: String,
    purpose: String,
    literal: String,
}

impl Hostile {
    fn new(rng: &mut Rng) -> Hostile {
        let mut n = 0;
        let mut next = |rng: &mut Rng, newlines: bool| {
            n += 1;
            hostile(rng, n, newlines)
        };
        Hostile {
            source: next(rng, true),
            schema: next(rng, false),
            table: next(rng, false),
            columns: [next(rng, false), next(rng, false), next(rng, false)],
            // A user name is a database user name: no control characters.
            user: next(rng, false),
            group: next(rng, true),
            key: next(rng, true),
            value: next(rng, true),
            purpose: next(rng, true),
            literal: next(rng, true),
        }
    }

    fn policy(&self, dialect: &str) -> String {
        let [a, b, c] = &self.columns;
        let source = format!("s.{}", bt(&self.source));
        format!(
            "integration db {{\n  dialect = {dialect}\n  database = \"app\"\n  view_schema = {view}\n}}\n\
             source {source} {{\n  table = {schema}.{table}\n  view = v\n  columns {{\n    {a} varchar(200) tags(pii)\n    {b} varchar(200)\n    {c} integer\n  }}\n}}\n\
             access {source} {{\n  allow group {group}\n  allow user {user}\n}}\n\
             mask tagged pii using hash except group {group}\n\
             mask {b} on {source} using constant {lit} for not purpose {purpose}\n\
             mask {c} on {source} using round(10) for attribute {key} = {value}\n\
             filter {source} where {b} in user.attribute({key}) or {b} = {lit} except user {user}\n\
             filter {source} where {b} in user.groups or sql {sql}\n",
            view = st(&format!("{}_views", self.schema)),
            schema = bt(&self.schema),
            table = bt(&self.table),
            a = bt(a),
            b = bt(b),
            c = bt(c),
            group = st(&self.group),
            user = st(&self.user),
            lit = st(&self.literal),
            purpose = st(&self.purpose),
            key = st(&self.key),
            value = st(&self.value),
            sql = st(&format!(
                "{} is not null and {} <> '{}'",
                veil::emit::quote::ident(c),
                veil::emit::quote::ident(b),
                self.literal.replace('\\', "").replace('\'', "''")
            )),
        )
    }

    fn identities(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).expect("json string");
        format!(
            "groups: [{g}]\nattributes:\n  {k}: [{v}]\npurposes:\n  {p}: \"hostile\"\nprojects:\n  work: {{ purposes: [{p}] }}\nusers:\n  {u}:\n    groups: [{g}]\n    attributes: {{ {k}: {v} }}\n    projects: [work]\n    current_project: work\n    acknowledged: [{p}]\n",
            g = q(&self.group),
            k = q(&self.key),
            v = q(&self.value),
            p = q(&self.purpose),
            u = q(&self.user),
        )
    }

    /// Every name that must come out of the compiler intact, inside quotes.
    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = vec![
            &self.schema,
            &self.table,
            &self.user,
            &self.group,
            &self.key,
            &self.value,
            &self.purpose,
            &self.literal,
        ];
        names.extend(self.columns.iter().map(String::as_str));
        names
    }
}

/// One token of SQL text: where it stands and, for quoted tokens, its value.
#[derive(Debug)]
enum Token {
    Quoted(String),
    Bare(String),
}

/// Splits SQL into quoted and bare tokens the way the dialect reads it;
/// fails on an unterminated quote.
fn tokenize(sql: &str, dialect: Dialect) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '$' && chars.get(i + 1) == Some(&'$') {
            let rest: String = chars[i + 2..].iter().collect();
            let end = rest.find("$$").ok_or("unterminated $$")?;
            tokens.push(Token::Bare(rest[..end].to_string()));
            i += 2 + rest[..end].chars().count() + 2;
            continue;
        }
        let escape_string = c == 'E' && chars.get(i + 1) == Some(&'\'');
        if c == '\'' || escape_string {
            let backslash = dialect == Dialect::Redshift || escape_string;
            i += if escape_string { 2 } else { 1 };
            let mut value = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(format!("unterminated string: {value:?}"));
                };
                if backslash && ch == '\\' {
                    value.push(*chars.get(i + 1).ok_or("dangling backslash")?);
                    i += 2;
                } else if ch == '\'' && chars.get(i + 1) == Some(&'\'') {
                    value.push('\'');
                    i += 2;
                } else if ch == '\'' {
                    i += 1;
                    break;
                } else {
                    value.push(ch);
                    i += 1;
                }
            }
            tokens.push(Token::Quoted(value));
            continue;
        }
        if c == '"' {
            i += 1;
            let mut value = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err("unterminated identifier".into());
                };
                if ch == '"' && chars.get(i + 1) == Some(&'"') {
                    value.push('"');
                    i += 2;
                } else if ch == '"' {
                    i += 1;
                    break;
                } else {
                    value.push(ch);
                    i += 1;
                }
            }
            tokens.push(Token::Quoted(value));
            continue;
        }
        let start = i;
        while i < chars.len()
            && !matches!(chars[i], '\'' | '"' | '-' | '$')
            && !(chars[i] == 'E' && chars.get(i + 1) == Some(&'\''))
        {
            i += 1;
        }
        if i == start {
            i += 1;
        }
        tokens.push(Token::Bare(chars[start..i].iter().collect()));
    }
    Ok(tokens)
}

fn write_project(dir: &Path, policy: &str, identities: &str) {
    std::fs::create_dir_all(dir).expect("creates project dir");
    std::fs::write(dir.join("p.veil"), policy).expect("writes policy");
    std::fs::write(dir.join("identities.yaml"), identities).expect("writes identities");
}

#[test]
fn hostile_names_stay_inside_their_quoting() {
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let scratch = crate::common::Scratch::new("hostile");
    for round in 0..40 {
        let names = Hostile::new(&mut rng);
        for dialect in ["redshift", "postgres"] {
            let dir = scratch.path().join(format!("{round}-{dialect}"));
            write_project(&dir, &names.policy(dialect), &names.identities());
            let compiled = compile_dir(&dir);
            let mut quoted = Vec::new();
            for c in &compiled {
                for object in &c.objects {
                    let tokens = tokenize(&object.sql, c.dialect)
                        .unwrap_or_else(|e| panic!("{e} in {}:\n{}", object.name(), object.sql));
                    for token in tokens {
                        match token {
                            Token::Bare(text) => assert!(
                                !text.contains("zq"),
                                "a hostile name escaped its quoting in {}:\n{}",
                                object.name(),
                                object.sql
                            ),
                            Token::Quoted(value) => quoted.push(value),
                        }
                    }
                }
            }
            for name in names.names() {
                let folded = if dialect == "redshift" {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                };
                assert!(
                    quoted
                        .iter()
                        .any(|q| *q == name || *q == folded || q.contains(name)),
                    "{name:?} did not come out intact"
                );
            }
        }
    }
}

// -- PostgreSQL --------------------------------------------------------------

/// Runs the compiled files of one integration with psql, in manifest order.
fn run_files(db: &Database, compiled: &Compiled) {
    for object in &compiled.objects {
        db.psql(&object.sql).unwrap_or_else(|e| {
            panic!(
                "{} {} failed: {e}\n{}",
                object.kind(),
                object.name(),
                object.sql
            )
        });
    }
}

#[test]
fn postgres_output_of_the_example_runs_twice() {
    if !psql_available() {
        panic!("psql and a PostgreSQL server on 127.0.0.1:5432 are required (see .ci/run)");
    }
    let compiled = compile_dir(Path::new("policies"));
    let app = compiled
        .iter()
        .find(|c| c.dialect == Dialect::Postgres)
        .expect("the example has a postgres integration");
    let db = Database::create("example");
    db.psql(
        "CREATE TABLE public.events (event_id bigint, user_email text, event_type varchar(64), country varchar(2), occurred_at timestamptz, duration_ms integer);
         CREATE TABLE public.accounts (account_id bigint, owner_name text, plan text, mrr numeric(10,2), created_at timestamp);",
    )
    .expect("creates base tables");
    run_files(&db, app);
    run_files(&db, app);
    let users = db
        .query("SELECT count(*) FROM immuta_system.profile")
        .expect("reads profiles");
    assert_eq!(users.trim(), "9");
    let keys = db
        .query("SELECT count(*), min(length(k)) FROM immuta_system.hash_key")
        .expect("reads key");
    assert_eq!(keys.trim(), "1|64", "one key, made once");
}

#[test]
fn hostile_names_work_on_postgres() {
    if !psql_available() {
        panic!("psql and a PostgreSQL server on 127.0.0.1:5432 are required (see .ci/run)");
    }
    let mut rng = Rng(0xBAD_5EED);
    let scratch = crate::common::Scratch::new("hostile-pg");
    for round in 0..3 {
        let names = Hostile::new(&mut rng);
        let dir = scratch.path().join(round.to_string());
        write_project(&dir, &names.policy("postgres"), &names.identities());
        let compiled = compile_dir(&dir);
        let db = Database::create("hostile");
        let q = veil::emit::quote::ident;
        let [a, b, c] = &names.columns;
        db.psql(&format!(
            "CREATE SCHEMA {s}; CREATE TABLE {s}.{t} ({a} varchar(200), {b} varchar(200), {c} integer);
             INSERT INTO {s}.{t} VALUES ('secret', {lit}, 17), ('other', 'x', 5);",
            s = q(&names.schema),
            t = q(&names.table),
            a = q(a),
            b = q(b),
            c = q(c),
            lit = veil::emit::quote::literal(&names.literal, Dialect::Postgres),
        ))
        .expect("creates the hostile table");
        run_files(&db, &compiled[0]);
        let role = db.role(&names.user);
        let rows = db
            .query_as(
                &role,
                &format!(
                    "SELECT {a}, {c} FROM {v}.\"v\" ORDER BY {c}",
                    a = q(a),
                    c = q(c),
                    v = q(&format!("{}_views", names.schema))
                ),
            )
            .expect("the user can query the view");
        // The user is in the hostile group, so the pii column is clear; the
        // filters keep both rows for the user (exempt from the first, group
        // or escape hatch for the second).
        assert!(rows.contains("secret"), "rows: {rows}");
    }
}

#[test]
fn everyone_may_read_five_thousand_redshift_sources() {
    // Access is decided in the views and the valid tables derived in the
    // database: nothing compiled lists a user's sources, so no list can
    // outgrow a Redshift VARCHAR, and nothing grows as users × sources.
    let (sources, users) = (5_000, 300);
    let mut policy = String::from(
        "integration w {\n  dialect = redshift\n  database = \"dw\"\n  view_schema = \"governed\"\n  node_type = \"ra3.xlplus\"\n}\n\n",
    );
    for s in 0..sources {
        policy.push_str(&format!(
            "source sales.table_{s} {{\n  table = sales.table_{s}\n  tags = [open]\n  columns {{\n    id bigint\n  }}\n}}\n\n"
        ));
    }
    policy.push_str("access tagged open {\n  allow everyone\n}\n");
    let mut identities = String::from("groups: [g]\nusers:\n");
    for u in 0..users {
        identities.push_str(&format!("  user_{u}:\n    groups: [g]\n"));
    }
    let scratch = crate::common::Scratch::new("everyone");
    write_project(scratch.path(), &policy, &identities);
    let compiled = compile_dir(scratch.path());
    let object = |kind: &str| {
        compiled[0]
            .objects
            .iter()
            .find(|o| o.kind().as_str() == kind)
            .unwrap_or_else(|| panic!("a {kind} object"))
    };
    let profile = &object("profile").sql;
    let rules = &object("rules").sql;
    // Each user's profile row and side rows, whatever the sources.
    assert!(
        profile.len() < users * 300,
        "{} bytes of profile rows for {users} users",
        profile.len()
    );
    assert!(!profile.contains("sales.table_"), "no user lists a source");
    // The rule table: one row per source, one rule set for all of them.
    assert_eq!(rules.matches("', 0)").count(), sources, "{}", &rules[..200]);
}
