//! What the benches share: reading criterion's estimates back to print ratios.

/// The mean time in nanoseconds of `group/name` from this run's criterion output.
pub fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .join("criterion")
        .join(group)
        .join(name)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(dir).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

/// Prints each of `names` as a ratio against `baseline` (all in `group`).
pub fn print_ratios(group: &str, baseline: (&str, f64), names: &[&str]) {
    println!(
        "\n{group}: ratios against {} ({:.2} µs):",
        baseline.0,
        baseline.1 / 1000.0
    );
    for name in names {
        if let Some(t) = mean_ns(group, name) {
            println!(
                "  {name:<36} {:>8.2} µs  {:.3}×",
                t / 1000.0,
                t / baseline.1
            );
        }
    }
}
