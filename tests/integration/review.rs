//! What a reviewer and an operator are told: reasons, causes and outcomes
//! that point at what happened, on the real PostgreSQL server.

use crate::common::Veil;
use crate::common::{Database, Scratch, ok, veil_with};
use std::path::Path;

const POLICY: &str = r#"integration shop {
  dialect     = postgres
  database    = "@DB@"
  view_schema = "governed"
}

source shop.orders {
  table = public.orders
  columns {
    id    bigint
    email varchar(100) tags(pii)
  }
}

access shop.orders { allow group "analysts" }
mask tagged pii using hash except group "pii_readers"
"#;

fn identities(db: &Database) -> String {
    format!(
        "groups: [analysts, pii_readers]\nusers:\n  ann_{0}:\n    groups: [analysts]\n  bob_{0}:\n    groups: [analysts]\n",
        db.name
    )
}

struct Estate {
    db: Database,
    dir: Scratch,
}

impl Estate {
    fn new(tag: &str) -> Estate {
        let db = Database::create(tag);
        db.psql("CREATE TABLE public.orders (id bigint, email varchar(100))")
            .expect("creates the table");
        let dir = Scratch::new(tag);
        let estate = Estate { db, dir };
        estate.write(POLICY, &identities(&estate.db));
        estate
    }

    fn write(&self, policy: &str, identities: &str) {
        std::fs::write(
            self.dir.path().join("shop.veil"),
            policy.replace("@DB@", &self.db.name),
        )
        .expect("writes");
        std::fs::write(self.dir.path().join("identities.yaml"), identities).expect("writes");
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8")
    }

    fn veil(&self, args: &[&str]) -> crate::common::Run {
        self.veil_at(
            args,
            &format!("postgres://postgres@127.0.0.1:5432/{}", self.db.name),
        )
    }

    fn veil_at(&self, args: &[&str], url: &str) -> crate::common::Run {
        veil_with(args, &[("VEIL_SHOP_URL", url)])
    }
}

#[test]
fn a_recreate_says_why_and_views_others_made_stop_it() {
    let estate = Estate::new("review_recreate");
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    // Hashing the id makes it text for everyone: the view is created again.
    let hashed = format!("{POLICY}mask id on shop.orders using hash\n");
    estate.write(&hashed, &identities(&estate.db));
    let plan = ok(estate.veil(&["plan", estate.path()]));
    assert!(
        plan.stdout
            .contains("recreate view governed.orders (its columns change")
            && plan.stdout.contains("column id bigint → "),
        "{}",
        plan.stdout
    );
    // A view of somebody else's reads the governed view: the plan refuses
    // before anything runs.
    estate
        .db
        .psql("CREATE VIEW public.report AS SELECT id FROM governed.orders")
        .expect("creates a report");
    let plan = estate.veil(&["plan", estate.path(), "--error-format", "json"]);
    assert_eq!(plan.status, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr
            .contains("is read by `public.report`, which veil did not create"),
        "{}",
        plan.stderr
    );
    estate
        .db
        .psql("DROP VIEW public.report")
        .expect("drops the report");
}

#[test]
fn a_stale_plan_names_what_moved() {
    let estate = Estate::new("review_stale");
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    estate.write(
        POLICY,
        &identities(&estate.db).replace(
            "    groups: [analysts]\n  bob",
            "    groups: [analysts, pii_readers]\n  bob",
        ),
    );
    let saved = estate.dir.path().join("saved.plan");
    let saved = saved.to_str().expect("utf-8");
    ok(estate.veil(&["plan", estate.path(), "--out", saved]));
    estate
        .db
        .psql(&format!(
            "INSERT INTO immuta_system.profile_groups VALUES ('bob_{}', 'pii_readers')",
            estate.db.name
        ))
        .expect("edits by hand");
    let run = estate.veil(&["apply", saved, "--auto-approve"]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("the profile side-table rows moved"),
        "{}",
        run.stderr
    );
}

#[test]
fn connection_errors_keep_their_cause() {
    let estate = Estate::new("review_connect");
    let missing = format!("postgres://postgres@127.0.0.1:5432/{}", estate.db.name);
    // A database of that name that does not exist (the URL must name the
    // integration's database, so the integration names a missing one).
    estate.write(
        &POLICY.replace("@DB@", &format!("{}_gone", estate.db.name)),
        &identities(&estate.db),
    );
    let run = estate.veil_at(
        &["plan", estate.path(), "--error-format", "json"],
        &format!("{missing}_gone"),
    );
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("does not exist"),
        "the server's message: {}",
        run.stderr
    );
    // A port nobody listens on.
    estate.write(POLICY, &identities(&estate.db));
    let run = estate.veil_at(
        &["plan", estate.path(), "--error-format", "json"],
        &format!("postgres://postgres@127.0.0.1:1/{}", estate.db.name),
    );
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.to_ascii_lowercase().contains("refused"),
        "the network's message: {}",
        run.stderr
    );
}

#[test]
fn a_missing_column_points_at_its_declaration() {
    let estate = Estate::new("review_column");
    estate.write(
        &POLICY.replace(
            "    email varchar(100) tags(pii)\n",
            "    email varchar(100) tags(pii)\n    phone varchar(20)\n",
        ),
        &identities(&estate.db),
    );
    let run = estate.veil(&["plan", estate.path(), "--error-format", "json"]);
    assert_eq!(run.status, 1);
    let finding: serde_json::Value = run
        .stderr
        .lines()
        .find(|l| l.contains("has no column `phone`"))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        finding["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("shop.veil")
            && finding["line"] == 12,
        "{finding}"
    );
}

#[test]
fn concurrent_first_applies_are_serialised() {
    let estate = Estate::new("review_race");
    let path = estate.path().to_string();
    let url = estate.db.url();
    let spawn = || {
        Veil::new()
            .args(["apply", path.as_str(), "--auto-approve"])
            .env("VEIL_SHOP_URL", &url)
            .run()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().expect("joins"), b.join().expect("joins"))
    });
    let outcomes = [&a, &b];
    let succeeded = outcomes.iter().filter(|o| o.status == 0).count();
    assert!(succeeded >= 1, "one of them applies");
    for o in outcomes.iter().filter(|o| o.status != 0) {
        let stderr = &o.stderr;
        assert!(
            stderr.contains("changed since the plan was made")
                || stderr.contains("another apply is running"),
            "the other says why: {stderr}"
        );
        assert!(!stderr.contains("duplicate key"), "{stderr}");
    }
    let plan = estate.veil(&["plan", estate.path(), "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
}

#[test]
fn a_lock_timeout_of_zero_is_refused() {
    let run = veil_with(&["apply", ".", "--lock-timeout", "0s"], &[]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("would wait forever"), "{}", run.stderr);
}

#[test]
fn profile_changes_show_their_values_and_no_impact_says_none() {
    let estate = Estate::new("review_profile");
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    let plan = ok(estate.veil(&["plan", estate.path()]));
    assert!(
        plan.stdout.contains("access impact: none"),
        "{}",
        plan.stdout
    );
    estate.write(
        POLICY,
        &identities(&estate.db).replace(
            "    groups: [analysts]\n  bob",
            "    groups: [analysts, pii_readers]\n  bob",
        ),
    );
    let plan = ok(estate.veil(&["plan", estate.path()]));
    assert!(
        plan.stdout.contains(&format!(
            "~ change ann_{}: groups + pii_readers",
            estate.db.name
        )),
        "{}",
        plan.stdout
    );
    let _ = Path::new(estate.path());
}

#[test]
fn a_dropped_view_schema_is_made_again() {
    let estate = Estate::new("review_noschema");
    estate.db.role(&format!("ann_{}", estate.db.name));
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    estate
        .db
        .psql("DROP SCHEMA governed CASCADE")
        .expect("drops the schema");
    let plan = ok(estate.veil(&["plan", estate.path()]));
    assert!(plan.stdout.contains("governed"), "{}", plan.stdout);
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    let seen = estate
        .db
        .query_as(
            &format!("ann_{}", estate.db.name),
            "SELECT count(*) FROM governed.orders",
        )
        .expect("the view is back");
    assert_eq!(seen.trim(), "0");
    let again = ok(estate.veil(&["plan", estate.path()]));
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[test]
fn a_table_in_a_views_place_is_refused_with_the_fix() {
    let estate = Estate::new("review_squat");
    // A view whose qualified name is longer than a `name` holds.
    let long = "orders_seen_through_a_view_with_a_name_of_sixty_characters_";
    let policy = format!(
        "{POLICY}source shop.long {{\n  table = public.orders\n  view = \"{long}\"\n  columns {{\n    id bigint\n  }}\n}}\naccess shop.long {{ allow everyone }}\n"
    );
    estate.write(&policy, &identities(&estate.db));
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    estate
        .db
        .psql(&format!(
            "DROP VIEW governed.{long}; CREATE TABLE governed.{long} (id bigint)"
        ))
        .expect("puts a table there");
    for args in [
        vec!["plan", estate.path()],
        vec!["apply", estate.path(), "--auto-approve"],
    ] {
        let run = estate.veil(&args);
        assert_ne!(run.status, 0, "{}", run.stdout);
        assert!(
            run.stderr.contains(&format!("governed.{long}")) && run.stderr.contains("is a table"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("DROP TABLE"), "{}", run.stderr);
    }
}

#[test]
fn lost_state_is_diagnosed_and_recovered_keeping_the_key() {
    let estate = Estate::new("review_nostate");
    estate.db.role(&format!("ann_{}", estate.db.name));
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    estate
        .db
        .psql("INSERT INTO public.orders VALUES (1, 'ann@example.com')")
        .expect("adds a row");
    let ann = format!("ann_{}", estate.db.name);
    let hashed = |db: &Database| {
        db.query_as(&ann, "SELECT email FROM governed.orders")
            .expect("reads the view")
    };
    let before = hashed(&estate.db);
    // The state is lost, and somebody granted the key to everyone.
    estate
        .db
        .psql("DROP TABLE immuta_system.state CASCADE; GRANT SELECT ON immuta_system.hash_key TO PUBLIC")
        .expect("drops the state");
    // Plan and apply name the loss and the way back, and never advise
    // dropping the schema that holds the key.
    for args in [
        vec!["plan", estate.path()],
        vec!["apply", estate.path(), "--auto-approve"],
    ] {
        let run = estate.veil(&args);
        assert_ne!(run.status, 0, "{}", run.stdout);
        assert!(run.stderr.contains("state"), "{}", run.stderr);
        assert!(run.stderr.contains("--recover"), "{}", run.stderr);
        assert!(!run.stderr.contains("DROP SCHEMA"), "{}", run.stderr);
    }
    // The recovery, reviewed as a saved plan and applied from it.
    let saved = estate.dir.path().join("recovery.plan");
    let saved = saved.to_str().expect("utf-8");
    let plan = ok(estate.veil(&["plan", estate.path(), "--recover", "--out", saved]));
    assert!(plan.stdout.contains("recovery"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("could have read or replaced the key"),
        "the grant on the key is named: {}",
        plan.stdout
    );
    ok(estate.veil(&["apply", saved, "--auto-approve"]));
    assert_eq!(hashed(&estate.db), before, "the key was kept");
    let granted = estate
        .db
        .query(&format!(
            "SELECT has_table_privilege('{ann}', 'immuta_system.hash_key', 'SELECT')"
        ))
        .expect("reads the grant");
    assert_eq!(granted.trim(), "f", "the grant on the key is gone");
    let again = ok(estate.veil(&["plan", estate.path()]));
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
    // Nothing is left to recover.
    let run = estate.veil(&["apply", estate.path(), "--recover", "--auto-approve"]);
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("nothing to recover"), "{}", run.stderr);
}

/// A plan reads the recorded SQL of what it changes only, and diffs
/// against it; a recorded checksum altered by hand makes it read the text,
/// which is the compiled SQL: no change.
#[test]
fn a_plan_diffs_what_changes_against_its_recorded_sql() {
    let estate = Estate::new("review_recorded_sql");
    ok(estate.veil(&["apply", estate.path(), "--auto-approve"]));
    estate
        .db
        .psql(
            "UPDATE immuta_system.state SET checksum = repeat('0', 64) WHERE object_kind = 'view'",
        )
        .expect("alters the checksum");
    let plan = estate.veil(&["plan", estate.path(), "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
    estate.write(
        &POLICY.replace("using hash", "using null"),
        &identities(&estate.db),
    );
    let plan = ok(estate.veil(&["plan", estate.path()]));
    let removed = r#"-    WHEN (NOT me."d1") THEN CAST("immuta_functions"."f_veil_hash"("#;
    let added = r#"+    WHEN (NOT me."d1") THEN CAST(NULL AS varchar(100))"#;
    assert!(
        plan.stdout.contains(removed) && plan.stdout.contains(added),
        "{}",
        plan.stdout
    );
}
