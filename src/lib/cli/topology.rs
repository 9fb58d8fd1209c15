//! The `storm` subcommands that manage running topologies through the leader nimbus: `kill`,
//! `activate`, `deactivate`, `rebalance`, `list` and `get-errors`, with Storm's output (`storm list`'s
//! exact table, `get-errors`' JSON) and Storm's exception texts turned into one-line errors.

use std::collections::BTreeMap;

use super::CliError;
use crate::client::NimbusClient;
use crate::config::Config;
use crate::thrift::{KillOptions, RebalanceOptions, TNimbusSyncClient, TopologySummary};

/// The text of a nimbus call's failure: Storm's exception name and message for declared exceptions.
pub fn nimbus_error(addr: &str, e: &thrift::Error) -> String {
    if let thrift::Error::User(u) = e {
        if let Some(text) = crate::thrift::describe_storm_exception(u.as_ref()) {
            return text;
        }
    }
    format!(
        "nimbus at {addr}: {}",
        crate::thrift::describe_thrift_error(e)
    )
}

fn call<T>(
    client: &mut NimbusClient,
    f: impl FnOnce(
        &mut crate::thrift::NimbusSyncClient<crate::client::InProto, crate::client::OutProto>,
    ) -> thrift::Result<T>,
) -> Result<T, CliError> {
    let addr = client.addr().to_string();
    f(client.raw()).map_err(|e| CliError::Other(nimbus_error(&addr, &e)))
}

/// `storm kill NAME… [-w SECS]`.
pub fn kill(conf: &Config, names: &[String], wait: Option<i32>) -> Result<(), CliError> {
    let mut client = NimbusClient::connect_leader(conf)?;
    for name in names {
        call(&mut client, |c| {
            c.kill_topology_with_opts(name.clone(), KillOptions { wait_secs: wait })
        })?;
        println!("Killed topology: {name}");
    }
    Ok(())
}

/// `storm activate NAME` / `storm deactivate NAME`.
pub fn set_active(conf: &Config, name: &str, active: bool) -> Result<(), CliError> {
    let mut client = NimbusClient::connect_leader(conf)?;
    if active {
        call(&mut client, |c| c.activate(name.to_string()))?;
        println!("Activated topology: {name}");
    } else {
        call(&mut client, |c| c.deactivate(name.to_string()))?;
        println!("Deactivated topology: {name}");
    }
    Ok(())
}

/// Parses one `-e component=N`.
pub fn parse_executor_option(arg: &str) -> Result<(String, i32), CliError> {
    let bad = || {
        CliError::Other(format!(
            "-e {arg:?}: expected COMPONENT=NUMBER_OF_EXECUTORS, e.g. -e split=3"
        ))
    };
    let (comp, n) = arg.split_once('=').ok_or_else(bad)?;
    let comp = comp.trim();
    if comp.is_empty() {
        return Err(bad());
    }
    let n: i32 = n.trim().parse().map_err(|_| bad())?;
    Ok((comp.to_string(), n))
}

/// `storm rebalance NAME [-w SECS] [-n WORKERS] [-e COMP=N]…`.
pub fn rebalance(
    conf: &Config,
    name: &str,
    wait: Option<i32>,
    workers: Option<i32>,
    executors: &[String],
) -> Result<(), CliError> {
    let mut num_executors = BTreeMap::new();
    for e in executors {
        let (comp, n) = parse_executor_option(e)?;
        num_executors.insert(comp, n);
    }
    if let Some(n) = workers {
        if n <= 0 {
            return Err(CliError::Other(format!(
                "-n {n}: the number of workers must be greater than 0"
            )));
        }
    }
    let mut client = NimbusClient::connect_leader(conf)?;
    let options = RebalanceOptions {
        wait_secs: wait,
        num_workers: workers,
        num_executors: (!num_executors.is_empty()).then_some(num_executors),
        principal: None,
        topology_conf_overrides: None,
        topology_resources_overrides: None,
    };
    call(&mut client, |c| c.rebalance(name.to_string(), options))?;
    println!("Topology {name} is rebalancing");
    Ok(())
}

/// Storm's `ListTopologies` table.
pub fn format_list(summaries: &[TopologySummary]) -> String {
    if summaries.is_empty() {
        return "No topologies running.\n".to_string();
    }
    let row = |cols: [&str; 7]| {
        format!(
            "{:<20} {:<10} {:<10} {:<12} {:<12} {:<20} {:<20}\n",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6]
        )
    };
    let mut out = row([
        "Topology_name",
        "Status",
        "Num_tasks",
        "Num_workers",
        "Uptime_secs",
        "Topology_Id",
        "Owner",
    ]);
    out.push_str(&"-".repeat(88));
    out.push('\n');
    for t in summaries {
        out.push_str(&row([
            &t.name,
            &t.status,
            &t.num_tasks.to_string(),
            &t.num_workers.to_string(),
            &t.uptime_secs.to_string(),
            &t.id,
            t.owner.as_deref().unwrap_or("null"),
        ]));
    }
    out
}

/// `storm list`.
pub fn list(conf: &Config) -> Result<(), CliError> {
    let mut client = NimbusClient::connect_leader(conf)?;
    let summaries = call(&mut client, |c| c.get_topology_summaries())?;
    print!("{}", format_list(&summaries));
    Ok(())
}

/// `storm get-errors NAME`: Storm's JSON, the latest error of each component.
pub fn get_errors(conf: &Config, name: &str) -> Result<(), CliError> {
    let mut client = NimbusClient::connect_leader(conf)?;
    let summaries = call(&mut client, |c| c.get_topology_summaries())?;
    let Some(summary) = summaries.iter().find(|t| t.name == name) else {
        println!(
            "{}",
            serde_json::json!({ "Failure": format!("No topologies running with name {name}") })
        );
        return Err(CliError::Other(format!(
            "no running topology is named {name}; `storm list` shows the running ones"
        )));
    };
    let info = call(&mut client, |c| c.get_topology_info(summary.id.clone()))?;
    let mut errors = serde_json::Map::new();
    for (component, list) in &info.errors {
        if let Some(latest) = list.iter().max_by_key(|e| e.error_time_secs) {
            errors.insert(component.clone(), latest.error.clone().into());
        }
    }
    println!(
        "{}",
        serde_json::json!({ "Topology Name": name, "Comp-Errors": errors })
    );
    Ok(())
}

/// What `storm monitor` watches.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    pub name: String,
    pub interval_secs: u64,
    pub component: Option<String>,
    pub stream: String,
    pub watch: String,
    /// Stop after this many samples (storm-rs addition; Storm polls until interrupted).
    pub count: Option<u64>,
}

/// The sum of `watch` (`emitted`/`transferred`) on `stream` over the component's executors (all-time
/// window), the component's executor count, and whether the stream was seen at all.
fn monitor_sample(
    client: &mut NimbusClient,
    o: &MonitorOptions,
    component: &str,
) -> Result<(i64, usize, bool), CliError> {
    let id = topology_id_by_name(client, &o.name)?;
    let info = call(client, |c| c.get_topology_info(id))?;
    let (mut total, mut parallelism, mut found) = (0i64, 0usize, false);
    for e in info
        .executors
        .iter()
        .filter(|e| e.component_id == component)
    {
        parallelism += 1;
        if let Some(stats) = &e.stats {
            let m = if o.watch == "emitted" {
                &stats.emitted
            } else {
                &stats.transferred
            };
            if let Some(v) = m
                .get(crate::executor::stats::ALL_TIME_WINDOW)
                .and_then(|w| w.get(&o.stream))
            {
                found = true;
                total += v;
            }
        }
    }
    Ok((total, parallelism, found))
}

fn topology_id_by_name(client: &mut NimbusClient, name: &str) -> Result<String, CliError> {
    let summaries = call(client, |c| c.get_topology_summaries())?;
    summaries
        .into_iter()
        .find(|t| t.name == name)
        .map(|t| t.id)
        .ok_or_else(|| {
            CliError::Other(format!(
                "topology: {name} not found; `storm list` shows the running ones"
            ))
        })
}

fn components(client: &mut NimbusClient, name: &str) -> Result<Vec<String>, CliError> {
    let id = topology_id_by_name(client, name)?;
    let info = call(client, |c| c.get_topology_info(id))?;
    let mut out: Vec<String> = info.executors.into_iter().map(|e| e.component_id).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// `storm monitor NAME [-i SECS] [-m COMPONENT] [-s STREAM] [-w emitted|transferred]`: Storm's
/// tab-separated throughput rows, one per interval.
pub fn monitor(conf: &Config, o: &MonitorOptions) -> Result<(), CliError> {
    if o.interval_secs == 0 {
        return Err(CliError::Other("-i: poll interval must be positive".into()));
    }
    if o.watch != "emitted" && o.watch != "transferred" {
        return Err(CliError::Other(format!(
            "-w {}: watch item must either be transferred or emitted",
            o.watch
        )));
    }
    let mut client = NimbusClient::connect_leader(conf)?;
    let Some(component) = o.component.clone() else {
        println!("Available components for {} :", o.name);
        println!("------------------");
        for c in components(&mut client, &o.name)? {
            println!("{c}");
        }
        println!("------------------");
        println!("Please use -m to specify one component");
        return Ok(());
    };
    println!(
        "topology\tcomponent\tparallelism\tstream\ttime-diff ms\t{}\tthroughput (Kt/s)",
        o.watch
    );
    let poll = std::time::Duration::from_secs(o.interval_secs);
    let start = std::time::Instant::now();
    let (mut last_time, mut last_total) = (start, 0i64);
    let mut samples = 0u64;
    loop {
        let now = std::time::Instant::now();
        let (total, parallelism, found) = monitor_sample(&mut client, o, &component)?;
        if parallelism == 0 {
            let valid = components(&mut client, &o.name)?.join(", ");
            return Err(CliError::Other(format!(
                "component: {component} not found; the components of {} are: {valid}",
                o.name
            )));
        }
        if !found {
            return Err(CliError::Other(format!(
                "stream: {} not found in component {component} (use -s to pick another stream)",
                o.stream
            )));
        }
        let dt = now.duration_since(last_time).as_millis() as i64;
        let delta = total - last_total;
        let throughput = if dt == 0 || delta == 0 {
            0.0
        } else {
            delta as f64 / dt as f64
        };
        println!(
            "{}\t{component}\t{parallelism}\t{}\t{dt}\t{delta}\t{throughput}",
            o.name, o.stream
        );
        (last_time, last_total) = (now, total);
        samples += 1;
        if o.count.is_some_and(|n| samples >= n) {
            return Ok(());
        }
        // Storm's poller: wake on the next multiple of the interval since the start.
        let elapsed = start.elapsed();
        let cycles = elapsed.as_millis() / poll.as_millis().max(1) + 1;
        let wake = poll * u32::try_from(cycles).unwrap_or(u32::MAX);
        std::thread::sleep(wake.saturating_sub(elapsed));
    }
}

/// Parses one `-l LOGGER=LEVEL[:TIMEOUT_SECS]`.
pub fn parse_log_level(arg: &str) -> Result<(String, crate::thrift::LogLevel), CliError> {
    let bad = |why: &str| {
        CliError::Other(format!(
            "-l {arg:?}: {why}; expected LOGGER=LEVEL[:TIMEOUT_SECS], e.g. -l ROOT=DEBUG:30"
        ))
    };
    let (logger, rest) = arg.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (level, timeout) = match rest.split_once(':') {
        Some((l, t)) => (
            l,
            Some(
                t.trim()
                    .parse::<i32>()
                    .map_err(|_| bad("the timeout is not a number of seconds"))?,
            ),
        ),
        None => (rest, None),
    };
    if logger.trim().is_empty() {
        return Err(bad("no logger name"));
    }
    if crate::worker::log_levels::tracing_level(level).is_none() {
        return Err(bad(&format!(
            "{level:?} is not a level (ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF)"
        )));
    }
    Ok((
        logger.trim().to_string(),
        crate::thrift::LogLevel {
            action: crate::thrift::LogLevelAction::UPDATE,
            target_log_level: Some(level.trim().to_ascii_uppercase()),
            reset_log_level_timeout_secs: timeout,
            reset_log_level_timeout_epoch: None,
            reset_log_level: None,
        },
    ))
}

/// `storm set_log_level [-l LOGGER=LEVEL[:TIMEOUT]]… [-r LOGGER]… NAME` (Storm's `SetLogLevel`):
/// the topology's workers change those loggers' levels live, and put them back after the timeout
/// or on `-r`.
pub fn set_log_level(
    conf: &Config,
    name: &str,
    set: &[String],
    remove: &[String],
) -> Result<(), CliError> {
    use crate::thrift::{LogConfig, LogLevel, LogLevelAction};
    if set.is_empty() && remove.is_empty() {
        return Err(CliError::Other(
            "nothing to do: give -l LOGGER=LEVEL[:TIMEOUT_SECS] or -r LOGGER".into(),
        ));
    }
    let mut levels = std::collections::BTreeMap::new();
    for arg in set {
        let (logger, level) = parse_log_level(arg)?;
        levels.insert(logger, level);
    }
    for logger in remove {
        levels.insert(
            logger.clone(),
            LogLevel {
                action: LogLevelAction::REMOVE,
                target_log_level: None,
                reset_log_level_timeout_secs: None,
                reset_log_level_timeout_epoch: None,
                reset_log_level: None,
            },
        );
    }
    let mut client = NimbusClient::connect_leader(conf)?;
    let id = topology_id_by_name(&mut client, name)?;
    let config = LogConfig {
        named_logger_level: Some(levels),
    };
    call(&mut client, |c| {
        c.set_log_config(id.clone(), config.clone())
    })?;
    let described: Vec<String> = config
        .named_logger_level
        .iter()
        .flatten()
        .map(|(logger, l)| match &l.target_log_level {
            Some(level) => match l.reset_log_level_timeout_secs {
                Some(t) => format!("{logger}={level} for {t} s"),
                None => format!("{logger}={level}"),
            },
            None => format!("{logger} reset"),
        })
        .collect();
    println!(
        "Sent log config [{}] for topology {name} ({id})",
        described.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executor_options_need_component_equals_number() {
        assert_eq!(
            parse_executor_option("split=3").unwrap(),
            ("split".into(), 3)
        );
        for bad in ["split", "=3", "split=x", "split=", ""] {
            let e = parse_executor_option(bad).unwrap_err().to_string();
            assert!(e.contains("expected COMPONENT=NUMBER_OF_EXECUTORS"), "{e}");
        }
    }

    #[test]
    fn list_matches_storms_table() {
        assert_eq!(format_list(&[]), "No topologies running.\n");
        let mut t = TopologySummary::new(
            "wc-1-1700000000".into(),
            "wc".into(),
            9,
            9,
            2,
            42,
            "ACTIVE".into(),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        );
        t.owner = Some("storm".into());
        let out = format_list(&[t]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Topology_name        Status     Num_tasks  Num_workers  Uptime_secs  Topology_Id          Owner               "
        );
        assert_eq!(lines[1], "-".repeat(88));
        assert_eq!(
            lines[2],
            "wc                   ACTIVE     9          2            42           wc-1-1700000000      storm               "
        );
    }
}
