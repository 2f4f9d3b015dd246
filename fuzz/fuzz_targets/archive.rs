//! The image loader (`ImageStore::load`): any byte string as a `docker save` or OCI archive,
//! plain or gzip-compressed (tar indexing, manifest and config JSON, references, digests).
#![no_main]

use ferrogate_runtime::image::{ImageStore, UnpackBudget};
use ferrogate_runtime::layout::DataLayout;
use libfuzzer_sys::fuzz_target;

const BUDGET: UnpackBudget = UnpackBudget {
    max_bytes: 16 << 20,
    max_logical_bytes: 64 << 20,
};

fuzz_target!(|data: &[u8]| {
    ferrogate_fuzz::in_fresh_dir(|run| {
        let archive = run.join("archive.tar");
        std::fs::write(&archive, data).expect("write archive");
        let store = ImageStore::open(&DataLayout::new(&run.join("data")))
            .expect("open store")
            .with_budget(BUDGET);
        if let Ok(images) = store.load(&archive, &[]) {
            for i in images {
                let _ = store.resolve(&i.id);
            }
            let _ = store.list();
        }
    });
});
