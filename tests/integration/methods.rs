//! Every mask method, exemption form, filter kind and allow form, applied
//! with `veil apply` to PostgreSQL and checked as the users see it.

use crate::common::Veil;
use crate::common::{Database, Scratch};

const TABLE: &str = "CREATE TABLE public.t (
    id bigint, c_hash text, c_null text, c_const varchar(10), c_regex text, c_round integer,
    c_trunc timestamp, c_first text, c_last text, c_none text, c_when text, region varchar(8),
    ts timestamp);
  INSERT INTO public.t
  SELECT g, 'h' || g, 'n' || g, 'c' || g, 'r' || g || '-99', g * 17, TIMESTAMP '2026-05-17 13:45:00',
         'first' || g, 'last' || g, 'none' || g, 'when' || g,
         CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END,
         CASE WHEN g <= 8 THEN LOCALTIMESTAMP - INTERVAL '1 hour' ELSE LOCALTIMESTAMP - INTERVAL '400 days' END
  FROM generate_series(1, 10) g;";

fn policy(db: &str, s: &str) -> String {
    format!(
        r##"integration it {{
  dialect     = postgres
  database    = "{db}"
  view_schema = "governed"
}}

source m.t {{
  table      = public.t
  view       = masked
  event_time = ts
  columns {{
    id      bigint
    c_hash  text tags(pii)
    c_null  text
    c_const varchar(10)
    c_regex text
    c_round integer
    c_trunc timestamp
    c_first text
    c_last  text
    c_none  text tags(pii)
    c_when  text
    region  varchar(8)
    ts      timestamp
  }}
}}

source f.t {{
  table      = public.t
  view       = filtered
  event_time = ts
  columns {{
    id     bigint
    region varchar(8)
    ts     timestamp
  }}
}}

access m.t {{
  allow group "a{s}"
  allow user "u2{s}"
  allow attribute "team" = "x"
  allow approved
}}
access f.t {{
  allow everyone
}}

mask tagged pii using hash except group "clear{s}"
mask c_null on m.t using null except group "clear{s}"
mask c_const on m.t using constant "X" except group "clear{s}"
mask c_regex on m.t using regex "[0-9]" "#" except group "clear{s}"
mask c_round on m.t using round(10) except group "clear{s}"
mask c_trunc on m.t using truncate(month) except group "clear{s}"
mask c_first on m.t using show_first(2) for not group "clear{s}"
mask c_last on m.t using show_last(2) except group "clear{s}"
mask c_none on m.t using none for group "clear{s}"
mask c_when on m.t using constant "W" when region = "eu"

filter m.t where region in user.attribute("region") except group "global{s}"
filter m.t newer than 30 days
filter f.t older than 1 days except user "u2{s}"
filter f.t where sql "id <= 9"
"##
    )
}

fn identities(s: &str) -> String {
    format!(
        r#"groups: ["a{s}", "clear{s}", "global{s}", "p{s}"]
attributes:
  team: [x, z]
  region: [eu, us]
purposes:
  audit: "Audit"
projects:
  work: {{ purposes: [audit] }}
users:
  u1{s}:
    groups: ["a{s}"]
    attributes: {{ region: eu }}
  u2{s}:
    groups: ["clear{s}", "global{s}"]
  u3{s}:
    attributes: {{ team: x, region: [eu, us] }}
  u4{s}:
    approved: [m.t]
    attributes: {{ region: us }}
  u5{s}:
    attributes: {{ team: z }}
    projects: [work]
    current_project: work
    acknowledged: [audit]
  u6{s}:
    projects: [work]
    current_project: work
"#
    )
}

fn veil(db: &Database, args: &[&str]) -> (i32, String) {
    let run = Veil::new().args(args).env("VEIL_IT_URL", db.url()).run();
    (run.status, run.stderr)
}

#[test]
fn every_method_filter_and_allow_form_works_on_postgres() {
    let db = Database::create("methods");
    db.psql(TABLE).expect("creates the table");
    let s = format!("_{}", db.name);
    let scratch = Scratch::new("methods");
    std::fs::write(scratch.path().join("p.veil"), policy(&db.name, &s)).expect("writes");
    std::fs::write(scratch.path().join("identities.yaml"), identities(&s)).expect("writes");
    for u in 1..=6 {
        db.role(&format!("u{u}{s}"));
    }
    let (status, stderr) = veil(
        &db,
        &[
            "apply",
            scratch.path().to_str().expect("utf-8"),
            "--auto-approve",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    let query = |user: u32, sql: &str| -> Vec<String> {
        db.query_as(&format!("u{user}{s}"), sql)
            .unwrap_or_else(|e| panic!("u{user}: {e}"))
            .lines()
            .map(str::to_string)
            .collect()
    };
    let masked = "SELECT id, c_hash, c_null, c_const, c_regex, c_round, c_trunc, c_first, c_last, c_none, c_when FROM governed.masked ORDER BY id";

    // u1: allowed by group; eu rows only (region filter) among the recent
    // ones (newer than 30 days): ids 2, 4, 6, 8. Every mask applies.
    let rows = query(1, masked);
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r.split('|').next().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["2", "4", "6", "8"]);
    let f: Vec<&str> = rows[0].split('|').collect();
    assert_eq!(f[1].len(), 64, "hash: {}", f[1]);
    assert_eq!(f[2], "", "null");
    assert_eq!(f[3], "X", "constant");
    assert_eq!(f[4], "r#-##", "regex replaces every match");
    assert_eq!(f[5], "30", "round(10) of 34");
    assert_eq!(f[6], "2026-05-01 00:00:00", "truncate(month)");
    assert_eq!(f[7], "fi****", "show_first(2)");
    assert_eq!(f[8], "***t2", "show_last(2)");
    assert_eq!(
        f[9].len(),
        64,
        "none only for the clear group; the tag rule hashes"
    );
    assert_eq!(f[10], "W", "when region = eu");

    // u2: allowed by name; global (no region filter); in the clear group:
    // every exempt mask shows the value; `none` shows it deliberately.
    let rows = query(2, masked);
    assert_eq!(rows.len(), 8, "recent rows of both regions");
    let f: Vec<&str> = rows[0].split('|').collect();
    assert_eq!(
        &f[1..10],
        [
            "h1",
            "n1",
            "c1",
            "r1-99",
            "17",
            "2026-05-17 13:45:00",
            "first1",
            "last1",
            "none1"
        ]
    );
    assert_eq!(f[10], "when1", "row 1 is us: the when does not hold");

    // u3: allowed by attribute team = x; both regions.
    assert_eq!(query(3, "SELECT count(*) FROM governed.masked"), ["8"]);
    // u4: allowed by approval; us rows.
    assert_eq!(query(4, "SELECT count(*) FROM governed.masked"), ["4"]);
    // u5: team z, no approval: no access at all.
    assert_eq!(query(5, "SELECT count(*) FROM governed.masked"), ["0"]);

    // f.t: everyone; older than 1 day (ids 9, 10) and the escape hatch
    // (id <= 9): id 9. u2 is exempt from the age filter: ids 1..9.
    assert_eq!(
        query(5, "SELECT id FROM governed.filtered ORDER BY id"),
        ["9"]
    );
    assert_eq!(query(2, "SELECT count(*) FROM governed.filtered"), ["9"]);

    // Purposes in effect: u5 acknowledged the current project's purpose,
    // u6 did not.
    let purposes = db
        .query(&format!(
            "SELECT immuta__userid, purposes FROM immuta_system.profile WHERE immuta__userid IN ('u5{s}', 'u6{s}') ORDER BY 1"
        ))
        .expect("profiles");
    assert_eq!(purposes, format!("u5{s}|[\"audit\"]\nu6{s}|[]\n"));
}

#[test]
fn purpose_and_never_filters_follow_the_profile() {
    let db = Database::create("purpose");
    db.psql(TABLE).expect("creates the table");
    let s = format!("_{}", db.name);
    let scratch = Scratch::new("purpose");
    let policy = policy(&db.name, &s)
        + &format!(
            "filter f.t limit to purpose \"audit\" except group \"global{s}\"\nfilter m.t never except group \"clear{s}\"\n"
        );
    std::fs::write(scratch.path().join("p.veil"), policy).expect("writes");
    std::fs::write(scratch.path().join("identities.yaml"), identities(&s)).expect("writes");
    for u in [2, 5, 6] {
        db.role(&format!("u{u}{s}"));
    }
    let (status, stderr) = veil(
        &db,
        &[
            "apply",
            scratch.path().to_str().expect("utf-8"),
            "--auto-approve",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    let count = |user: u32, view: &str| {
        db.query_as(
            &format!("u{user}{s}"),
            &format!("SELECT count(*) FROM governed.{view}"),
        )
        .expect("query")
        .trim()
        .to_string()
    };
    assert_eq!(count(5, "filtered"), "1", "u5 acts under audit");
    assert_eq!(count(6, "filtered"), "0", "u6 never acknowledged it");
    assert_eq!(count(2, "filtered"), "9", "global is exempt");
    assert_eq!(count(2, "masked"), "8", "never, except the clear group");
}
