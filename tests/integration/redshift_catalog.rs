//! The Redshift side of an online plan, against a recorded catalog: no
//! Redshift server is reachable here, so a PostgreSQL database stands in,
//! with Redshift's system views (`svv_all_columns`,
//! `svv_relation_privileges`, `svv_column_privileges`,
//! `svv_schema_privileges`, `pg_proc_info`) as views in its `pg_catalog`
//! over tables of rows shaped as Redshift returns them (veil pins its
//! sessions' search path to `pg_catalog`). The plan runs veil's Redshift
//! catalog SQL, unchanged, against them.

use crate::common::Veil;
use crate::common::{Database, Scratch};

fn policy(database: &str) -> String {
    format!(
        r#"integration warehouse {{
  dialect     = redshift
  host        = "wh.example.com"
  database    = "{database}"
  view_schema = "governed"
  node_type   = "ra3.xlplus"
  connection  = env("VEIL_WAREHOUSE_URL")
}}

source wh.orders {{
  table = sales.orders
  columns {{
    id     bigint
    email  varchar(256) tags(pii)
    amount numeric(12,2)
    note   varchar(64)
  }}
}}

source wh.events {{
  table = raw.sales.events
  columns {{
    id bigint
    at timestamp
  }}
}}

mask tagged pii using hash
"#
    )
}

const IDENTITIES: &str = "groups: [analysts]\nusers:\n  alice:\n    groups: [analysts]\n";

/// Redshift's system views, as tables holding recorded rows.
fn fake_catalog(db: &Database) {
    let name = &db.name;
    db.psql(&format!(
        "CREATE SCHEMA fake_catalog;
         CREATE TABLE fake_catalog.svv_all_columns (
           database_name varchar(128), schema_name varchar(128), table_name varchar(128),
           column_name varchar(128), ordinal_position integer, column_default varchar(4000),
           is_nullable varchar(3), data_type varchar(128), character_maximum_length integer,
           numeric_precision integer, numeric_scale integer, remarks varchar(256));
         CREATE TABLE fake_catalog.svv_relation_privileges (
           namespace_name text, relation_name text, privilege_type text, identity_id integer,
           identity_name text, identity_type text, admin_option boolean);
         CREATE TABLE fake_catalog.svv_column_privileges (
           namespace_name text, relation_name text, column_name text, privilege_type text,
           identity_id integer, identity_name text, identity_type text, admin_option boolean);
         CREATE TABLE fake_catalog.svv_schema_privileges (
           namespace_name text, privilege_type text, identity_id integer, identity_name text,
           identity_type text, admin_option boolean);
         INSERT INTO fake_catalog.svv_all_columns VALUES
           ('{name}', 'sales', 'orders', 'id', 1, NULL, 'NO', 'bigint', NULL, 64, 0, NULL),
           ('{name}', 'sales', 'orders', 'email', 2, NULL, 'YES', 'character varying', 256, NULL, NULL, NULL),
           ('{name}', 'sales', 'orders', 'amount', 3, NULL, 'YES', 'numeric', NULL, 10, 2, NULL),
           ('raw', 'sales', 'events', 'id', 1, NULL, 'NO', 'bigint', NULL, 64, 0, NULL),
           ('raw', 'sales', 'events', 'at', 2, NULL, 'YES', 'timestamp without time zone', NULL, NULL, NULL, NULL),
           ('{name}', 'sales', 'other', 'x', 1, NULL, 'YES', 'integer', NULL, 32, 0, NULL);
         INSERT INTO fake_catalog.svv_relation_privileges VALUES
           ('sales', 'orders', 'SELECT', 100, 'postgres', 'user', true),
           ('sales', 'orders', 'SELECT', 101, 'bi_reader', 'user', false),
           ('sales', 'orders', 'INSERT', 0, 'public', 'public', false),
           ('sales', 'other', 'SELECT', 101, 'bi_reader', 'user', false);
         INSERT INTO fake_catalog.svv_column_privileges VALUES
           ('sales', 'orders', 'email', 'SELECT', 102, 'peeker', 'user', false);
         INSERT INTO fake_catalog.svv_schema_privileges VALUES
           ('public', 'CREATE', 0, 'public', 'public', false);
         CREATE SCHEMA sales;
         CREATE TABLE sales.orders (id bigint);
         SET allow_system_table_mods = on;
         CREATE VIEW pg_catalog.svv_all_columns AS SELECT * FROM fake_catalog.svv_all_columns;
         CREATE VIEW pg_catalog.svv_relation_privileges AS SELECT * FROM fake_catalog.svv_relation_privileges;
         CREATE VIEW pg_catalog.svv_column_privileges AS SELECT * FROM fake_catalog.svv_column_privileges;
         CREATE VIEW pg_catalog.svv_schema_privileges AS SELECT * FROM fake_catalog.svv_schema_privileges;
         CREATE VIEW pg_catalog.pg_proc_info AS SELECT p.oid AS prooid, p.* FROM pg_catalog.pg_proc p;"
    ))
    .expect("records the catalog");
}

fn plan(db: &Database, dir: &Scratch) -> (i32, String, String) {
    let run = Veil::new()
        .args(["plan", "--stats", "--error-format", "json"])
        .project(dir.path())
        .env("VEIL_WAREHOUSE_URL", db.url())
        .run();
    (run.status, run.stdout, run.stderr)
}

#[test]
fn redshift_live_checks_read_the_recorded_catalog() {
    let db = Database::create("redshift_catalog");
    fake_catalog(&db);
    let dir = Scratch::new("redshift_catalog");
    std::fs::write(dir.path().join("warehouse.veil"), policy(&db.name)).expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), IDENTITIES).expect("writes");
    let table = format!("{}.sales.orders", db.name);

    // A column of another precision and a missing column stop the plan.
    let (code, stdout, stderr) = plan(&db, &dir);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "column `amount` of `{table}` is `numeric(10,2)`, but source `wh.orders` declares `numeric(12,2)`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "table `{table}` has no column `note` declared by source `wh.orders`"
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("`email`") && !stderr.contains("`id`") && !stderr.contains("`at`"),
        "matching columns (lengths and precision from their own columns, synonyms, another database) pass: {stderr}"
    );

    // With the catalog matching, the plan goes through and warns of grants
    // to anyone but the owner, and of what it cannot see from here.
    db.psql(
        "UPDATE fake_catalog.svv_all_columns SET numeric_precision = 12 WHERE column_name = 'amount';
         INSERT INTO fake_catalog.svv_all_columns VALUES
           (current_database(), 'sales', 'orders', 'note', 4, NULL, 'YES', 'character varying', 64, NULL, NULL, NULL);",
    )
    .expect("updates the catalog");
    let (code, stdout, stderr) = plan(&db, &dir);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("table sales.orders grants SELECT to user bi_reader directly"),
        "{stdout}"
    );
    assert!(
        stdout.contains("table sales.orders grants INSERT to PUBLIC directly"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("to user postgres") && !stdout.contains("sales.other"),
        "the owner's privileges and other tables are not reported: {stdout}"
    );
    assert!(
        stdout.contains("grants on tables of other databases are not checked")
            && stdout.contains("raw.sales.events"),
        "{stdout}"
    );
    assert!(
        stdout.contains("create view governed.orders"),
        "an empty deployment plans every object: {stdout}"
    );
    // Column grants, and a schema on the connecting user's path anyone may
    // create in.
    assert!(
        stdout.contains("table sales.orders grants SELECT (email) to user peeker directly"),
        "{stdout}"
    );
    assert!(
        stdout.contains("schema `public` on the search path")
            && stdout.contains("writable by public"),
        "{stdout}"
    );
    // Before the first apply: each session's setup (the state and the live
    // checks are read side by side, on two connections), one state query
    // (veil's schemas are not there) and the three live-check queries.
    assert!(stderr.contains("round_trips=6"), "{stderr}");
}

/// `veil import` on Redshift reads `svv_all_columns` and `svv_all_tables`
/// (the cluster's databases, views told apart) and writes what the project
/// does not declare, in Redshift's types.
#[test]
fn redshift_import_reads_the_recorded_catalog() {
    let db = Database::create("redshift_import");
    fake_catalog(&db);
    let name = &db.name;
    db.psql(&format!(
        "CREATE TABLE fake_catalog.svv_all_tables (
           database_name varchar(128), schema_name varchar(128), table_name varchar(128),
           table_type varchar(128), table_acl varchar(128), remarks varchar(128));
         INSERT INTO fake_catalog.svv_all_tables VALUES
           ('{name}', 'sales', 'orders', 'TABLE', NULL, NULL),
           ('{name}', 'sales', 'other', 'TABLE', NULL, NULL),
           ('{name}', 'sales', 'shown', 'VIEW', NULL, NULL),
           ('raw', 'sales', 'events', 'TABLE', NULL, NULL),
           ('raw', 'crm', 'leads', 'TABLE', NULL, NULL);
         INSERT INTO fake_catalog.svv_all_columns VALUES
           ('{name}', 'sales', 'other', 'label', 2, NULL, 'YES', 'character varying', 300, NULL, NULL, NULL),
           ('{name}', 'sales', 'other', 'doc', 3, NULL, 'YES', 'super', NULL, NULL, NULL, NULL),
           ('{name}', 'sales', 'shown', 'x', 1, NULL, 'YES', 'integer', NULL, 32, 0, NULL),
           ('raw', 'crm', 'leads', 'phone', 1, NULL, 'YES', 'character varying', 32, NULL, NULL, NULL),
           ('raw', 'crm', 'leads', 'score', 2, NULL, 'YES', 'numeric', NULL, 8, 3, NULL);
         SET allow_system_table_mods = on;
         CREATE VIEW pg_catalog.svv_all_tables AS SELECT * FROM fake_catalog.svv_all_tables;"
    ))
    .expect("records the tables");
    let dir = Scratch::new("redshift_import");
    std::fs::write(dir.path().join("warehouse.veil"), policy(name)).expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), IDENTITIES).expect("writes");
    let out = dir.path().join("imported.veil");
    let run = Veil::new()
        .args(["import", "--integration", "warehouse", "--out"])
        .args([&out])
        .project(dir.path())
        .env("VEIL_WAREHOUSE_URL", db.url())
        .run();
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("imported 2 sources"), "{}", run.stdout);
    let text = std::fs::read_to_string(&out).expect("the imported file");
    let flat = text
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for line in [
        "source sales.other {",
        "table = sales.other",
        "x integer",
        "label varchar(300)",
        "doc super",
        "source crm.leads {",
        "table = raw.crm.leads",
        "phone varchar(32) // suggested: tags(pii)",
        "score numeric(8,3)",
    ] {
        assert!(flat.contains(line), "`{line}` in:\n{text}");
    }
    assert!(
        !text.contains("shown") && !text.contains("source sales.orders"),
        "{text}"
    );
    let valid = Veil::new().args(["validate"]).project(dir.path()).run();
    assert_eq!(valid.status, 0, "{}", valid.stderr);
}
