//! `stockbelld`: run the daemon, check a config file, or run the demo (the daemon fed
//! by a built-in simulated shop, see `demo/`).

mod backup_cli;
mod demo;
mod export_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stockbelld::config::Config;
use stockbelld::root::{self, Exit};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stockbelld",
    version,
    about = "stockbell: stock-linked notification daemon"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon.
    Run {
        /// TOML config file; without it the built-in defaults are used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override server.listen.
        #[arg(long)]
        listen: Option<String>,
        /// Override storage.path.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Write the bound address here once the store is open and the port is bound.
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Check a config file and exit: prints "ok" (and warnings on stderr), or the
    /// offending key and how to fix it.
    CheckConfig { file: PathBuf },
    /// Print the DNS TXT record value for the `[email.dkim]` key (its name on stderr).
    DkimRecord {
        /// The daemon's TOML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the daemon with demo settings, fed over gRPC by a built-in simulated shop.
    Demo(demo::DemoArgs),
    /// Print a summary of a running demo: triggers, scenarios, outbox, .eml files.
    DemoStatus(demo::status::StatusArgs),
    /// Write a segment's members as CSV to a file (atomically) over the Admin API.
    ExportSegment(export_cli::ExportArgs),
    /// Take an online backup of a running daemon into a new directory (Admin API).
    Backup(backup_cli::BackupArgs),
    /// Restore a backup into a data directory (offline: the daemon must be stopped).
    Restore(backup_cli::RestoreArgs),
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("stockbelld: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

fn exit_code(res: anyhow::Result<Exit>) -> ExitCode {
    match res {
        Ok(Exit::Clean) => ExitCode::SUCCESS,
        Ok(Exit::Fatal(why)) => {
            eprintln!("stockbelld: stopped after an internal error: {why}");
            ExitCode::from(70)
        }
        Err(e) => {
            eprintln!("stockbelld: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::CheckConfig { file } => match Config::load(&file) {
            Ok(cfg) => {
                for w in cfg.warnings() {
                    eprintln!("stockbelld: warning: {w}");
                }
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("stockbelld: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::DkimRecord { config } => {
            let signer = Config::load(&config)
                .map_err(|e| e.to_string())
                .and_then(|cfg| {
                    cfg.email
                        .dkim_signer()
                        .map_err(|e| format!("{}: {}", e.key, e.message))
                });
            match signer {
                Ok(Some(s)) => {
                    eprintln!("publish as a TXT record at {}", s.record_name());
                    println!("{}", s.record_value());
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("stockbelld dkim-record: email.dkim is not set in {}; add [email.dkim] with selector, domain and key_file", config.display());
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("stockbelld dkim-record: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Run {
            config,
            listen,
            data_dir,
            ready_file,
        } => {
            let mut cfg = match config.as_deref().map(Config::load).transpose() {
                Ok(c) => c.unwrap_or_default(),
                Err(e) => {
                    eprintln!("stockbelld: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            if let Some(d) = data_dir {
                cfg.storage.path = d;
            }
            if let Err(e) = cfg.validate() {
                eprintln!("stockbelld: {e}");
                return ExitCode::from(2);
            }
            init_logging(&cfg);
            for w in cfg.warnings() {
                tracing::warn!("{w}");
            }
            match runtime() {
                Ok(rt) => exit_code(rt.block_on(root::run(cfg, ready_file))),
                Err(code) => code,
            }
        }
        Cmd::Demo(args) => {
            let cfg = match demo::config(&args) {
                Ok(cfg) => cfg,
                Err(e) => {
                    eprintln!("stockbelld demo: {e}");
                    return ExitCode::from(2);
                }
            };
            init_logging(&cfg);
            match runtime() {
                Ok(rt) => exit_code(rt.block_on(demo::run(cfg, args))),
                Err(code) => code,
            }
        }
        Cmd::DemoStatus(args) => {
            let summary = runtime().map(|rt| rt.block_on(demo::status::summary(&args)));
            match summary {
                Ok(Ok(text)) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Ok(Err(e)) => {
                    eprintln!("stockbelld demo-status: {e:#}");
                    ExitCode::FAILURE
                }
                Err(code) => code,
            }
        }
        Cmd::ExportSegment(args) => {
            let written = runtime().map(|rt| rt.block_on(export_cli::run(&args)));
            match written {
                Ok(Ok(w)) => {
                    println!(
                        "{} rows, {} bytes -> {}",
                        w.rows,
                        w.bytes,
                        args.out.display()
                    );
                    ExitCode::SUCCESS
                }
                Ok(Err(e)) => {
                    eprintln!("stockbelld export-segment: {e:#}");
                    ExitCode::FAILURE
                }
                Err(code) => code,
            }
        }
        Cmd::Backup(args) => match runtime().map(|rt| rt.block_on(backup_cli::backup(&args))) {
            Ok(Ok(b)) => {
                print!("{}", backup_cli::backup_summary(&b));
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                eprintln!("stockbelld backup: {e:#}");
                ExitCode::FAILURE
            }
            Err(code) => code,
        },
        Cmd::Restore(args) => match backup_cli::restore(&args) {
            Ok(r) => {
                print!("{}", backup_cli::restore_summary(&args.from, &r));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("stockbelld restore: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
