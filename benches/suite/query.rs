//! What a governed view costs at query time on PostgreSQL: a view with three
//! masks and two row filters (one matching a user attribute) against the
//! hand-written query applying the same masks and filters with the user's
//! values as literals, run alternately, as the same user.

use super::Database;
use postgres::Client;
use std::time::{Duration, Instant};

/// The median ratio under one setting of the server.
#[derive(Debug, Clone)]
pub struct QueryFigure {
    pub setting: &'static str,
    pub governed: Duration,
    pub hand_written: Duration,
    pub median_ratio: f64,
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
    super::admin(&format!("DROP ROLE IF EXISTS {role}"));
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
    let hand = format!(
        "SELECT count(*), max(immuta_functions.f_veil_hash('{key}', 'b.events', email)),
                max(CAST(ROUND(CAST(amount AS numeric) / 100) * 100 AS numeric(13,2))),
                max(regexp_replace(note, '[0-9]', '#', 'g'))
           FROM public.events
          WHERE region IN ('eu', 'us') AND created_at >= (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') - INTERVAL '365 days'"
    );
    client
        .batch_execute(&format!(
            "GRANT SELECT ON public.events TO {role}; SET ROLE {role}"
        ))
        .expect("becomes the user");
    // Same answer both ways, or the comparison means nothing.
    let a = client.query_one(governed, &[]).expect("governed query");
    let b = client
        .query_one(hand.as_str(), &[])
        .expect("hand-written query");
    assert_eq!(a.get::<_, i64>(0), b.get::<_, i64>(0), "row counts differ");
    assert_eq!(
        a.get::<_, Option<String>>(1),
        b.get::<_, Option<String>>(1),
        "hashes differ"
    );
    let _ = writeln!(out, "both queries return {} rows", a.get::<_, i64>(0));

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
        // Warm both, then alternate.
        time(governed);
        time(&hand);
        let mut ratios = Vec::new();
        let mut governed_times = Vec::new();
        let mut hand_times = Vec::new();
        for _ in 0..runs {
            let g = time(governed);
            let h = time(&hand);
            ratios.push(g.as_secs_f64() / h.as_secs_f64());
            governed_times.push(g);
            hand_times.push(h);
        }
        ratios.sort_by(f64::total_cmp);
        let figure = QueryFigure {
            setting,
            governed: super::median(governed_times),
            hand_written: super::median(hand_times),
            median_ratio: ratios[ratios.len() / 2],
        };
        let _ = writeln!(
            out,
            "{setting}: governed {:.1} ms, hand-written {:.1} ms (medians of {runs}), median ratio {:.3}",
            figure.governed.as_secs_f64() * 1e3,
            figure.hand_written.as_secs_f64() * 1e3,
            figure.median_ratio
        );
        figures.push(figure);
    }
    figures
}
