//! The command line as clap builds it, with the global options (database,
//! peppers, key-encryption key, `--json`) listed once, in `scimitar
//! --help`, rather than in every subcommand's own list: they are still
//! accepted anywhere on the command line.

use clap::{Arg, Command, CommandFactory};

use super::Cli;

const GLOBAL_NOTE: &str = "Global options (--database-url, --json, --token-pepper…, --key-encryption-key) \
     are accepted here too; see `scimitar --help`.";

/// The `scimitar` command, ready to parse or to describe (completions).
pub fn command() -> Command {
    let cmd = Cli::command();
    let globals: Vec<Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    hide_in_subcommands(cmd, &globals)
}

/// clap copies a global option into each subcommand when it builds the
/// command, unless the subcommand already has one by that id; giving each a
/// hidden copy first keeps the option working there but out of its help.
fn hide_in_subcommands(mut cmd: Command, globals: &[Arg]) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |mut sc| {
            for arg in globals {
                sc = sc.arg(arg.clone().hide(true));
            }
            hide_in_subcommands(sc.after_help(GLOBAL_NOTE), globals)
        });
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(args: &[&str]) -> String {
        let mut cmd = command();
        let mut path = args.iter();
        let mut sub = &mut cmd;
        sub.build();
        for name in path.by_ref() {
            sub = sub.find_subcommand_mut(name).expect("subcommand");
        }
        sub.render_help().to_string()
    }

    #[test]
    fn global_options_are_listed_once_at_the_top() {
        let top = help(&[]);
        assert!(top.contains("--database-url"), "{top}");
        assert!(top.contains("--json"), "{top}");
        let sub = help(&["token", "create"]);
        assert!(!sub.contains("--database-url <"), "{sub}");
        assert!(!sub.contains("--token-pepper <"), "{sub}");
        assert!(sub.contains("--permission"), "{sub}");
    }

    #[test]
    fn global_options_still_parse_after_the_subcommand() {
        use clap::FromArgMatches;
        let m = command()
            .try_get_matches_from([
                "scimitar",
                "token",
                "list",
                "--org",
                "acme",
                "--database-url",
                "sqlite://x.db",
                "--json",
            ])
            .expect("parses");
        let cli = Cli::from_arg_matches(&m).expect("matches");
        assert_eq!(cli.common.database_url, "sqlite://x.db");
        assert!(cli.json);
    }

    #[test]
    fn no_empty_environment_value_is_shown() {
        for path in [&[][..], &["serve"][..], &["token", "create"][..]] {
            let text = help(path);
            assert!(!text.contains("=]"), "{path:?}: {text}");
        }
    }

    #[test]
    fn every_option_has_a_description() {
        fn walk(cmd: &Command, path: &str) {
            for a in cmd.get_arguments() {
                if a.is_hide_set() || a.get_id() == "help" || a.get_id() == "version" {
                    continue;
                }
                assert!(
                    a.get_help().is_some() || a.get_long_help().is_some(),
                    "{path} --{} has no description",
                    a.get_id()
                );
            }
            for sc in cmd.get_subcommands() {
                walk(sc, &format!("{path} {}", sc.get_name()));
            }
        }
        let mut cmd = command();
        cmd.build();
        walk(&cmd, "scimitar");
    }
}
