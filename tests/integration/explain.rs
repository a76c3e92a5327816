//! explain: each decision it can report, against the per-cell precedence.

use crate::common::Scratch;
use crate::common::Veil;
use veil::explain::{self, SourceView, State};
use veil::project;

const POLICY: &str = r#"integration db {
  dialect     = postgres
  database    = "app"
  view_schema = "governed"
}

source s.t {
  table = public.t
  tags  = [core]
  event_time = at
  columns {
    email varchar(100) tags(pii.email)
    phone varchar(20)  tags(pii)
    ssn   varchar(11)  tags(pii.gov)
    note  text
    score integer
    at    timestamp
  }
}

access s.t {
  allow group "staff"
  allow attribute "team" = "red"
  require not group "banned"
}

// Precedence on email: the named rule first, then pii.email, then pii.
mask email on s.t using show_first(2) for group "support"
mask tagged pii.email using regex "@.*" "@x" except group "mail"
mask tagged pii using hash except group "readers"
// Two tag rules of one depth, ordered by priority.
mask tagged pii.gov using null except group "gov" priority 2
mask tagged pii.gov on s.t using show_last(2) priority 1
// A pattern rule ranks last; a deliberate clear by `using none`.
mask columns matching "^no" using constant "?"
mask note on s.t using none for group "auditors"
mask score on s.t using round(10) when score > 100

filter s.t where score > 0 except group "staff"
filter tagged core newer than 30 days
"#;

const IDENTITIES: &str = r#"groups: [staff, support, mail, readers, gov, auditors, banned]
attributes:
  team: [red, blue]
users:
  sam:     { groups: [staff, support] }
  mo:      { groups: [staff, mail] }
  rita:    { groups: [staff, mail, readers, gov] }
  aud:     { attributes: { team: red }, groups: [auditors] }
  ben:     { groups: [staff, banned] }
  nobody:  {}
"#;

fn views(user: &str) -> SourceView {
    let scratch = Scratch::new("explain");
    std::fs::write(scratch.path().join("p.veil"), POLICY).expect("writes");
    std::fs::write(scratch.path().join("identities.yaml"), IDENTITIES).expect("writes");
    let project = project::load(scratch.path()).expect("loads");
    let checked = project.check();
    let model = checked
        .model
        .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
    let u = model
        .directory
        .users
        .iter()
        .find(|u| u.name == user)
        .expect("user");
    explain::explain_user(&model, &project.files, u, None).remove(0)
}

fn column<'a>(v: &'a SourceView, name: &str) -> &'a explain::ColumnView {
    v.columns.iter().find(|c| c.column == name).expect("column")
}

fn line(rule: &Option<String>) -> usize {
    rule.as_deref()
        .and_then(|r| r.rsplit(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_named_rule_wins_when_it_applies() {
    let sam = views("sam");
    let email = column(&sam, "email");
    assert_eq!(email.state, State::Masked);
    assert_eq!(email.method.as_deref(), Some("show_first(2)"));
    assert_eq!(line(&email.rule), 28);
}

#[test]
fn a_rule_that_does_not_apply_falls_through_to_the_next() {
    // mo is not support (the named rule's `for` fails) and is exempt from
    // pii.email: the shallower pii tag decides.
    let mo = views("mo");
    let email = column(&mo, "email");
    assert_eq!(email.method.as_deref(), Some("hash"));
    assert_eq!(line(&email.rule), 30);
    assert!(
        email
            .exemption
            .as_deref()
            .is_some_and(|e| e.contains("except group \"mail\"")),
        "{email:?}"
    );
    // rita is exempt from every rule on email: clear, with the exemption shown.
    let rita = views("rita");
    let email = column(&rita, "email");
    assert_eq!(email.state, State::Clear);
    assert!(
        email
            .exemption
            .as_deref()
            .is_some_and(|e| e.contains("readers")),
        "{email:?}"
    );
}

#[test]
fn deeper_tags_and_priorities_order_rules() {
    // ssn: pii.gov rules (depth 2) before pii; priority 2 before 1.
    let mo = views("mo");
    let ssn = column(&mo, "ssn");
    assert_eq!(ssn.method.as_deref(), Some("null"));
    assert_eq!(line(&ssn.rule), 32);
    let rita = views("rita");
    let ssn = column(&rita, "ssn");
    assert_eq!(
        ssn.method.as_deref(),
        Some("show_last(2)"),
        "gov is exempt from priority 2"
    );
    assert_eq!(line(&ssn.rule), 33);
}

#[test]
fn pattern_rules_rank_last_and_none_shows_the_value() {
    let mo = views("mo");
    let note = column(&mo, "note");
    assert_eq!(
        note.method.as_deref(),
        Some("constant \"?\""),
        "`for` auditors fails: the pattern rule decides"
    );
    let aud = views("aud");
    let note = column(&aud, "note");
    assert_eq!(note.state, State::Clear);
    assert_eq!(note.method.as_deref(), Some("none"));
    assert_eq!(line(&note.rule), 36);
}

#[test]
fn when_makes_a_column_conditional() {
    let sam = views("sam");
    let score = column(&sam, "score");
    assert_eq!(score.state, State::Conditional);
    assert_eq!(score.method.as_deref(), Some("round(10)"));
}

#[test]
fn access_names_the_deciding_line() {
    let sam = views("sam");
    assert!(sam.access.granted);
    assert_eq!(line(&sam.access.rule), 22);
    let aud = views("aud");
    assert!(aud.access.granted);
    assert_eq!(line(&aud.access.rule), 23, "by attribute");
    let ben = views("ben");
    assert!(!ben.access.granted);
    assert_eq!(line(&ben.access.rule), 24, "the require line denies");
    let nobody = views("nobody");
    assert!(!nobody.access.granted);
    assert_eq!(nobody.access.reason, "no allow line holds");
}

#[test]
fn filters_say_whether_they_apply() {
    let sam = views("sam");
    assert_eq!(sam.filters.len(), 2);
    assert!(!sam.filters[0].applies, "staff are exempt");
    assert_eq!(
        sam.filters[0].exempt_by.as_deref(),
        Some("except group \"staff\"")
    );
    assert!(sam.filters[1].applies);
    assert_eq!(sam.filters[1].kind, "newer than 30 days");
    let aud = views("aud");
    assert!(aud.filters[0].applies);
}

#[test]
fn a_column_masked_on_every_row_is_masked_and_no_rows_are_said() {
    // The example: birth dates are truncated to the year outside Germany
    // and hidden (a fallback at priority -1) everywhere else: masked on
    // every row, never shown. grace acts under no purpose, so the orders'
    // purpose filter leaves her no row.
    let run = Veil::new()
        .args([
            "explain",
            "policies",
            "--user",
            "carol",
            "--source",
            "sales.customers",
        ])
        .run();
    let text = &run.stdout;
    assert!(
        text.contains("birth_date    masked by truncate(year)"),
        "{text}"
    );
    let run = Veil::new()
        .args([
            "explain",
            "policies",
            "--user",
            "grace",
            "--source",
            "sales.orders",
        ])
        .run();
    let text = &run.stdout;
    assert!(
        text.contains("limit to purpose \"fraud_detection\"")
            && text.contains("applies: this user sees no rows of the source"),
        "{text}"
    );
}
