//! Amazon's documented Redshift examples, written in veil, give the results
//! the documentation shows: applied to PostgreSQL by `veil apply`, and as the
//! Redshift script on the Redshift emulation, queried as the same users.

use crate::common::redshift::{emulate, run_script};
use crate::common::{Database, Scratch, ok, veil_with};

/// Deploys `policy` (with `@DIALECT@` and `@DB@` filled in) and
/// `identities` to `db`: `veil apply` on PostgreSQL, the printed script on
/// the Redshift emulation. Returns the project's directory.
fn deploy(db: &Database, dialect: &str, policy: &str, identities: &str) -> Scratch {
    let dir = Scratch::new(&format!("example_{dialect}"));
    std::fs::write(
        dir.path().join("example.veil"),
        policy
            .replace("@DIALECT@", dialect)
            .replace("@DB@", &db.name),
    )
    .expect("writes the policy");
    std::fs::write(dir.path().join("identities.yaml"), identities).expect("writes the identities");
    let path = dir.path().to_str().expect("utf-8");
    let url = db.url();
    let env = [("VEIL_EX_URL", url.as_str())];
    if dialect == "postgres" {
        ok(veil_with(&["apply", path, "--auto-approve"], &env));
    } else {
        let script = ok(veil_with(&["plan", path, "--format", "sql"], &env)).stdout;
        let run = run_script(db, &script);
        assert!(
            run.ok,
            "the Redshift script fails on the emulation:\n{}",
            run.stderr
        );
    }
    dir
}

/// A database for one dialect, the emulation installed for Redshift.
fn database(tag: &str, dialect: &str) -> Database {
    let db = Database::create(&format!("{tag}_{dialect}"));
    if dialect == "redshift" {
        emulate(&db);
    }
    db
}

const CARDS: &str = r##"integration ex {
  dialect     = @DIALECT@
  database    = "@DB@"
  view_schema = "governed"
  connection  = env("VEIL_EX_URL")
}

source pay.cards {
  table = public.credit_cards
  columns {
    customer_id bigint
    credit_card varchar(19) tags(pii.card)
  }
}

access pay.cards { allow group "analysts" }

// REDACT_CREDIT_CARD: the first six digits (the issuer) and the last four
// shown, the ones between hidden, as PCI DSS allows.
mask tagged pii.card using show(first 6, last 4) except group "payments"

// The same function as Amazon writes it, with the pattern's groups.
source pay.cards_aws {
  table = public.credit_cards
  view  = cards_aws
  columns {
    customer_id bigint
    credit_card varchar(19)
  }
}

access pay.cards_aws { allow group "analysts" }

// Another mask character.
source pay.cards_x {
  table = public.credit_cards
  view  = cards_x
  columns {
    customer_id bigint
    credit_card varchar(19)
  }
}

access pay.cards_x { allow group "analysts" }

mask credit_card on pay.cards_x using show(first 6, last 4, mask "X")

mask credit_card on pay.cards_aws using regex "^([0-9]{6})[0-9]{5,6}([0-9]{4})$" "\\1XXXXX\\2 ($)"
"##;

#[test]
fn card_redaction_keeps_the_first_six_and_the_last_four_digits() {
    for dialect in ["postgres", "redshift"] {
        let db = database("cards", dialect);
        db.psql(
            "CREATE TABLE public.credit_cards (customer_id bigint, credit_card varchar(19));
             INSERT INTO public.credit_cards VALUES
               (1, '4111111111111111'), (2, '378282246310005'), (3, '1234567890'), (4, NULL);",
        )
        .expect("creates the table");
        let (analyst, payments) = (
            db.role(&format!("an_{}", db.name)),
            db.role(&format!("pay_{}", db.name)),
        );
        let identities = format!(
            "groups: [analysts, payments]\nusers:\n  {analyst}:\n    groups: [analysts]\n  {payments}:\n    groups: [analysts, payments]\n"
        );
        deploy(&db, dialect, CARDS, &identities);
        let query =
            "SELECT customer_id, credit_card FROM governed.credit_cards ORDER BY customer_id";
        assert_eq!(
            db.query_as(&analyst, query).expect("the analyst's query"),
            "1|411111******1111\n2|378282*****0005\n3|**********\n4|\n",
            "{dialect}: 6 + 4 shown; a value with nothing left to hide masked entirely; NULL stays NULL"
        );
        // Groups by number, `$` literal; a value the pattern does not match
        // is left as it is (as Amazon's function would not).
        assert_eq!(
            db.query_as(
                &analyst,
                "SELECT credit_card FROM governed.cards_aws ORDER BY customer_id"
            )
            .expect("the analyst's query"),
            "411111XXXXX1111 ($)\n378282XXXXX0005 ($)\n1234567890\n\n",
            "{dialect}: the pattern's groups"
        );
        assert_eq!(
            db.query_as(
                &analyst,
                "SELECT credit_card FROM governed.cards_x ORDER BY customer_id"
            )
            .expect("the analyst's query"),
            "411111XXXXXX1111\n378282XXXXX0005\nXXXXXXXXXX\n\n",
            "{dialect}: a declared mask character"
        );
        assert_eq!(
            db.query_as(&payments, query)
                .expect("the payments user's query"),
            "1|4111111111111111\n2|378282246310005\n3|1234567890\n4|\n",
            "{dialect}: exempt"
        );
    }
}

const TICKIT: &str = r##"integration ex {
  dialect     = @DIALECT@
  database    = "@DB@"
  view_schema = "governed"
  connection  = env("VEIL_EX_URL")
}

source tickit.category {
  table = public.category
  columns {
    catid    integer
    catgroup varchar(10)
    catname  varchar(10)
    catdesc  varchar(50)
  }
}

access tickit.category { allow everyone }

// policy_concerts, attached to the roles analyst and dbadmin.
filter tickit.category where catgroup = "Concerts" for group "analyst" or group "dbadmin"
"##;

#[test]
fn a_filter_attached_to_some_users_limits_only_them() {
    for dialect in ["postgres", "redshift"] {
        let db = database("tickit", dialect);
        db.psql(
            "CREATE TABLE public.category (catid integer, catgroup varchar(10), catname varchar(10), catdesc varchar(50));
             INSERT INTO public.category VALUES
               (1, 'Sports', 'MLB', 'Major League Baseball'), (2, 'Sports', 'NHL', 'National Hockey League'),
               (3, 'Sports', 'NFL', 'National Football League'), (4, 'Sports', 'NBA', 'National Basketball Association'),
               (5, 'Sports', 'MLS', 'Major League Soccer'), (6, 'Shows', 'Musicals', 'Musical theatre'),
               (7, 'Shows', 'Plays', 'All non-musical theatre'), (8, 'Shows', 'Opera', 'All opera and light opera'),
               (9, 'Concerts', 'Pop', 'All rock and pop music concerts'), (10, 'Concerts', 'Jazz', 'All jazz singers and bands'),
               (11, 'Concerts', 'Classical', 'All symphony, concerto, and choir concerts');",
        )
        .expect("creates the table");
        let role = |name: &str| db.role(&format!("{name}_{}", db.name));
        let (analyst, dbadmin, seller) = (role("analyst"), role("dbadmin"), role("seller"));
        let identities = format!(
            "groups: [analyst, dbadmin, sales]\nusers:\n  {analyst}:\n    groups: [analyst]\n  {dbadmin}:\n    groups: [dbadmin]\n  {seller}:\n    groups: [sales]\n"
        );
        deploy(&db, dialect, TICKIT, &identities);
        let query =
            "SELECT catgroup, count(*) FROM governed.category GROUP BY catgroup ORDER BY catgroup";
        for user in [&analyst, &dbadmin] {
            assert_eq!(
                db.query_as(user, query).expect("the query"),
                "Concerts|3\n",
                "{dialect}: the policy's roles see the concerts only"
            );
        }
        assert_eq!(
            db.query_as(&seller, query).expect("the query"),
            "Concerts|3\nShows|3\nSports|5\n",
            "{dialect}: a user the filter is not for sees every row"
        );
    }
}

const EVENTS: &str = r##"integration ex {
  dialect     = @DIALECT@
  database    = "@DB@"
  view_schema = "governed"
  connection  = env("VEIL_EX_URL")
}

source tickit.event {
  table = public.event
  columns {
    eventid   integer
    eventname varchar(200)
  }
}

// The lookup: the events of sales of fewer than three tickets, for each
// user the data team lists. No access rule covers it: nobody queries it.
source tickit.small_sales {
  table = public.small_sale_events
  columns {
    username varchar(64)
    eventid  integer
  }
}

access tickit.event { allow everyone }

// policy_events: eventid IN (SELECT eventid FROM sales WHERE qtysold < 3).
filter tickit.event where eventid in lookup(tickit.small_sales, username, eventid)
"##;

#[test]
fn a_lookup_filter_keeps_the_rows_the_lookup_table_lists_for_the_user() {
    for dialect in ["postgres", "redshift"] {
        let db = database("events", dialect);
        let role = |name: &str| db.role(&format!("{name}_{}", db.name));
        let (analyst, other) = (role("analyst"), role("other"));
        db.psql(&format!(
            "CREATE TABLE public.event (eventid integer, eventname varchar(200));
             INSERT INTO public.event VALUES (1, 'Opera'), (2, 'Jazz'), (3, 'Rock'), (4, 'Pop'), (NULL, 'To be announced');
             CREATE TABLE public.sales (salesid integer, eventid integer, qtysold integer);
             INSERT INTO public.sales VALUES (1, 1, 1), (2, 2, 5), (3, 3, 2), (4, NULL, 1), (5, 4, 3);
             CREATE TABLE public.listed_users (username varchar(64));
             INSERT INTO public.listed_users VALUES ({});
             CREATE VIEW public.small_sale_events AS
               SELECT u.username, s.eventid FROM public.sales s CROSS JOIN public.listed_users u WHERE s.qtysold < 3;",
            crate::common::literal(&analyst)
        ))
        .expect("creates the tables");
        let identities = format!("users:\n  {analyst}: {{}}\n  {other}: {{}}\n");
        let dir = deploy(&db, dialect, EVENTS, &identities);
        let path = dir.path().to_str().expect("utf-8");
        // The plan lists the lookup beside the escape hatches, and explain
        // says the rows follow the lookup's data.
        let plan = ok(veil_with(&["plan", "--offline", path], &[])).stdout;
        assert!(
            plan.contains("lookup(tickit.small_sales, username, eventid)")
                && plan.contains("without a plan"),
            "{plan}"
        );
        // The access impact says so where the filter comes into force.
        let impact = plan
            .lines()
            .find(|l| l.contains("filter added"))
            .unwrap_or_default();
        assert!(
            impact.contains("the rows follow the data in `tickit.small_sales`"),
            "{plan}"
        );
        let explained = ok(veil_with(
            &[
                "explain",
                path,
                "--user",
                &analyst,
                "--source",
                "tickit.event",
            ],
            &[],
        ))
        .stdout;
        assert!(
            explained.contains("the rows follow the data in `tickit.small_sales`"),
            "{explained}"
        );
        let query = "SELECT eventid, eventname FROM governed.event ORDER BY eventid";
        assert_eq!(
            db.query_as(&analyst, query).expect("the analyst's query"),
            "1|Opera\n3|Rock\n",
            "{dialect}: the events of small sales; a NULL in the lookup or the row never matches"
        );
        assert_eq!(
            db.query_as(&other, query).expect("the other user's query"),
            "",
            "{dialect}: no rows listed for the user, no rows"
        );
        // The lookup table's own view follows its own rules: nobody's.
        assert!(
            db.query_as(&analyst, "SELECT count(*) FROM governed.small_sale_events")
                .is_ok_and(|rows| rows == "0\n"),
            "{dialect}: the lookup source's view shows nothing without an access rule"
        );
    }
}
