//! The Redshift dialect's apply script: every statement parses with an
//! independent Redshift grammar, and the whole script runs on the Redshift
//! emulation (`crate::common::redshift`), twice in a row.

use crate::common::redshift::{emulate, run_script, split_sql};
use crate::common::{Database, Scratch, ok, veil_with};
use sqlparser::dialect::RedshiftSqlDialect;
use sqlparser::parser::Parser;
use std::path::Path;

/// The example project, its warehouse integration governing `database`.
fn example(dir: &Path, database: &str) {
    std::fs::create_dir_all(dir).expect("creates the project");
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
        .expect("lists the example")
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).expect("reads");
        let text = text.replace(
            "database    = \"analytics\"",
            &format!("database    = \"{database}\""),
        );
        std::fs::write(dir.join(entry.file_name()), text).expect("writes");
    }
}

/// The example's warehouse tables, in the emulation (the refunds of the
/// cluster's `finance_raw` database as schema `finance_raw__public`).
fn warehouse_tables(db: &Database) {
    db.psql(
        "CREATE TABLE public.orders (order_id bigint, customer_id bigint, email varchar(256),
             card_number char(16), amount numeric(12,2), region varchar(16), ordered_at timestamp,
             \"order note\" varchar(1000));
         CREATE SCHEMA crm;
         CREATE TABLE crm.customers (customer_id bigint, full_name varchar(200), email varchar(256),
             mobile_phone varchar(32), birth_date date, country char(2), vip boolean);
         CREATE SCHEMA archive;
         CREATE TABLE archive.orders_2015 (order_id bigint, email varchar(256));
         CREATE SCHEMA finance_raw__public;
         CREATE TABLE finance_raw__public.refunds (refund_id bigint, order_id bigint,
             amount numeric(12,2), reason varchar(500), refunded_at timestamp);",
    )
    .expect("creates the warehouse tables");
    for grantee in ["analysts", "finance", "bi_tools"] {
        db.role(grantee);
    }
}

fn plan(dir: &Path, db: &Database, extra: &[&str]) -> crate::common::Run {
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    let mut args = vec![
        "plan",
        dir.to_str().expect("utf-8"),
        "--integration",
        "warehouse",
    ];
    args.extend_from_slice(extra);
    veil_with(&args, &[("VEIL_WAREHOUSE_URL", url.as_str())])
}

/// The statements of a script that the `sqlparser` Redshift dialect is
/// given: each statement as it is, but a routine's (it reads no `CREATE
/// FUNCTION … $$` nor PL/pgSQL): a SQL function's body, one SELECT, and the
/// plain statements of a procedure's body (DELETE, INSERT … VALUES); the
/// key's psql variable as a literal.
fn statements(script: &str) -> Vec<String> {
    let script = script.replace(":'veil_hash_key'", "'0123'");
    let mut out = Vec::new();
    for statement in split_sql(&script) {
        let code: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let routine = code.starts_with("CREATE OR REPLACE FUNCTION")
            || code.starts_with("CREATE OR REPLACE PROCEDURE");
        if !routine {
            out.push(code.to_string());
            continue;
        }
        let body = code.split("$$").nth(1).expect("a $$ body");
        if code.starts_with("CREATE OR REPLACE FUNCTION") {
            out.push(body.to_string());
        } else {
            for line in body.lines().map(str::trim) {
                if (line.starts_with("DELETE FROM") || line.starts_with("INSERT INTO"))
                    && line.ends_with(';')
                {
                    out.push(line.to_string());
                }
            }
        }
    }
    out
}

#[test]
fn every_statement_of_the_redshift_script_parses() {
    // The example's warehouse reads a table of another database of the
    // cluster; the same project without it reads its own only.
    let dir = Scratch::new("redshift_parse");
    for (name, cross_database) in [("cross", true), ("same", false)] {
        let project = dir.path().join(name);
        example(&project, "analytics");
        if !cross_database {
            let sales = project.join("sales.veil");
            let text = std::fs::read_to_string(&sales).expect("reads");
            std::fs::write(
                &sales,
                text.replace("finance_raw.public.refunds", "public.refunds"),
            )
            .expect("writes");
        }
        let run = ok(veil_with(
            &[
                "plan",
                "--offline",
                project.to_str().expect("utf-8"),
                "--integration",
                "warehouse",
                "--format",
                "sql",
            ],
            &[],
        ));
        assert!(
            run.stdout
                .contains("LOCK TABLE \"immuta_system\".\"state\";"),
            "{}",
            run.stdout
        );
        assert_eq!(
            run.stdout.contains("WITH NO SCHEMA BINDING"),
            cross_database,
            "late binding exactly for another database's table"
        );
        let dialect = RedshiftSqlDialect {};
        let mut parsed = 0;
        for text in statements(&run.stdout) {
            let found = Parser::parse_sql(&dialect, &text)
                .unwrap_or_else(|e| panic!("does not parse as Redshift: {e}\n{text}"));
            parsed += found.len();
        }
        assert!(parsed > 60, "only {parsed} statements");
    }
}

#[test]
fn the_example_warehouse_runs_on_the_emulation_twice() {
    let db = Database::create("redshift_example");
    emulate(&db);
    warehouse_tables(&db);
    let dir = Scratch::new("redshift_example");
    example(dir.path(), &db.name);
    // The offline script of the example itself.
    let script = ok(veil_with(
        &[
            "plan",
            "--offline",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
            "--integration",
            "warehouse",
            "--format",
            "sql",
        ],
        &[],
    ))
    .stdout;
    let first = run_script(&db, &script);
    assert!(
        first.ok,
        "the script fails on the emulation:\n{}",
        first.stderr
    );
    // The deployment reads back as planned: nothing left to do.
    let again = plan(dir.path(), &db, &["--detailed-exitcode"]);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    let second = ok(plan(dir.path(), &db, &["--format", "sql"])).stdout;
    assert!(
        !second.contains("CREATE OR REPLACE VIEW"),
        "the second script changes nothing:\n{second}"
    );
    let run = run_script(&db, &second);
    assert!(run.ok, "{}", run.stderr);
    let serial = db
        .query("SELECT max(serial) FROM immuta_system.deployments")
        .expect("reads the serial");
    assert_eq!(serial.trim(), "2");
}

/// Every query a plan reads a Redshift database with (veil's state, the
/// catalog of its objects, the side tables, the live checks) and the
/// statements apply sends around them parse as Redshift SQL.
#[test]
fn every_query_a_plan_reads_redshift_with_parses() {
    use veil::dialect::Dialect;
    use veil::emit::{reads, script};
    let schemas = veil::ir::Schemas {
        system: "immuta_system".into(),
        functions: "immuta_functions".into(),
        procedures: "immuta_procedures".into(),
        views: "governed".into(),
    };
    let dialect = Dialect::Redshift;
    let sides = veil::emit::SIDE_TABLES;
    let tables = [reads::TableName {
        database: "analytics",
        schema: "public",
        table: "orders",
    }];
    let queries = [
        reads::existing_objects(&schemas, dialect),
        reads::dependents(&schemas, dialect),
        reads::state_rows(&schemas, true),
        reads::state_texts(&schemas, dialect, &["governed.orders", "o'brien"]),
        reads::profiles(&schemas),
        reads::policy_files(dialect, &schemas),
        reads::policy_texts(&schemas),
        reads::catalog(dialect, &schemas),
        reads::key(dialect, &schemas),
        reads::rules_digest(dialect, &schemas),
        reads::side_totals(dialect, &schemas, &sides),
        reads::side_digests(dialect, &schemas, &sides),
        reads::side_rows(dialect, &schemas, &sides, &["ann", "o'brien"]),
        reads::columns(dialect, &tables),
        reads::grants(dialect, "analytics", &tables),
        script::state_exists(dialect, &schemas),
        script::deployment_serial(&schemas),
        script::guard(dialect, &schemas, true, 7),
        script::lock(dialect, &schemas),
    ];
    let parser = RedshiftSqlDialect {};
    for sql in queries {
        Parser::parse_sql(&parser, &sql)
            .unwrap_or_else(|e| panic!("does not parse as Redshift: {e}\n{sql}"));
    }
}
