//! AES-256-XTS (IEEE 1619 / NIST SP 800-38E) through aws-lc's `EVP_aes_256_xts`.
//!
//! aws-lc-rs has no XTS, so this is the crate's one direct use of `aws-lc-sys`
//! (the same version aws-lc-rs links, see `Cargo.toml`). aws-lc runs XTS with
//! AES-NI (and VAES/AVX-512 where present), about 10 GB/s per core on the
//! project's hosts; RustCrypto's `xts-mode` is twenty times slower there.
//!
//! # Invariants
//! - The key exists only as aws-lc's expanded key schedules inside the two
//!   contexts of an [`XtsCipher`]; the caller's 64 bytes are not kept.
//!   `EVP_CIPHER_CTX_free` wipes the schedules (`OPENSSL_free` cleanses what it
//!   frees) when the cipher is dropped.
//! - The pages holding the schedules are `mlock`ed and excluded from core
//!   dumps (best effort, see `Ctx::lock_schedule`) so they never reach swap
//!   or a dump file.
//! - `Debug` shows nothing of the key; there is no `Clone`.
//! - A data unit is processed in one call, with its number as the tweak
//!   (64-bit little-endian in a 16-byte IV, the IEEE 1619 convention), and
//!   the context is re-initialised with the next tweak before the next unit,
//!   as aws-lc requires.

use std::ffi::c_int;
use std::ptr::{self, NonNull};

use aws_lc_sys as ffi;

/// Length of an AES-256-XTS key: two AES-256 keys.
pub const XTS_KEY_LEN: usize = 64;
/// Largest data unit IEEE 1619-2018 allows (2^20 blocks).
const MAX_UNIT: usize = 16 << 20;
/// Bytes around a context's `cipher_data` that are locked: aws-lc's
/// `EVP_AES_XTS_CTX` (two AES key schedules and the XTS state) is about 540
/// bytes, and `OPENSSL_malloc` puts an 8-byte size header in front.
const SCHEDULE_SPAN: usize = 1024;

/// What can go wrong. No variant carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XtsError {
    /// aws-lc refused the key (its two halves are equal, which XTS forbids)
    /// or could not allocate a context.
    #[error("aws-lc refused the AES-256-XTS key (equal halves) or could not allocate a context")]
    Key,
    /// A data unit that is not a multiple of 16 bytes in 16 B..=16 MiB.
    #[error("an AES-256-XTS data unit must be a multiple of 16 bytes between 16 B and 16 MiB, got {0} bytes")]
    UnitLength(usize),
    /// aws-lc failed to process a data unit.
    #[error("aws-lc failed to process an AES-256-XTS data unit")]
    Cipher,
}

/// One direction of AES-256-XTS under one key.
struct Ctx(NonNull<ffi::EVP_CIPHER_CTX>);

impl Ctx {
    fn new(key: &[u8; XTS_KEY_LEN], encrypt: bool) -> Result<Ctx, XtsError> {
        // SAFETY: no arguments; the result is an owned context or null.
        let raw = unsafe { ffi::EVP_CIPHER_CTX_new() };
        let ctx = Ctx(NonNull::new(raw).ok_or(XtsError::Key)?);
        let p = ctx.0.as_ptr();
        // SAFETY: `p` is a fresh context; the cipher is a static table; `key`
        // points to 64 readable bytes, the key length of AES-256-XTS; a null
        // engine and IV are allowed (the IV is set per data unit).
        let ok = unsafe {
            if encrypt {
                ffi::EVP_EncryptInit_ex(
                    p,
                    ffi::EVP_aes_256_xts(),
                    ptr::null_mut(),
                    key.as_ptr(),
                    ptr::null(),
                )
            } else {
                ffi::EVP_DecryptInit_ex(
                    p,
                    ffi::EVP_aes_256_xts(),
                    ptr::null_mut(),
                    key.as_ptr(),
                    ptr::null(),
                )
            }
        };
        if ok != 1 {
            // SAFETY: no arguments; clears this thread's aws-lc error queue.
            unsafe { ffi::ERR_clear_error() };
            return Err(XtsError::Key);
        }
        ctx.lock_schedule();
        Ok(ctx)
    }

    /// Locks the pages of the expanded key schedules into memory. Best
    /// effort: the agent refuses to run with unmanaged swap anyway
    /// (`HostError::SwapControl`), so a failure here is not fatal.
    fn lock_schedule(&self) {
        // SAFETY: `self.0` is a live context; `evp_cipher_ctx_st` is a public
        // struct of aws-lc's `cipher.h`, so reading its `cipher_data` pointer
        // is part of the API. The pointer is only used as an address here.
        let data = unsafe { (*self.0.as_ptr()).cipher_data };
        if !data.is_null() {
            let start = (data as usize).saturating_sub(16);
            let _ = super::mem::lock_range(start, SCHEDULE_SPAN);
        }
    }

    fn apply(&mut self, unit: u64, buf: &mut [u8]) -> Result<(), XtsError> {
        if buf.len() < 16 || buf.len() % 16 != 0 || buf.len() > MAX_UNIT {
            return Err(XtsError::UnitLength(buf.len()));
        }
        let len = c_int::try_from(buf.len()).map_err(|_| XtsError::UnitLength(buf.len()))?;
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&unit.to_le_bytes());
        let p = self.0.as_ptr();
        // SAFETY: `p` is a context initialised with a key; a null cipher and
        // key keep them; `iv` is 16 readable bytes; -1 keeps the direction.
        let init = unsafe {
            ffi::EVP_CipherInit_ex(
                p,
                ptr::null(),
                ptr::null_mut(),
                ptr::null(),
                iv.as_ptr(),
                -1,
            )
        };
        let mut out_len: c_int = 0;
        let data = buf.as_mut_ptr();
        // SAFETY: input and output are the same `len` bytes of `buf`, which
        // XTS allows (each block is read before it is written); `out_len` is
        // a writable int. XTS output is exactly as long as its input.
        let update =
            init == 1 && unsafe { ffi::EVP_CipherUpdate(p, data, &mut out_len, data, len) } == 1;
        if !update || out_len != len {
            // SAFETY: no arguments.
            unsafe { ffi::ERR_clear_error() };
            return Err(XtsError::Cipher);
        }
        Ok(())
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: `self.0` was returned by EVP_CIPHER_CTX_new and is freed
        // once; cleanup frees (and cleanses) `cipher_data`, then the context.
        unsafe { ffi::EVP_CIPHER_CTX_free(self.0.as_ptr()) };
    }
}

/// AES-256-XTS under one key, in both directions.
pub struct XtsCipher {
    enc: Ctx,
    dec: Ctx,
}

// SAFETY: the two contexts are owned by this value alone and aws-lc contexts
// have no thread affinity; `&mut self` on every operation keeps one thread
// at a time.
unsafe impl Send for XtsCipher {}

impl XtsCipher {
    /// Expands `key` (key 1, then key 2, as IEEE 1619 orders them) into an
    /// encrypting and a decrypting context. The caller zeroizes its `key`.
    pub fn new(key: &[u8; XTS_KEY_LEN]) -> Result<XtsCipher, XtsError> {
        aws_lc_rs::init();
        Ok(XtsCipher {
            enc: Ctx::new(key, true)?,
            dec: Ctx::new(key, false)?,
        })
    }

    /// Encrypts the data unit `unit` in place.
    pub fn encrypt(&mut self, unit: u64, buf: &mut [u8]) -> Result<(), XtsError> {
        self.enc.apply(unit, buf)
    }

    /// Decrypts the data unit `unit` in place.
    pub fn decrypt(&mut self, unit: u64, buf: &mut [u8]) -> Result<(), XtsError> {
        self.dec.apply(unit, buf)
    }
}

impl std::fmt::Debug for XtsCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("XtsCipher(<key schedules redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// IEEE 1619-2007 Annex B, XTS-AES-256 vectors 10 and 11: key 1 is the
    /// first 64 digits of e, key 2 the first 64 of pi, a 512-byte data unit
    /// of bytes 00..ff twice. (Checked against OpenSSL's aes-256-xts.)
    const KEY: &str = concat!(
        "2718281828459045235360287471352662497757247093699959574966967627",
        "3141592653589793238462643383279502884197169399375105820974944592"
    );
    const VECTOR_10_DUSN_FF: &str = concat!(
        "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b",
        "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd",
        "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0",
        "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca",
        "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0",
        "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f",
        "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec",
        "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a",
        "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1",
        "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae",
        "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29",
        "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac",
        "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f",
        "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385",
        "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa",
        "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151",
    );
    const VECTOR_11_DUSN_FFFF: &str = concat!(
        "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11",
        "e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2",
        "469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d",
        "3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201",
        "3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179",
        "8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a",
        "aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6",
        "9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80",
        "470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a",
        "bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0",
        "18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75",
        "bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63",
        "094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a",
        "7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68",
        "6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090",
        "54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803",
    );

    fn key() -> [u8; 64] {
        hex(KEY).try_into().unwrap()
    }

    fn plaintext() -> Vec<u8> {
        (0..=255u8).chain(0..=255u8).collect()
    }

    #[test]
    fn ieee_1619_vectors_10_and_11_in_place() {
        let mut c = XtsCipher::new(&key()).unwrap();
        for (dusn, want) in [(0xff, VECTOR_10_DUSN_FF), (0xffff, VECTOR_11_DUSN_FFFF)] {
            let mut buf = plaintext();
            c.encrypt(dusn, &mut buf).unwrap();
            assert_eq!(buf, hex(want), "vector with data unit {dusn:#x}");
            c.decrypt(dusn, &mut buf).unwrap();
            assert_eq!(buf, plaintext());
        }
    }

    #[test]
    fn the_tweak_is_the_unit_number() {
        let mut c = XtsCipher::new(&key()).unwrap();
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        c.encrypt(7, &mut a).unwrap();
        c.encrypt(8, &mut b).unwrap();
        assert_ne!(a, b);
        // Decrypting under the wrong unit number does not give the plaintext.
        c.decrypt(8, &mut a).unwrap();
        assert_ne!(a, vec![0u8; 4096]);
    }

    #[test]
    fn equal_key_halves_and_bad_lengths_are_refused() {
        assert_eq!(XtsCipher::new(&[7u8; 64]).unwrap_err(), XtsError::Key);
        let mut c = XtsCipher::new(&key()).unwrap();
        for n in [0, 8, 4095] {
            let mut buf = vec![0u8; n];
            assert_eq!(c.encrypt(1, &mut buf), Err(XtsError::UnitLength(n)));
        }
        // The cipher still works after a refused call.
        let mut buf = plaintext();
        c.encrypt(0xff, &mut buf).unwrap();
        assert_eq!(buf, hex(VECTOR_10_DUSN_FF));
    }

    #[test]
    fn debug_shows_no_key() {
        let c = XtsCipher::new(&key()).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("27") && s.contains("redacted"), "{s}");
    }
}
