//! The macros' documented usage compiles and runs: `tests/ui/pass*` (the compile-fail half of
//! the contract is `tests/ui.rs`, under trybuild). Compiled here, in the suite's own build,
//! rather than by trybuild, which would build every dependency a second time to run them.

macro_rules! pass_cases {
    ($($name:ident => $path:literal,)*) => {
        $(
            #[path = $path]
            #[allow(dead_code)]
            mod $name;

            #[test]
            fn $name() {
                $name::main();
            }
        )*
    };
}

pass_cases! {
    derive_claims => "../ui/pass/derive_claims.rs",
    every_form => "../ui/pass/every_form.rs",
    handler_shapes => "../ui/pass/handler_shapes.rs",
    org_and_actor => "../ui/pass/org_and_actor.rs",
    renamed_crate => "../ui/pass/renamed_crate.rs",
    aide_router => "../ui/pass_aide/aide_router.rs",
    utoipa_modify => "../ui/pass_utoipa/utoipa_modify.rs",
}
