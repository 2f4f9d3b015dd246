//! How much loading one image may write to the host.
//!
//! A layer is untrusted input that expands: gzip reaches ratios of 1000:1 on
//! repetitive data, and a GNU sparse entry of a few hundred bytes can declare
//! a file of exabytes. Nothing of that may reach the host disk unbounded, and
//! the loader must stop *before* writing past the budget, not after.
//!
//! Two counts, each with its own limit, per image (all layers unpacked by one
//! load of that image; layers already in the store cost nothing):
//!
//! - **unpacked bytes**: the file data really written (blocks of zeros are
//!   holes: neither written nor counted) plus [`ENTRY_COST`] for every entry
//!   (file, directory, link, whiteout), which is what a host file system
//!   spends on an inode and a directory entry. This bounds the disk space
//!   and the inodes an image can take.
//! - **logical bytes**: the lengths of the files, holes included, and,
//!   separately, the length of the uncompressed layer streams. Holes cost no
//!   disk, but the tar reader hands them over as zeros that are read and
//!   checked, and a program in the container may read them; this bounds that
//!   work.
//!
//! The defaults suit the images Fargate runs (its ephemeral storage, which
//! must hold the image, is at most 200 GiB; images of tens of GiB are rare).

use std::cell::Cell;
use std::io::{self, Read};

use super::error::{Budget, ImageError};

/// What one entry costs against [`UnpackBudget::max_bytes`] besides its
/// data: an inode and a directory entry, rounded up to a file-system block.
pub const ENTRY_COST: u64 = 4096;

/// Most bytes of tar metadata (headers, GNU long names and links, PAX
/// records, sparse maps) read before one entry. The tar reader keeps long
/// names and PAX records in memory, so without this a compressed layer
/// could declare a long name of many gigabytes and exhaust the host's
/// memory. Real layers need a few KiB.
pub const MAX_METADATA: u64 = 16 << 20;

/// Limits on what loading one image may write. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackBudget {
    /// File data written plus [`ENTRY_COST`] per entry. Default 32 GiB.
    pub max_bytes: u64,
    /// Sum of file lengths (holes included); separately, sum of the
    /// uncompressed layer streams. Default 128 GiB.
    pub max_logical_bytes: u64,
}

impl UnpackBudget {
    /// The defaults: 32 GiB unpacked, 128 GiB logical.
    pub const DEFAULT: UnpackBudget = UnpackBudget {
        max_bytes: 32 << 30,
        max_logical_bytes: 128 << 30,
    };
}

impl Default for UnpackBudget {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The running counts of one image against its budget. Interior mutability
/// so the same meter can sit under the tar reader (stream bytes) and inside
/// the unpacker (entries and data) at once.
#[derive(Debug)]
pub struct Meter {
    budget: UnpackBudget,
    bytes: Cell<u64>,
    logical: Cell<u64>,
    stream: Cell<u64>,
    /// Tar metadata read since the last entry began ([`MAX_METADATA`]).
    metadata: Cell<u64>,
    /// Whether reads now are an entry's data (not metadata).
    in_data: Cell<bool>,
    /// Set once a limit was hit, so that the error a reader reports through
    /// a parser that rewraps it can be told apart from a corrupt archive.
    exceeded: Cell<Option<Budget>>,
}

impl Meter {
    /// A meter with nothing counted yet.
    pub fn new(budget: UnpackBudget) -> Self {
        Meter {
            budget,
            bytes: Cell::new(0),
            logical: Cell::new(0),
            stream: Cell::new(0),
            metadata: Cell::new(0),
            in_data: Cell::new(false),
            exceeded: Cell::new(None),
        }
    }

    fn charge(
        &self,
        counter: &Cell<u64>,
        n: u64,
        limit: u64,
        which: Budget,
    ) -> Result<(), ImageError> {
        let total = counter.get().saturating_add(n);
        if total > limit {
            self.exceeded.set(Some(which));
            return Err(ImageError::BudgetExceeded {
                budget: which,
                limit,
            });
        }
        counter.set(total);
        Ok(())
    }

    /// Counts `n` bytes of file data about to be written.
    pub fn data(&self, n: u64) -> Result<(), ImageError> {
        self.charge(&self.bytes, n, self.budget.max_bytes, Budget::Unpacked)
    }

    /// Counts one entry about to be created.
    pub fn entry(&self) -> Result<(), ImageError> {
        self.data(ENTRY_COST)
    }

    /// Counts a file of logical length `n` about to be written.
    pub fn logical(&self, n: u64) -> Result<(), ImageError> {
        self.charge(
            &self.logical,
            n,
            self.budget.max_logical_bytes,
            Budget::Logical,
        )
    }

    /// Marks the start of an entry (its metadata has been read) and whether
    /// the reads that follow are data.
    pub fn entry_data(&self, in_data: bool) {
        self.metadata.set(0);
        self.in_data.set(in_data);
    }

    /// Counts `n` bytes of an uncompressed layer stream, and, outside an
    /// entry's data, of tar metadata.
    fn stream(&self, n: u64) -> Result<(), ImageError> {
        if !self.in_data.get() {
            self.charge(&self.metadata, n, MAX_METADATA, Budget::Metadata)?;
        }
        self.charge(
            &self.stream,
            n,
            self.budget.max_logical_bytes,
            Budget::Logical,
        )
    }

    /// The budget error, if a limit was hit: what a failure that surfaced
    /// through the tar parser really was.
    pub fn exceeded(&self) -> Option<ImageError> {
        let limit = |b| match b {
            Budget::Unpacked => self.budget.max_bytes,
            Budget::Logical => self.budget.max_logical_bytes,
            Budget::Metadata => MAX_METADATA,
        };
        self.exceeded
            .get()
            .map(|budget| ImageError::BudgetExceeded {
                budget,
                limit: limit(budget),
            })
    }

    /// File data written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.get()
    }
}

/// Counts what is read through it against [`Meter::stream`]; fails the read
/// that would cross the limit.
pub struct Metered<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<'m, R: Read> Metered<'m, R> {
    /// Wraps `inner`.
    pub fn new(inner: R, meter: &'m Meter) -> Self {
        Metered { inner, meter }
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter
            .stream(n as u64)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(n)
    }
}

/// Copies at most `limit` bytes from `r` to `w`; more is a
/// [`Budget::Unpacked`] error (used for a gzip-compressed archive, which is
/// decompressed to disk before it is read).
pub fn copy_capped<R: Read, W: io::Write>(
    r: R,
    w: &mut W,
    limit: u64,
) -> Result<Result<u64, io::Error>, ImageError> {
    let mut taken = r.take(limit.saturating_add(1));
    match io::copy(&mut taken, w) {
        Ok(n) if n > limit => Err(ImageError::BudgetExceeded {
            budget: Budget::Unpacked,
            limit,
        }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_before_counting() {
        let m = Meter::new(UnpackBudget {
            max_bytes: 10_000,
            max_logical_bytes: 100,
        });
        m.data(5_000).unwrap();
        m.entry().unwrap();
        assert!(matches!(
            m.entry(),
            Err(ImageError::BudgetExceeded {
                budget: Budget::Unpacked,
                limit: 10_000
            })
        ));
        // The failed charge did not count: a smaller one still fits.
        m.data(10_000 - 5_000 - ENTRY_COST).unwrap();
        assert_eq!(m.bytes(), 10_000);
        m.logical(100).unwrap();
        assert!(m.logical(1).is_err());
        assert!(matches!(
            m.exceeded(),
            Some(ImageError::BudgetExceeded {
                budget: Budget::Logical,
                ..
            })
        ));
        // Saturating: a length near u64::MAX cannot wrap the count.
        assert!(m.logical(u64::MAX).is_err());
    }

    #[test]
    fn metered_reader_stops_at_the_limit() {
        let m = Meter::new(UnpackBudget {
            max_bytes: 1,
            max_logical_bytes: 1000,
        });
        let data = vec![7u8; 4000];
        let mut r = Metered::new(&data[..], &m);
        let mut sink = Vec::new();
        assert!(io::copy(&mut r, &mut sink).is_err());
        assert!(sink.len() <= 1000);
        assert!(m.exceeded().is_some());
    }

    #[test]
    fn metadata_is_bounded_between_entries_but_data_is_not() {
        let m = Meter::new(UnpackBudget::DEFAULT);
        let big = vec![0u8; usize::try_from(MAX_METADATA + 1).unwrap()];
        let mut sink = Vec::new();
        assert!(io::copy(&mut Metered::new(&big[..], &m), &mut sink).is_err());
        assert!(matches!(
            m.exceeded(),
            Some(ImageError::BudgetExceeded {
                budget: Budget::Metadata,
                ..
            })
        ));
        let m = Meter::new(UnpackBudget::DEFAULT);
        m.entry_data(true);
        io::copy(&mut Metered::new(&big[..], &m), &mut io::sink()).unwrap();
        m.entry_data(false);
        let most = &big[..usize::try_from(MAX_METADATA).unwrap()];
        io::copy(&mut Metered::new(most, &m), &mut io::sink()).unwrap();
    }

    #[test]
    fn copy_capped_refuses_more_than_the_limit() {
        let mut out = Vec::new();
        assert_eq!(
            copy_capped(&[1u8; 10][..], &mut out, 10).unwrap().unwrap(),
            10
        );
        let mut out = Vec::new();
        assert!(copy_capped(&[1u8; 11][..], &mut out, 10).is_err());
    }

    #[test]
    fn the_error_names_the_budget() {
        let e = ImageError::BudgetExceeded {
            budget: Budget::Unpacked,
            limit: 32 << 30,
        };
        let s = e.to_string();
        assert!(s.contains("32 GiB") && s.contains("unpacked"), "{s}");
        let e = ImageError::BudgetExceeded {
            budget: Budget::Logical,
            limit: 128 << 30,
        };
        assert!(e.to_string().contains("128 GiB"), "{e}");
    }
}
