//! Compile-time behaviour, one trybuild run for the whole workspace: msal-macros' derives and
//! `scopes!`, and the public API's misuse errors (an app builder missing a required input,
//! client credentials or on-behalf-of on a public client, a flow completed twice or read
//! before completion, a completed flow serialized). Each `pass` case builds and runs; each
//! `fail` case is rejected with the messages pinned in its `.stderr` (rustc 1.95; refresh them
//! with `TRYBUILD=overwrite cargo test -p msal-tests --test ui` and review the diff).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/macros/pass/*.rs");
    t.pass("ui/api/pass/*.rs");
    t.compile_fail("ui/macros/fail/*.rs");
    t.compile_fail("ui/api/fail/*.rs");
}
