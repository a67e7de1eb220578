#!/usr/bin/env bash
# The whole test suite on a fresh machine: what the tests need, then pytest.
# Extra arguments go to pytest (./test.sh -k modbus).
set -euo pipefail
cd "$(dirname "$0")"

# The MQTT tests start their own Mosquitto broker on free ports: they need the binary.
if ! command -v mosquitto >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mosquitto >/dev/null
fi
# The central store's tests start their own PostgreSQL cluster (initdb, postgres): they need the server.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check -e ".[test]"
python3 -m pytest -q -n 2 "$@"
