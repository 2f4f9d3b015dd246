//! A minimal executable for `RuntimeConfig::init_exe` (tests, benchmark).
//! The `ferrogate` binary does the same by calling
//! `sandbox_init_main_if_requested()` first thing in `main`.

fn main() {
    ferrogate_runtime::sandbox_init_main_if_requested();
    eprintln!("ferrogate-sandbox-init: this program is started by the Ferrogate agent only");
    std::process::exit(2);
}
