#!/usr/bin/env bash
# Builds storm-rs's Java parts with Maven (Java 11+ and Maven 3 needed; Storm's jars come from Maven
# Central on the first run and are cached in ~/.m2):
#
#   java/storm-rs-bridge/target/storm-rs-bridge.jar    the bridge a worker's embedded JVM runs Java
#                                                      components with; also copied to lib-java/
#   tests/java/topologies/target/storm-rs-it-topologies.jar (+ classpath.txt: Storm's client jars)
#                                                      the integration tests' Java topologies
#   tests/java/flux/target/flux-core-2.8.3.jar         Storm's Flux, from Maven Central
#
#   scripts/build-java.sh            bridge and test topologies
#   scripts/build-java.sh bridge     only the bridge
# Idempotent: Maven rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v mvn >/dev/null || { echo "build-java.sh: Maven (mvn) is needed (Debian: apt-get install maven)" >&2; exit 1; }
command -v javac >/dev/null || { echo "build-java.sh: a JDK (javac) is needed (Debian: apt-get install default-jdk-headless)" >&2; exit 1; }

# Quiet on success; Maven's output when it fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
mvn_q() {
  if ! mvn -q -B -Dstyle.color=never "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-java.sh: mvn $* failed" >&2
    exit 1
  fi
}

mvn_q -f java/storm-rs-bridge/pom.xml package
mkdir -p lib-java
cp java/storm-rs-bridge/target/storm-rs-bridge.jar lib-java/storm-rs-bridge.jar.tmp
mv lib-java/storm-rs-bridge.jar.tmp lib-java/storm-rs-bridge.jar

if [ "${1:-all}" = bridge ]; then exit 0; fi

# Storm's own Flux (a self-contained jar on Maven Central), for the Flux test.
if [ ! -f tests/java/flux/target/flux-core-2.8.3.jar ]; then
  mvn_q dependency:copy -Dartifact=org.apache.storm:flux-core:2.8.3 -DoutputDirectory=tests/java/flux/target
fi

for dir in tests/java/*/; do
  [ -f "$dir/pom.xml" ] || continue
  mvn_q -f "$dir/pom.xml" package
  mvn_q -f "$dir/pom.xml" dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
done
