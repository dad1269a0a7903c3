//! `enforce`: run a command under a Palisade profile. `main` parses the command line and
//! dispatches; the work is in the libraries (`runtime_lite::start` decides how a run runs).

mod args;
mod containers;
#[path = "../shared/docs.rs"]
mod docs;
mod images;
mod record;
mod run;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, Format};

/// Print why `enforce` stops, and exit with `code`.
fn fail(code: i32, msg: impl std::fmt::Display) -> ExitCode {
    enforcer::say!("enforce: {msg}");
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(a) => run::run(*a),
        Command::Exec(a) => containers::exec(a),
        Command::Ps(a) => containers::ps(a),
        Command::Logs(a) => containers::logs(a),
        Command::Stop(a) => containers::stop(a),
        Command::Rm(a) => containers::rm(a),
        Command::Probe(a) => {
            let p = enforcer::probe::probe();
            match a.format {
                Format::Text => enforcer::out!("{}", enforcer::probe::text(&p)),
                Format::Json => enforcer::out!("{}\n", serde_json::to_string_pretty(&p).unwrap_or_default()),
            }
            ExitCode::SUCCESS
        }
        Command::Record(a) => record::record(a),
        Command::Image(args::ImageCommand::Load(a)) => images::load(a),
        Command::Images(a) => images::list(a),
        Command::Rmi(a) => images::remove(a),
        Command::Completions(a) => {
            docs::completions(Cli::command(), &a);
            ExitCode::SUCCESS
        }
        Command::Man(a) => match docs::man(Cli::command(), &a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(1, format!("{e:#}")),
        },
    }
}
