//! One project, several deployments: `veil.yaml` environments change each
//! integration's database and connection; every plan, saved plan and
//! deployment names its environment, and none is applied to another's.

use crate::common::{Database, Scratch, Veil};

const POLICY: &str = r#"integration app {
  dialect     = postgres
  database    = "@DB@"
  view_schema = "governed"
  connection  = env("VEIL_APP_URL")
}

source crm.people {
  table = public.people
  columns {
    id    integer
    email text
  }
}

access crm.people { allow everyone }
mask email on crm.people using hash
"#;

/// The table the sources govern, with one row.
fn people(db: &Database) {
    db.psql("CREATE TABLE public.people (id integer, email text); INSERT INTO public.people VALUES (1, 'a@x.io');")
        .expect("creates the table");
}

fn project(db: &Database, staging: &Database) -> Scratch {
    let dir = Scratch::new("environments");
    std::fs::write(dir.path().join("p.veil"), POLICY.replace("@DB@", &db.name)).expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), "users:\n  ann: {}\n").expect("writes");
    std::fs::write(
        dir.path().join("veil.yaml"),
        format!(
            "environments:\n  staging:\n    app: {{ database: {}, connection: VEIL_STAGING_URL }}\n  production:\n    app: {{ connection: VEIL_PROD_URL }}\n",
            staging.name
        ),
    )
    .expect("writes");
    dir
}

#[test]
fn each_environment_deploys_to_its_own_database_and_no_other() {
    let (prod, staging) = (
        Database::create("env_prod"),
        Database::create("env_staging"),
    );
    for db in [&prod, &staging] {
        people(db);
    }
    let dir = project(&prod, &staging);
    let path = dir.path().to_str().expect("utf-8");
    let veil = || {
        Veil::new()
            .env("VEIL_STAGING_URL", staging.url())
            .env("VEIL_PROD_URL", prod.url())
            .env_remove("VEIL_APP_URL")
    };
    // A project with environments is deployed as one of them.
    let run = veil().args(["plan", path]).fails();
    assert!(
        run.stderr.contains("project::environment"),
        "{}",
        run.stderr
    );
    let run = veil()
        .args(["plan", path, "--environment", "stagign"])
        .fails();
    assert!(
        run.stderr.contains("did you mean `staging`"),
        "{}",
        run.stderr
    );
    // Offline plans and compile need none.
    veil().args(["plan", "--offline", path]).succeeds();
    // Staging: its own database, named in the plan.
    let run = veil()
        .args(["apply", path, "--environment", "staging", "--auto-approve"])
        .succeeds();
    assert!(
        run.stdout.contains("environment: staging"),
        "{}",
        run.stdout
    );
    assert!(
        staging
            .query("SELECT count(*) FROM governed.people")
            .is_ok(),
        "staging has the view"
    );
    assert!(
        prod.query("SELECT count(*) FROM governed.people").is_err(),
        "production is untouched"
    );
    // Production's URL pointed at staging's database by mistake: refused,
    // by the database's name, and where the names agree (another server's
    // database of the same name) by the environment the database was
    // applied as.
    let run = veil()
        .env("VEIL_PROD_URL", staging.url())
        .args(["plan", path, "-e", "production"])
        .fails();
    assert!(run.stderr.contains("db::wrong_database"), "{}", run.stderr);
    let settings = dir.path().join("veil.yaml");
    let good = std::fs::read_to_string(&settings).expect("reads");
    let same_name = good.replace(
        "production:\n    app: { connection: VEIL_PROD_URL }",
        &format!(
            "production:\n    app: {{ database: {}, connection: VEIL_PROD_URL }}",
            staging.name
        ),
    );
    assert_ne!(same_name, good);
    std::fs::write(&settings, same_name).expect("writes");
    let run = veil()
        .env("VEIL_PROD_URL", staging.url())
        .args(["plan", path, "-e", "production"])
        .fails();
    assert!(
        run.stderr.contains("was last applied as environment") && run.stderr.contains("`staging`"),
        "{}",
        run.stderr
    );
    std::fs::write(&settings, good).expect("writes");
    // A plan file names its environment and is refused by another.
    let saved = dir.path().join("prod.plan.json");
    let saved = saved.to_str().expect("utf-8");
    veil()
        .args(["plan", path, "-e", "production", "--out", saved])
        .succeeds();
    let shown = veil().args(["show", saved]).succeeds();
    assert!(
        shown.stdout.contains("environment: production"),
        "{}",
        shown.stdout
    );
    let json = veil().args(["show", saved, "--format", "json"]).succeeds();
    assert!(
        json.stdout.contains("\"environment\": \"production\""),
        "{}",
        json.stdout
    );
    let run = veil()
        .args(["apply", saved, "--environment", "staging", "--auto-approve"])
        .fails();
    assert!(
        run.stderr.contains("was made for environment"),
        "{}",
        run.stderr
    );
    // Applied as it was made: to production.
    veil().args(["apply", saved, "--auto-approve"]).succeeds();
    assert!(
        prod.query("SELECT count(*) FROM governed.people").is_ok(),
        "production has the view"
    );
    // Each deployment is up to date in its own environment.
    for environment in ["staging", "production"] {
        let run = veil()
            .args(["plan", path, "-e", environment, "--detailed-exitcode"])
            .status(0);
        assert!(
            run.stdout.contains("No changes"),
            "{environment}: {}",
            run.stdout
        );
    }
}

#[test]
fn an_environment_names_only_integrations_the_project_has() {
    let dir = Scratch::new("environments-invalid");
    std::fs::write(dir.path().join("p.veil"), POLICY.replace("@DB@", "db")).expect("writes");
    std::fs::write(dir.path().join("identities.yaml"), "users:\n  ann: {}\n").expect("writes");
    std::fs::write(
        dir.path().join("veil.yaml"),
        "environments:\n  staging:\n    ap: { database: db_staging }\n",
    )
    .expect("writes");
    let run = Veil::new()
        .args(["validate", dir.path().to_str().expect("utf-8")])
        .fails();
    assert!(run.stderr.contains("integration `ap`"), "{}", run.stderr);
    assert!(run.stderr.contains("did you mean `app`"), "{}", run.stderr);
    // A mistake in the file's shape points at the veil.yaml reference.
    std::fs::write(
        dir.path().join("veil.yaml"),
        "environments:\n  staging: [1, 2]\n",
    )
    .expect("writes");
    let run = Veil::new()
        .args(["validate", dir.path().to_str().expect("utf-8")])
        .fails();
    assert!(run.stderr.contains("project::settings"), "{}", run.stderr);
    assert!(run.stderr.contains("veil.yaml reference"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("identities.yaml reference"),
        "{}",
        run.stderr
    );
}

/// Two integrations in one apply: each plans under its own lock, taken
/// before anything is applied, so that an integration another apply holds
/// stops the whole apply with nothing changed anywhere (not the first
/// applied and the second refused); free, both are applied in turn.
#[test]
fn one_apply_of_two_integrations_takes_both_locks_before_changing_either() {
    let (left, right) = (Database::create("two_left"), Database::create("two_right"));
    for db in [&left, &right] {
        people(db);
    }
    let dir = Scratch::new("two_integrations");
    let policy = |method: &str| {
        let one = POLICY.replace("using hash", &format!("using {method}"));
        one.replace("@DB@", &left.name).replace(
            "source crm.people {\n",
            "source crm.people {\n  integration = app\n",
        ) + &one
            .replace("integration app", "integration other")
            .replace("@DB@", &right.name)
            .replace("VEIL_APP_URL", "VEIL_OTHER_URL")
            .replace(
                "source crm.people {\n",
                "source crm.people {\n  integration = other\n",
            )
            .replace("crm.people", "crm2.people")
    };
    std::fs::write(dir.path().join("identities.yaml"), "users:\n  ann: {}\n").expect("writes");
    std::fs::write(dir.path().join("p.veil"), policy("hash")).expect("writes");
    let path = dir.path().to_str().expect("utf-8");
    let veil = || {
        Veil::new()
            .env("VEIL_APP_URL", left.url())
            .env("VEIL_OTHER_URL", right.url())
    };
    let run = veil().args(["apply", path, "--auto-approve"]).succeeds();
    assert!(
        run.stdout.contains("Applied: app, other."),
        "{}",
        run.stdout
    );
    veil()
        .args(["plan", path, "--detailed-exitcode"])
        .succeeds();

    // A change to both, while another session holds the second's lock.
    std::fs::write(dir.path().join("p.veil"), policy("null")).expect("writes");
    let mut holder = right.hold_state_lock("", 4);
    let run = veil()
        .args(["apply", path, "--auto-approve", "--lock-timeout", "1s"])
        .fails();
    assert!(
        holder.wait().expect("psql ends").success(),
        "the holder commits"
    );
    assert!(
        run.stderr.contains("another apply is running"),
        "{}",
        run.stderr
    );
    for (db, name) in [(&left, "app"), (&right, "other")] {
        let view = db
            .psql("SELECT pg_catalog.pg_get_viewdef('governed.people'::regclass)")
            .expect("reads the view");
        assert!(view.contains("f_veil_hash"), "{name} was changed: {view}");
    }
    // Free again, one apply does both.
    let run = veil().args(["apply", path, "--auto-approve"]).succeeds();
    assert!(
        run.stdout.contains("Applied: app, other."),
        "{}",
        run.stdout
    );
    veil()
        .args(["plan", path, "--detailed-exitcode"])
        .succeeds();
}
