//! The benchmark suite at a small size, so it keeps working. It checks what
//! each step did, never how fast.

#[path = "../../benches/suite/mod.rs"]
mod suite;

#[test]
fn small_benchmark_runs_and_each_step_does_what_it_should() {
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_veil"));
    let sizes = suite::Sizes::small();
    let mut printed = Vec::new();
    let figures = suite::run(exe, &sizes, &mut printed);
    let printed = String::from_utf8_lossy(&printed);
    println!("{printed}");

    assert_eq!(figures.compile.len(), sizes.compile.len());
    assert_eq!(figures.compile_distinct.len(), sizes.compile.len());
    assert!(
        figures
            .compile
            .iter()
            .chain(&figures.compile_distinct)
            .all(|c| c.sql_mb > 0.0 && c.peak_mb > 0.0)
    );
    // The no-change plan reads the deployment in the same number of round
    // trips at both sizes.
    assert_eq!(figures.plans.len(), 2);
    assert_eq!(figures.plans[0].round_trips, figures.plans[1].round_trips);
    assert!(figures.plans[0].round_trips > 0);
    // A one-rule change replaces one view and nothing else.
    assert_eq!(
        figures.one_rule_objects.len(),
        1,
        "{:?}",
        figures.one_rule_objects
    );
    assert!(figures.one_rule_objects[0].starts_with("replace view "));
    // …in a handful of statements, not one per object of the deployment.
    assert!(
        (1..10).contains(&figures.one_rule_statements),
        "{}",
        figures.one_rule_statements
    );
    assert!(figures.apply.is_some() && figures.psql.is_some());
    assert_eq!(figures.query.len(), 2);
    assert!(figures.query.iter().all(|q| q.median_ratio > 0.0));
}

/// The benchmark's users that are all different are: no two have the same
/// groups, attributes and projects.
#[test]
fn distinct_users_differ() {
    let scratch = crate::common::Scratch::new("synth-distinct");
    let mut spec = suite::synth::Spec::distinct(50, suite::synth::Layout::Mixed);
    spec.users = 20_000;
    suite::synth::write(scratch.path(), &spec).expect("writes the project");
    let yaml = std::fs::read_to_string(scratch.path().join("identities.yaml")).expect("reads");
    let users = yaml.split("users:\n").nth(1).expect("a users section");
    let users = format!("\n{users}");
    let entries: Vec<&str> = users.split("\n  user_").skip(1).collect();
    assert_eq!(entries.len(), spec.users);
    let memberships: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e.split_once('\n').map_or("", |(_, rest)| rest))
        .collect();
    assert_eq!(memberships.len(), spec.users, "two users are alike");
}
