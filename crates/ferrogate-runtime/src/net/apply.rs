//! Getting the desired ruleset into the kernel: `nft -f -`, one transaction per run,
//! with concurrent requests folded into one run.
//!
//! Whoever needs the kernel up to date (a task about to create its interface, a task
//! gone, new security groups) asks for the generation of the desired state it produced.
//! One caller at a time runs `nft`; it renders the newest desired state, so everyone
//! who asked before that rendering is served by the same run, and 200 tasks starting
//! together cost a handful of runs, not 200. A run writes only the element changes when
//! the skeleton the kernel holds is the one wanted, and replaces both tables otherwise
//! (first run, new groups, or after any failure, when what the kernel holds is unknown).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::error::NetworkError;
use super::ruleset::{self, Element, Names};

/// The `nft` program.
#[derive(Clone, Debug)]
pub(crate) struct Nft {
    pub path: PathBuf,
}

impl Nft {
    /// Checks that the program exists.
    pub fn check(&self) -> Result<(), NetworkError> {
        use std::os::unix::fs::PermissionsExt;
        let ok = std::fs::metadata(&self.path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(NetworkError::NftMissing {
                path: self.path.clone(),
            })
        }
    }

    /// Runs `text` as one `nft -f` transaction.
    pub fn run(&self, text: &str) -> Result<(), NetworkError> {
        self.check()?;
        let mut child = Command::new(&self.path)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NetworkError::Nft {
                detail: format!("starting {}: {e}", self.path.display()),
            })?;
        let written = child
            .stdin
            .take()
            .map(|mut i| i.write_all(text.as_bytes()))
            .unwrap_or(Ok(()));
        let out = child.wait_with_output().map_err(|e| NetworkError::Nft {
            detail: format!("waiting for nft: {e}"),
        })?;
        if out.status.success() && written.is_ok() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = format!("exited with {}", out.status);
        }
        if let Err(e) = written {
            detail.push_str(&format!(" (writing the ruleset: {e})"));
        }
        Err(NetworkError::Nft { detail })
    }

    /// The tables that exist: `(family, name)`.
    pub fn tables(&self) -> Result<Vec<(String, String)>, NetworkError> {
        self.check()?;
        let out = Command::new(&self.path)
            .args(["list", "tables"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| NetworkError::Nft {
                detail: format!("starting {}: {e}", self.path.display()),
            })?;
        if !out.status.success() {
            return Err(NetworkError::Nft {
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                match (w.next(), w.next(), w.next()) {
                    (Some("table"), Some(f), Some(n)) => Some((f.to_owned(), n.to_owned())),
                    _ => None,
                }
            })
            .collect())
    }
}

/// Finds `nft` in the usual places.
pub fn find_nft() -> PathBuf {
    for d in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(d).join("nft");
        if p.is_file() {
            return p;
        }
    }
    PathBuf::from("/usr/sbin/nft")
}

/// A desired state, rendered: its generation, skeleton and elements.
pub(crate) struct Rendered {
    pub generation: u64,
    pub skeleton: String,
    pub elements: BTreeSet<Element>,
}

#[derive(Default)]
struct State {
    /// The newest generation the kernel is known to hold (or a newer one).
    done: u64,
    /// The newest generation whose run failed, and why.
    failed: Option<(u64, String)>,
    /// Someone is running `nft`.
    running: bool,
    /// What the kernel holds, when known.
    kernel: Option<(String, BTreeSet<Element>)>,
}

/// Folds concurrent requests into few `nft` runs (see the module docs).
pub(crate) struct Applier {
    nft: Nft,
    names: Names,
    state: Mutex<State>,
    changed: Condvar,
}

impl Applier {
    pub fn new(nft: Nft, names: Names) -> Self {
        Applier {
            nft,
            names,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only counters behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once the kernel holds generation `generation` of the desired state (or a
    /// newer one), running `nft` if nobody else is; `render` gives the newest state.
    pub fn sync(&self, generation: u64, render: impl Fn() -> Rendered) -> Result<(), NetworkError> {
        let mut st = self.lock();
        loop {
            if st.done >= generation {
                return Ok(());
            }
            if let Some((g, why)) = &st.failed {
                if *g >= generation {
                    return Err(NetworkError::Nft {
                        detail: why.clone(),
                    });
                }
            }
            if !st.running {
                break;
            }
            st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.running = true;
        let kernel = st.kernel.take();
        drop(st);
        // Rendered after our caller's change, so the run covers it.
        let want = render();
        let result = self.write(kernel.as_ref(), &want);
        let mut st = self.lock();
        st.running = false;
        let out = match result {
            Ok(()) => {
                st.done = st.done.max(want.generation);
                st.kernel = Some((want.skeleton, want.elements));
                Ok(())
            }
            Err(e) => {
                st.failed = Some((want.generation, e.to_string()));
                Err(e)
            }
        };
        drop(st);
        self.changed.notify_all();
        out
    }

    fn write(
        &self,
        kernel: Option<&(String, BTreeSet<Element>)>,
        want: &Rendered,
    ) -> Result<(), NetworkError> {
        if let Some((_, elements)) = kernel.filter(|(s, _)| *s == want.skeleton) {
            let Some(text) = ruleset::delta(&self.names, elements, &want.elements) else {
                return Ok(());
            };
            match self.nft.run(&text) {
                Ok(()) => return Ok(()),
                // The kernel did not hold what we thought (someone flushed the ruleset):
                // replace everything.
                Err(e) => {
                    tracing::warn!(error = %e, "nft element update failed; replacing the ruleset")
                }
            }
        }
        self.nft
            .run(&ruleset::full(&self.names, &want.skeleton, &want.elements))
    }

    /// Removes both tables (agent shutdown, recovery).
    pub fn remove(&self) -> Result<(), NetworkError> {
        let mut st = self.lock();
        st.kernel = None;
        drop(st);
        self.nft.run(&ruleset::removal(&self.names))
    }
}
