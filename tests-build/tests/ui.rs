//! The compile-time contract of the macros: every case in `tests/ui/fail` fails with the error
//! in its `.stderr` snapshot (regenerate with `TRYBUILD=overwrite cargo test -p
//! route-guard-build-tests` and review the diff). The cases that must compile and run
//! (`tests-integration/tests/ui/pass*`) are compiled into the integration binary
//! (`integration/ui_pass.rs`): trybuild only checks here, so it never generates code for the
//! dependencies a second time, and this package's dependencies are only what the cases use.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
