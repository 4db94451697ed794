#!/usr/bin/env bash
# A throw-away Spark standalone cluster on 127.0.0.1: one master and one worker, run from the
# pyspark package of the project's virtual environment (no separate Spark download needed).
#   scripts/spark-cluster.sh start [DIR]    # prints the master URL (spark://127.0.0.1:PORT)
#   scripts/spark-cluster.sh stop [DIR]     # stops both; quiet and successful if nothing runs
#   scripts/spark-cluster.sh status [DIR]   # exit 0 if both run, 3 if not
# DIR (default /tmp/empatia-spark) holds the pid files, logs/, work/ (executor dirs), local/
# (scratch space) and master-url.
# Environment:
#   PYTHON                      python with pyspark (default: <repo>/.venv/bin/python); also
#                               the PYSPARK_PYTHON of the worker's Python processes
#   SPARK_MASTER_PORT           master RPC port (default: a free port)
#   SPARK_MASTER_WEBUI_PORT     master web UI port (default: a free port)
#   SPARK_WORKER_WEBUI_PORT     worker web UI port (default: a free port)
#   SPARK_WORKER_CORES          default 2
#   SPARK_WORKER_MEMORY         default 2g
#   SPARK_START_TIMEOUT         seconds to wait for the worker to register (default 60)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION="${1:-}"
DIR="${2:-/tmp/empatia-spark}"
HOST=127.0.0.1

usage() {
    echo "usage: $0 {start|stop|status} [DIR]" >&2
    exit 2
}

die() {
    echo "spark-cluster: $*" >&2
    exit 1
}

# Is the pid in pid file $1 alive and a Spark daemon of class $2 (guards against pid reuse)?
daemon_pid() {
    local file="$1" class="$2" pid
    [ -s "$file" ] || return 1
    pid="$(cat "$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    ps -o args= -p "$pid" 2>/dev/null | grep -q -- "$class" || return 1
    echo "$pid"
}

master_pid() { daemon_pid "$DIR/master.pid" org.apache.spark.deploy.master.Master; }
worker_pid() { daemon_pid "$DIR/worker.pid" org.apache.spark.deploy.worker.Worker; }

# Stop the daemon in pid file $1: TERM its process group (the daemon was started in its own
# session, so this also reaches executors and Python workers), wait, then KILL.
stop_daemon() {
    local file="$1" class="$2" pid pgid i
    if pid="$(daemon_pid "$file" "$class")"; then
        pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
        if [ "$pgid" = "$pid" ]; then
            kill -TERM -- "-$pid" 2>/dev/null || true
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            if [ "$pgid" = "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        # Leftovers of the group (executors, python daemons) once the leader is gone.
        if [ "$pgid" = "$pid" ]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
    rm -f "$file"
}

do_stop() {
    [ -d "$DIR" ] || return 0
    stop_daemon "$DIR/worker.pid" org.apache.spark.deploy.worker.Worker
    stop_daemon "$DIR/master.pid" org.apache.spark.deploy.master.Master
    rm -f "$DIR/master-url" "$DIR/master-webui-url"
}

log_tail() {
    local f
    for f in "$DIR/logs/master.log" "$DIR/logs/worker.log"; do
        if [ -f "$f" ]; then
            echo "--- tail of $f" >&2
            tail -n 20 "$f" >&2
        fi
    done
}

fail_start() {
    echo "spark-cluster: $*" >&2
    log_tail
    do_stop
    exit 1
}

# Run spark-class with the given arguments in a new session, detached from our stdio (so that
# `url=$(spark-cluster.sh start)` returns), writing its pid (that of the JVM: spark-class execs
# java) to pid file $1 and its output to log $2.
launch() {
    local pidfile="$1" log="$2"
    shift 2
    rm -f "$pidfile"
    setsid bash -c 'cd "$1" && echo $$ >"$2" && shift 2 && exec "$@"' \
        launch "$DIR" "$pidfile" "$SPARK_HOME/bin/spark-class" "$@" \
        </dev/null >"$log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$pidfile" ] && return 0
        sleep 0.1
    done
    fail_start "could not launch $*"
}

master_json() {
    curl -s --max-time 2 "$WEBUI_URL/json/" 2>/dev/null || true
}

alive_workers() {
    master_json | grep -o '"aliveworkers" *: *[0-9]*' | grep -o '[0-9]*$' || echo 0
}

do_start() {
    mkdir -p "$DIR/logs" "$DIR/work" "$DIR/local"

    if master_pid >/dev/null && worker_pid >/dev/null && [ -s "$DIR/master-url" ]; then
        cat "$DIR/master-url"
        return 0
    fi
    do_stop # a half-running cluster: start afresh

    PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
    # Absolute, but do not resolve symlinks: a venv's python is a symlink to the base one.
    if [[ "$PYTHON" != /* ]]; then
        PYTHON="$(command -v "$PYTHON" || true)"
        [[ -z "$PYTHON" || "$PYTHON" == /* ]] || PYTHON="$(pwd)/$PYTHON"
    fi
    [ -n "$PYTHON" ] && [ -x "$PYTHON" ] || die "no python at ${PYTHON:-\$PYTHON} (set PYTHON)"
    SPARK_HOME="$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" \
        || die "$PYTHON cannot import pyspark (run scripts/install-spark.sh)"
    [ -x "$SPARK_HOME/bin/spark-class" ] || die "no $SPARK_HOME/bin/spark-class"

    if [ -z "${JAVA_HOME:-}" ]; then
        local java
        java="$(command -v java || true)"
        [ -n "$java" ] || die "no java on PATH and JAVA_HOME unset (run scripts/install-spark.sh)"
        JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$java")")")"
    fi
    [ -x "$JAVA_HOME/bin/java" ] || die "no java at $JAVA_HOME/bin/java"

    export SPARK_HOME JAVA_HOME
    export PYSPARK_PYTHON="$PYTHON"
    # The python of Python tasks is chosen by the driver (its PYSPARK_PYTHON or
    # spark.pyspark.python, else "python3" looked up on the executor's PATH): put this
    # python's directory first so that a driver which sets neither still gets this python.
    PATH="$(dirname "$PYTHON"):$PATH"
    export PATH
    export SPARK_LOCAL_IP="$HOST"
    export SPARK_LOCAL_DIRS="$DIR/local"
    # No REST submission server: it would take the fixed port 6066 and is not needed.
    export SPARK_MASTER_OPTS="${SPARK_MASTER_OPTS:-} -Dspark.master.rest.enabled=false"

    # Three distinct free ports unless given (held together while picking, so they differ).
    local ports master_port webui_port worker_webui_port
    ports="$("$PYTHON" -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
')"
    read -r master_port webui_port worker_webui_port <<<"$ports"
    master_port="${SPARK_MASTER_PORT:-$master_port}"
    webui_port="${SPARK_MASTER_WEBUI_PORT:-$webui_port}"
    worker_webui_port="${SPARK_WORKER_WEBUI_PORT:-$worker_webui_port}"

    local timeout="${SPARK_START_TIMEOUT:-60}"
    local deadline=$((SECONDS + timeout))

    launch "$DIR/master.pid" "$DIR/logs/master.log" org.apache.spark.deploy.master.Master \
        --host "$HOST" --port "$master_port" --webui-port "$webui_port"

    # The master may move to another port if the one asked for was taken: read where it is.
    local url="" webui=""
    while [ $SECONDS -lt $deadline ]; do
        master_pid >/dev/null || fail_start "master exited during start-up"
        url="$(grep -o 'Starting Spark master at spark://[^ ]*' "$DIR/logs/master.log" 2>/dev/null \
            | tail -n 1 | sed 's/.* at //' || true)"
        # (the UI binds to $HOST but its log line names "localhost": take the port only)
        webui="$(grep -o "service 'MasterUI' on port [0-9]*" "$DIR/logs/master.log" 2>/dev/null \
            | tail -n 1 | sed "s|.* port |http://$HOST:|" || true)"
        [ -n "$url" ] && [ -n "$webui" ] && break
        sleep 0.3
    done
    [ -n "$url" ] && [ -n "$webui" ] || fail_start "master did not come up within ${timeout}s"
    WEBUI_URL="${webui%/}"

    launch "$DIR/worker.pid" "$DIR/logs/worker.log" org.apache.spark.deploy.worker.Worker \
        "$url" --host "$HOST" --cores "${SPARK_WORKER_CORES:-2}" \
        --memory "${SPARK_WORKER_MEMORY:-2g}" --webui-port "$worker_webui_port" \
        --work-dir "$DIR/work"

    while :; do
        master_pid >/dev/null || fail_start "master exited during start-up"
        worker_pid >/dev/null || fail_start "worker exited during start-up"
        if [ "$(alive_workers)" -ge 1 ]; then break; fi
        [ $SECONDS -lt $deadline ] \
            || fail_start "worker did not register with $url within ${timeout}s"
        sleep 0.5
    done

    echo "$url" >"$DIR/master-url"
    echo "$WEBUI_URL" >"$DIR/master-webui-url"
    echo "$url"
}

do_status() {
    local pid rc=0
    if pid="$(master_pid)"; then
        echo "master: running (pid $pid) $(cat "$DIR/master-url" 2>/dev/null || true)"
    else
        echo "master: not running"
        rc=3
    fi
    if pid="$(worker_pid)"; then
        echo "worker: running (pid $pid)"
    else
        echo "worker: not running"
        rc=3
    fi
    if [ $rc -eq 0 ] && [ -s "$DIR/master-webui-url" ]; then
        WEBUI_URL="$(cat "$DIR/master-webui-url")"
        echo "web UI: $WEBUI_URL (alive workers: $(alive_workers))"
    fi
    return $rc
}

case "$ACTION" in
start | stop) ;;
status)
    [ -d "$DIR" ] || { echo "not running"; exit 3; }
    ;;
*) usage ;;
esac

[ "$ACTION" = stop ] && [ ! -d "$DIR" ] && exit 0
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# One start/stop at a time per DIR (the daemons do not inherit this descriptor).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DIR/.lock"
    flock -w 120 9 || die "another spark-cluster.sh holds $DIR/.lock"
fi

case "$ACTION" in
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
esac
