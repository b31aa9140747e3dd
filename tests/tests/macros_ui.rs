//! Compile-time behaviour of msal-macros: the `pass` cases build and run, each `fail` case is
//! rejected with the messages pinned in its `.stderr` (rustc 1.95; refresh them with
//! `TRYBUILD=overwrite cargo test -p msal-tests --test macros_ui` and review the diff).

#[test]
fn macros_ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/macros/pass/*.rs");
    t.compile_fail("ui/macros/fail/*.rs");
}
