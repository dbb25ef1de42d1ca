//! Empty: the utoipa 6 runs of the utoipa tests are the `[[test]]` targets of this package.
