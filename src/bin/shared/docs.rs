//! `completions SHELL` and `man [-o DIR]` for each binary, from its own clap command line
//! (clap_complete and clap_mangen), so they describe exactly the options that exist.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The arguments of `completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The arguments of `man`.
#[derive(clap::Args)]
pub struct ManArgs {
    /// Write a page for the command and one for each subcommand (`NAME-SUB.1`) into this
    /// directory; without it, print the command's own page.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Print the completion script of `cmd` for `shell`.
pub fn completions(mut cmd: clap::Command, a: &CompletionsArgs) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(a.shell, &mut cmd, name, &mut std::io::stdout());
}

/// Print or write the man pages of `cmd`.
pub fn man(cmd: clap::Command, a: &ManArgs) -> Result<()> {
    match &a.output {
        Some(dir) => write_pages(cmd, dir),
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            use std::io::Write;
            std::io::stdout().write_all(&out)?;
            Ok(())
        }
    }
}

fn write_pages(cmd: clap::Command, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    Ok(())
}
