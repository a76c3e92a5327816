//! What users see, on both dialects' SQL: the same project applied to
//! PostgreSQL by `veil apply`, and its Redshift script run on the Redshift
//! emulation (`crate::common::redshift`), queried as the same users, must give
//! the same rows, and the rows the policies mean.

use crate::common::redshift::{emulate, run_script};
use crate::common::{Database, Scratch, literal, ok, veil_with};
use std::collections::BTreeMap;
use std::path::Path;

const POLICY: &str = r##"integration shop {
  dialect     = @DIALECT@
  database    = "@DB@"
  view_schema = "governed"
}

source shop.orders {
  table      = public.orders
  event_time = created_at
  columns {
    id           bigint
    email        varchar(100) tags(pii)
    card         varchar(16)
    amount       numeric(10,2)
    region       varchar(8)
    created_at   timestamp
    note         varchar(200)
    name         varchar(50)
    secret       varchar(20)
    `odd "name"` varchar(20)
  }
}

source shop.events {
  table = public.events
  columns {
    id   bigint
    kind varchar(20)
  }
}

source shop.audits {
  table = public.audits
  columns {
    id   bigint
    what varchar(20)
  }
}

source shop.archive {
  table      = public.orders
  view       = archive
  event_time = created_at
  columns {
    id         bigint
    created_at timestamp
  }
}

source shop.debug {
  table = public.events
  view  = debug
  columns {
    id   bigint
    kind varchar(20)
  }
}

source shop.stamps {
  table = public.stamps
  columns {
    id bigint
    d  date
    ts timestamp
    tz timestamptz
    f8 double precision
  }
}

access shop.archive { allow group "analysts" }
access shop.stamps { allow group "analysts" }
access shop.debug { allow group "analysts" }

access shop.orders {
  allow group "analysts"
  allow user "@ZOE@"
  allow approved
  require not group "contractors"
}
access shop.events { allow everyone }
access shop.audits { allow attribute "clearance" = "high" or group "auditors" }

mask tagged pii using hash except group "pii_readers"
mask card on shop.orders using show_last(4) for not group "auditors"
mask name on shop.orders using show_first(2)
mask amount on shop.orders using round(100) when region = "us"
mask note on shop.orders using regex "[0-9]+" "#"
mask secret on shop.orders using constant "hidden" except user "@ZOE@"
mask created_at on shop.orders using truncate(month)
mask `odd "name"` on shop.orders using null for group "analysts"
mask secret on shop.orders using none for group "auditors" priority 5
// Text for everyone, as pii readers see hashes: dates, times and floats
// shown as text, whatever the session's settings.
mask d on shop.stamps using truncate(month)
mask ts on shop.stamps using truncate(hour)
mask tz on shop.stamps using truncate(day)
mask d, ts, tz, f8 on shop.stamps using hash for group "pii_readers" priority 1
// A NULL shown as text, among the branches of a hashed column.
mask d, f8 on shop.stamps using null for group "contractors" priority 2

filter shop.orders where region in user.attribute("region") except group "global"
filter shop.orders newer than 365 days
filter shop.events sample 50 percent by id
filter shop.events where kind != "internal" except purpose "debugging"
filter shop.audits never except group "auditors"
filter shop.archive older than 30 days
filter shop.debug limit to purpose "debugging"
filter shop.debug limit to any purpose
"##;

const IDENTITIES: &str = r#"groups: [analysts, pii_readers, contractors, global, auditors]
attributes:
  region: [eu, us]
  clearance: [high]
purposes:
  debugging: "Find the bug"
projects:
  fix: { purposes: [debugging] }
users:
  @ANN@:
    groups: [analysts, pii_readers]
    attributes: { region: eu }
  @BOB@:
    groups: [analysts]
    attributes: { region: [eu, us], clearance: high }
    projects: [fix]
    current_project: fix
    acknowledged: [debugging]
  @CID@:
    groups: [analysts, contractors, global]
  @ZOE@:
    groups: [global, auditors]
  @PAT@:
    attributes: { region: us }
    approved: [shop.orders]
"#;

/// The users, by their short names; the roles carry the database's name
/// and one a quote, so tests side by side never clash and names are hostile.
const USERS: [&str; 6] = ["ann", "bob", "cid", "zoe", "pat", "eve"];

fn role(db: &Database, user: &str) -> String {
    match user {
        "pat" => format!("o'pat \"{}\"", db.name),
        _ => format!("{user}_{}", db.name),
    }
}

fn write(dir: &Path, db: &Database, dialect: &str) {
    let mut policy = POLICY
        .replace("@DIALECT@", dialect)
        .replace("@DB@", &db.name);
    let mut identities = IDENTITIES.to_string();
    for user in USERS {
        let name = role(db, user);
        let marker = format!("@{}@", user.to_ascii_uppercase());
        let quoted = serde_json::to_string(&name).expect("json");
        policy = policy.replace(&marker, &name.replace('\\', "\\\\").replace('"', "\\\""));
        identities = identities.replace(&marker, &quoted);
    }
    std::fs::write(dir.join("shop.veil"), policy).expect("writes the policy");
    std::fs::write(dir.join("identities.yaml"), identities).expect("writes the identities");
}

fn tables(db: &Database) {
    db.psql(
        "CREATE TABLE public.orders (id bigint, email varchar(100), card varchar(16), amount numeric(10,2),
             region varchar(8), created_at timestamp, note varchar(200), name varchar(50), secret varchar(20),
             \"odd \"\"name\"\"\" varchar(20));
         INSERT INTO public.orders VALUES
           (1, 'ann@example.com', '4111111111111111', 1234.56, 'eu', (now() AT TIME ZONE 'UTC') - INTERVAL '3 days', 'call 555 1234', 'Annabel', 's1', 'odd1'),
           (2, 'bob@example.com', '5500000000000004', 149.99, 'us', (now() AT TIME ZONE 'UTC') - INTERVAL '40 days', 'no digits', 'Bo', 's2', 'odd2'),
           (3, 'old@example.com', '340000000000009', 10.00, 'eu', (now() AT TIME ZONE 'UTC') - INTERVAL '800 days', NULL, 'Olga', 's3', 'odd3'),
           (4, 'nul@example.com', '123', NULL, NULL, (now() AT TIME ZONE 'UTC') - INTERVAL '1 day', NULL, 'X', NULL, NULL);
         CREATE TABLE public.events (id bigint, kind varchar(20));
         INSERT INTO public.events SELECT g, CASE WHEN g % 5 = 0 THEN 'internal' ELSE 'click' END FROM generate_series(1, 200) g;
         CREATE TABLE public.audits (id bigint, what varchar(20));
         INSERT INTO public.audits VALUES (1, 'checked'), (2, 'signed');
         CREATE TABLE public.stamps (id bigint, d date, ts timestamp, tz timestamptz, f8 double precision);
         INSERT INTO public.stamps VALUES
           (1, '2026-11-30', '2026-11-30 13:45:10.25', '2026-11-30 23:30:00+00', 0.25),
           (2, '1999-01-01', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00.5+00', -12000),
           (3, NULL, NULL, NULL, NULL);",
    )
    .expect("creates the tables");
    for user in USERS {
        db.role(&role(db, user));
    }
}

const QUERIES: [(&str, &str); 8] = [
    (
        "stamps",
        "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'XYZ+167'; SET extra_float_digits = -10;
         SELECT id, d, ts, tz, f8 FROM governed.stamps ORDER BY id",
    ),
    ("archive", "SELECT id FROM governed.archive ORDER BY id"),
    ("debug", "SELECT count(*) FROM governed.debug"),
    (
        "orders",
        "SELECT id, email, card, amount, region, created_at, note, name, secret, \"odd \"\"name\"\"\" FROM governed.orders ORDER BY id",
    ),
    (
        "events",
        "SELECT count(*), min(id), max(id), count(DISTINCT kind) FROM governed.events",
    ),
    ("audits", "SELECT id, what FROM governed.audits ORDER BY id"),
    ("profile", "SELECT count(*) FROM immuta_system.user_profile"),
    (
        "valid",
        "SELECT source FROM immuta_system.valid_tables ORDER BY source",
    ),
];

/// What each user sees of each query, by (user, query).
type Seen = BTreeMap<(String, String), String>;

/// What every user sees, hashes written as `<hash>` (each database has its
/// own key).
fn seen(db: &Database) -> Seen {
    let mut out = BTreeMap::new();
    for user in USERS {
        for (name, sql) in QUERIES {
            let rows = db
                .query_as(&role(db, user), sql)
                .unwrap_or_else(|e| panic!("{user} {name}: {e}"));
            let rows: String = rows
                .split_inclusive(['|', '\n'])
                .map(|cell| {
                    let hex = cell.trim_end_matches(['|', '\n']);
                    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        cell.replace(hex, "<hash>")
                    } else {
                        cell.to_string()
                    }
                })
                .collect();
            out.insert((user.to_string(), name.to_string()), rows);
        }
    }
    out
}

/// The profile procedures: bob loses his groups, eve gains analysts.
fn call_procedures(db: &Database) {
    db.psql(&format!(
        "CALL immuta_procedures.upsert_profile({}, '[\"analysts\"]', '[[\"region\",\"us\"]]', '[]', NULL, '[]', '[\"shop.orders\"]');
         CALL immuta_procedures.delete_profile({});",
        literal(&role(db, "eve")),
        literal(&role(db, "bob"))
    ))
    .expect("calls the procedures");
}

fn postgres() -> (Seen, Seen) {
    let db = Database::create("sem_pg");
    tables(&db);
    let dir = Scratch::new("sem_pg");
    write(dir.path(), &db, "postgres");
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    ok(veil_with(
        &[
            "apply",
            dir.path().to_str().expect("utf-8"),
            "--auto-approve",
        ],
        &[("VEIL_SHOP_URL", url.as_str())],
    ));
    let before = seen(&db);
    call_procedures(&db);
    (before, seen(&db))
}

fn redshift() -> (Seen, Seen) {
    let db = Database::create("sem_rs");
    emulate(&db);
    tables(&db);
    let dir = Scratch::new("sem_rs");
    write(dir.path(), &db, "redshift");
    let url = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    let script = ok(veil_with(
        &[
            "plan",
            dir.path().to_str().expect("utf-8"),
            "--format",
            "sql",
        ],
        &[("VEIL_SHOP_URL", url.as_str())],
    ))
    .stdout;
    let run = run_script(&db, &script);
    assert!(
        run.ok,
        "the Redshift script fails on the emulation:\n{}",
        run.stderr
    );
    let before = seen(&db);
    call_procedures(&db);
    (before, seen(&db))
}

#[test]
fn both_dialects_show_every_user_the_same_rows() {
    let (pg, pg_after) = postgres();
    let (rs, rs_after) = redshift();
    // The same rows on both, user by user (names carry each database's
    // name: compare by short name).
    let short = |rows: &Seen| -> Seen {
        rows.iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                for part in v.clone().split(|c: char| !c.is_alphanumeric() && c != '_') {
                    if part.starts_with("veil_sem_") {
                        v = v.replace(part, "DB");
                    }
                }
                (k.clone(), v)
            })
            .collect()
    };
    assert_eq!(short(&pg), short(&rs), "before the procedures");
    assert_eq!(short(&pg_after), short(&rs_after), "after the procedures");

    // And the rows the policies mean (the same on both, as just checked).
    let at = |user: &str, what: &str| pg[&(user.to_string(), what.to_string())].clone();
    let month = |days: i64| {
        let d = chrono_month(days);
        format!("{d} 00:00:00")
    };
    // ann: pii clear, eu rows within a year, card's last four, name's first
    // two, digits of notes hidden, the odd column NULL for analysts.
    assert_eq!(
        at("ann", "orders"),
        format!(
            "1|ann@example.com|************1111|1234.56|eu|{}|call # #|An*****|hidden|\n",
            month(3)
        )
    );
    // Dates, times and floats as text: ISO 8601, the zone's wall clock and
    // every digit, whatever the session's DateStyle, TimeZone and
    // extra_float_digits.
    assert_eq!(
        at("bob", "stamps"),
        "1|2026-11-01|2026-11-30 13:00:00|2026-11-30 00:00:00|0.25\n\
         2|1999-01-01|1999-12-31 23:00:00|2000-01-01 00:00:00|-12000\n\
         3||||\n"
    );
    // cid, a contractor: the date and the float NULL, the rest as bob
    // sees it.
    assert_eq!(
        at("cid", "stamps"),
        "1||2026-11-30 13:00:00|2026-11-30 00:00:00|\n\
         2||1999-12-31 23:00:00|2000-01-01 00:00:00|\n\
         3||||\n"
    );
    // bob: eu and us; emails hashed; us amounts rounded.
    let bob = at("bob", "orders");
    assert!(
        bob.contains("2|<hash>|************0004|100.00|us|"),
        "{bob}"
    );
    // cid is a contractor; eve has no profile row.
    assert_eq!(at("cid", "orders"), "");
    assert_eq!(at("eve", "orders"), "");
    assert_eq!(at("eve", "profile"), "0\n");
    // zoe: by name, global, an auditor: the secret shown by `none`.
    let zoe = at("zoe", "orders");
    assert!(zoe.contains("|s1|odd1"), "{zoe}");
    // pat: approved for orders; us only, no exemption.
    assert!(
        at("pat", "orders").starts_with("2|<hash>|"),
        "{}",
        at("pat", "orders")
    );
    // Audits: never, except auditors; zoe is one, bob (clearance high)
    // has access but the filter hides everything from him.
    assert_eq!(at("zoe", "audits"), "1|checked\n2|signed\n");
    assert_eq!(at("bob", "audits"), "");
    // Events: a stable half, internal ones only for bob (debugging).
    let events = |user: &str| at(user, "events");
    assert_eq!(events("ann"), events("zoe"), "the same sample for everyone");
    assert_ne!(events("ann"), events("bob"), "the purpose lifts a filter");
    // Older than 30 days: the 40- and 800-day-old orders; a purpose opens
    // the debug view to bob alone.
    assert_eq!(at("ann", "archive"), "2\n3\n");
    assert_eq!(at("bob", "debug"), "200\n");
    assert_eq!(at("ann", "debug"), "0\n");
    // Valid tables, derived in the database from the access rules: by
    // group, by name, by attribute, by approval; a contractor loses orders
    // (`require`), and no profile row means none at all.
    let valid = |seen: &Seen, user: &str| -> Vec<String> {
        seen[&(user.to_string(), "valid".to_string())]
            .lines()
            .map(|l| l.to_string())
            .collect()
    };
    let analyst = [
        "shop.archive",
        "shop.debug",
        "shop.events",
        "shop.orders",
        "shop.stamps",
    ];
    assert_eq!(valid(&pg, "ann"), analyst);
    assert_eq!(
        valid(&pg, "bob"),
        [
            "shop.archive",
            "shop.audits",
            "shop.debug",
            "shop.events",
            "shop.orders",
            "shop.stamps"
        ]
    );
    assert_eq!(
        valid(&pg, "cid"),
        ["shop.archive", "shop.debug", "shop.events", "shop.stamps"]
    );
    assert_eq!(
        valid(&pg, "zoe"),
        ["shop.audits", "shop.events", "shop.orders"]
    );
    assert_eq!(valid(&pg, "pat"), ["shop.events", "shop.orders"]);
    assert!(valid(&pg, "eve").is_empty());
    // After the procedures: eve is an analyst in us, bob has no profile.
    let after = |user: &str| pg_after[&(user.to_string(), "orders".to_string())].clone();
    assert!(after("eve").starts_with("2|<hash>|"), "{}", after("eve"));
    assert_eq!(after("bob"), "");
    assert_eq!(valid(&pg_after, "eve"), analyst);
    assert!(valid(&pg_after, "bob").is_empty());
}

/// The first day of the month `days` ago, in UTC, as PostgreSQL prints it.
fn chrono_month(days: i64) -> String {
    let db = Database::create("sem_month");
    db.query(&format!(
        "SELECT CAST(date_trunc('month', (now() AT TIME ZONE 'UTC') - INTERVAL '{days} days') AS date)"
    ))
    .expect("computes the month")
    .trim()
    .to_string()
}
