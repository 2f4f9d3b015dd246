//! The sandbox init (see `ferrogate_runtime::sandbox_init_main_if_requested`).
fn main() {}
