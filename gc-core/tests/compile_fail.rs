//! Compile-fail tests: branded references cannot escape `mutate` or cross
//! heaps; `Persistent` is the way across. The expected compiler messages
//! are in `tests/ui/*.stderr` (regenerate with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui-pass/*.rs");
}
