//! What a governed view costs at query time on PostgreSQL: a view with three
//! masks and two row filters (one matching a user attribute) against the
//! hand-written query applying the same masks and filters with the user's
//! values as literals, run alternately, as the same user.
//!
//! ```text
//! cargo run --release --example query_bench -- [ROWS] [USERS] [RUNS]
//! ```
//! Defaults: 1,000,000 rows, 20,000 users, 5 runs of each. Needs the
//! PostgreSQL server on 127.0.0.1:5432 (user `postgres`, trust); makes and
//! drops its own database and role.

use postgres::{Client, NoTls};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(1_000_000);
    let users = args.get(1).copied().unwrap_or(20_000).max(1);
    let runs = args.get(2).copied().unwrap_or(5).max(1);
    let db = format!("veil_query_bench_{}", std::process::id());
    let role = format!("bench_user_{}", std::process::id());
    let url = |database: &str| format!("host=127.0.0.1 port=5432 user=postgres dbname={database}");
    let mut admin = Client::connect(&url("postgres"), NoTls).expect("connects to PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("creates the database");
    let result = std::panic::catch_unwind(|| run(&url(&db), &db, &role, rows, users, runs));
    if std::env::var_os("VEIL_BENCH_KEEP").is_some() {
        println!("kept database {db} and role {role}");
        return;
    }
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .expect("drops the database");
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .expect("drops the role");
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn run(url: &str, db: &str, role: &str, rows: usize, users: usize, runs: usize) {
    let mut client = Client::connect(url, NoTls).expect("connects");
    let t = Instant::now();
    client
        .batch_execute(&format!(
            "CREATE TABLE public.events (id bigint, email text, amount numeric(12,2), region varchar(8), created_at timestamp, note text);
             INSERT INTO public.events
             SELECT g, 'user' || g || '@example.com', (g % 100000) / 7.0,
                    (ARRAY['eu','us','apac','latam'])[1 + g % 4],
                    LOCALTIMESTAMP - (g % 730) * INTERVAL '1 day', 'note ' || g
               FROM generate_series(1, {rows}) g;
             ANALYZE public.events;
             CREATE ROLE {role};"
        ))
        .expect("creates the data");
    println!("{rows} rows loaded in {:.1?}", t.elapsed());

    // The project: three masks, two filters, one of them on an attribute.
    let dir = std::env::temp_dir().join(format!("veil-query-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creates the project dir");
    std::fs::write(
        dir.join("bench.veil"),
        format!(
            "integration bench {{\n  dialect = postgres\n  database = \"{db}\"\n  view_schema = \"governed\"\n}}\n\
             source b.events {{\n  table = public.events\n  event_time = created_at\n  columns {{\n    id bigint\n    email text tags(pii)\n    amount numeric(12,2)\n    region varchar(8)\n    created_at timestamp\n    note text\n  }}\n}}\n\
             access b.events {{\n  allow group \"analysts\"\n}}\n\
             mask tagged pii using hash except group \"pii_readers\"\n\
             mask amount on b.events using round(100) for not attribute \"clearance\" = \"high\"\n\
             mask note on b.events using regex \"[0-9]\" \"#\"\n\
             filter b.events where region in user.attribute(\"region\") except group \"global\"\n\
             filter b.events newer than 365 days\n"
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
    let project = veil::project::load(&dir).expect("loads");
    let model = project.check().model.expect("checks");
    let compiled = veil::commands::compile_ir(&veil::ir::lower(&model)).expect("compiles");
    let t = Instant::now();
    for object in &compiled[0].objects {
        client
            .batch_execute(&object.sql)
            .expect("runs the compiled SQL");
    }
    client.batch_execute("ANALYZE").expect("analyzes");
    let _ = std::fs::remove_dir_all(&dir);
    println!("policy applied for {users} users in {:.1?}", t.elapsed());

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
          WHERE region IN ('eu', 'us') AND created_at >= LOCALTIMESTAMP - INTERVAL '365 days'"
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
    println!("both queries return {} rows", a.get::<_, i64>(0));

    for (label, setting) in [
        ("parallel plans allowed", "DEFAULT"),
        ("one process each", "0"),
    ] {
        client
            .batch_execute(&format!("SET max_parallel_workers_per_gather = {setting}"))
            .expect("sets parallelism");
        let mut time = |sql: &str| -> Duration {
            let t = Instant::now();
            client.query_one(sql, &[]).expect("query");
            t.elapsed()
        };
        // Warm both, then alternate.
        time(governed);
        time(&hand);
        let mut ratios = Vec::new();
        for run in 1..=runs {
            let g = time(governed);
            let h = time(&hand);
            let ratio = g.as_secs_f64() / h.as_secs_f64();
            println!(
                "{label}, run {run}: governed {g:.1?}, hand-written {h:.1?}, ratio {ratio:.3}"
            );
            ratios.push(ratio);
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "{label}: median ratio governed / hand-written over {runs} runs: {:.3}",
            ratios[ratios.len() / 2]
        );
    }
}
