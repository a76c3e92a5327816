//! A hostile analyst against a real PostgreSQL server. The analyst is a
//! LOGIN role with no special rights that owns a sandbox schema, creates
//! functions, operators, types and temporary objects there, sets any session
//! setting and reads every message the server prints. Whatever they do, they
//! see exactly what the policies give them, and nothing veil runs as its own
//! account ever calls what they made.

use crate::common::{Database, Scratch, Session, ident, literal, ok, refused, veil_on as veil};
use std::path::Path;

/// The governed estate: tables with secrets, the project that governs them,
/// and the people who query them.
struct Estate {
    db: Database,
    dir: Scratch,
    /// The hostile analyst: may query `customers`, sees PII hashed.
    analyst: String,
    /// A contractor with a profile row and access to nothing.
    contractor: String,
    /// Texts that must never reach the analyst: raw PII, values of rows the
    /// filters hide, the hashing key.
    secrets: Vec<String>,
}

const POLICY: &str = r##"integration shop {
  dialect     = postgres
  database    = "@DB@"
  view_schema = "governed"
}

source shop.customers {
  table      = public.customers
  event_time = created_at
  columns {
    id         bigint
    email      text tags(pii)
    ssn        char(11)
    name       text
    phone      text
    amount     numeric(12,2)
    score      double precision
    born       date
    seen_at    timestamptz
    created_at timestamp
    region     varchar(8)
  }
}

source shop.sampled {
  table = public.customers
  view  = sampled
  columns {
    id    bigint
    email text tags(pii)
  }
}

source shop.kinds {
  table = public.kinds
  columns {
    id  integer
    d   date             tags(pii)
    ts  timestamp        tags(pii)
    tz  timestamptz      tags(pii)
    f8  double precision tags(pii)
    f4  real             tags(pii)
    n   numeric(20,6)    tags(pii)
    t   time             tags(pii)
    ttz timetz           tags(pii)
    b   boolean          tags(pii)
    u   uuid             tags(pii)
    j   json             tags(pii)
    bin bytea            tags(pii)
  }
}

source shop.shown {
  table = public.kinds
  view  = shown
  columns {
    id  integer
    d   date
    ts  timestamp
    tz  timestamptz
    f8  double precision
    f4  real
  }
}

source shop.recent_ts {
  table      = public.times
  view       = recent_ts
  event_time = ts
  columns {
    id integer
    ts timestamp
    d  date
    tz timestamptz
  }
}

source shop.recent_date {
  table      = public.times
  view       = recent_date
  event_time = d
  columns {
    id integer
    ts timestamp
    d  date
    tz timestamptz
  }
}

source shop.recent_tz {
  table      = public.times
  view       = recent_tz
  event_time = tz
  columns {
    id integer
    ts timestamp
    d  date
    tz timestamptz
  }
}

source shop.old_ts {
  table      = public.times
  view       = old_ts
  event_time = ts
  columns {
    id integer
    ts timestamp
    d  date
    tz timestamptz
  }
}

access shop.customers { allow group "analysts" }
access shop.sampled { allow group "analysts" }
access shop.kinds { allow group "analysts" }
access shop.shown { allow group "analysts" }
access shop.recent_ts { allow group "analysts" }
access shop.recent_date { allow group "analysts" }
access shop.recent_tz { allow group "analysts" }
access shop.old_ts { allow group "analysts" }

mask tagged pii using hash except group "pii_readers"
mask ssn on shop.customers using show_last(4)
mask name on shop.customers using show_first(1)
mask phone on shop.customers using regex "[0-9]" "#"
mask amount on shop.customers using round(100)
mask score on shop.customers using round(1000)
mask born on shop.customers using truncate(year)
mask seen_at on shop.customers using truncate(day)
// Hashed for PII readers, so text for everyone: the analyst's dates, times
// and floats, truncated, rounded or clear, are shown as text.
mask d on shop.shown using truncate(month)
mask ts on shop.shown using truncate(hour)
mask tz on shop.shown using truncate(day)
mask f8 on shop.shown using round(10)
mask d, ts, tz, f8, f4 on shop.shown using hash for group "pii_readers" priority 1

filter shop.customers where region in user.attribute("region")
filter shop.sampled sample 50 percent by email
filter shop.kinds sample 50 percent by tz
filter shop.recent_ts newer than 2 days
filter shop.recent_date newer than 2 days
filter shop.recent_tz newer than 2 days
filter shop.old_ts older than 30 days
"##;

const IDENTITIES: &str = r#"groups: [analysts, pii_readers, contractors]
attributes:
  region: [eu, us]
users:
  @ANALYST@:
    groups: [analysts]
    attributes: { region: eu }
  @CONTRACTOR@:
    groups: [contractors]
"#;

/// A customer row and the secrets it holds.
struct Customer {
    id: &'static str,
    email: &'static str,
    ssn: &'static str,
    name: &'static str,
    phone: &'static str,
    amount: &'static str,
    score: &'static str,
    born: &'static str,
    region: &'static str,
}

/// The customers: two in the analyst's region, one outside it.
const CUSTOMERS: [Customer; 3] = [
    Customer {
        id: "1",
        email: "ann.secret@example.com",
        ssn: "123-45-6789",
        name: "Annabel Secretname",
        phone: "555-0100-77",
        amount: "1234.56",
        score: "98765.4321",
        born: "1980-07-15",
        region: "eu",
    },
    Customer {
        id: "2",
        email: "bo.private@example.com",
        ssn: "987-65-4321",
        name: "Bohdan Privatus",
        phone: "555-0199-88",
        amount: "149.99",
        // No secret may be a plausible piece of a timestamp the analyst sees
        // in clear (`created_at` is a day ago, to the microsecond).
        score: "7312.5",
        born: "1975-02-03",
        region: "eu",
    },
    Customer {
        id: "3",
        email: "hidden.row@example.com",
        ssn: "111-22-3333",
        name: "Hidda Hiddenrow",
        phone: "555-0000-11",
        amount: "777.77",
        score: "4242.4242",
        born: "1969-12-31",
        region: "us",
    },
];

impl Estate {
    fn new(tag: &str) -> Estate {
        let db = Database::create(tag);
        let analyst = db.login_role(&format!("analyst_{}", db.name));
        let contractor = db.login_role(&format!("carl_{}", db.name));
        let mut secrets = Vec::new();
        let mut rows = Vec::new();
        for Customer {
            id,
            email,
            ssn,
            name,
            phone,
            amount,
            score,
            born,
            region,
        } in CUSTOMERS
        {
            rows.push(format!(
                "({id}, {}, {}, {}, {}, {amount}, {score}, DATE {}, TIMESTAMPTZ '2026-11-30 13:37:42+00', (now() AT TIME ZONE 'UTC') - INTERVAL '1 day', {})",
                literal(email),
                literal(ssn),
                literal(name),
                literal(phone),
                literal(born),
                literal(region)
            ));
            secrets.extend([email, ssn, name, phone, amount, score, born].map(String::from));
            secrets.extend(name.split(' ').map(String::from));
        }
        secrets.push("13:37:42".into());
        db.psql(&format!(
            "CREATE TABLE public.customers (id bigint, email text, ssn char(11), name text, phone text,
                 amount numeric(12,2), score double precision, born date, seen_at timestamptz,
                 created_at timestamp, region varchar(8));
             INSERT INTO public.customers VALUES {};
             CREATE TABLE public.kinds (id integer, d date, ts timestamp, tz timestamptz,
                 f8 double precision, f4 real, n numeric(20,6), t time, ttz timetz, b boolean,
                 u uuid, j json, bin bytea);
             INSERT INTO public.kinds
             SELECT g, DATE '2024-02-29' + g * 37, TIMESTAMP '2024-02-29 23:59:58.123456' + g * INTERVAL '37 days 1 hour',
                    TIMESTAMPTZ '2024-02-29 23:59:58.654321+00' + g * INTERVAL '37 days 1 hour',
                    1.0 / (g + 3), CAST(1.0 / (g + 7) AS real), g * 1234.567891, TIME '13:37:42.5',
                    TIMETZ '13:37:42+05:30', g % 2 = 0, CAST(md5(g::text) AS uuid),
                    json_build_object('g', g), decode(md5(g::text), 'hex')
               FROM generate_series(1, 40) g;
             INSERT INTO public.kinds (id, d, ts, tz, f8, f4) VALUES
               (41, 'infinity', 'infinity', 'infinity', 'NaN', 'Infinity'),
               (42, '-infinity', '-infinity', '-infinity', '-Infinity', 'NaN'),
               (43, NULL, NULL, NULL, 1.7976931348623157e308, 3.4028235e38);
             CREATE TABLE public.times (id integer, ts timestamp, d date, tz timestamptz);
             INSERT INTO public.times
             SELECT id, (now() AT TIME ZONE 'UTC') - hours * INTERVAL '1 hour',
                    CAST((now() AT TIME ZONE 'UTC') - hours * INTERVAL '1 hour' AS date),
                    now() - hours * INTERVAL '1 hour'
               FROM (VALUES (1, 12), (2, 36), (3, 47), (4, 49), (5, 60), (6, 144), (7, 600),
                            (8, 700), (9, 719), (10, 721), (11, 744), (12, 960)) AS v(id, hours);
             CREATE SCHEMA sandbox AUTHORIZATION {analyst};",
            rows.join(",\n")
        ))
        .expect("creates the estate's tables");
        let dir = Scratch::new(tag);
        let estate = Estate {
            db,
            dir,
            analyst,
            contractor,
            secrets,
        };
        estate.write(POLICY, IDENTITIES);
        estate
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("utf-8")
    }

    /// Writes the project with this estate's names in it.
    fn write(&self, policy: &str, identities: &str) {
        let fill = |text: &str| {
            text.replace("@DB@", &self.db.name)
                .replace("@ANALYST@", &self.analyst)
                .replace("@CONTRACTOR@", &self.contractor)
        };
        std::fs::write(self.dir.path().join("shop.veil"), fill(policy)).expect("writes policy");
        std::fs::write(self.dir.path().join("identities.yaml"), fill(identities))
            .expect("writes identities");
    }

    fn apply(&self) {
        ok(veil(&self.db, &["apply", self.path(), "--auto-approve"]));
        let key = self
            .db
            .query("SELECT k FROM immuta_system.hash_key")
            .expect("reads the key");
        let key = key.trim();
        assert_eq!(key.len(), 64, "one key: {key}");
    }

    /// The hashing key, which the analyst must never see.
    fn key(&self) -> String {
        self.db
            .query("SELECT k FROM immuta_system.hash_key")
            .expect("reads the key")
            .trim()
            .to_string()
    }

    /// Runs SQL as the analyst, in a session of their own.
    fn as_analyst(&self, sql: &str) -> Session {
        self.db.session(&self.analyst, sql)
    }

    /// Fails when anything the analyst was shown holds a secret.
    fn assert_nothing_leaked(&self, what: &str, session: &Session) {
        let mut secrets = self.secrets.clone();
        secrets.push(self.key());
        for secret in &secrets {
            for (stream, text) in [("output", &session.stdout), ("messages", &session.stderr)] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{what}: the analyst's {stream} hold `{secret}`:\n{text}"
                );
            }
        }
    }
}

/// Everything the analyst can read, computed under `settings`, then shown
/// under the default settings: values, not their display, are compared.
fn everything_under(settings: &str) -> String {
    format!(
        "{settings}
         CREATE TEMP TABLE c AS SELECT * FROM governed.customers;
         CREATE TEMP TABLE s AS SELECT * FROM governed.sampled;
         CREATE TEMP TABLE k AS SELECT * FROM governed.kinds;
         CREATE TEMP TABLE w AS SELECT * FROM governed.shown;
         CREATE TEMP TABLE r1 AS SELECT id FROM governed.recent_ts;
         CREATE TEMP TABLE r2 AS SELECT id FROM governed.recent_date;
         CREATE TEMP TABLE r3 AS SELECT id FROM governed.recent_tz;
         CREATE TEMP TABLE r4 AS SELECT id FROM governed.old_ts;
         RESET ALL;
         SET search_path = pg_catalog, pg_temp;
         SELECT 'customers', * FROM c ORDER BY id;
         SELECT 'sampled', * FROM s ORDER BY id;
         SELECT 'kinds', * FROM k ORDER BY id;
         SELECT 'shown', * FROM w ORDER BY id;
         SELECT 'recent_ts', string_agg(id::text, ',' ORDER BY id) FROM r1;
         SELECT 'recent_date', string_agg(id::text, ',' ORDER BY id) FROM r2;
         SELECT 'recent_tz', string_agg(id::text, ',' ORDER BY id) FROM r3;
         SELECT 'old_ts', string_agg(id::text, ',' ORDER BY id) FROM r4;"
    )
}

/// Session settings an analyst may choose, each changing how values are
/// shown, compared or converted.
const HOSTILE_SETTINGS: [&str; 17] = [
    "SET TimeZone = 'XYZ+167';",
    "SET TimeZone = 'XYZ-167';",
    "SET TIME ZONE INTERVAL '+13:45' HOUR TO MINUTE;",
    "SET TimeZone = 'America/Adak';",
    "SET TimeZone = 'Pacific/Kiritimati';",
    "SET DateStyle = 'SQL, DMY';",
    "SET DateStyle = 'German';",
    "SET DateStyle = 'Postgres, YMD';",
    "SET IntervalStyle = 'sql_standard';",
    "SET IntervalStyle = 'iso_8601';",
    "SET extra_float_digits = -15;",
    "SET extra_float_digits = 3;",
    "SET bytea_output = 'escape';",
    "SET timezone_abbreviations = 'Australia';",
    "SET lc_monetary = 'C'; SET lc_numeric = 'C'; SET lc_time = 'C';",
    "SET standard_conforming_strings = off;",
    "SET TimeZone = 'XYZ+167'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'iso_8601';
     SET extra_float_digits = -15; SET bytea_output = 'escape'; SET search_path = sandbox, pg_catalog;",
];

#[test]
fn no_session_setting_changes_what_the_analyst_sees() {
    let estate = Estate::new("settings");
    estate.apply();
    let baseline = estate.as_analyst(&everything_under(""));
    assert!(baseline.ok, "{}", baseline.stderr);
    estate.assert_nothing_leaked("the honest session", &baseline);
    for settings in HOSTILE_SETTINGS {
        let run = estate.as_analyst(&everything_under(settings));
        assert!(run.ok, "{settings}: {}", run.stderr);
        estate.assert_nothing_leaked(settings, &run);
        assert_eq!(
            run.stdout, baseline.stdout,
            "under `{settings}` the analyst sees other values"
        );
    }
}

#[test]
fn time_windows_count_in_the_integrations_zone() {
    let estate = Estate::new("windows");
    estate.apply();
    // What each window keeps, decided by the superuser in UTC.
    let expected = estate
        .db
        .query(
            "SELECT 'recent_ts', string_agg(id::text, ',' ORDER BY id) FROM public.times WHERE ts >= (now() AT TIME ZONE 'UTC') - INTERVAL '2 days';
             SELECT 'recent_date', string_agg(id::text, ',' ORDER BY id) FROM public.times WHERE d >= (now() AT TIME ZONE 'UTC') - INTERVAL '2 days';
             SELECT 'recent_tz', string_agg(id::text, ',' ORDER BY id) FROM public.times WHERE tz >= now() - INTERVAL '2 days';
             SELECT 'old_ts', string_agg(id::text, ',' ORDER BY id) FROM public.times WHERE ts < (now() AT TIME ZONE 'UTC') - INTERVAL '30 days';",
        )
        .expect("computes the windows");
    assert!(expected.contains("recent_ts|1,2,3\n"), "{expected}");
    assert!(expected.contains("old_ts|10,11,12\n"), "{expected}");
    for zone in [
        "UTC",
        "XYZ+167",
        "XYZ-167",
        "Pacific/Kiritimati",
        "America/Adak",
    ] {
        let seen = estate.as_analyst(&format!(
            "SET TimeZone = {};
             SELECT 'recent_ts', string_agg(id::text, ',' ORDER BY id) FROM governed.recent_ts;
             SELECT 'recent_date', string_agg(id::text, ',' ORDER BY id) FROM governed.recent_date;
             SELECT 'recent_tz', string_agg(id::text, ',' ORDER BY id) FROM governed.recent_tz;
             SELECT 'old_ts', string_agg(id::text, ',' ORDER BY id) FROM governed.old_ts;",
            literal(zone)
        ));
        assert!(seen.ok, "{zone}: {}", seen.stderr);
        assert_eq!(seen.stdout, expected, "in zone {zone}");
    }
}

#[test]
fn truncation_cannot_be_undone_by_moving_the_session_zone() {
    let estate = Estate::new("truncate");
    estate.apply();
    // 17 sessions, each in another zone: if the truncation moved with the
    // zone, the instants seen would differ and pin down the hidden time.
    let mut seen = std::collections::BTreeSet::new();
    for hours in -8..=8 {
        let run = estate.as_analyst(&format!(
            "SET TIME ZONE INTERVAL '{hours:+}:00' HOUR TO MINUTE;
             SELECT extract(epoch FROM seen_at) FROM governed.customers WHERE id = 1;"
        ));
        assert!(run.ok, "{}", run.stderr);
        seen.insert(run.stdout.trim().to_string());
    }
    assert_eq!(seen.len(), 1, "the truncated instant moved: {seen:?}");
    let midnight = estate
        .db
        .query("SELECT extract(epoch FROM TIMESTAMPTZ '2026-11-30 00:00:00+00')")
        .expect("computes midnight");
    assert_eq!(seen.first().map(String::as_str), Some(midnight.trim()));
}

/// Functions and operators of the analyst's own, named like the ones masks
/// use, each printing what it is given.
const SHADOWS: &str = r#"
CREATE FUNCTION sandbox.leak(text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN RAISE NOTICE 'LEAK %', $1; RETURN $1; END $f$;
CREATE FUNCTION sandbox.leakb(text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN RAISE NOTICE 'LEAK %', $1; RETURN true; END $f$;
CREATE FUNCTION sandbox."left"(text, integer) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak($1) $f$;
CREATE FUNCTION sandbox."right"(text, integer) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak($1) $f$;
CREATE FUNCTION sandbox.repeat(text, integer) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak($1) $f$;
CREATE FUNCTION sandbox.length(text) RETURNS integer LANGUAGE sql AS $f$ SELECT pg_catalog.length(sandbox.leak($1)) - 1000 $f$;
CREATE FUNCTION sandbox.substr(text, integer, integer) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak($1) $f$;
CREATE FUNCTION sandbox.md5(text) RETURNS text LANGUAGE sql AS $f$ SELECT pg_catalog.md5(sandbox.leak($1)) $f$;
CREATE FUNCTION sandbox.convert_to(text, name) RETURNS bytea LANGUAGE sql AS $f$ SELECT pg_catalog.convert_to(sandbox.leak($1), $2) $f$;
CREATE FUNCTION sandbox.sha256(bytea) RETURNS bytea LANGUAGE sql AS $f$ SELECT $1 $f$;
CREATE FUNCTION sandbox.encode(bytea, text) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak(pg_catalog.encode($1, 'escape')) $f$;
CREATE FUNCTION sandbox.date_trunc(text, timestamptz) RETURNS timestamptz LANGUAGE sql AS $f$ SELECT $2 $f$;
CREATE FUNCTION sandbox.round(numeric) RETURNS numeric LANGUAGE sql AS $f$ SELECT $1 $f$;
CREATE FUNCTION sandbox.regexp_replace(text, text, text, text) RETURNS text LANGUAGE sql AS $f$ SELECT sandbox.leak($1) $f$;
CREATE FUNCTION sandbox.cat(text, text) RETURNS text LANGUAGE sql AS $f$ SELECT pg_catalog.textcat(sandbox.leak($1), sandbox.leak($2)) $f$;
CREATE OPERATOR sandbox.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = sandbox.cat);
CREATE FUNCTION sandbox.eq(text, text) RETURNS boolean LANGUAGE sql AS $f$ SELECT sandbox.leakb($1) $f$;
CREATE OPERATOR sandbox.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sandbox.eq);
"#;

#[test]
fn masks_resolve_nothing_through_the_analysts_search_path() {
    let estate = Estate::new("shadow");
    estate.apply();
    let created = estate.as_analyst(SHADOWS);
    assert!(created.ok, "{}", created.stderr);
    let baseline = estate.as_analyst(&everything_under(""));
    assert!(baseline.ok, "{}", baseline.stderr);
    for attack in [
        "SET search_path = sandbox, pg_catalog;",
        "SET search_path = sandbox, pg_catalog;
         CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (sandbox.leakb(VALUE));
         CREATE DOMAIN pg_temp.varchar AS pg_catalog.text CHECK (sandbox.leakb(VALUE));",
        "CREATE FUNCTION pg_temp.\"left\"(text, integer) RETURNS text LANGUAGE sql AS $f$ SELECT $1 $f$;
         CREATE FUNCTION pg_temp.md5(text) RETURNS text LANGUAGE sql AS $f$ SELECT $1 $f$;
         SET search_path = pg_temp, sandbox, pg_catalog;",
    ] {
        let run = estate.as_analyst(&everything_under(attack));
        assert!(run.ok, "{attack}: {}", run.stderr);
        estate.assert_nothing_leaked(attack, &run);
        assert!(
            !run.stderr.contains("LEAK"),
            "a mask called the analyst's function under `{attack}`:\n{}",
            run.stderr
        );
        assert_eq!(run.stdout, baseline.stdout, "under `{attack}`");
    }
}

/// Objects veil created that depend on a function, operator or type outside
/// `pg_catalog` and veil's own schemas (none may).
const FOREIGN_DEPENDENCIES: &str = "
WITH ours AS (
  SELECT oid FROM pg_catalog.pg_namespace
   WHERE nspname IN ('immuta_system', 'immuta_functions', 'immuta_procedures', 'governed')
), objects AS (
  SELECT 'pg_catalog.pg_rewrite'::regclass AS classid, r.oid, c.relname::text AS name
    FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
   WHERE c.relnamespace IN (SELECT oid FROM ours)
  UNION ALL
  SELECT 'pg_catalog.pg_proc'::regclass, p.oid, p.proname::text
    FROM pg_catalog.pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ours)
)
SELECT o.name || ' -> ' || pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0)
  FROM objects o
  JOIN pg_catalog.pg_depend d ON d.classid = o.classid AND d.objid = o.oid
 WHERE (d.refclassid = 'pg_catalog.pg_proc'::regclass
        AND (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = d.refobjid) NOT IN (SELECT oid FROM ours)
        AND (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = d.refobjid) <> 'pg_catalog'::regnamespace)
    OR (d.refclassid = 'pg_catalog.pg_operator'::regclass
        AND (SELECT oprnamespace FROM pg_catalog.pg_operator WHERE oid = d.refobjid) <> 'pg_catalog'::regnamespace)
    OR (d.refclassid = 'pg_catalog.pg_type'::regclass
        AND (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = d.refobjid) <> 'pg_catalog'::regnamespace);
";

#[test]
fn plan_and_apply_run_nothing_an_analyst_put_on_their_path() {
    let estate = Estate::new("path");
    let analyst = &estate.analyst;
    // The default before PostgreSQL 15: anyone may create in `public`.
    estate
        .db
        .psql("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .expect("opens public");
    let attack = format!(
        r#"CREATE TABLE public.pwned (who text);
        GRANT INSERT ON public.pwned TO PUBLIC;
        CREATE FUNCTION public.pwn_cat(name, name) RETURNS text LANGUAGE plpgsql AS $f$
        BEGIN
          INSERT INTO public.pwned VALUES (current_user);
          BEGIN EXECUTE 'ALTER ROLE {analyst} SUPERUSER'; EXCEPTION WHEN OTHERS THEN NULL; END;
          RETURN pg_catalog.textcat($1::pg_catalog.text, $2::pg_catalog.text);
        END $f$;
        CREATE OPERATOR public.|| (LEFTARG = name, RIGHTARG = name, FUNCTION = public.pwn_cat);
        CREATE FUNCTION public.pwn_eq(varchar, text) RETURNS boolean LANGUAGE plpgsql AS $f$
        BEGIN
          RAISE NOTICE 'LEAK %', $1;
          RETURN $1::pg_catalog.text OPERATOR(pg_catalog.=) $2;
        END $f$;
        CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.pwn_eq);
        CREATE FUNCTION public.encode(bytea, text) RETURNS text LANGUAGE plpgsql AS $f$
        BEGIN INSERT INTO public.pwned VALUES ('encode ' || current_user); RETURN pg_catalog.encode($1, $2); END $f$;"#
    );
    let run = estate.as_analyst(&attack);
    assert!(run.ok, "{}", run.stderr);

    let plan = veil(&estate.db, &["plan", estate.path()]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("schema `public`") && plan.stdout.contains("writable"),
        "the plan warns of a writable schema on the applying role's path:\n{}",
        plan.stdout
    );
    estate.apply();
    let plan = veil(&estate.db, &["plan", estate.path(), "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);

    let pwned = estate
        .db
        .query(&format!(
            "SELECT count(*) FROM public.pwned; SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = {}",
            literal(analyst)
        ))
        .expect("reads the traps");
    assert_eq!(
        pwned, "0\nf\n",
        "veil ran the analyst's code as its own account"
    );
    let foreign = estate
        .db
        .query(FOREIGN_DEPENDENCIES)
        .expect("reads dependencies");
    assert_eq!(foreign, "", "veil's objects are bound to foreign objects");
    let unbound = estate
        .db
        .query(
            "SELECT p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname IN ('immuta_functions', 'immuta_procedures', 'immuta_system')
                AND p.prosqlbody IS NULL
                AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)
              ORDER BY 1",
        )
        .expect("reads functions");
    assert_eq!(
        unbound, "",
        "functions whose names resolve at run time through the caller's path"
    );
    let seen = estate.as_analyst("SELECT * FROM governed.customers ORDER BY id");
    assert!(seen.ok, "{}", seen.stderr);
    estate.assert_nothing_leaked("after the apply", &seen);
    assert!(!seen.stderr.contains("LEAK"), "{}", seen.stderr);
}

#[test]
fn masks_never_raise_errors() {
    let estate = Estate::new("errors");
    estate
        .db
        .psql(
            "CREATE TABLE public.extremes (id integer, i2 smallint, i4 integer, i8 bigint,
                 n380 numeric(38,0), n382 numeric(38,2), n102 numeric(10,2),
                 f8 double precision, f4 real, d date, ts timestamp, tz timestamptz,
                 s text, c char(4), v varchar(3));
             INSERT INTO public.extremes VALUES
               (1, 32767, 2147483647, 9223372036854775807, 99999999999999999999999999999999999999,
                999999999999999999999999999999999999.99, 99999999.99, 1.7976931348623157e308, 3.4028235e38,
                '5874897-12-31', '294276-12-31 23:59:59', '294276-12-30 23:59:59+00', repeat('x', 10000), 'abcd', 'abc'),
               (2, -32768, -2147483648, -9223372036854775808, -99999999999999999999999999999999999999,
                -999999999999999999999999999999999999.99, -99999999.99, -1.7976931348623157e308, -3.4028235e38,
                '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-02 00:00:00+00 BC', '', '', ''),
               (3, 0, 0, 0, 0, 0, 0, 'NaN', 'NaN', 'infinity', 'infinity', 'infinity', ' ', ' ', ' '),
               (4, 1, 1, 1, 1, 0.01, 0.01, 'Infinity', 'Infinity', '-infinity', '-infinity', '-infinity', 'é', 'é', 'é'),
               (5, NULL, NULL, NULL, NULL, NULL, NULL, '-Infinity', '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL),
               (6, NULL, NULL, NULL, NULL, NULL, NULL, 5e-324, 1e-45, NULL, NULL, NULL, NULL, NULL, NULL);",
        )
        .expect("creates the extremes");
    let columns = "    id   integer\n    i2   smallint\n    i4   integer\n    i8   bigint\n    n380 numeric(38,0)\n    n382 numeric(38,2)\n    n102 numeric(10,2)\n    f8   double precision\n    f4   real\n    d    date\n    ts   timestamp\n    tz   timestamptz\n    s    text\n    c    char(4)\n    v    varchar(3)\n";
    let mut policy = POLICY.to_string();
    let numbers = "i2, i4, i8, n380, n382, n102, f8, f4";
    let times = "d, ts, tz";
    let texts = "s, c, v";
    let methods: [(&str, &str); 13] = [
        (numbers, "round(1000)"),
        (numbers, "round(0.01)"),
        (numbers, "round(7)"),
        (numbers, "hash"),
        (times, "truncate(week)"),
        (times, "truncate(year)"),
        (times, "truncate(quarter)"),
        (times, "hash"),
        (texts, "show_first(2)"),
        (texts, "show_last(2)"),
        (texts, "regex \"(a|b)*\" \"##\""),
        (texts, "hash"),
        (numbers, "constant 99999"),
    ];
    for (i, (targets, method)) in methods.iter().enumerate() {
        policy.push_str(&format!(
            "source shop.x{i} {{\n  table = public.extremes\n  view = x{i}\n  columns {{\n{columns}  }}\n}}\naccess shop.x{i} {{ allow group \"analysts\" }}\nmask {targets} on shop.x{i} using {method}\n"
        ));
    }
    estate.write(&policy, IDENTITIES);
    estate.apply();
    for (i, (targets, method)) in methods.iter().enumerate() {
        let run = estate.as_analyst(&format!("SELECT * FROM governed.x{i} ORDER BY id"));
        assert!(run.ok, "`{method}` on {targets} raised: {}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 6, "{}", run.stdout);
    }

    // The same rule with a pattern both databases take is valid.
    estate.write(
        &format!("{POLICY}mask email on shop.customers using regex \"a{{2,255}}\" \"y\"\n"),
        IDENTITIES,
    );
    ok(veil(&estate.db, &["validate", estate.path()]));
    // Patterns either database would refuse are refused at compile time.
    for pattern in ["a{1000}", "a{256}", "(a", "a**", "[z-a]", "\\\\p{L}"] {
        estate.write(
            &format!("{POLICY}mask email on shop.customers using regex \"{pattern}\" \"y\"\n"),
            IDENTITIES,
        );
        let run = veil(&estate.db, &["validate", estate.path()]);
        assert_eq!(
            run.status, 1,
            "pattern `{pattern}` accepted:\n{}{}",
            run.stdout, run.stderr
        );
    }
}

/// One hand edit, a word the plan must show about it, and whether apply
/// repairs it (an object veil did not create is reported, never dropped).
struct Edit {
    sql: &'static str,
    shown: &'static str,
    repaired: bool,
}

const EDITS: [Edit; 12] = [
    Edit {
        sql: "INSERT INTO immuta_system.profile_groups VALUES ('@ANALYST@', 'pii_readers')",
        shown: "pii_readers",
        repaired: true,
    },
    // The table holds the same rows' values, one of them for another user.
    Edit {
        sql: "UPDATE immuta_system.profile_groups SET userid = '@CONTRACTOR@' WHERE userid = '@ANALYST@' AND name = 'analysts'",
        shown: "@CONTRACTOR@",
        repaired: true,
    },
    Edit {
        sql: "INSERT INTO immuta_system.profile_approvals VALUES ('@CONTRACTOR@', 'shop.customers')",
        shown: "@CONTRACTOR@",
        repaired: true,
    },
    Edit {
        sql: "UPDATE immuta_system.access_rules SET rule_set = rule_set + 1",
        shown: "immuta_system.access_rules",
        repaired: true,
    },
    Edit {
        sql: "DO $$ DECLARE f regprocedure; n int; BEGIN
                SELECT p.oid, p.pronargs INTO f, n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
                 WHERE s.nspname = 'immuta_functions' AND p.proname = 'f_veil_hash';
                EXECUTE format('CREATE OR REPLACE FUNCTION %s RETURNS text LANGUAGE sql IMMUTABLE AS %L', f, 'SELECT CAST($' || n || ' AS text)');
              END $$",
        shown: "f_veil_hash",
        repaired: true,
    },
    Edit {
        sql: "ALTER VIEW governed.customers SET (security_barrier = false)",
        shown: "governed.customers",
        repaired: true,
    },
    Edit {
        sql: "ALTER VIEW governed.sampled OWNER TO \"@ANALYST@\"",
        shown: "governed.sampled",
        repaired: true,
    },
    Edit {
        sql: "GRANT SELECT ON immuta_system.hash_key TO \"@ANALYST@\"",
        shown: "immuta_system.hash_key",
        repaired: true,
    },
    Edit {
        sql: "GRANT EXECUTE ON PROCEDURE immuta_procedures.delete_profile(text) TO PUBLIC",
        shown: "delete_profile",
        repaired: true,
    },
    Edit {
        sql: "UPDATE immuta_system.hash_key SET k = repeat('0', 64)",
        shown: "hash key",
        repaired: true,
    },
    Edit {
        sql: "CREATE VIEW governed.extra AS SELECT 1 AS one",
        shown: "governed.extra",
        repaired: false,
    },
    Edit {
        sql: "CREATE FUNCTION immuta_functions.f_extra() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
        shown: "immuta_functions.f_extra",
        repaired: false,
    },
];

/// An apply waits for the lock on veil's state before it reads that state,
/// so that it plans against what the holder left: here a transaction that
/// edits a side table by hand while it holds the lock. (An apply that
/// planned first would find, under the lock, a deployment that had moved
/// since its plan, and stop.)
#[test]
fn apply_plans_under_the_lock_against_what_the_holder_left() {
    let estate = Estate::new("under_lock");
    estate.apply();
    // A change to apply: the contractor joins the analysts.
    estate.write(
        POLICY,
        &IDENTITIES.replace(
            "    groups: [contractors]\n",
            "    groups: [contractors, analysts]\n",
        ),
    );
    let edit = format!(
        "INSERT INTO immuta_system.profile_groups VALUES ({}, 'pii_readers');",
        literal(&estate.analyst)
    );
    let mut holder = estate.db.hold_state_lock(&edit, 3);
    let run = veil(
        &estate.db,
        &[
            "apply",
            estate.path(),
            "--auto-approve",
            "--lock-timeout",
            "60s",
        ],
    );
    assert!(
        holder.wait().expect("psql ends").success(),
        "the holder commits"
    );
    let run = ok(run);
    assert!(
        run.stdout.contains("drift") && run.stdout.contains("pii_readers"),
        "the plan applied is made against the hand edit:\n{}",
        run.stdout
    );
    let plan = veil(&estate.db, &["plan", estate.path(), "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
}

#[test]

fn hand_edits_that_change_what_users_see_are_drift() {
    let estate = Estate::new("tamper");
    estate.apply();
    let fill = |text: &str| {
        text.replace("@ANALYST@", &estate.analyst)
            .replace("@CONTRACTOR@", &estate.contractor)
    };
    let contractor_group = IDENTITIES.replace(
        "    groups: [contractors]\n",
        "    groups: [contractors, analysts]\n",
    );
    for edit in EDITS {
        let sql = fill(edit.sql);
        // A plan saved before the edit, with a change to carry out.
        estate.write(POLICY, &contractor_group);
        let saved = estate.dir.path().join("saved.plan");
        ok(veil(
            &estate.db,
            &[
                "plan",
                estate.path(),
                "--out",
                saved.to_str().expect("utf-8"),
            ],
        ));
        estate.write(POLICY, IDENTITIES);
        estate.db.psql(&sql).expect("edits by hand");

        let plan = veil(&estate.db, &["plan", estate.path(), "--detailed-exitcode"]);
        assert_eq!(
            plan.status, 2,
            "`{sql}` is not drift:\n{}{}",
            plan.stdout, plan.stderr
        );
        let shown = fill(edit.shown);
        assert!(
            plan.stdout.contains("drift") && plan.stdout.contains(&shown),
            "`{sql}`: the plan does not show `{shown}`:\n{}",
            plan.stdout
        );
        let stale = veil(
            &estate.db,
            &["apply", saved.to_str().expect("utf-8"), "--auto-approve"],
        );
        refused(
            &stale,
            &format!("a plan made before `{sql}`"),
            "changed since the plan was made",
        );

        ok(veil(
            &estate.db,
            &["apply", estate.path(), "--auto-approve"],
        ));
        let plan = veil(&estate.db, &["plan", estate.path(), "--detailed-exitcode"]);
        if edit.repaired {
            assert_eq!(
                plan.status, 0,
                "apply did not repair `{sql}`:\n{}{}",
                plan.stdout, plan.stderr
            );
        } else {
            assert_eq!(plan.status, 2, "`{sql}` is no longer reported");
            assert!(plan.stdout.contains(&shown), "{}", plan.stdout);
            let object = shown.clone();
            let kind = if object.contains("f_extra") {
                "FUNCTION"
            } else {
                "VIEW"
            };
            let parens = if kind == "FUNCTION" { "()" } else { "" };
            estate
                .db
                .psql(&format!("DROP {kind} {object}{parens}"))
                .expect("drops the stranger");
        }
    }
    // Everything is as compiled again: the analyst sees hashes, not PII.
    let seen = estate.as_analyst(&everything_under(""));
    assert!(seen.ok, "{}", seen.stderr);
    estate.assert_nothing_leaked("after the repairs", &seen);
}

#[test]

fn a_saved_plan_runs_only_what_its_policies_compile_to() {
    let estate = Estate::new("saved");
    estate.apply();
    // A plan with changes: the contractor becomes an analyst, and a mask
    // changes.
    estate.write(
        &POLICY.replace("using round(100)", "using round(10)"),
        &IDENTITIES.replace(
            "    groups: [contractors]\n",
            "    groups: [contractors, analysts]\n",
        ),
    );
    let saved = estate.dir.path().join("saved.plan");
    let saved = saved.to_str().expect("utf-8");
    ok(veil(&estate.db, &["plan", estate.path(), "--out", saved]));
    let original = std::fs::read_to_string(saved).expect("reads the plan");
    let state = "SELECT object_name, checksum FROM immuta_system.state ORDER BY 1; SELECT max(serial) FROM immuta_system.deployments; SELECT * FROM immuta_system.profile_groups ORDER BY 1, 2;";
    let before = estate.db.query(state).expect("reads state");
    let tampers: [(&str, &str); 4] = [
        (
            "pg_catalog.round(",
            "pg_catalog.round(0) + 0 * pg_catalog.round(",
        ),
        (
            "GRANT SELECT ON \\\"governed\\\".\\\"customers\\\" TO PUBLIC;",
            "GRANT SELECT ON \\\"governed\\\".\\\"customers\\\" TO PUBLIC; GRANT SELECT ON immuta_system.hash_key TO PUBLIC;",
        ),
        ("'analysts'", "'pii_readers'"),
        (
            "\"steps\":[",
            "\"steps\":[{\"action\":\"create\",\"kind\":\"view\",\"object\":\"governed.x\",\"sql\":\"GRANT SELECT ON immuta_system.hash_key TO PUBLIC;\"},",
        ),
    ];
    for (from, to) in tampers {
        assert!(original.contains(from), "the plan holds `{from}`");
        std::fs::write(saved, original.replacen(from, to, 1)).expect("tampers");
        let run = veil(&estate.db, &["apply", saved, "--auto-approve"]);
        refused(
            &run,
            &format!("a plan edited (`{from}` → `{to}`)"),
            "does not match",
        );
        assert_eq!(estate.db.query(state).expect("reads state"), before);
    }
    std::fs::write(saved, &original).expect("restores");
    ok(veil(&estate.db, &["apply", saved, "--auto-approve"]));
    let plan = veil(&estate.db, &["plan", estate.path(), "--detailed-exitcode"]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
}

#[test]
fn bypass_checks_see_column_grants_and_roles_that_read_everything() {
    let estate = Estate::new("bypass");
    let reader = estate.db.login_role(&format!("reader_{}", estate.db.name));
    estate
        .db
        .psql(&format!(
            "GRANT SELECT (email, ssn) ON public.customers TO {};
             GRANT pg_read_all_data TO {};",
            ident(&estate.analyst),
            ident(&reader)
        ))
        .expect("grants around the policies");
    let plan = veil(&estate.db, &["plan", estate.path()]);
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("email") && plan.stdout.contains(&estate.analyst),
        "a column grant is a warning:\n{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("pg_read_all_data") && plan.stdout.contains(&reader),
        "a role that reads everything is a warning:\n{}",
        plan.stdout
    );
    estate
        .db
        .psql(&format!("REVOKE pg_read_all_data FROM {}", ident(&reader)))
        .expect("revokes");
}

#[test]
fn attacks_that_already_fail_stay_failed() {
    let estate = Estate::new("holds");
    estate.apply();
    let created = estate.as_analyst(SHADOWS);
    assert!(created.ok, "{}", created.stderr);
    // A leaky function in the analyst's own WHERE sees only rows the view
    // returns, and only their masked values.
    let run = estate.as_analyst(
        "SELECT id FROM governed.customers WHERE sandbox.leakb(email) AND sandbox.leakb(name) AND sandbox.leakb(ssn);
         SELECT id FROM governed.sampled WHERE sandbox.leakb(email);",
    );
    assert!(run.ok, "{}", run.stderr);
    estate.assert_nothing_leaked("a leaky predicate", &run);
    // An error probe on a hidden row never fires.
    let run = estate.as_analyst(
        "SELECT id FROM governed.customers WHERE 1 / (CASE WHEN id = 3 THEN 0 ELSE 1 END) = 1;
         SELECT id FROM governed.customers WHERE CAST(CASE WHEN region = 'us' THEN 'x' ELSE '1' END AS integer) = 1;",
    );
    assert!(run.ok, "an error probe saw a hidden row: {}", run.stderr);
    // veil's tables, the base table and the procedures are out of reach, and
    // nobody may create in veil's schemas.
    for sql in [
        "SELECT * FROM immuta_system.profile",
        "SELECT * FROM immuta_system.profile_groups",
        "SELECT * FROM immuta_system.hash_key",
        "SELECT * FROM immuta_system.state",
        "SELECT * FROM public.customers",
        "CALL immuta_procedures.delete_profile('x')",
        "CREATE TABLE immuta_system.mine (x int)",
        "CREATE FUNCTION immuta_functions.f_mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE VIEW governed.mine AS SELECT 1",
        "CREATE TABLE immuta_procedures.mine (x int)",
        "ALTER VIEW governed.customers SET (security_barrier = false)",
        "CREATE OR REPLACE VIEW immuta_system.user_profile AS SELECT 1",
    ] {
        let run = estate.as_analyst(sql);
        assert!(!run.ok, "the analyst could run `{sql}`");
        assert!(
            run.stderr.contains("permission denied") || run.stderr.contains("must be owner"),
            "`{sql}`: {}",
            run.stderr
        );
    }
    // The user_profile view shows one's own row only.
    let run = estate.as_analyst("SELECT immuta__userid FROM immuta_system.user_profile");
    assert_eq!(run.stdout.trim(), estate.analyst);
    // An escape hatch cannot smuggle SQL.
    estate.write(
        &format!("{POLICY}filter shop.customers where sql \"1 = 1) OR (SELECT true\"\n"),
        IDENTITIES,
    );
    let run = veil(&estate.db, &["validate", estate.path()]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
}

#[test]
fn every_setup_cleans_up() {
    // The estate's roles and database go with it; nothing it granted stays.
    let name;
    {
        let estate = Estate::new("cleanup");
        name = estate.analyst.clone();
        assert!(Path::new(estate.path()).exists());
    }
    let left = Database::create("cleanup_check");
    let roles = left
        .query(&format!(
            "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = {}",
            literal(&name)
        ))
        .expect("reads roles");
    assert_eq!(roles.trim(), "0");
}

#[test]
fn the_key_comes_from_a_random_source_and_never_leaves_the_database() {
    let estate = Estate::new("key");
    estate.apply();
    let other = Estate::new("key_other");
    other.apply();
    let key = estate.key();
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_ne!(key, other.key(), "each deployment has its own key");
    // Nothing veil prints or writes holds it.
    let saved = estate.dir.path().join("saved.plan");
    let out = estate.dir.path().join("compiled");
    let mut seen = String::new();
    for args in [
        vec!["plan", estate.path()],
        vec!["plan", estate.path(), "--format", "json"],
        vec!["plan", estate.path(), "--format", "markdown"],
        vec![
            "plan",
            estate.path(),
            "--out",
            saved.to_str().expect("utf-8"),
        ],
        vec![
            "compile",
            estate.path(),
            "--out",
            out.to_str().expect("utf-8"),
        ],
    ] {
        let run = veil(&estate.db, &args);
        assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
        seen.push_str(&run.stdout);
        seen.push_str(&run.stderr);
    }
    seen.push_str(&std::fs::read_to_string(&saved).expect("reads the plan"));
    for entry in std::fs::read_dir(out.join("shop")).expect("lists the compiled files") {
        let path = entry.expect("entry").path();
        seen.push_str(&std::fs::read_to_string(path).expect("reads a file"));
    }
    assert!(!seen.contains(&key), "the key left the database");
    // The compiled Redshift bootstrap makes no key from a seeded generator.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let out = estate.dir.path().join("compiled_redshift");
    let run = veil(
        &estate.db,
        &["compile", example, "--out", out.to_str().expect("utf-8")],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    for entry in std::fs::read_dir(out.join("warehouse")).expect("lists the compiled files") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("reads");
        assert!(!text.to_ascii_uppercase().contains("RANDOM("), "{text}");
    }
}

#[test]
fn every_regex_pattern_veil_accepts_postgresql_runs() {
    // Random patterns over the characters that matter to a regex engine:
    // whatever the checker accepts must run without an error on the
    // server, on a value it matches and one it does not.
    let db = Database::create("patterns");
    let alphabet: Vec<char> = "ab.*+?|()[]{}^$-,0123456789\\:".chars().collect();
    let mut rng = crate::common::Rng(0x5eed_cafe);
    let mut accepted = Vec::new();
    for _ in 0..4000 {
        let len = 1 + rng.below(8);
        let pattern: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        if veil::check::check_posix_pattern(&pattern).is_ok() {
            accepted.push(pattern);
        }
    }
    assert!(
        accepted.len() > 200,
        "too few patterns accepted: {}",
        accepted.len()
    );
    for chunk in accepted.chunks(100) {
        let sql: String = chunk
            .iter()
            .map(|p| {
                format!(
                    "SELECT pg_catalog.regexp_replace('ab01{{}}', {0}, 'y', 'g'), pg_catalog.regexp_replace('', {0}, 'y', 'g');\n",
                    literal(p)
                )
            })
            .collect();
        if let Err(e) = db.psql(&sql) {
            // Find the pattern the server refused.
            for p in chunk {
                let one = format!(
                    "SELECT pg_catalog.regexp_replace('ab', {}, 'y', 'g')",
                    literal(p)
                );
                assert!(
                    db.psql(&one).is_ok(),
                    "veil accepts `{p}`, PostgreSQL refuses it: {e}"
                );
            }
        }
    }
}
