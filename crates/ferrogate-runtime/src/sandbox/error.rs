//! Why the sandbox init, or one of the processes it starts, could not do something.
//!
//! The init and its children report to the agent as text (the control protocol carries
//! the `Display` of these values); inside the init they stay typed. No variant carries a
//! secret: the init never holds key material, and an environment value is never part of
//! an error.

use std::io;
use std::path::PathBuf;

use super::user::UserError;

/// A failure in the sandbox init or a process it forked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A system call failed while doing `step`.
    #[error("{step}: {source}")]
    Sys {
        /// What the init was doing.
        step: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A system call on `path` failed while doing `step`.
    #[error("{step} {}: {source}", path.display())]
    Path {
        /// What the init was doing.
        step: &'static str,
        /// The path (inside the task: never a host path but the task's own).
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The agent sent something other than what the protocol expects next.
    #[error("expected {expected} from the agent")]
    Protocol {
        /// The message expected.
        expected: &'static str,
    },
    /// The agent started the init with a number of descriptors that does not match its
    /// configuration.
    #[error("{got} descriptors inherited for {containers} containers")]
    Descriptors {
        /// Descriptors after the control socket.
        got: usize,
        /// Containers in the configuration.
        containers: usize,
    },
    /// An account file of the image cannot be used.
    #[error("{path} {problem}")]
    AccountFile {
        /// `/etc/passwd` or `/etc/group`.
        path: &'static str,
        /// What is wrong with it.
        problem: AccountFileProblem,
    },
    /// The container `user` does not resolve.
    #[error(transparent)]
    User(#[from] UserError),
    /// The command is empty.
    #[error("no command specified")]
    NoCommand,
    /// The program is not on the container's `PATH` (Docker's message).
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    /// An argument, variable or path holds a NUL byte.
    #[error("NUL byte in {0}")]
    Nul(&'static str),
    /// `execve` failed.
    #[error("exec {program:?}: {source}")]
    Exec {
        /// argv\[0\].
        program: String,
        /// The error.
        source: io::Error,
    },
    /// A forked child did not exec within the deadline and was killed.
    #[error("the process did not start within {ms} ms")]
    StartTimeout {
        /// The deadline.
        ms: u64,
    },
    /// What a forked child reported before it exited (its own `InitError`, as text: it
    /// crossed a process boundary).
    #[error("{0}")]
    Child(String),
    /// The task volume could not be mounted.
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    /// A container the agent named is not running.
    #[error("container {0} is not running")]
    NotRunning(String),
}

/// What is wrong with an image's `/etc/passwd` or `/etc/group`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountFileProblem {
    /// A symbolic link (never followed: the caller holds every capability).
    #[error("is a symbolic link, not a regular file")]
    Symlink,
    /// A FIFO, device, directory, ...
    #[error("is not a regular file")]
    NotRegular,
    /// Larger than the limit.
    #[error("is {size} bytes, more than {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Not UTF-8.
    #[error("is not UTF-8")]
    NotUtf8,
}

/// `map_err` helper: a failed system call during `step`.
pub(crate) fn sys(step: &'static str) -> impl FnOnce(io::Error) -> InitError {
    move |source| InitError::Sys { step, source }
}

/// `map_err` helper: a failed system call on `path` during `step`.
pub(crate) fn at(
    step: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> InitError {
    let path = path.into();
    move |source| InitError::Path { step, path, source }
}
