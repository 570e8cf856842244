//! Everything the command prints: reports on stdout (text or JSON), messages
//! and errors on stderr.

use std::process::ExitCode;

use budgetguard::catalog::CatalogError;
use budgetguard::install::InstallError;
use budgetguard::package::PackageError;
use serde::Serialize;

/// Prints `value` as pretty JSON on stdout.
pub fn json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("reports serialize")
    );
}

/// Prints the error on stderr (and as JSON on stdout with `--json`) and
/// returns the exit code it stands for: 2 for bad usage, 1 for a failure.
pub fn error(error: &anyhow::Error, as_json: bool) -> ExitCode {
    let message = budgetguard::error_text(error.as_ref());
    eprintln!("error: {message}");
    if as_json {
        json(&serde_json::json!({ "error": message }));
    }
    if is_usage_error(error) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// Naming a node that does not exist, or is not installed, is bad usage.
fn is_usage_error(error: &anyhow::Error) -> bool {
    let unknown = |e: &CatalogError| {
        matches!(
            e,
            CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. }
        )
    };
    error.chain().any(|cause| {
        cause.downcast_ref::<CatalogError>().is_some_and(unknown)
            || matches!(cause.downcast_ref::<PackageError>(), Some(PackageError::Catalog(e)) if unknown(e))
            || matches!(
                cause.downcast_ref::<InstallError>(),
                Some(InstallError::NotInstalled { .. })
            )
            || matches!(cause.downcast_ref::<InstallError>(), Some(InstallError::Catalog(e)) if unknown(e))
    })
}
