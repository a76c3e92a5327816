//! End to end on the PostgreSQL server: apply a project with known data,
//! then query as each user (`SET ROLE`) and check what they see.

use crate::common::Veil;
use crate::common::{Database, Scratch, literal, ok, veil_on as veil};
use std::path::Path;

/// The test project: one PostgreSQL integration over `public.orders`.
fn policy(database: &str, extra: &str) -> String {
    format!(
        r##"integration shop {{
  dialect     = postgres
  database    = "{database}"
  view_schema = "governed"
}}

source shop.orders {{
  table      = public.orders
  event_time = created_at
  columns {{
    id         bigint
    email      varchar(100) tags(pii.email)
    card       varchar(16)  tags(pii)
    amount     numeric(10,2)
    region     varchar(8)
    created_at timestamp
    note       text
  }}
}}

access shop.orders {{
  allow group "analysts"
  allow user "zoe"
  require not group "contractors"
}}

mask tagged pii using hash except group "pii_readers"
mask card on shop.orders using show_last(4) for not group "auditors"
mask amount on shop.orders using round(100) when region = "us"
mask note on shop.orders using regex "[0-9]" "#"
filter shop.orders where region in user.attribute("region") except group "global"
filter shop.orders newer than 365 days
{extra}"##
    )
}

const IDENTITIES: &str = r#"groups: [analysts, pii_readers, contractors, global, auditors]
attributes:
  region: [eu, us]
users:
  ann:
    groups: [analysts, pii_readers]
    attributes: { region: eu }
  bob:
    groups: [analysts]
    attributes: { region: [eu, us] }
  cid:
    groups: [analysts, contractors, global]
  zoe:
    groups: [global, auditors]
"#;

/// A database with the orders table, the users' roles, and the project.
fn setup(tag: &str) -> (Database, Scratch) {
    let db = Database::create(tag);
    db.psql(
        "CREATE TABLE public.orders (id bigint, email varchar(100), card varchar(16), amount numeric(10,2), region varchar(8), created_at timestamp, note text);
         INSERT INTO public.orders VALUES
           (1, 'ann@example.com', '4111111111111111', 1234.56, 'eu', LOCALTIMESTAMP - INTERVAL '1 day', 'call 555-1234'),
           (2, 'bob@example.com', '5500000000000004', 149.99, 'us', LOCALTIMESTAMP - INTERVAL '2 days', 'no digits'),
           (3, 'old@example.com', '340000000000009', 10.00, 'eu', LOCALTIMESTAMP - INTERVAL '800 days', NULL),
           (4, 'nul@example.com', '123', NULL, NULL, LOCALTIMESTAMP, NULL);",
    )
    .expect("creates the orders table");
    for user in ["ann", "bob", "cid", "zoe", "nobody"] {
        db.role(&format!("{user}_{}", db.name));
    }
    let scratch = Scratch::new(tag);
    write(scratch.path(), &db, "", IDENTITIES);
    (db, scratch)
}

/// Writes the project, naming each user after the test's database so that
/// roles of tests running side by side never clash.
fn write(dir: &Path, db: &Database, extra: &str, identities: &str) {
    let suffix = format!("_{}", db.name);
    let mut policy = policy(&db.name, extra);
    let mut identities = identities.to_string();
    for user in ["ann", "bob", "cid", "zoe"] {
        policy = policy.replace(
            &format!("user \"{user}\""),
            &format!("user \"{user}{suffix}\""),
        );
        identities = identities.replace(&format!("  {user}:\n"), &format!("  {user}{suffix}:\n"));
    }
    std::fs::write(dir.join("shop.veil"), policy).expect("writes policy");
    std::fs::write(dir.join("identities.yaml"), identities).expect("writes identities");
}

/// Rows a user sees, as `a|b` lines.
fn rows_as(db: &Database, user: &str, sql: &str) -> Vec<String> {
    let role = format!("{user}_{}", db.name);
    db.query_as(&role, sql)
        .unwrap_or_else(|e| panic!("{user}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

const ORDERS: &str = "SELECT id, email, card, amount, note FROM governed.orders ORDER BY id";

#[test]
fn users_see_what_the_policies_allow() {
    let (db, dir) = setup("see");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));

    // ann: eu only, pii readable, card shows the last 4, eu amounts exact,
    // digits in notes hidden; the 800-day-old row is filtered out.
    assert_eq!(
        rows_as(&db, "ann", ORDERS),
        ["1|ann@example.com|************1111|1234.56|call ###-####"]
    );
    // bob: eu and us; emails hashed (64 hex), us amounts rounded.
    let bob = rows_as(&db, "bob", ORDERS);
    assert_eq!(bob.len(), 2, "{bob:?}");
    let fields: Vec<&str> = bob[0].split('|').collect();
    assert_eq!(fields[1].len(), 64, "hashed: {}", fields[1]);
    assert!(
        fields[1]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(bob[1].ends_with("|100.00|no digits"), "{}", bob[1]);
    // Equal values hash equally within a source.
    let again = rows_as(&db, "bob", "SELECT email FROM governed.orders WHERE id = 1");
    assert_eq!(again[0], fields[1]);
    // cid is a contractor: the require line denies access.
    assert!(rows_as(&db, "cid", ORDERS).is_empty());
    // zoe is allowed by name and exempt from the region filter (global), so
    // she sees the row whose region is NULL too. She is an auditor, so the
    // card rule does not apply to her; the cell falls through to the pii
    // tag rule and is hashed, never shown in clear.
    let zoe = rows_as(&db, "zoe", ORDERS);
    assert_eq!(zoe.len(), 3, "{zoe:?}");
    let card = zoe[0].split('|').nth(2).unwrap_or("");
    assert_eq!(card.len(), 64, "{zoe:?}");
    // ann is not an auditor: her cards show the last four characters only.
    let ann = rows_as(&db, "ann", "SELECT card FROM governed.orders WHERE id = 1");
    assert_eq!(ann, ["************1111"]);
    // A role without a profile row sees nothing; nobody reads the profile.
    assert!(rows_as(&db, "nobody", ORDERS).is_empty());
    let denied = db.query_as(
        &format!("nobody_{}", db.name),
        "SELECT * FROM immuta_system.profile",
    );
    assert!(denied.is_err(), "the profile table is owner-only");
    let own = rows_as(
        &db,
        "ann",
        "SELECT immuta__userid FROM immuta_system.user_profile",
    );
    assert_eq!(
        own,
        [format!("ann_{}", db.name)],
        "user_profile shows only one's own row"
    );
}

#[test]
fn a_second_plan_is_empty_and_changes_touch_only_what_they_change() {
    let (db, dir) = setup("replan");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let plan = veil(&db, &["plan", path, "--detailed-exitcode"]);
    assert_eq!(
        plan.status, 0,
        "no changes after apply:\n{}{}",
        plan.stdout, plan.stderr
    );

    // A mask that changes the column's type: the view is dropped and
    // created again, and users can still query it.
    write(
        dir.path(),
        &db,
        "mask id on shop.orders using hash for group \"analysts\"\n",
        IDENTITIES,
    );
    let plan = veil(
        &db,
        &["plan", path, "--format", "json", "--detailed-exitcode"],
    );
    assert_eq!(plan.status, 2, "{}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    let changes = json["integrations"][0]["changes"]
        .as_array()
        .expect("changes")
        .clone();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["action"], "recreate");
    assert_eq!(changes[0]["object"], "governed.orders");
    // The access impact, against the policies recorded at the last apply:
    // the analysts with access (ann, bob) see the id hashed; nobody else
    // is affected.
    let impact = json["integrations"][0]["access_impact"]
        .as_array()
        .expect("impact")
        .clone();
    assert_eq!(impact.len(), 1, "one change, listing its users: {impact:?}");
    let mut seen: Vec<(String, String, String)> = impact
        .iter()
        .flat_map(|x| {
            x["users"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|u| {
                    (
                        u.as_str().unwrap_or("").to_string(),
                        x["change"].as_str().unwrap_or("").to_string(),
                        x["column"].as_str().unwrap_or("").to_string(),
                    )
                })
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (
                format!("ann_{}", db.name),
                "column masked".to_string(),
                "id".to_string()
            ),
            (
                format!("bob_{}", db.name),
                "column masked".to_string(),
                "id".to_string()
            ),
        ]
    );
    // veil's record of what it applied changes by the changed object's row
    // only (the row version, xmin, of every other row stays).
    let rows =
        "SELECT object_kind || ' ' || object_name, xmin FROM immuta_system.state ORDER BY position";
    let before = db.query(rows).expect("reads state");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let after = db.query(rows).expect("reads state");
    let rewritten: Vec<&str> = after
        .lines()
        .filter(|row| !before.lines().any(|b| b == *row))
        .collect();
    assert_eq!(rewritten.len(), 1, "{rewritten:?}");
    assert!(
        rewritten[0].starts_with("view governed.orders|"),
        "{rewritten:?}"
    );
    assert_eq!(before.lines().count(), after.lines().count());
    let ann = rows_as(&db, "ann", "SELECT id FROM governed.orders");
    assert_eq!(ann[0].len(), 64, "id hashed for analysts: {ann:?}");

    // A profile change touches one row and no object.
    write(
        dir.path(),
        &db,
        "mask id on shop.orders using hash for group \"analysts\"\n",
        &IDENTITIES.replace("groups: [analysts]\n", "groups: [analysts, pii_readers]\n"),
    );
    let plan = veil(&db, &["plan", path, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    assert_eq!(
        json["integrations"][0]["changes"].as_array().map(Vec::len),
        Some(0)
    );
    let profile = json["integrations"][0]["profile"]
        .as_array()
        .expect("profile")
        .clone();
    assert_eq!(profile.len(), 1);
    assert_eq!(profile[0]["user"], format!("bob_{}", db.name));
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let bob = rows_as(
        &db,
        "bob",
        "SELECT email FROM governed.orders ORDER BY email",
    );
    assert_eq!(
        bob,
        ["ann@example.com", "bob@example.com"],
        "bob reads pii now"
    );
}

#[test]
fn a_failing_apply_changes_nothing() {
    let (db, dir) = setup("fail");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let state = "SELECT object_name, checksum FROM immuta_system.state ORDER BY 1; SELECT max(serial) FROM immuta_system.deployments;";
    let before = db.query(state).expect("reads state");

    // The plan itself catches a source whose table does not exist.
    write(
        dir.path(),
        &db,
        "source shop.missing {\n  table = public.missing\n  columns { id bigint }\n}\naccess shop.missing {\n  allow everyone\n}\n",
        IDENTITIES,
    );
    let run = veil(&db, &["apply", path, "--auto-approve"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("table `public.missing` of source `shop.missing` does not exist"),
        "{}",
        run.stderr
    );

    // A failure in the middle of the transaction, after some objects have
    // been replaced: the views are granted to a role that does not exist.
    write(
        dir.path(),
        &db,
        "mask id on shop.orders using constant 0\n",
        IDENTITIES,
    );
    let policy = std::fs::read_to_string(dir.path().join("shop.veil")).expect("reads");
    std::fs::write(
        dir.path().join("shop.veil"),
        policy.replace(
            "  view_schema = \"governed\"\n",
            "  view_schema = \"governed\"\n  grant_to    = [role \"ghosts\"]\n",
        ),
    )
    .expect("writes");
    let run = veil(&db, &["apply", path, "--auto-approve"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("role \"ghosts\" does not exist"),
        "the database's message: {}",
        run.stderr
    );
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    let ids = rows_as(&db, "ann", "SELECT id FROM governed.orders");
    assert_eq!(ids, ["1"], "the view is as it was");
    let after = db.query(state).expect("reads state");
    assert_eq!(before, after, "state untouched");
}

#[test]
fn governed_views_may_run_on_parallel_workers() {
    // Per-user decisions are computed once per query, never through a join
    // on a plan carrying a subquery, so PostgreSQL may scan a large table
    // with parallel workers, as it would for the hand-written query.
    let (db, dir) = setup("parallel");
    db.psql(
        "CREATE TABLE public.events (id bigint, note text);
         INSERT INTO public.events SELECT g, 'note ' || g FROM generate_series(1, 400000) g;
         ANALYZE public.events;",
    )
    .expect("creates the events table");
    let extra = "source shop.events {\n  table = public.events\n  columns {\n    id   bigint\n    note text tags(pii)\n  }\n}\naccess shop.events {\n  allow user \"ann\"\n}\n";
    write(dir.path(), &db, extra, IDENTITIES);
    ok(veil(
        &db,
        &[
            "apply",
            dir.path().to_str().expect("utf-8"),
            "--auto-approve",
        ],
    ));
    let plan = rows_as(
        &db,
        "ann",
        "EXPLAIN (COSTS OFF) SELECT count(*), max(note) FROM governed.events",
    )
    .join("\n");
    assert!(
        plan.contains("Gather") && plan.contains("Parallel Seq Scan on events t"),
        "{plan}"
    );
}

#[test]
fn drift_is_shown_and_repaired() {
    let (db, dir) = setup("drift");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    db.psql("DROP VIEW governed.orders")
        .expect("drops the view by hand");
    let plan = veil(&db, &["plan", path, "--detailed-exitcode"]);
    assert_eq!(plan.status, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("drift view governed.orders: dropped by hand"),
        "{}",
        plan.stdout
    );
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    assert_eq!(rows_as(&db, "ann", ORDERS).len(), 1);
    let plan = veil(&db, &["plan", path, "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}", plan.stdout);
}

#[test]
fn apply_refuses_without_approval_and_never_adopts() {
    let (db, dir) = setup("refuse");
    let path = dir.path().to_str().expect("utf-8");
    let run = veil(&db, &["apply", path]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(
        db.query("SELECT 1 FROM pg_namespace WHERE nspname = 'governed'")
            .expect("query")
            .trim()
            .is_empty()
    );
    // A schema veil did not create is never taken over.
    db.psql("CREATE SCHEMA governed; CREATE VIEW governed.orders AS SELECT 1 AS x;")
        .expect("creates");
    let run = veil(&db, &["plan", path]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("schema `governed` exists"),
        "{}",
        run.stderr
    );
}

#[test]
fn two_applies_at_once_never_interleave() {
    let (db, dir) = setup("race");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    write(
        dir.path(),
        &db,
        "mask region on shop.orders using constant \"?\"\n",
        IDENTITIES,
    );
    let url = db.url();
    let spawn = || {
        Veil::new()
            .args(["apply", path, "--auto-approve"])
            .env("VEIL_SHOP_URL", &url)
            .run()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().expect("joins"), b.join().expect("joins"))
    });
    // Whichever ran second either found nothing left to do or refused its
    // stale plan; the deployment moved exactly once.
    for out in [&a, &b] {
        assert!(
            out.status == 0 || out.stderr.contains("changed since the plan"),
            "{}",
            out.stderr
        );
    }
    let serial = db
        .query("SELECT max(serial) FROM immuta_system.deployments")
        .expect("serial");
    assert_eq!(serial.trim(), "2");
    let plan = veil(&db, &["plan", path, "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}", plan.stdout);
}

#[test]
fn a_saved_plan_is_applied_exactly_or_refused_when_stale() {
    let (db, dir) = setup("saved");
    let path = dir.path().to_str().expect("utf-8");
    let scratch = Scratch::new("saved-plan");
    let plan_file = scratch.path().join("plan.json");
    let plan_file = plan_file.to_str().expect("utf-8");
    // A saved plan of the first deployment applies as it was reviewed.
    let plan = veil(
        &db,
        &["plan", path, "--out", plan_file, "--detailed-exitcode"],
    );
    assert_eq!(plan.status, 2, "{}", plan.stderr);
    ok(veil(&db, &["apply", plan_file, "--auto-approve"]));
    assert_eq!(rows_as(&db, "ann", ORDERS).len(), 1);
    // A plan saved, then made stale by another apply, is refused.
    write(
        dir.path(),
        &db,
        "mask region on shop.orders using null\n",
        IDENTITIES,
    );
    ok(veil(&db, &["plan", path, "--out", plan_file]));
    write(
        dir.path(),
        &db,
        "mask region on shop.orders using constant \"x\"\n",
        IDENTITIES,
    );
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let stale = veil(&db, &["apply", plan_file, "--auto-approve"]);
    assert_eq!(stale.status, 1, "{}", stale.stdout);
    assert!(
        stale.stderr.contains("changed since the plan"),
        "{}",
        stale.stderr
    );
    let region = rows_as(&db, "ann", "SELECT region FROM governed.orders");
    assert_eq!(region, ["x"], "the stale plan changed nothing");
    // A hand-made change to a managed view also makes a saved plan stale.
    write(
        dir.path(),
        &db,
        "mask region on shop.orders using null\n",
        IDENTITIES,
    );
    ok(veil(&db, &["plan", path, "--out", plan_file]));
    db.psql("DROP VIEW governed.orders").expect("drops");
    let stale = veil(&db, &["apply", plan_file, "--auto-approve"]);
    assert_eq!(stale.status, 1);
    // An offline plan can be saved and shown, never applied.
    ok(veil(&db, &["plan", "--offline", path, "--out", plan_file]));
    let offline = veil(&db, &["apply", plan_file, "--auto-approve"]);
    assert_eq!(offline.status, 1);
    assert!(
        offline.stderr.contains("offline plan cannot be applied"),
        "{}",
        offline.stderr
    );
    // A plan made by another veil (another plan format) is refused.
    ok(veil(&db, &["plan", path, "--out", plan_file]));
    let text = std::fs::read_to_string(plan_file).expect("reads the plan");
    let older = text.replacen("\"format_version\":2", "\"format_version\":1", 1);
    assert_ne!(older, text, "the saved plan records its format");
    std::fs::write(plan_file, older).expect("writes the plan");
    let other = veil(&db, &["apply", plan_file, "--auto-approve"]);
    assert_eq!(other.status, 1);
    assert!(
        other.stderr.contains("plan format 1") && other.stderr.contains("plan again"),
        "{}",
        other.stderr
    );
}

#[test]
fn a_saved_plan_is_shown_as_made_and_applied_only_as_shown() {
    let (db, dir) = setup("shown");
    let path = dir.path().to_str().expect("utf-8");
    let scratch = Scratch::new("shown-plan");
    let plan_file = scratch.path().join("plan.json");
    let plan_file = plan_file.to_str().expect("utf-8");
    let made = ok(veil(&db, &["plan", path, "--out", plan_file]));
    for format in ["text", "json", "markdown"] {
        let planned = ok(veil(&db, &["plan", path, "--format", format]));
        let shown = ok(veil(&db, &["show", plan_file, "--format", format]));
        assert_eq!(shown.stdout, planned.stdout, "show --format {format}");
    }
    let shown = ok(veil(&db, &["show", plan_file]));
    assert_eq!(shown.stdout, made.stdout);
    // A plan file whose shown plan was edited (here: a diff a reviewer
    // reads) is refused, though its scripts are untouched.
    let text = std::fs::read_to_string(plan_file).expect("reads the plan");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    json["plan"]["integrations"][0]["changes"][0]["diff"] = "nothing to see".into();
    let edited = scratch.path().join("edited.json");
    std::fs::write(&edited, json.to_string()).expect("writes");
    let refused = veil(
        &db,
        &["apply", edited.to_str().expect("utf-8"), "--auto-approve"],
    );
    assert_eq!(refused.status, 1, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("the plan it shows differs"),
        "{}",
        refused.stderr
    );
    assert!(
        db.query("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = 'governed'")
            .expect("reads")
            .trim()
            == "0",
        "nothing was applied"
    );
    // The file as made applies, showing the plan it holds.
    let applied = ok(veil(&db, &["apply", plan_file, "--auto-approve"]));
    assert!(
        applied.stdout.starts_with(&made.stdout),
        "{}",
        applied.stdout
    );
}

#[test]
fn import_declares_every_undeclared_table_and_the_project_validates() {
    let (db, dir) = setup("import");
    let path = dir.path().to_str().expect("utf-8");
    db.psql(
        r#"CREATE SCHEMA crm;
           CREATE TABLE crm.people (id bigint, email varchar(256), "Full Name" text, born date,
             seen timestamptz, at timestamp, score real, ratio double precision, amount numeric(12,2),
             flag boolean, code char(3), small smallint, n integer, payload jsonb, tags text[],
             "select" varchar, "a""b c" varchar(5));
           CREATE TABLE public."Odd Table" (k bigint, "back`tick" int, "new
line" int, "it's" int);
           CREATE TABLE public."bad
table" (k bigint);
           CREATE VIEW crm.people_view AS SELECT id FROM crm.people;"#,
    )
    .expect("creates tables");
    let run = ok(veil(&db, &["import", path, "--integration", "shop"]));
    assert!(run.stdout.contains("imported 2 sources"), "{}", run.stdout);
    assert!(
        run.stdout.contains("skipped public.bad\\ntable"),
        "{}",
        run.stdout
    );
    let written =
        std::fs::read_to_string(dir.path().join("imported_crm.veil")).expect("a crm file");
    // Aligned as `veil fmt` aligns; compared with single spaces.
    let crm = written
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    for line in [
        "source crm.people {",
        "table = crm.people",
        "email varchar(256) // suggested: tags(pii)",
        "`Full Name` text // suggested: tags(pii)",
        "seen timestamptz",
        "amount numeric(12,2)",
        "code char(3)",
        "payload jsonb",
        "select varchar",
        "`a\"b c` varchar(5)",
    ] {
        assert!(crm.contains(line), "`{line}` in:\n{crm}");
    }
    assert!(
        crm.contains("tags: the type `text[]` is not one veil governs"),
        "{crm}"
    );
    assert!(
        !crm.contains("people_view"),
        "views only with --views:\n{crm}"
    );
    let public = std::fs::read_to_string(dir.path().join("imported_public.veil")).expect("public");
    let public = public
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(public.contains("source public.`Odd Table` {"), "{public}");
    assert!(public.contains("`back``tick` integer"), "{public}");
    assert!(
        public.contains("// a column named \"new\\nline\" holds a control character"),
        "{public}"
    );
    assert!(public.contains("`it's` integer"), "{public}");
    assert!(
        !public.contains("orders"),
        "declared tables are not imported:\n{public}"
    );
    // The imported project validates, plans and formats as written.
    ok(veil(&db, &["validate", path]));
    ok(veil(&db, &["fmt", "--check", path]));
    ok(veil(&db, &["plan", path]));
    // Nothing is left to import; views come with --views, never over a file.
    let again = ok(veil(&db, &["import", path, "--integration", "shop"]));
    assert!(
        again.stdout.contains("imported 0 sources"),
        "{}",
        again.stdout
    );
    let views = [
        "import",
        path,
        "--integration",
        "shop",
        "--views",
        "--table",
        "*_view",
    ];
    let refused = veil(&db, &views);
    assert_eq!(refused.status, 1);
    assert!(
        refused.stderr.contains("never writes over a file"),
        "{}",
        refused.stderr
    );
    let out = dir.path().join("views.veil");
    let out = out.to_str().expect("utf-8");
    let imported = ok(veil(&db, &[&views[..], &["--out", out]].concat()));
    assert!(
        imported.stdout.contains("imported 1 sources"),
        "{}",
        imported.stdout
    );
    let view_file = std::fs::read_to_string(out).expect("the view's file");
    assert!(
        view_file.contains("source crm.people_view {"),
        "{view_file}"
    );
    ok(veil(&db, &["validate", path]));
}

#[test]
fn live_checks_compare_the_catalog() {
    let (db, dir) = setup("live");
    let path = dir.path().to_str().expect("utf-8");
    db.psql("GRANT SELECT ON public.orders TO PUBLIC")
        .expect("grants");
    let plan = ok(veil(&db, &["plan", path]));
    assert!(
        plan.stdout
            .contains("table public.orders grants SELECT to PUBLIC directly"),
        "{}",
        plan.stdout
    );
    let policy = std::fs::read_to_string(dir.path().join("shop.veil")).expect("reads");
    std::fs::write(
        dir.path().join("shop.veil"),
        policy.replace("amount     numeric(10,2)", "amount     numeric(12,2)"),
    )
    .expect("writes");
    let plan = veil(&db, &["plan", path]);
    assert_eq!(plan.status, 1);
    assert!(
        plan.stderr
            .contains("column `amount` of `public.orders` is `numeric(10,2)`")
            && plan.stderr.contains("declares `numeric(12,2)`"),
        "{}",
        plan.stderr
    );
}

#[test]
fn explain_agrees_with_what_users_get() {
    let (db, dir) = setup("explain");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let raw: std::collections::HashMap<String, Vec<String>> = db
        .query("SELECT id, email, card, amount, region, created_at, note FROM public.orders")
        .expect("raw rows")
        .lines()
        .map(|l| {
            let fields: Vec<String> = l.split('|').map(str::to_string).collect();
            (fields[0].clone(), fields)
        })
        .collect();
    let columns = [
        "id",
        "email",
        "card",
        "amount",
        "region",
        "created_at",
        "note",
    ];
    for user in ["ann", "bob", "cid", "zoe"] {
        let name = format!("{user}_{}", db.name);
        let run = ok(veil(
            &db,
            &["explain", path, "--user", &name, "--format", "json"],
        ));
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        let source = &json["users"][0]["sources"][0];
        let seen = rows_as(
            &db,
            user,
            "SELECT id, email, card, amount, region, created_at, note FROM governed.orders",
        );
        if source["access"]["granted"] == false {
            assert!(
                seen.is_empty(),
                "{user}: explain says no access, yet rows came back"
            );
            continue;
        }
        if source["filters"]
            .as_array()
            .expect("filters")
            .iter()
            .all(|f| f["applies"] == false)
        {
            assert_eq!(seen.len(), raw.len(), "{user}: exempt from every filter");
        } else {
            assert!(seen.len() <= raw.len());
        }
        for (i, column) in columns.iter().enumerate() {
            let view = source["columns"]
                .as_array()
                .expect("columns")
                .iter()
                .find(|c| c["column"] == *column)
                .expect("column in explain");
            let state = view["state"].as_str().unwrap_or("");
            let values: Vec<(&str, &str)> = seen
                .iter()
                .map(|row| {
                    let fields: Vec<&str> = row.split('|').collect();
                    let original = raw.get(fields[0]).map_or("", |r| r[i].as_str());
                    (fields[i], original)
                })
                .collect();
            match state {
                // The id is clear for everyone, so rows can be matched.
                "clear" => assert!(
                    values.iter().all(|(got, original)| got == original),
                    "{user}: explain says {column} is clear, got {values:?}"
                ),
                // A mask may leave some values as they were (a regex that
                // does not match); it must change at least one.
                "masked" => assert!(
                    values.iter().all(|(_, original)| original.is_empty())
                        || values.iter().any(|(got, original)| got != original),
                    "{user}: explain says {column} is masked, got {values:?}"
                ),
                _ => {}
            }
        }
    }
}

#[test]
fn connection_errors_are_clear_and_never_show_the_password() {
    let (db, dir) = setup("conn");
    let path = dir.path().to_str().expect("utf-8");
    let run = |url: String| {
        let run = Veil::new()
            .args(["plan", path])
            .env("VEIL_SHOP_URL", url)
            .run();
        (run.status, run.stderr)
    };
    let tls_on = db.query("SHOW ssl").expect("reads the setting").trim() == "on";
    let (status, stderr) = run(format!(
        "postgres://postgres:s3cr3t-pw@127.0.0.1:5432/{}?sslmode=require",
        db.name
    ));
    if tls_on {
        // `require` encrypts without checking the certificate, as libpq does.
        assert_eq!(status, 0, "{stderr}");
        // `verify-full` checks it: a self-signed certificate for another
        // host name is refused.
        let (status, stderr) = run(format!(
            "postgres://postgres:s3cr3t-pw@127.0.0.1:5432/{}?sslmode=verify-full",
            db.name
        ));
        assert_eq!(status, 1);
        assert!(
            stderr.contains("cannot connect to integration `shop`"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cr3t-pw"),
            "the password leaked: {stderr}"
        );
    } else {
        // A server without TLS: `require` fails rather than go plain.
        assert_eq!(status, 1);
        assert!(
            stderr.contains("cannot connect to integration `shop`"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cr3t-pw"),
            "the password leaked: {stderr}"
        );
    }
    // Nobody listens here.
    let (status, stderr) = run(format!(
        "postgres://postgres:s3cr3t-pw@127.0.0.1:1/{}",
        db.name
    ));
    assert_eq!(status, 1);
    assert!(
        stderr.contains("cannot connect to integration `shop`"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cr3t-pw"), "{stderr}");
    // The database in the URL must be the integration's.
    let (status, stderr) = run("postgres://postgres@127.0.0.1:5432/postgres".into());
    assert_eq!(status, 1);
    assert!(
        stderr.contains(&format!("governs `{}`", db.name)),
        "{stderr}"
    );
    // Without the variable, the error names it.
    let unset = Veil::new()
        .args(["plan", path])
        .env_remove("VEIL_SHOP_URL")
        .run();
    assert!(unset.stderr.contains("`VEIL_SHOP_URL` is not set"));
    // `disable` connects in plain text as asked.
    let (status, stderr) = run(format!(
        "postgres://postgres@127.0.0.1:5432/{}?sslmode=disable",
        db.name
    ));
    assert_eq!(status, 0, "{stderr}");
}

#[test]
fn profile_procedures_change_rows_and_the_next_plan_restores_them() {
    let (db, dir) = setup("procs");
    let path = dir.path().to_str().expect("utf-8");
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    let ann = format!("ann_{}", db.name);
    let zoe = format!("zoe_{}", db.name);
    // An identity tool makes ann a contractor and removes zoe.
    db.psql(&format!(
        "CALL immuta_procedures.upsert_profile({ann}, '[\"analysts\",\"contractors\"]', '[[\"region\",\"eu\"]]', '[]', NULL, '[]', '[\"shop.orders\"]');
         CALL immuta_procedures.delete_profile({zoe});",
        ann = literal(&ann),
        zoe = literal(&zoe),
    ))
    .expect("calls the procedures");
    assert_eq!(
        db.query(&format!(
            "SELECT name FROM immuta_system.profile_groups WHERE userid = {} ORDER BY name",
            literal(&ann)
        ))
        .expect("groups"),
        "analysts\ncontractors\n"
    );
    assert!(
        rows_as(&db, "zoe", ORDERS).is_empty(),
        "no profile row, no rows"
    );
    // identities.yaml is the source of truth: the plan shows both rows.
    let plan = veil(
        &db,
        &["plan", path, "--format", "json", "--detailed-exitcode"],
    );
    assert_eq!(plan.status, 2, "{}", plan.stderr);
    let json: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    let mut rows: Vec<(String, String)> = json["integrations"][0]["profile"]
        .as_array()
        .expect("profile")
        .iter()
        .map(|p| {
            (
                p["user"].as_str().unwrap_or("").to_string(),
                p["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (ann.clone(), "change".to_string()),
            (zoe.clone(), "add".to_string())
        ]
    );
    ok(veil(&db, &["apply", path, "--auto-approve"]));
    assert_eq!(
        rows_as(&db, "zoe", "SELECT count(*) FROM governed.orders"),
        ["3"]
    );
}

/// When only `identities.yaml` changed, the plan takes the deployed users
/// from the profile rows instead of loading the recorded files again: the
/// access impact is the same as the offline plan's against the checkout
/// that was applied.
#[test]
fn a_change_of_users_only_has_the_impact_of_the_files_it_changes() {
    let (db, dir) = setup("users_only");
    ok(veil(&db, &["apply", path(dir.path()), "--auto-approve"]));
    let base = Scratch::new("users_only_base");
    for name in ["shop.veil", "identities.yaml"] {
        std::fs::copy(dir.path().join(name), base.path().join(name)).expect("copies");
    }
    // ann loses a group, bob a region, cid leaves, dan arrives.
    let changed = IDENTITIES
        .replace("groups: [analysts, pii_readers]", "groups: [analysts]")
        .replace(
            "attributes: { region: [eu, us] }",
            "attributes: { region: us }",
        )
        .replace(
            "  cid:\n    groups: [analysts, contractors, global]\n",
            "  dan:\n    groups: [analysts, global]\n",
        );
    assert_ne!(changed, IDENTITIES);
    write(dir.path(), &db, "", &changed);
    let impact = |run: crate::common::Run| {
        let plan: serde_json::Value = serde_json::from_str(&ok(run).stdout).expect("JSON");
        plan["integrations"][0]["access_impact"].clone()
    };
    let online = impact(veil(&db, &["plan", path(dir.path()), "--format", "json"]));
    let offline = impact(veil(
        &db,
        &[
            "plan",
            "--offline",
            path(dir.path()),
            "--against",
            path(base.path()),
            "--format",
            "json",
        ],
    ));
    assert!(online.as_array().is_some_and(|a| a.len() >= 3), "{online}");
    assert_eq!(online, offline);
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("utf-8")
}
