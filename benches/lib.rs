//! Empty: route-guard's benches are the `[[bench]]` targets of this package.
