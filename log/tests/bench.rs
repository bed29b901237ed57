//! Prints the event log's benchmark numbers. Ignored by default; run it in release:
//! `cargo test --release -p baton-log --test bench -- --ignored --nocapture`.

#[test]
#[ignore = "a measurement, not a check: run in release with --ignored --nocapture"]
fn print_append_and_verify_rates() {
    let dir = tempfile::tempdir().unwrap();
    let records = 2_000_000;
    let result = baton_log::bench(dir.path(), records).unwrap();
    println!(
        "event log: {} records of {} body bytes ({} MiB, {} group commits)\n  \
         append with group commit: {:.3} s = {:.0} records/s\n  \
         verify: {:.3} s = {:.0} records/s",
        result.records,
        result.body_bytes,
        result.log_bytes >> 20,
        result.batches,
        result.append_seconds,
        result.append_per_s,
        result.verify_seconds,
        result.verify_per_s,
    );
}
