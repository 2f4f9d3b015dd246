//! The layer unpacker (`ferrogate_runtime::image::layer`): any byte string as a layer tar.
//! Beyond "no panic", it checks what the unpacker promises: nothing outside the destination
//! changes (the scratch directory holds only the destination when it is done).
#![no_main]

use ferrogate_runtime::image::budget::{Meter, UnpackBudget};
use ferrogate_runtime::image::layer::unpack_layer_metered;
use libfuzzer_sys::fuzz_target;

/// Small enough that an input cannot fill the disk or take seconds.
const BUDGET: UnpackBudget = UnpackBudget {
    max_bytes: 16 << 20,
    max_logical_bytes: 64 << 20,
};

fuzz_target!(|data: &[u8]| {
    ferrogate_fuzz::in_fresh_dir(|run| {
        let dest = run.join("layer");
        std::fs::create_dir(&dest).expect("dest");
        let _ = unpack_layer_metered(data, &dest, "fuzz", &Meter::new(BUDGET));
        let names: Vec<_> = std::fs::read_dir(run)
            .expect("read run dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            ["layer"],
            "the unpacker wrote outside its destination"
        );
    });
});
