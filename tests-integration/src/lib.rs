//! Empty: this package holds route-guard's tests that need other projects' code, in `tests/`.
