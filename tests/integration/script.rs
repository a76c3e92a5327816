//! The apply script `veil plan --format sql` prints is what apply sends,
//! and it runs by hand.

use crate::common::redshift::{emulate, run_script};
use crate::common::{Database, Scratch, ok, veil_with};

const POLICY: &str = r##"integration shop {
  dialect     = @DIALECT@
  database    = "@DB@"
  view_schema = "governed"
}

source shop.orders {
  table = public.orders
  columns {
    id    bigint
    email varchar(100) tags(pii)
    note  varchar(100)
  }
}

access shop.orders { allow group "analysts" }
mask tagged pii using hash except group "pii_readers"
mask note on shop.orders using regex "[0-9]" "#"
"##;

/// One analyst, named after the test's database.
fn identities(db: &Database) -> String {
    format!(
        "groups: [analysts, pii_readers]\nusers:\n  ann_{}:\n    groups: [analysts]\n",
        db.name
    )
}

fn project(dir: &std::path::Path, db: &Database, dialect: &str, policy: &str) {
    std::fs::write(
        dir.join("shop.veil"),
        policy
            .replace("@DIALECT@", dialect)
            .replace("@DB@", &db.name),
    )
    .expect("writes the policy");
    std::fs::write(dir.join("identities.yaml"), identities(db)).expect("writes the identities");
}

fn url(db: &Database) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{}", db.name)
}

/// The comment apply's catalog record stands behind in a printed script.
const RECORD: &str = "-- Apply reads here what the catalog says of each object";

#[test]
fn what_apply_sends_is_the_script() {
    let db = Database::create("script_sent");
    db.psql("CREATE TABLE public.orders (id bigint, email varchar(100), note varchar(100))")
        .expect("creates the table");
    let dir = Scratch::new("script_sent");
    let path = dir.path().to_str().expect("utf-8");
    let env = [("VEIL_SHOP_URL", url(&db))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = dir.path().join("saved.plan");
    let log = dir.path().join("sent.sql");
    for round in 0..2 {
        let policy = if round == 0 {
            POLICY.to_string()
        } else {
            POLICY.replace("\"[0-9]\" \"#\"", "\"[0-9]\" \"*\"")
        };
        project(dir.path(), &db, "postgres", &policy);
        let _ = std::fs::remove_file(&log);
        ok(veil_with(
            &["plan", path, "--out", saved.to_str().expect("utf-8")],
            &env,
        ));
        let script = ok(veil_with(
            &["plan", saved.to_str().expect("utf-8"), "--format", "sql"],
            &env,
        ))
        .stdout;
        ok(veil_with(
            &[
                "apply",
                saved.to_str().expect("utf-8"),
                "--auto-approve",
                "--log-sql",
                log.to_str().expect("utf-8"),
            ],
            &env,
        ));
        let sent = std::fs::read_to_string(&log).expect("reads the log");
        // The script without its header and the key's comment; the catalog
        // record stands for the statements apply made of what it read.
        let lines: Vec<&str> = script
            .lines()
            .filter(|l| !l.starts_with("-- veil ") && !l.starts_with("-- Run by hand"))
            .filter(|l| {
                !l.starts_with("-- The hashing key") && !l.starts_with("-- sends it as a parameter")
            })
            .collect();
        let record = lines
            .iter()
            .position(|l| l.starts_with(RECORD))
            .expect("the record");
        let before = lines[..record].join("\n");
        let after = lines[record + 4..].join("\n");
        if !sent.starts_with(&before) {
            let at = sent
                .lines()
                .zip(before.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "round {round}: apply sent another script, from line {at}:\n--- sent\n{}\n--- script\n{}",
                sent.lines().skip(at).take(5).collect::<Vec<_>>().join("\n"),
                before
                    .lines()
                    .skip(at)
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        assert!(sent.trim_end().ends_with(&after), "round {round}: {sent}");
        let middle = sent[before.len()..sent.trim_end().len() - after.len()].trim();
        assert!(
            middle
                .lines()
                .all(|l| l.starts_with("UPDATE \"immuta_system\".\"state\" SET catalog_json")),
            "round {round}: between the bookkeeping and COMMIT apply sent:\n{middle}"
        );
        if round == 0 {
            assert!(
                !middle.is_empty(),
                "a first apply records every object's catalog"
            );
        }
    }
}

/// A database of either dialect (Redshift's emulated) with the orders
/// table, its analyst, and the project; scripts are run by hand.
struct ByHand {
    dialect: &'static str,
    db: Database,
    dir: Scratch,
    env: Vec<(&'static str, String)>,
}

impl ByHand {
    fn new(dialect: &'static str, tag: &str) -> ByHand {
        let db = Database::create(tag);
        if dialect == "redshift" {
            emulate(&db);
        }
        db.psql(
            "CREATE TABLE public.orders (id bigint, email varchar(100), note varchar(100));
             INSERT INTO public.orders VALUES (1, 'ann@example.com', 'call 555');",
        )
        .expect("creates the table");
        db.role(&format!("ann_{}", db.name));
        let dir = Scratch::new(tag);
        project(dir.path(), &db, dialect, POLICY);
        let env = vec![("VEIL_SHOP_URL", url(&db))];
        ByHand {
            dialect,
            db,
            dir,
            env,
        }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8")
    }

    fn veil(&self, args: &[&str]) -> crate::common::Run {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        veil_with(args, &env)
    }

    /// Prints the script of `veil ARGS` and runs it as a DBA would.
    fn run_printed(&self, args: &[&str]) -> crate::common::Session {
        let script = ok(self.veil(args)).stdout;
        if self.dialect == "redshift" {
            run_script(&self.db, &script)
        } else {
            self.db
                .session_with_key("postgres", &script, &"ab".repeat(32))
        }
    }

    /// What the analyst reads of the orders.
    fn ann_reads(&self, sql: &str) -> String {
        self.db
            .query_as(&format!("ann_{}", self.db.name), sql)
            .expect("ann reads")
    }

    /// A plan after a hand run shows nothing left to do.
    fn assert_as_planned(&self, after: &str) {
        let plan = self.veil(&["plan", self.path(), "--detailed-exitcode"]);
        assert_eq!(
            plan.status, 0,
            "{}: after {after} the deployment is as planned:\n{}{}",
            self.dialect, plan.stdout, plan.stderr
        );
    }
}

#[test]
fn the_script_runs_by_hand_on_both_dialects() {
    for dialect in ["postgres", "redshift"] {
        let hand = ByHand::new(dialect, "script_hand");
        for round in 0..2 {
            let run = hand.run_printed(&["plan", hand.path(), "--format", "sql"]);
            assert!(run.ok, "{dialect} round {round}: {}", run.stderr);
            hand.assert_as_planned("a hand run");
        }
        let rows = hand.ann_reads("SELECT id, email, note FROM governed.orders");
        let cells: Vec<&str> = rows.trim().split('|').collect();
        assert_eq!(cells[0], "1");
        assert_eq!(
            cells[1].len(),
            64,
            "{dialect}: hashed with the key given: {rows}"
        );
        assert_eq!(cells[2], "call ###", "{dialect}");
    }
}

#[test]
fn a_wide_masked_source_applies_on_redshift() {
    // 450 masked columns compile to a view of more than 64 kB, which a
    // Redshift VARCHAR cannot hold in one row.
    let db = Database::create("script_wide");
    emulate(&db);
    let columns: Vec<String> = (0..450).map(|i| format!("c{i:03}")).collect();
    db.psql(&format!(
        "CREATE TABLE public.wide (id bigint, {});
         INSERT INTO public.wide (id, c000, c449) VALUES (1, 'secret one', 'secret two');",
        columns
            .iter()
            .map(|c| format!("{c} varchar(64)"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .expect("creates the wide table");
    db.role(&format!("ann_{}", db.name));
    let policy = format!(
        "integration shop {{\n  database    = \"{}\"\n  view_schema = \"governed\"\n}}\nsource shop.wide {{\n  table = public.wide\n  columns {{\n    id bigint\n{}  }}\n}}\naccess shop.wide {{ allow group \"analysts\" }}\nmask tagged pii using hash except group \"pii_readers\"\n",
        db.name,
        columns
            .iter()
            .map(|c| format!("    {c} varchar(64) tags(pii)\n"))
            .collect::<String>()
    );
    let dir = Scratch::new("script_wide");
    std::fs::write(dir.path().join("shop.veil"), policy).expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), identities(&db)).expect("writes");
    let path = dir.path().to_str().expect("utf-8");
    let env = [("VEIL_SHOP_URL", url(&db))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let script = ok(veil_with(&["plan", path, "--format", "sql"], &env)).stdout;
    let view = script
        .split("CREATE OR REPLACE VIEW \"governed\".\"wide\"")
        .nth(1)
        .and_then(|rest| rest.split(";\n").next())
        .expect("the view");
    assert!(view.len() > 65_535, "the view is {} bytes", view.len());
    let run = run_script(&db, &script);
    assert!(run.ok, "{}", run.stderr);
    let plan = veil_with(&["plan", path, "--detailed-exitcode"], &env);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
    let rows = db
        .query_as(
            &format!("ann_{}", db.name),
            "SELECT c000, c449 FROM governed.wide",
        )
        .expect("ann reads");
    assert!(!rows.contains("secret"), "{rows}");
    // A change reads back the view's recorded SQL, in its parts, for the
    // diff, and the recorded policies, for the access impact.
    let file = dir.path().join("shop.veil");
    let policy = std::fs::read_to_string(&file).expect("reads");
    std::fs::write(&file, policy.replace("using hash", "using null")).expect("writes");
    let plan = ok(veil_with(&["plan", path], &env)).stdout;
    // The last column's old line is past the first 64 kB part.
    let removed = r#"-    WHEN (NOT me."d1") THEN CAST("immuta_functions"."f_veil_hash"(me."hash_key", 'shop.wide', CAST(t."c449""#;
    assert!(
        plan.contains("~ replace view governed.wide")
            && plan.contains(removed)
            && plan.contains("mask changed: shop.wide.c000 (null)"),
        "{plan}"
    );
}

#[test]
fn the_redshift_profile_procedure_refuses_what_it_cannot_read() {
    // Redshift does not document how its JSON functions read escapes: a
    // list holding one is refused, whole, rather than written wrongly.
    let db = Database::create("script_proc");
    emulate(&db);
    db.psql("CREATE TABLE public.orders (id bigint, email varchar(100), note varchar(100))")
        .expect("creates the table");
    let dir = Scratch::new("script_proc");
    project(dir.path(), &db, "redshift", POLICY);
    let env = [("VEIL_SHOP_URL", url(&db))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let script = ok(veil_with(
        &[
            "plan",
            dir.path().to_str().expect("utf-8"),
            "--format",
            "sql",
        ],
        &env,
    ))
    .stdout;
    let run = run_script(&db, &script);
    assert!(run.ok, "{}", run.stderr);
    let call = |groups: &str| {
        db.psql(&format!(
            "CALL immuta_procedures.upsert_profile('x', '{groups}', '[]', '[]', NULL, '[]', '[]')"
        ))
    };
    let refused = call("[\"a\\\\\\\\b\"]").expect_err("an escaped name is refused");
    assert!(refused.contains("escaped character"), "{refused}");
    call("[\"analysts\"]").expect("a plain list is written");
    let groups = db
        .query("SELECT name FROM immuta_system.profile_groups WHERE userid = 'x'")
        .expect("reads");
    assert_eq!(groups.trim(), "analysts");
}

#[test]
fn a_recovery_runs_by_hand_on_both_dialects_and_keeps_the_key() {
    for dialect in ["postgres", "redshift"] {
        let hand = ByHand::new(dialect, "script_recover");
        let first = hand.run_printed(&["plan", hand.path(), "--format", "sql"]);
        assert!(first.ok, "{dialect}: {}", first.stderr);
        let email = || hand.ann_reads("SELECT email FROM governed.orders");
        let before = email();
        assert_eq!(before.trim().len(), 64, "{dialect}: {before}");
        hand.db
            .psql("DROP TABLE immuta_system.state CASCADE")
            .expect("drops the state");
        let lost = hand.veil(&["plan", hand.path()]);
        assert!(lost.stderr.contains("plan::lost_state"), "{}", lost.stderr);
        let recovery = hand.run_printed(&["plan", hand.path(), "--recover", "--format", "sql"]);
        assert!(recovery.ok, "{dialect}: {}", recovery.stderr);
        assert_eq!(email(), before, "{dialect}: the key was kept");
        hand.assert_as_planned("the recovery");
    }
}

#[test]
fn a_change_of_one_file_rewrites_only_that_file_of_the_recorded_policies() {
    let db = Database::create("script_files");
    db.psql("CREATE TABLE public.orders (id bigint, email varchar(100), note varchar(100))")
        .expect("creates the table");
    let dir = Scratch::new("script_files");
    let path = dir.path().to_str().expect("utf-8");
    let env = [("VEIL_SHOP_URL", url(&db))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    project(dir.path(), &db, "postgres", POLICY);
    ok(veil_with(&["apply", path, "--auto-approve"], &env));
    // One more user: identities.yaml changes, shop.veil does not.
    let more = format!(
        "{}  bo_{}:\n    groups: [analysts]\n",
        identities(&db),
        db.name
    );
    std::fs::write(dir.path().join("identities.yaml"), more).expect("writes the identities");
    let script = ok(veil_with(&["plan", path, "--format", "sql"], &env)).stdout;
    let deletes: Vec<&str> = script
        .lines()
        .filter(|l| l.contains("DELETE FROM \"immuta_system\".\"policy_files\""))
        .collect();
    assert_eq!(deletes.len(), 1, "{script}");
    assert!(deletes[0].contains("identities.yaml"), "{script}");
    assert!(
        !script.contains("shop.veil"),
        "the unchanged policy file is not written again:\n{script}"
    );
    ok(veil_with(&["apply", path, "--auto-approve"], &env));
    // What was recorded reads back as the project: no changes, and the
    // access impact of the next change is computed from it.
    let again = veil_with(&["plan", path, "--detailed-exitcode"], &env);
    assert_eq!(again.status, 0, "{}{}", again.stdout, again.stderr);
    std::fs::write(
        dir.path().join("identities.yaml"),
        identities(&db).replace("groups: [analysts]\n", "groups: []\n"),
    )
    .expect("writes the identities");
    let plan = ok(veil_with(&["plan", path], &env)).stdout;
    assert!(
        plan.contains("loses access") && plan.contains(&format!("ann_{}", db.name)),
        "{plan}"
    );
}
