//! Where the Debian packages of Apache ZooKeeper 3.8 put things (`zookeeper`, `zookeeper-bin`).
//! Each location can be overridden through an environment variable.

use std::path::{Path, PathBuf};

/// The server/client jar; its manifest `Class-Path` pulls in the other jars from /usr/share/java.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// slf4j binding that logs to stderr (the jar manifest only references slf4j-api, so without a
/// binding the server would log nothing).
pub const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";
pub const QUORUM_PEER_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
pub const ZKCLI_SH: &str = "/usr/share/zookeeper/bin/zkCli.sh";
pub const CLI_MT: &str = "/usr/lib/zookeeper/bin/cli_mt";

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// `java` executable (`ZK_JAVA`, default `java` from PATH).
pub fn java() -> PathBuf {
    env_path("ZK_JAVA", "java")
}

/// Class path for running the Apache server (`ZK_APACHE_CLASSPATH` overrides).
pub fn server_classpath() -> String {
    if let Ok(cp) = std::env::var("ZK_APACHE_CLASSPATH") {
        return cp;
    }
    let mut cp = ZOOKEEPER_JAR.to_string();
    if Path::new(SLF4J_SIMPLE_JAR).exists() {
        cp.push(':');
        cp.push_str(SLF4J_SIMPLE_JAR);
    }
    cp
}

/// JVM flags that make a small, fast-starting JVM (2-core test machines).
pub fn jvm_flags() -> Vec<String> {
    [
        "-Xms32m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Xss512k",
        "-Djava.net.preferIPv4Stack=true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Apache's zkCli.sh (`ZK_CLI_SH` overrides).
pub fn zkcli_sh() -> PathBuf {
    env_path("ZK_CLI_SH", ZKCLI_SH)
}

/// The C client shell from `zookeeper-bin` (`ZK_CLI_MT` overrides).
pub fn cli_mt() -> PathBuf {
    env_path("ZK_CLI_MT", CLI_MT)
}

/// True when the Apache server can be started here.
pub fn server_available() -> bool {
    Path::new(ZOOKEEPER_JAR).exists() || std::env::var_os("ZK_APACHE_CLASSPATH").is_some()
}
