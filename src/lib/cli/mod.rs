//! The `storm` command line: Storm's subcommands and flags.
//!
//! Every subcommand takes `-c key=value` (repeatable) and `--config FILE`, before or after the subcommand
//! name, and `--help`. Success exits 0; failure prints one line `storm <command>: <reason>` to stderr and
//! exits non-zero.

pub mod artifacts;
mod blobstore;
pub mod java;
pub mod progress;
mod topology;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigError, ConfigOptions};

#[derive(Debug, Parser)]
#[command(
    name = "storm",
    about = "Apache Storm command line (storm-rs)",
    version = concat!(env!("CARGO_PKG_VERSION"), " (compatible with Apache Storm ", "2.8.0", ")"),
    propagate_version = true
)]
pub struct Cli {
    /// Override a configuration value (repeatable): -c storm.zookeeper.port=2181. The value is parsed as
    /// JSON or TOML when it parses, else taken as a string.
    #[arg(short = 'c', value_name = "KEY=VALUE", global = true, action = clap::ArgAction::Append)]
    pub conf: Vec<String>,

    /// Read the cluster configuration from FILE instead of conf/storm.toml.
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the Storm version.
    Version,
    /// Print a configuration value as this machine sees it: `KEY: VALUE`.
    #[command(name = "localconfvalue")]
    LocalConfValue {
        /// The configuration key, e.g. storm.zookeeper.port.
        key: String,
    },
    /// Print a configuration value as the leader nimbus sees it: `KEY: VALUE`.
    #[command(name = "remoteconfvalue")]
    RemoteConfValue {
        /// The configuration key, e.g. nimbus.thrift.port.
        key: String,
    },
    /// Run a standalone ZooKeeper in the foreground on storm.zookeeper.port, data in dev.zookeeper.path.
    DevZookeeper,
    /// Run a topology program in local mode: its submit call runs the topology in-process for
    /// --local-ttl seconds, then kills it.
    Local {
        /// Seconds the topology runs before it is killed (Storm's default: 20).
        #[arg(long = "local-ttl", value_name = "SECS", default_value_t = 20.0)]
        local_ttl: f64,
        /// The topology program (a Rust executable linking the storm library).
        artifact: PathBuf,
        /// Arguments passed to the program.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a topology program so that its submit call uploads it (and its --jars and --artifacts) to
    /// the cluster's leader nimbus and submits the topology (Storm's `storm jar`).
    Jar {
        #[command(flatten)]
        deps: artifacts::DependencyArgs,
        /// The topology program (a Rust executable linking the storm library), or a Java topology
        /// jar (then the main class comes first in the arguments).
        artifact: PathBuf,
        /// Arguments passed to the program (usually the topology name first); for a jar, the main
        /// class and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Kill topologies: spouts are deactivated, and after the wait the workers are stopped.
    Kill {
        /// Seconds between deactivation and shutdown (default: the topology's message timeout).
        #[arg(short = 'w', long = "wait-time-secs", value_name = "SECS")]
        wait: Option<i32>,
        /// The topology names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Activate a topology's spouts.
    Activate { name: String },
    /// Deactivate a topology's spouts.
    Deactivate { name: String },
    /// Redistribute a topology's executors, optionally changing the number of workers and executors.
    Rebalance {
        name: String,
        /// Seconds to deactivate the topology before rebalancing (default: its message timeout).
        #[arg(short = 'w', long = "wait-time-secs", value_name = "SECS")]
        wait: Option<i32>,
        /// The new number of workers.
        #[arg(short = 'n', long = "num-workers", value_name = "N")]
        workers: Option<i32>,
        /// COMPONENT=N: the new number of executors of a component (repeatable).
        #[arg(short = 'e', long = "executor", value_name = "COMPONENT=N", action = clap::ArgAction::Append)]
        executors: Vec<String>,
    },
    /// List the running topologies.
    List,
    /// Print a component's throughput on a stream every interval (Storm's monitor).
    Monitor {
        name: String,
        /// Seconds between samples.
        #[arg(
            short = 'i',
            long = "interval",
            value_name = "SECS",
            default_value_t = 4
        )]
        interval: u64,
        /// The component to watch (without it, the components are listed).
        #[arg(short = 'm', long = "component", value_name = "COMPONENT")]
        component: Option<String>,
        /// The stream to watch.
        #[arg(
            short = 's',
            long = "stream",
            value_name = "STREAM",
            default_value = "default"
        )]
        stream: String,
        /// What to count: emitted or transferred.
        #[arg(
            short = 'w',
            long = "watch",
            value_name = "ITEM",
            default_value = "emitted"
        )]
        watch: String,
        /// Stop after N samples (storm-rs addition; Storm runs until interrupted).
        #[arg(long = "count", value_name = "N")]
        count: Option<u64>,
    },
    /// Change a running topology's log levels live: -l LOGGER=LEVEL[:TIMEOUT_SECS] (ROOT is the root
    /// logger; without a timeout the level stays), -r LOGGER puts a logger back.
    #[command(name = "set_log_level")]
    SetLogLevel {
        #[arg(short = 'l', value_name = "LOGGER=LEVEL[:TIMEOUT]", action = clap::ArgAction::Append)]
        set: Vec<String>,
        #[arg(short = 'r', value_name = "LOGGER", action = clap::ArgAction::Append)]
        remove: Vec<String>,
        name: String,
    },
    /// Manage blobs in nimbus's blob store (Storm's `storm blobstore`).
    Blobstore {
        #[command(subcommand)]
        command: blobstore::BlobstoreCommand,
    },
    /// Print the latest error of each component of a topology, as JSON.
    #[command(name = "get-errors")]
    GetErrors { name: String },
    /// Run the nimbus daemon in the foreground.
    Nimbus,
    /// Run a supervisor daemon in the foreground.
    Supervisor,
    /// Run the DRPC server in the foreground.
    Drpc,
    /// Run the logviewer (this machine's daemon and worker logs over HTTP) in the foreground.
    Logviewer,
    /// Run the Storm UI (REST API and web pages on ui.port) in the foreground.
    Ui,
    /// Kill every worker this machine's supervisor started (the supervisor itself keeps running).
    #[command(name = "kill_workers")]
    KillWorkers,
    /// Call DRPC functions on the first reachable server of drpc.servers (port drpc.port) and print
    /// `FUNCTION "ARG" => "RESULT"` per call.
    #[command(name = "drpc-client")]
    DrpcClient {
        /// Call this function with every argument; without it the arguments are FUNCTION ARGUMENT pairs.
        #[arg(short = 'f', long = "function", value_name = "FUNCTION")]
        function: Option<String>,
        /// The arguments (with -f), or FUNCTION ARGUMENT pairs.
        #[arg(value_name = "ARGS")]
        args: Vec<String>,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Version => "version",
            Command::LocalConfValue { .. } => "localconfvalue",
            Command::RemoteConfValue { .. } => "remoteconfvalue",
            Command::DevZookeeper => "dev-zookeeper",
            Command::Local { .. } => "local",
            Command::Jar { .. } => "jar",
            Command::Kill { .. } => "kill",
            Command::Activate { .. } => "activate",
            Command::Deactivate { .. } => "deactivate",
            Command::Rebalance { .. } => "rebalance",
            Command::List => "list",
            Command::Monitor { .. } => "monitor",
            Command::GetErrors { .. } => "get-errors",
            Command::Blobstore { .. } => "blobstore",
            Command::SetLogLevel { .. } => "set_log_level",
            Command::Nimbus => "nimbus",
            Command::Supervisor => "supervisor",
            Command::Drpc => "drpc",
            Command::Logviewer => "logviewer",
            Command::Ui => "ui",
            Command::KillWorkers => "kill_workers",
            Command::DrpcClient { .. } => "drpc-client",
        }
    }
}

/// Why a command failed; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    DevZookeeper(#[from] crate::dev_zookeeper::DevZookeeperError),
    #[error(transparent)]
    Nimbus(#[from] crate::client::NimbusClientError),
    #[error(transparent)]
    Artifacts(#[from] artifacts::ArtifactError),
    #[error("{0}")]
    Other(String),
}

impl Cli {
    fn config_options(&self) -> ConfigOptions {
        ConfigOptions {
            config_file: self.config.clone(),
            overrides: self.conf.clone(),
        }
    }
}

/// Parses `args` (including the program name), runs the command, and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if !matches!(
        cli.command,
        Command::Nimbus | Command::Supervisor | Command::Drpc | Command::Logviewer | Command::Ui
    ) {
        // Daemons log to their own files.
        crate::logging::init_cli();
    }
    let name = cli.command.name();
    match run(&cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("storm {name}: {e}");
            1
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<(), CliError> {
    let conf = Config::load(&cli.config_options())?;
    match &cli.command {
        Command::Version => {
            println!("Storm {}", crate::STORM_VERSION);
            println!("storm-rs {} (Rust, no JVM)", crate::STORM_RS_VERSION);
            Ok(())
        }
        Command::LocalConfValue { key } => {
            println!(
                "{key}: {}",
                conf.get(key)
                    .map(config::java_string)
                    .unwrap_or_else(|| "null".into())
            );
            Ok(())
        }
        Command::RemoteConfValue { key } => {
            let remote = crate::client::NimbusClient::connect_leader(&conf)?.nimbus_conf()?;
            println!(
                "{key}: {}",
                remote
                    .get(key)
                    .map(config::java_string)
                    .unwrap_or_else(|| "null".into())
            );
            Ok(())
        }
        Command::DevZookeeper => match crate::dev_zookeeper::run(&conf)? {},
        Command::Local {
            local_ttl,
            artifact,
            args,
        } => match run_local(cli, *local_ttl, artifact, args)? {},
        Command::Jar {
            deps,
            artifact,
            args,
        } => match run_jar(cli, &conf, deps, artifact, args)? {},
        Command::Kill { wait, names } => topology::kill(&conf, names, *wait),
        Command::Activate { name } => topology::set_active(&conf, name, true),
        Command::Deactivate { name } => topology::set_active(&conf, name, false),
        Command::Rebalance {
            name,
            wait,
            workers,
            executors,
        } => topology::rebalance(&conf, name, *wait, *workers, executors),
        Command::List => topology::list(&conf),
        Command::Monitor {
            name,
            interval,
            component,
            stream,
            watch,
            count,
        } => topology::monitor(
            &conf,
            &topology::MonitorOptions {
                name: name.clone(),
                interval_secs: *interval,
                component: component.clone(),
                stream: stream.clone(),
                watch: watch.clone(),
                count: *count,
            },
        ),
        Command::GetErrors { name } => topology::get_errors(&conf, name),
        Command::Blobstore { command } => blobstore::run(&conf, command),
        Command::SetLogLevel { set, remove, name } => {
            topology::set_log_level(&conf, name, set, remove)
        }
        Command::Nimbus
        | Command::Supervisor
        | Command::Drpc
        | Command::Logviewer
        | Command::Ui => {
            let args = crate::daemon::DaemonArgs {
                conf: cli.conf.clone(),
                config: cli.config.clone(),
                rest: Vec::new(),
            };
            let result = match &cli.command {
                Command::Nimbus => crate::nimbus::main(&args),
                Command::Supervisor => crate::supervisor::main(&args),
                Command::Logviewer => crate::logviewer::main(&args),
                Command::Ui => crate::ui::main(&args),
                _ => crate::drpc::main(&args),
            };
            result.map_err(|e| CliError::Other(format!("{e:#}")))
        }
        Command::KillWorkers => {
            let n = crate::supervisor::kill_all_workers(&conf)
                .map_err(|e| CliError::Other(format!("{e:#}")))?;
            println!("Killed {n} worker(s)");
            Ok(())
        }
        Command::DrpcClient { function, args } => run_drpc_client(&conf, function.as_deref(), args),
    }
}

/// `storm local`: replaces this process with the topology program, telling it (through the environment)
/// to run in local mode for `ttl` seconds with this command's configuration.
fn run_local(
    cli: &Cli,
    ttl: f64,
    artifact: &std::path::Path,
    args: &[String],
) -> Result<std::convert::Infallible, CliError> {
    if java::is_java_jar(artifact) {
        return Err(CliError::Other(format!(
            "{} is a Java topology jar; storm-rs runs Java components in cluster workers: submit it with `storm jar {} <main class> …` (storm local runs storm-rs topology programs)",
            artifact.display(),
            artifact.display()
        )));
    }
    if !ttl.is_finite() || ttl < 0.0 {
        return Err(CliError::Other(format!(
            "--local-ttl must be a number of seconds ≥ 0, got {ttl}"
        )));
    }
    exec_program(
        cli,
        artifact,
        args,
        vec![(crate::submitter::ENV_LOCAL_TTL, ttl.to_string())],
    )
}

/// `storm jar`: resolves `--jars` and `--artifacts` (any failure ends the command before the program
/// runs, so nothing is submitted), then replaces this process with the topology program, telling it
/// (through the environment) which artifact and dependencies to upload and with which configuration.
fn run_jar(
    cli: &Cli,
    conf: &Config,
    deps: &artifacts::DependencyArgs,
    artifact: &std::path::Path,
    args: &[String],
) -> Result<std::convert::Infallible, CliError> {
    let absolute = std::fs::canonicalize(artifact)
        .map_err(|e| CliError::Other(format!("cannot read {}: {e}", artifact.display())))?;
    let (mut deps, mut args) = (deps.clone(), args.to_vec());
    deps.take_from(&mut args)?;
    let resolved = deps.resolve(&conf.get_path("storm.local.dir")?)?;
    if java::is_java_jar(&absolute) {
        return java::run(conf, &resolved, &absolute, &args);
    }
    exec_program(
        cli,
        artifact,
        &args,
        vec![
            (crate::submitter::ENV_JAR, absolute.display().to_string()),
            (crate::submitter::ENV_DEPENDENCY_JARS, resolved.jars_env()),
            (
                crate::submitter::ENV_DEPENDENCY_ARTIFACTS,
                resolved.artifacts_env(),
            ),
        ],
    )
}

/// Runs a topology program in place of this process with the cluster configuration of this command
/// and the mode variables (`STORM_LOCAL_TTL`, or `STORM_JAR` and the dependency variables).
fn exec_program(
    cli: &Cli,
    artifact: &std::path::Path,
    args: &[String],
    mode: Vec<(&str, String)>,
) -> Result<std::convert::Infallible, CliError> {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let meta = std::fs::metadata(artifact)
        .map_err(|e| CliError::Other(format!("cannot run {}: {e}", artifact.display())))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(CliError::Other(format!(
            "{} is not an executable topology program; build one with `cargo build --release` (jars with shell components run on a cluster)",
            artifact.display()
        )));
    }
    // A bare name would be looked up on PATH; the artifact is a file path, as with `storm jar`.
    let program = if artifact.components().count() == 1 {
        std::path::Path::new(".").join(artifact)
    } else {
        artifact.to_path_buf()
    };
    let mut cmd = std::process::Command::new(&program);
    cmd.args(args)
        .env_remove(crate::submitter::ENV_LOCAL_TTL)
        .env_remove(crate::submitter::ENV_JAR)
        .env_remove(crate::worker::ENV_WORKER)
        .env_remove(crate::submitter::ENV_DEPENDENCY_JARS)
        .env_remove(crate::submitter::ENV_DEPENDENCY_ARTIFACTS)
        .envs(mode)
        .env(
            crate::submitter::ENV_OPTIONS,
            serde_json::to_string(&cli.conf).unwrap_or_else(|_| "[]".into()),
        );
    match &cli.config {
        Some(file) => cmd.env(crate::submitter::ENV_CONF_FILE, file),
        None => cmd.env_remove(crate::submitter::ENV_CONF_FILE),
    };
    let err = cmd.exec();
    Err(CliError::Other(format!(
        "cannot run {}: {err}",
        artifact.display()
    )))
}

/// `storm drpc-client`: connects to the first reachable server of `drpc.servers` on `drpc.port` and
/// prints `FUNCTION "ARG" => "RESULT"` per call, like Storm's `BasicDrpcClient`. The first failed call
/// ends the command with one line naming the server and the DRPC error.
fn run_drpc_client(conf: &Config, function: Option<&str>, args: &[String]) -> Result<(), CliError> {
    use crate::thrift::{DRPCExecutionException, TDistributedRPCSyncClient};
    let calls: Vec<(String, String)> = match function {
        Some(f) if !args.is_empty() => args.iter().map(|a| (f.to_owned(), a.clone())).collect(),
        Some(_) => {
            return Err(CliError::Other(
                "give at least one argument to call the function with".into(),
            ))
        }
        None if args.is_empty() || args.len() % 2 != 0 => {
            return Err(CliError::Other(format!(
                "without -f the arguments are FUNCTION ARGUMENT pairs, got {} argument(s)",
                args.len()
            )))
        }
        None => args
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect(),
    };
    let servers = if conf.get("drpc.servers").is_some_and(|v| !v.is_null()) {
        conf.get_string_list("drpc.servers")?
    } else {
        Vec::new()
    };
    if servers.is_empty() {
        return Err(CliError::Other(
            "drpc.servers is not set: name the DRPC server(s), e.g. -c drpc.servers='[\"drpc1\"]'"
                .into(),
        ));
    }
    let port = conf.get_port("drpc.port")?;
    // A call may wait for the whole request timeout of the server.
    let timeout = std::time::Duration::from_millis(
        conf.get_u64("storm.thrift.socket.timeout.ms")?.max(
            conf.get_u64("drpc.request.timeout.secs")?
                .saturating_add(30)
                .saturating_mul(1000),
        ),
    );
    let transport =
        crate::client::ClientTransport::from_conf(conf, crate::client::ConnectionType::Drpc)
            .map_err(|e| CliError::Other(e.to_string()))?;
    let mut tried = Vec::new();
    let mut connected = None;
    for server in &servers {
        let addr = if server.contains(':') {
            server.clone()
        } else {
            format!("{server}:{port}")
        };
        match crate::client::connect(&addr, timeout, &transport) {
            Ok((i, o)) => {
                connected = Some((addr, crate::thrift::DistributedRPCSyncClient::new(i, o)));
                break;
            }
            Err(e) => tried.push(format!("{addr}: {e}")),
        }
    }
    let Some((addr, mut client)) = connected else {
        return Err(CliError::Other(format!(
            "cannot connect to a DRPC server ({}); check drpc.servers and drpc.port, and that drpc is running",
            tried.join("; ")
        )));
    };
    for (f, a) in calls {
        match client.execute(f.clone(), a.clone()) {
            Ok(result) => println!("{f} \"{a}\" => \"{result}\""),
            Err(thrift::Error::User(e)) if e.is::<DRPCExecutionException>() => {
                let e = e.downcast_ref::<DRPCExecutionException>().expect("checked");
                return Err(CliError::Other(format!(
                    "{f} \"{a}\" failed on DRPC server {addr}: {}",
                    crate::drpc::topology::describe_exception(e)
                )));
            }
            Err(e) => {
                return Err(CliError::Other(format!(
                    "{f} \"{a}\": DRPC server {addr}: {}",
                    crate::client::thrift_error_text(&e)
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_options_go_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from([
            "storm",
            "localconfvalue",
            "-c",
            "a.b=1",
            "storm.zookeeper.port",
        ])
        .unwrap();
        assert_eq!(a.conf, vec!["a.b=1"]);
        let b =
            Cli::try_parse_from(["storm", "-c", "x=1", "--config", "f.toml", "version"]).unwrap();
        assert_eq!(b.conf, vec!["x=1"]);
        assert_eq!(b.config, Some(PathBuf::from("f.toml")));
        assert!(
            Cli::try_parse_from(["storm", "localconfvalue"]).is_err(),
            "key is required"
        );
        assert!(Cli::try_parse_from(["storm", "no-such-command"]).is_err());
    }
}
