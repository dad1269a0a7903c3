//! `policyc`: compile Palisade profiles. `main` parses the command line and dispatches; each
//! verb is a module with `run(args) -> Result<ExitCode>`; the work is in the `policy` library.
//! An error is printed once, here, with its chain (exit 1).

mod args;
mod common;
mod compile;
mod diff;
#[path = "../shared/docs.rs"]
mod docs;
mod explain;
mod import;
mod lint;
mod list;
mod merge;
mod simulate;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(a) => compile::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Import(a) => import::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Lint(a) => lint::run(a),
        Command::Schema => list::schema(),
        Command::List(a) => list::builtins(a),
        Command::Groups(a) => list::groups(a),
        Command::Completions(a) => {
            docs::completions(Cli::command(), &a);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man(a) => docs::man(Cli::command(), &a).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            enforcer::say!("policyc: {e:#}");
            ExitCode::from(1)
        }
    }
}
