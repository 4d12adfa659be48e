//! Shape rules are compile errors whose first line names the rule. The `.stderr` files under
//! `tests/ui/` are the record of what users read; regenerate them with
//! `TRYBUILD=overwrite cargo test --test compile_fail` after a deliberate change.

#[test]
fn shape_errors_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // the pictures' channel rules, with the features that have them
    #[cfg(feature = "vision")]
    t.compile_fail("tests/ui/vision/*.rs");
    #[cfg(feature = "tensorboard")]
    t.compile_fail("tests/ui/tensorboard/*.rs");
}
