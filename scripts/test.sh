#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need, then checks formatting,
# lints and runs every test (unit, property and integration tests with a real ZooKeeper).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -- FILTER  # only tests whose name contains FILTER (after the checks)
#
# Installs: Debian's zookeeper (the server the integration tests start), a JDK and Maven (Java topologies:
# storm-rs's Java bridge and the test jars, built against Storm's jars from Maven Central), python3 venv
# support, curl (the HTTP client the DRPC and UI tests use), Chromium and its WebDriver (the UI's pages
# are tested in a headless browser), redis-server (the stateful-bolt tests start their own), and a test
# virtualenv at target/test-venv with the outside clients the tests drive (thriftpy2, streamparse,
# pystorm; requests and selenium for the UI).
set -euo pipefail
cd "$(dirname "$0")/.."

filter=()
if [ "${1:-}" = "--" ]; then shift; filter=("$@"); fi

need_apt=()
[ -f /usr/share/java/zookeeper.jar ] || need_apt+=(zookeeper)
command -v javac >/dev/null || need_apt+=(default-jdk-headless) # Java topologies: the bridge, test jars
command -v mvn >/dev/null || need_apt+=(maven)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v curl >/dev/null || need_apt+=(curl)
command -v cc >/dev/null || need_apt+=(gcc) # mimalloc (the binaries' allocator) is C
[ -x /usr/bin/chromium ] || need_apt+=(chromium)               # the UI's pages, headless
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)     # driven through WebDriver
command -v ip >/dev/null || need_apt+=(iproute2) # the multi-host tests' network namespaces (scripts/hosts.sh)
command -v redis-server >/dev/null || need_apt+=(redis-server)  # the Redis state backend's tests
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

venv=target/test-venv
if ! "$venv/bin/python" -c 'import thriftpy2, streamparse, pystorm' 2>/dev/null; then
  echo "test.sh: creating $venv (thriftpy2, streamparse, pystorm from PyPI)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check thriftpy2 streamparse pystorm
fi
if ! "$venv/bin/python" -c 'import requests, selenium' 2>/dev/null; then
  echo "test.sh: adding requests and selenium to $venv (the UI tests' HTTP and WebDriver clients)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check requests selenium
fi
export STORM_TEST_PYTHON="$PWD/$venv/bin/python"

command -v rustfmt >/dev/null && cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt clippy
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
# The Java parts (the bridge workers run Java components with, our Java test topologies, the Storm
# client driver of tests/java/storm-clients, Storm's Flux) and the Storm client classpath Maven resolves
# for each (from Maven Central, cached in ~/.m2).
scripts/build-java.sh
# The integration tests run example programs through `storm local`; build them as programs too.
cargo build --quiet --examples
log=target/test-output.log
cargo test --quiet --lib --bins --tests --examples -- "${filter[@]}" 2>&1 | tee "$log"
# One closing line for the whole suite (the per-binary lines above end with the last binary's count).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
