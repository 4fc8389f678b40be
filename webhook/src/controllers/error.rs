//! The one error type of every controller's reconcile.

use kube::runtime::finalizer;

/// Why a reconcile did not complete; every variant is retried by the one policy in
/// [`super::runtime`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A host API call failed (a 409 means the object changed meanwhile).
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Some member clusters failed (details in the object's status).
    #[error("not propagated everywhere: {0}")]
    Incomplete(String),
    /// The finalizer helper failed (adding/removing the finalizer or the wrapped reconcile).
    #[error(transparent)]
    Finalizer(Box<finalizer::Error<Error>>),
    /// The reconcile task panicked or was cancelled.
    #[error("reconcile task failed: {0}")]
    Task(String),
}

impl Error {
    /// True when only member clusters failed: already reported in status and Events, so it is
    /// logged quietly on every retry.
    pub fn reported(&self) -> bool {
        match self {
            Error::Incomplete(_) => true,
            Error::Finalizer(e) => {
                matches!(&**e, finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner)
                    if inner.reported())
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_member_failures_count_as_reported() {
        let incomplete = || Error::Incomplete("vulcan: timeout".into());
        assert!(incomplete().reported());
        assert!(Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(incomplete()))).reported());
        assert!(Error::Finalizer(Box::new(finalizer::Error::CleanupFailed(incomplete()))).reported());
        let task = || Error::Task("panicked".into());
        assert!(!task().reported());
        assert!(!Error::Finalizer(Box::new(finalizer::Error::ApplyFailed(task()))).reported());
        assert!(!Error::Finalizer(Box::new(finalizer::Error::UnnamedObject)).reported());
    }
}
