//! Finding `libjvm.so`: `$JAVA_HOME/lib/server/libjvm.so` (Java 9+) or `$JAVA_HOME/jre/lib/<arch>/
//! server/libjvm.so` (Java 8), else the Java home of the `java` on `PATH` (symlinks resolved, as
//! Debian's alternatives point `/usr/bin/java` into the JDK).

use std::path::{Path, PathBuf};

use super::JvmError;

/// The JVM library to load.
pub fn libjvm() -> Result<PathBuf, JvmError> {
    let mut tried = Vec::new();
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        if let Some(lib) = in_home(&home, &mut tried) {
            return Ok(lib);
        }
    }
    if let Some(home) = java_on_path().as_deref().and_then(home_of_java) {
        if let Some(lib) = in_home(&home, &mut tried) {
            return Ok(lib);
        }
    }
    Err(JvmError::NoJava(format!(
        "no Java runtime found for the topology's Java components (looked for libjvm.so in {}); install Java 11 or later (Debian: openjdk-17-jre-headless) or set JAVA_HOME",
        if tried.is_empty() {
            "JAVA_HOME and the java on PATH".to_owned()
        } else {
            tried.join(", ")
        }
    )))
}

/// The `java` executable: `$JAVA_HOME/bin/java`, else the one on `PATH`.
pub fn java_executable() -> Result<PathBuf, JvmError> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let java = PathBuf::from(home).join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
    }
    java_on_path().ok_or_else(|| {
        JvmError::NoJava(
            "no `java` found (JAVA_HOME is not set and there is no java on PATH); install Java 11 or later (Debian: openjdk-17-jre-headless) or set JAVA_HOME".into(),
        )
    })
}

fn java_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("java"))
        .find(|p| p.is_file())
}

fn home_of_java(java: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(java).ok()?;
    // <home>/bin/java
    Some(real.parent()?.parent()?.to_path_buf())
}

fn in_home(home: &Path, tried: &mut Vec<String>) -> Option<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    let candidates = [
        home.join("lib/server/libjvm.so"),
        home.join(format!("jre/lib/{arch}/server/libjvm.so")),
        home.join("lib/client/libjvm.so"),
    ];
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
        tried.push(c.display().to_string());
    }
    None
}
