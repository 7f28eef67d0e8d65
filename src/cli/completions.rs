//! `scimitar completions bash|zsh|fish`: a completion script for the shell,
//! generated from the command line's own definition (clap_complete), so it
//! never drifts from the commands.

use clap::{Args, ValueEnum};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells a script is made for.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the script to stdout (with `--json` too: a script is the output).
pub fn print(args: &CompletionsArgs) {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = super::command();
    clap_complete::generate(shell, &mut cmd, "scimitar", &mut std::io::stdout());
}
