//! Command-line options, parsed by hand.
//!
//! Both binaries take a handful of `--flag value` options (`--host`, `--port`,
//! `--config`). With the standard library only there is no `clap`, so this
//! module is a small parser of its own. Like `config::parse` it is pure: it
//! takes the arguments as an iterator of strings instead of reading
//! `std::env::args()` itself, so the unit tests below feed it arrays.
//!
//! Precedence, lowest first: the built-in defaults, then the config file,
//! then the flags ([`apply_server_overrides`], [`apply_client_overrides`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::ExitCode;

use crate::config::{Config, ConfigError};

/// The file [`load_config`] looks for in the current directory when no
/// `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "config.toml";

/// Parsed command-line options: each flag given, with its value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args {
    /// Flag name without dashes -> value.
    values: BTreeMap<String, String>,
    /// The switches given (flags without a value, from [`SWITCHES`]).
    switches: BTreeMap<String, ()>,
    help: bool,
}

/// Flags that take no value, when a binary allows them.
const SWITCHES: &[&str] = &["quiet"];

impl Args {
    /// Parses `args`, which must not include the program name: call it with
    /// `std::env::args().skip(1)`.
    ///
    /// `allowed`: names without dashes of flags that take a value, e.g.
    /// `&["host", "port", "config"]`. `--help`/`-h` is always accepted and
    /// sets [`Args::help`]. Each flag is written `--port 7000` or
    /// `--port=7000`.
    ///
    /// Errors: an unknown flag, a flag without a value (or with an empty
    /// one), a flag given twice, or any positional argument.
    pub fn parse<I: IntoIterator<Item = String>>(
        args: I,
        allowed: &[&str],
    ) -> Result<Args, CliError> {
        let mut parsed = Args::default();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                parsed.help = true;
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                if arg.starts_with('-') {
                    return Err(CliError::UnknownOption(arg));
                }
                return Err(CliError::UnexpectedArgument(arg));
            };
            let (name, inline_value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (flag, None),
            };
            if !allowed.contains(&name) {
                return Err(CliError::UnknownOption(format!("--{name}")));
            }
            if SWITCHES.contains(&name) {
                // A switch takes no value: `--quiet`, not `--quiet yes`.
                if inline_value.is_some() || parsed.switches.insert(name.to_string(), ()).is_some()
                {
                    return Err(CliError::Repeated(name.to_string()));
                }
                continue;
            }
            // Without `=`, the value is the next argument, unless that is
            // another flag: `--host --port 1` forgot the host.
            let value = match inline_value {
                Some(value) => Some(value),
                None => args.next_if(|next| !next.starts_with("--")),
            };
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                return Err(CliError::MissingValue(name.to_string()));
            };
            if parsed.values.insert(name.to_string(), value).is_some() {
                return Err(CliError::Repeated(name.to_string()));
            }
        }
        Ok(parsed)
    }

    /// Whether `--help` or `-h` was given.
    pub fn help(&self) -> bool {
        self.help
    }

    /// Whether the switch `--name` (see [`SWITCHES`]) was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains_key(name)
    }

    /// The value of `--flag` (name without dashes), if it was given.
    pub fn get(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    /// Parses a flag's value as a port number: Ok(None) when the flag is
    /// absent.
    pub fn port(&self, flag: &str) -> Result<Option<u16>, CliError> {
        let Some(value) = self.get(flag) else {
            return Ok(None);
        };
        match value.parse() {
            Ok(port) => Ok(Some(port)),
            Err(_) => Err(CliError::BadPort {
                flag: flag.to_string(),
                value: value.to_string(),
            }),
        }
    }
}

/// Why the command line was refused. Binaries print it after `error: ` and
/// exit with their usage error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A flag not in the allowed list, as typed (`--foo`, `-x`).
    UnknownOption(String),
    /// A flag (name without dashes) with no value after it.
    MissingValue(String),
    /// A flag (name without dashes) given more than once.
    Repeated(String),
    /// A positional argument; none are accepted.
    UnexpectedArgument(String),
    /// A flag whose value is not a number from 0 to 65535.
    BadPort { flag: String, value: String },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownOption(option) => write!(f, "unknown option {option}"),
            CliError::MissingValue(flag) => write!(f, "--{flag} needs a value"),
            CliError::Repeated(flag) => write!(f, "--{flag} given twice"),
            CliError::UnexpectedArgument(arg) => write!(f, "unexpected argument {arg:?}"),
            CliError::BadPort { flag, value } => {
                write!(f, "--{flag}: {value:?} is not a port number (0-65535)")
            }
        }
    }
}

impl std::error::Error for CliError {}

/// Applies `--host`, `--port`, `--web-port`, `--irc-port` and `--quiet` to
/// the server's section of `config`.
pub fn apply_server_overrides(config: &mut Config, args: &Args) -> Result<(), CliError> {
    if args.switch("quiet") {
        config.server.console_echo = false;
    }
    if let Some(host) = args.get("host") {
        config.server.host = host.to_string();
    }
    if let Some(port) = args.port("port")? {
        config.server.port = port;
    }
    if let Some(port) = args.port("web-port")? {
        config.server.web.port = port;
    }
    if let Some(port) = args.port("irc-port")? {
        config.server.irc.port = port;
    }
    Ok(())
}

/// Applies `--host` and `--port` to the client's section of `config`.
pub fn apply_client_overrides(config: &mut Config, args: &Args) -> Result<(), CliError> {
    if let Some(host) = args.get("host") {
        config.client.host = host.to_string();
    }
    if let Some(port) = args.port("port")? {
        config.client.port = port;
    }
    Ok(())
}

/// The start of both binaries: parses the command line (only `flags` are
/// allowed), prints `usage` for `--help`, loads the configuration and applies
/// the flags with `apply`.
///
/// `Err` carries the exit code to return at once: 0 after `--help`, 2 after
/// printing `error: ...` for a bad flag or config file.
pub fn start(
    args: impl IntoIterator<Item = String>,
    flags: &[&str],
    usage: &str,
    apply: fn(&mut Config, &Args) -> Result<(), CliError>,
) -> Result<(Config, Args), ExitCode> {
    let usage_error = |e: &dyn fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let args = Args::parse(args, flags).map_err(|e| usage_error(&e))?;
    if args.help() {
        println!("{usage}");
        return Err(ExitCode::SUCCESS);
    }
    let mut config = load_config(&args).map_err(|e| usage_error(&e))?;
    apply(&mut config, &args).map_err(|e| usage_error(&e))?;
    Ok((config, args))
}

/// Loads the configuration the command line asks for.
///
/// With `--config PATH`, that file, which must exist. Otherwise
/// [`DEFAULT_CONFIG_FILE`] in the current directory if there is one, else
/// the built-in defaults. Blocks on reading the file.
pub fn load_config(args: &Args) -> Result<Config, ConfigError> {
    match args.get("config") {
        Some(path) => Config::load(Path::new(path)),
        None => load_optional(Path::new(DEFAULT_CONFIG_FILE)),
    }
}

/// Loads `path`, or returns the defaults if it does not exist.
fn load_optional(path: &Path) -> Result<Config, ConfigError> {
    // Trying the read and looking at the error, rather than asking
    // `path.exists()` first, leaves no gap in which the file could change.
    match Config::load(path) {
        Err(ConfigError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            Ok(Config::default())
        }
        result => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const FLAGS: &[&str] = &["host", "port", "config"];

    fn parse(args: &[&str]) -> Result<Args, CliError> {
        Args::parse(args.iter().map(|a| a.to_string()), FLAGS)
    }

    fn error(args: &[&str]) -> String {
        match parse(args) {
            Ok(parsed) => panic!("expected an error, parsed {parsed:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn quiet_is_a_switch_without_a_value() {
        let flags = &["port", "quiet"];
        let args = Args::parse(["--quiet", "--port", "7"].map(String::from), flags).unwrap();
        assert!(args.switch("quiet"));
        assert_eq!(args.port("port"), Ok(Some(7)));
        let mut config = Config::default();
        apply_server_overrides(&mut config, &args).unwrap();
        assert!(!config.server.console_echo);
        assert!(!parse(&[]).unwrap().switch("quiet"));
        assert_eq!(
            Args::parse(["--quiet=yes"].map(String::from), flags),
            Err(CliError::Repeated("quiet".into()))
        );
    }

    #[test]
    fn no_arguments() {
        let args = parse(&[]).unwrap();
        assert!(!args.help());
        assert_eq!(args.get("port"), None);
        assert_eq!(args.port("port"), Ok(None));
    }

    #[test]
    fn flag_and_value_as_two_arguments() {
        let args = parse(&["--host", "0.0.0.0", "--port", "7000"]).unwrap();
        assert_eq!(args.get("host"), Some("0.0.0.0"));
        assert_eq!(args.port("port"), Ok(Some(7000)));
    }

    #[test]
    fn flag_and_value_joined_by_equals() {
        let args = parse(&["--port=7000", "--config=a=b.toml"]).unwrap();
        assert_eq!(args.port("port"), Ok(Some(7000)));
        // Only the first `=` separates; the value may contain more.
        assert_eq!(args.get("config"), Some("a=b.toml"));
    }

    #[test]
    fn help_is_always_accepted() {
        assert!(parse(&["--help"]).unwrap().help());
        assert!(parse(&["--port", "1", "-h"]).unwrap().help());
        assert!(Args::parse(["-h".to_string()], &[]).unwrap().help());
    }

    #[test]
    fn unknown_option_is_an_error() {
        assert_eq!(error(&["--foo"]), "unknown option --foo");
        assert_eq!(error(&["--foo=1"]), "unknown option --foo");
        assert_eq!(error(&["-p", "7000"]), "unknown option -p");
    }

    #[test]
    fn flag_without_value_is_an_error() {
        assert_eq!(error(&["--port"]), "--port needs a value");
        assert_eq!(error(&["--port="]), "--port needs a value");
        assert_eq!(error(&["--host", ""]), "--host needs a value");
        assert_eq!(error(&["--host", "--port", "7000"]), "--host needs a value");
    }

    #[test]
    fn flag_given_twice_is_an_error() {
        assert_eq!(error(&["--port", "1", "--port=2"]), "--port given twice");
    }

    #[test]
    fn positional_argument_is_an_error() {
        assert_eq!(error(&["x"]), "unexpected argument \"x\"");
        assert_eq!(error(&["--port", "1", "2"]), "unexpected argument \"2\"");
    }

    #[test]
    fn bad_port_is_an_error() {
        for bad in ["abc", "65536", "-1", "7000x"] {
            let args = parse(&["--port", bad]).unwrap();
            let err = args.port("port").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("--port: \"{bad}\" is not a port number (0-65535)")
            );
        }
        assert_eq!(parse(&["--port", "0"]).unwrap().port("port"), Ok(Some(0)));
    }

    #[test]
    fn server_overrides_change_only_the_server() {
        let mut config = Config::default();
        let args = parse(&["--host", "0.0.0.0", "--port", "9000"]).unwrap();
        apply_server_overrides(&mut config, &args).unwrap();
        assert_eq!(
            (config.server.host.as_str(), config.server.port),
            ("0.0.0.0", 9000)
        );
        assert_eq!(config.client, Config::default().client);
    }

    #[test]
    fn client_overrides_change_only_the_client() {
        let mut config = Config::default();
        let args = parse(&["--host=10.0.0.2", "--port=9000"]).unwrap();
        apply_client_overrides(&mut config, &args).unwrap();
        assert_eq!(
            (config.client.host.as_str(), config.client.port),
            ("10.0.0.2", 9000)
        );
        assert_eq!(config.server, Config::default().server);
    }

    #[test]
    fn absent_flags_leave_the_config_alone() {
        let mut config = Config::default();
        let args = parse(&[]).unwrap();
        apply_server_overrides(&mut config, &args).unwrap();
        apply_client_overrides(&mut config, &args).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn bad_port_override_is_an_error() {
        let mut config = Config::default();
        let args = parse(&["--port", "abc"]).unwrap();
        assert!(matches!(
            apply_server_overrides(&mut config, &args),
            Err(CliError::BadPort { .. })
        ));
        assert_eq!(config, Config::default());
    }

    /// A file name in the temp directory that no other test uses.
    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("lanchat-cli-{}-{name}", std::process::id()))
    }

    #[test]
    fn config_flag_loads_that_file() {
        let path = temp_path("given.toml");
        std::fs::write(&path, "[client]\nport = 6000\n").unwrap();
        let args =
            Args::parse(["--config".to_string(), path.display().to_string()], FLAGS).unwrap();
        let result = load_config(&args);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(result.unwrap().client.port, 6000);
    }

    #[test]
    fn missing_config_flag_file_is_an_error() {
        let path = temp_path("missing.toml");
        let args =
            Args::parse(["--config".to_string(), path.display().to_string()], FLAGS).unwrap();
        assert!(matches!(load_config(&args), Err(ConfigError::Io { .. })));
    }

    #[test]
    fn missing_default_file_gives_the_defaults() {
        let path = temp_path("no-default.toml");
        assert_eq!(load_optional(&path).unwrap(), Config::default());
    }

    #[test]
    fn present_default_file_is_loaded_and_checked() {
        let path = temp_path("default.toml");
        std::fs::write(&path, "[server]\nport = 1\nport = 2\n").unwrap();
        let result = load_optional(&path);
        std::fs::remove_file(&path).unwrap();
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:3: duplicate key \"port\"", path.display())
        );
    }
}
