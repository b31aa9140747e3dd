//! `cargo xtask`: orchestration for msal-rs (the matklad/cargo-xtask pattern).
//!
//! - `cargo xtask demo`: starts the bundled Entra ID emulator and runs `msal-core/examples`
//!   against it, printing each step, where tokens came from and how long they took.
//! - `cargo xtask ci`: formatting, the dependency tidy checks, clippy `-D warnings`, every test
//!   the instruction-count gate (`icount`) and the conformance suite, with each step's duration
//!   and the 25-minute budget checked.
//! - `cargo xtask conformance`: the data-driven conformance cases (golden vectors, wire shape
//!   compared with MSAL Python against the emulator); installs MSAL Python in a venv first.
//! - `cargo xtask fuzz [--seconds N] [--target NAME] [--sanitizer none]`: runs the cargo-fuzz
//!   targets of `fuzz/` for N seconds each (default 60) and reports executions per target;
//!   installs cargo-fuzz first if it is missing.
//!
//! - `cargo xtask icount [--bless]`: instruction counts per operation (callgrind) of the hot
//!   cache hits and of loading and saving a 10,000-account cache, checked against the budgets
//!   in `xtask/icount-budgets.json`; installs valgrind first if it is missing (as root).
//!
//! - `cargo xtask tidy`, `cargo xtask doc`: CI's dependency checks and its rustdoc step alone.
//!
//! Heavy logic lives in the crates these commands run; this crate only sequences them.

mod bench;
mod ci;
mod conformance;
mod demo;
mod fuzz;
mod icount;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <demo | ci | conformance [FILTER] | bench [--quick] | icount [--bless] | fuzz [--seconds N] [--target NAME] [--sanitizer none] | tidy | doc>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("ci") => ci::run(),
        Some("conformance") => conformance::run(args.get(1).map(String::as_str)),
        Some("tidy") => ci::tidy(),
        Some("doc") => ci::doc(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("icount") => icount::run(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}
