//! Empty: the trybuild cases are the `ui` test of this package.
