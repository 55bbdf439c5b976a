//! `stockbell-console`: the operator console for stockbelld.

use std::process::ExitCode;

use clap::Parser;
use stockbell_console::{cli::Args, logging, run};

fn main() -> ExitCode {
    let args = Args::parse();
    let log_path = args.log_path();
    let _log = match logging::init(&log_path, &args.log_level) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("stockbell-console: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stockbell-console: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run::run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "console failed");
            eprintln!("stockbell-console: {e:#} (log: {})", log_path.display());
            ExitCode::FAILURE
        }
    }
}
