//! The compile-time contract of the macros: `tests/ui/pass` compiles, and every case in
//! `tests/ui/fail` fails with the error in its `.stderr` snapshot (regenerate with
//! `TRYBUILD=overwrite cargo test --test ui` and review the diff).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    // The documented usage of each optional integration.
    if cfg!(feature = "aide") {
        cases.pass("tests/ui/pass_aide/*.rs");
    }
    if cfg!(feature = "utoipa") {
        cases.pass("tests/ui/pass_utoipa/*.rs");
    }
    cases.compile_fail("tests/ui/fail/*.rs");
}
