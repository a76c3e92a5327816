//! What a governed view costs at query time on PostgreSQL: a view with
//! group access, three masks and two row filters (one matching a user
//! attribute), against the hand-written query applying the same access
//! check, masks and filters with the user's values as literals, and against
//! PostgreSQL's own row-level security with a masking view doing the same
//! work over the same side tables; run in turn, as the same user.

use super::Database;
use postgres::Client;
use std::time::{Duration, Instant};

/// The row-level security peer's test of `attribute "clearance" = "high"`.
const CLEARED: &str = "(SELECT count(*) FROM immuta_system.profile_attributes x WHERE x.userid = CAST(current_user AS text) AND x.key = 'clearance' AND x.value = 'high') > 0";

/// The median ratio under one setting of the server.
#[derive(Debug, Clone)]
pub struct QueryFigure {
    pub setting: &'static str,
    pub governed: Duration,
    pub hand_written: Duration,
    pub median_ratio: f64,
    /// Row-level security with a masking view, and its median ratio to the
    /// hand-written query.
    pub rls: Duration,
    pub rls_ratio: f64,
}

/// Loads `rows` rows, applies the policy for `users` users and times both
/// queries `runs` times each.
pub fn run(
    rows: usize,
    users: usize,
    runs: usize,
    out: &mut dyn std::io::Write,
) -> Vec<QueryFigure> {
    let db = Database::create("query");
    let role = format!("veil_bench_user_{}", std::process::id());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        measure(&db, &role, rows, users.max(1), runs.max(1), out)
    }));
    drop(db);
    // A kept database still holds the role's grants.
    if !super::keep() {
        super::admin(&format!("DROP ROLE IF EXISTS {role}"));
    }
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn measure(
    db: &Database,
    role: &str,
    rows: usize,
    users: usize,
    runs: usize,
    out: &mut dyn std::io::Write,
) -> Vec<QueryFigure> {
    let mut client = Client::connect(&db.conninfo(), postgres::NoTls).expect("connects");
    let started = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE TABLE public.events (id bigint, email text, amount numeric(12,2), region varchar(8), created_at timestamp, note text);
             INSERT INTO public.events
             SELECT g, 'user' || g || '@example.com', (g % 100000) / 7.0,
                    (ARRAY['eu','us','apac','latam'])[1 + g % 4],
                    LOCALTIMESTAMP - (g % 730) * INTERVAL '1 day', 'note ' || g
               FROM generate_series(1, {rows}) g;
             ANALYZE public.events;
             DROP ROLE IF EXISTS {role};
             CREATE ROLE {role};"
        ))
        .expect("creates the data");
    let _ = writeln!(
        out,
        "{rows} rows loaded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The project: three masks, two filters, one of them on an attribute.
    let scratch = super::Scratch::new("query");
    let dir = &scratch.0;
    std::fs::write(
        dir.join("bench.veil"),
        format!(
            "integration bench {{\n  dialect = postgres\n  database = \"{}\"\n  view_schema = \"governed\"\n}}\n\
             source b.events {{\n  table = public.events\n  event_time = created_at\n  columns {{\n    id bigint\n    email text tags(pii)\n    amount numeric(12,2)\n    region varchar(8)\n    created_at timestamp\n    note text\n  }}\n}}\n\
             access b.events {{\n  allow group \"analysts\"\n}}\n\
             mask tagged pii using hash except group \"pii_readers\"\n\
             mask amount on b.events using round(100) for not attribute \"clearance\" = \"high\"\n\
             mask note on b.events using regex \"[0-9]\" \"#\"\n\
             filter b.events where region in user.attribute(\"region\") except group \"global\"\n\
             filter b.events newer than 365 days\n",
            db.name
        ),
    )
    .expect("writes the policy");
    let mut yaml = String::from(
        "groups: [analysts, pii_readers, global]\nattributes:\n  region: [eu, us, apac, latam]\n  clearance: [high]\nusers:\n",
    );
    yaml.push_str(&format!(
        "  {role}:\n    groups: [analysts]\n    attributes: {{ region: [eu, us] }}\n"
    ));
    for u in 1..users {
        yaml.push_str(&format!(
            "  other_{u}:\n    groups: [analysts]\n    attributes: {{ region: [latam] }}\n"
        ));
    }
    std::fs::write(dir.join("identities.yaml"), yaml).expect("writes identities");
    let project = veil::project::load(dir).expect("loads");
    let model = project.check().model.expect("checks");
    let compiled = veil::emit::compile_ir(&veil::ir::lower(&model)).expect("compiles");
    let started = Instant::now();
    for object in &compiled[0].objects {
        client
            .batch_execute(&object.sql)
            .expect("runs the compiled SQL");
    }
    client.batch_execute("ANALYZE").expect("analyzes");
    let _ = writeln!(
        out,
        "policy for {users} users applied in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let key: String = client
        .query_one("SELECT k FROM immuta_system.hash_key", &[])
        .expect("reads the key")
        .get(0);
    let governed = "SELECT count(*), max(email), max(amount), max(note) FROM governed.events";
    // The user is an analyst (the access check, once per query), sees
    // emails hashed and amounts rounded, rows of eu and us within a year.
    let hand = format!(
        "SELECT count(*), max(immuta_functions.f_veil_hash('{key}', 'b.events', email)),
                max(CAST(ROUND(CAST(amount AS numeric) / 100) * 100 AS numeric(13,2))),
                max(regexp_replace(note, '[0-9]', '#', 'g'))
           FROM public.events
          WHERE (SELECT count(*) FROM immuta_system.profile_groups g WHERE g.userid = CAST(current_user AS text) AND g.name = 'analysts') > 0
            AND region IN ('eu', 'us') AND created_at >= (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') - INTERVAL '365 days'"
    );
    // The peer: the same table under row-level security (access and both
    // filters in the policy), masked by a view that runs as the user.
    let member = |table: &str, column: &str, value: &str| {
        format!(
            "(SELECT count(*) FROM immuta_system.{table} x WHERE x.userid = CAST(current_user AS text) AND {column} = '{value}') > 0"
        )
    };
    client
        .batch_execute(&format!(
            "CREATE TABLE public.events_rls AS TABLE public.events;
             ANALYZE public.events_rls;
             ALTER TABLE public.events_rls ENABLE ROW LEVEL SECURITY;
             CREATE POLICY bench ON public.events_rls FOR SELECT USING (
               {analysts}
               AND ({global} OR region IN (SELECT a.value FROM immuta_system.profile_attributes a WHERE a.userid = CAST(current_user AS text) AND a.key = 'region'))
               AND created_at >= (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') - INTERVAL '365 days');
             CREATE VIEW public.events_rls_masked WITH (security_invoker = true) AS
             SELECT CASE WHEN {readers} THEN email
                         ELSE immuta_functions.f_veil_hash((SELECT k FROM immuta_system.hash_key), 'b.events', email) END AS email,
                    CASE WHEN {cleared} THEN amount
                         ELSE CAST(ROUND(CAST(amount AS numeric) / 100) * 100 AS numeric(13,2)) END AS amount,
                    regexp_replace(note, '[0-9]', '#', 'g') AS note
               FROM public.events_rls;
             GRANT USAGE ON SCHEMA immuta_system TO {role};
             GRANT SELECT ON immuta_system.profile_groups, immuta_system.profile_attributes, immuta_system.hash_key TO {role};
             GRANT SELECT ON public.events, public.events_rls, public.events_rls_masked TO {role};
             SET ROLE {role}",
            analysts = member("profile_groups", "x.name", "analysts"),
            global = member("profile_groups", "x.name", "global"),
            readers = member("profile_groups", "x.name", "pii_readers"),
            cleared = CLEARED,
        ))
        .expect("sets up the row-level security peer and becomes the user");
    let rls = "SELECT count(*), max(email), max(amount), max(note) FROM public.events_rls_masked";
    // Same answer both ways, or the comparison means nothing.
    let a = client.query_one(governed, &[]).expect("governed query");
    let b = client
        .query_one(hand.as_str(), &[])
        .expect("hand-written query");
    let c = client
        .query_one(rls, &[])
        .expect("row-level security query");
    for (other, what) in [(&b, "hand-written"), (&c, "row-level security")] {
        assert_eq!(
            a.get::<_, i64>(0),
            other.get::<_, i64>(0),
            "{what}: row counts differ"
        );
        assert_eq!(
            a.get::<_, Option<String>>(1),
            other.get::<_, Option<String>>(1),
            "{what}: hashes differ"
        );
        assert_eq!(
            a.get::<_, Option<String>>(3),
            other.get::<_, Option<String>>(3),
            "{what}: notes differ"
        );
    }
    let _ = writeln!(out, "all three queries return {} rows", a.get::<_, i64>(0));

    let mut figures = Vec::new();
    for (setting, value) in [
        ("parallel plans allowed (default)", "DEFAULT"),
        ("max_parallel_workers_per_gather = 0", "0"),
    ] {
        client
            .batch_execute(&format!("SET max_parallel_workers_per_gather = {value}"))
            .expect("sets parallelism");
        let mut time = |sql: &str| -> Duration {
            let started = Instant::now();
            client.query_one(sql, &[]).expect("query");
            started.elapsed()
        };
        // Warm all three, then take turns.
        time(governed);
        time(&hand);
        time(rls);
        let (mut ratios, mut rls_ratios) = (Vec::new(), Vec::new());
        let (mut governed_times, mut hand_times, mut rls_times) =
            (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let g = time(governed);
            let h = time(&hand);
            let r = time(rls);
            ratios.push(g.as_secs_f64() / h.as_secs_f64());
            rls_ratios.push(r.as_secs_f64() / h.as_secs_f64());
            governed_times.push(g);
            hand_times.push(h);
            rls_times.push(r);
        }
        ratios.sort_by(f64::total_cmp);
        rls_ratios.sort_by(f64::total_cmp);
        let figure = QueryFigure {
            setting,
            governed: super::median(governed_times),
            hand_written: super::median(hand_times),
            median_ratio: ratios[ratios.len() / 2],
            rls: super::median(rls_times),
            rls_ratio: rls_ratios[rls_ratios.len() / 2],
        };
        let _ = writeln!(
            out,
            "{setting}: governed {:.1} ms, hand-written {:.1} ms, row-level security {:.1} ms (medians of {runs}); governed / hand-written {:.3}, row-level security / hand-written {:.3}",
            figure.governed.as_secs_f64() * 1e3,
            figure.hand_written.as_secs_f64() * 1e3,
            figure.rls.as_secs_f64() * 1e3,
            figure.median_ratio,
            figure.rls_ratio
        );
        figures.push(figure);
    }
    figures
}
