//! Process exit codes (design §6), in one place so scripts can rely on them.

/// What badgw's exit code tells a script. With `diagnose --fix`: `0` the fix was applied and
/// the site answers again (verified through nginx and at the upstream), `1` still failing
/// (or no fix went through: every file restored), `2`/`3` as without it, `4` every fix
/// offered was declined (nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// No problem found.
    Healthy = 0,
    /// Problem(s) found: a critical or warning finding, or an upstream failure in a log.
    Problems = 1,
    /// Usage error, or input that cannot be read at all.
    Usage = 2,
    /// The diagnosis is incomplete, e.g. nginx could not be found and no override was given.
    Incomplete = 3,
    /// `diagnose --fix`: the user declined every fix offered; nothing was changed.
    Declined = 4,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that should end the process with a specific exit status.
#[derive(Debug)]
pub struct ExitError {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for ExitError {}

/// Wraps an error so `main` exits with `status` instead of the default usage code.
pub fn fail(status: ExitStatus, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        status,
        error: error.into(),
    })
}
