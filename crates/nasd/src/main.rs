//! `nasd`: the NAS appliance binary — `nasd serve` runs the SMB server, every other
//! subcommand administers the configuration database (see `nasd --help`).

mod admin;
mod cli;
mod serve;
mod status;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help / --version go to stdout and succeed; usage errors exit 1.
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let db = cli.db_path();
    let result = match cli.command {
        cli::Command::Serve(args) => serve::run(
            &db,
            serve::ServeOptions {
                listen: args.listen,
                threads: args.threads,
                status_file: args
                    .status_file
                    .unwrap_or_else(|| status::default_path(&db)),
            },
        ),
        cli::Command::Status { json, file } => {
            status::show(&file.unwrap_or_else(|| status::default_path(&db)), json)
        }
        command => admin::run(&db, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nasd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
