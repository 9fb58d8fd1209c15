//! `storm dev-zookeeper`: a standalone ZooKeeper server in the foreground for development.
//!
//! Like Storm's `DevZookeeper`, it serves on `storm.zookeeper.port` and keeps its data in
//! `dev.zookeeper.path`. The server is Debian's Apache ZooKeeper (`apt-get install zookeeper`, or
//! `scripts/zookeeper.sh` which installs it); this process `exec`s the JVM, so signals reach the server
//! directly and the command behaves as a foreground daemon.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{Config, ConfigError};

/// Where Debian's package puts the server jar (its manifest lists every dependency).
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

#[derive(Debug, thiserror::Error)]
pub enum DevZookeeperError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("ZooKeeper is not installed ({ZOOKEEPER_JAR} is missing); install it with `apt-get install zookeeper` or run scripts/zookeeper.sh start once")]
    NotInstalled,
    #[error("cannot prepare {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start java ({java}): {source}; install a JRE or set JAVA_HOME")]
    Exec {
        java: String,
        source: std::io::Error,
    },
}

/// The `zoo.cfg` for a standalone development server.
pub fn zoo_cfg(data_dir: &Path, port: u16) -> String {
    format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nmaxClientCnxns=0\nadmin.enableServer=false\n\
         4lw.commands.whitelist=ruok,srvr,stat,mntr,cons,dump\n",
        data_dir.display()
    )
}

/// Writes the server's configuration under `dev.zookeeper.path` and replaces this process with the server.
/// Returns only on failure.
pub fn run(conf: &Config) -> Result<std::convert::Infallible, DevZookeeperError> {
    let port = conf.get_port("storm.zookeeper.port")?;
    let dir = conf.get_path("dev.zookeeper.path")?;
    if !Path::new(ZOOKEEPER_JAR).is_file() {
        return Err(DevZookeeperError::NotInstalled);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DevZookeeperError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let cfg = dir.join("zoo.cfg");
    std::fs::write(&cfg, zoo_cfg(&dir, port)).map_err(io(&cfg))?;
    let java = std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin/java").display().to_string())
        .unwrap_or_else(|| "java".to_string());
    eprintln!(
        "storm dev-zookeeper: serving on port {port}, data in {}",
        dir.display()
    );
    let mut cmd = Command::new(&java);
    cmd.args([
        "-Xmx256m",
        "-cp",
        ZOOKEEPER_JAR,
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    ])
    .arg(&cfg);
    use std::os::unix::process::CommandExt;
    let source = cmd.exec();
    Err(DevZookeeperError::Exec { java, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_port_and_data_dir() {
        let cfg = zoo_cfg(Path::new("/tmp/dev-zk"), 2181);
        assert!(cfg.contains("clientPort=2181\n"));
        assert!(cfg.contains("dataDir=/tmp/dev-zk\n"));
        assert!(
            cfg.contains("admin.enableServer=false"),
            "never take Storm UI's port 8080"
        );
    }
}
