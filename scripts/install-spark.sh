#!/usr/bin/env bash
# Install what the Spark engine and its tests need on a fresh Debian machine (Python 3.11):
# a Java 17 runtime (only if none is there) and the `spark` extra of Empatia.
#   scripts/install-spark.sh            # into ./.venv if it exists, else the current python
#   PYTHON=/path/to/python scripts/install-spark.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if java -version >/dev/null 2>&1; then
    echo "java found: $(java -version 2>&1 | head -n 1)"
else
    echo "no java: installing openjdk-17-jre-headless"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends openjdk-17-jre-headless
fi

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CONSTRAINTS=()
if [ -f constraints.txt ]; then CONSTRAINTS=(-c constraints.txt); fi
"$PYTHON" -m pip install "${CONSTRAINTS[@]}" -e ".[spark]"
SPARK_LOCAL_IP=127.0.0.1 "$PYTHON" -c "import pyspark; print('pyspark', pyspark.__version__)"
