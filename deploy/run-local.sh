#!/usr/bin/env bash
# Huracan's deployment as plain processes on 127.0.0.1: PostgreSQL (the Dagster instance), a Dask
# scheduler and two workers, the Dagster code server, webserver and daemon, all on deploy/dagster.yaml.
#
#   deploy/run-local.sh start      start them in the background (free ports unless given) and wait
#                                  until each answers; prints the addresses
#   deploy/run-local.sh status     each service's pid and whether it runs (exit 1 if one does not)
#   deploy/run-local.sh stop       webserver, daemon, code server, workers, scheduler, then PostgreSQL
#   deploy/run-local.sh run NAME   one service in the foreground: what `start` runs in the background
#                                  and what each container of deploy/docker-compose.yaml runs
#
# Environment:
#   HURACAN_DEPLOY_STATE    state folder: database, DAGSTER_HOME, logs/, pids/ (default deploy/.state)
#   HURACAN_DEPLOY_PG_PORT, HURACAN_DEPLOY_DASK_PORT, HURACAN_DEPLOY_DASK_DASHBOARD_PORT,
#   HURACAN_DEPLOY_GRPC_PORT, HURACAN_DEPLOY_WEB_PORT        ports (default: free ones)
#   HURACAN_DEPLOY_COMPUTE  dask (default): runs get HURACAN_COMPUTE__MODE=dask and the scheduler's
#                           address; in_process: they get neither
#   DAGSTER_PG_USERNAME, DAGSTER_PG_DB (default huracan), DAGSTER_PG_PASSWORD (default: a random
#                           one made at the first start, kept in $STATE/instance.env, mode 600)
#   HURACAN_*               passed through to the code server, its runs and the daemon
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "$SELF")/.." && pwd)"
STATE="${HURACAN_DEPLOY_STATE:-$REPO/deploy/.state}"
mkdir -p "$STATE" && STATE="$(cd "$STATE" && pwd)"
BIN=""  # the repository's venv when there is one (tests, this machine); else PATH (the image)
if [[ -x "$REPO/.venv/bin/dagster" ]]; then BIN="$REPO/.venv/bin/"; fi
PGDATA="$STATE/postgres"
SERVICES=(postgres scheduler worker-1 worker-2 code-server webserver daemon)
STOP_ORDER=(webserver daemon code-server worker-2 worker-1 scheduler postgres)

die() { echo "run-local.sh: $*" >&2; exit 1; }

pg_bindir() {
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"
  elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
    pg_config --bindir
  else
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -n "$found" ]] || die "no PostgreSQL server binaries (initdb, pg_ctl): install the postgresql package"
    echo "$found"
  fi
}

# PostgreSQL refuses root: as root, its commands run as the postgres user (Debian's package makes
# it); setpriv execs in place, so the server keeps the pid `start` records
AS_PG=()
if [[ $EUID -eq 0 ]]; then AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi

free_port() {
  "${BIN}python3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the services' environment -------------------------------------------------------------------
service_environment() {
  : "${HURACAN_DEPLOY_PG_PORT:?}" "${HURACAN_DEPLOY_DASK_PORT:?}" "${HURACAN_DEPLOY_GRPC_PORT:?}"
  : "${DAGSTER_PG_PASSWORD:?DAGSTER_PG_PASSWORD is not set}"
  export DAGSTER_HOME="$STATE/dagster_home"
  export DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT="$HURACAN_DEPLOY_PG_PORT"
  export DAGSTER_PG_USERNAME="${DAGSTER_PG_USERNAME:-huracan}" DAGSTER_PG_DB="${DAGSTER_PG_DB:-huracan}"
  export DAGSTER_PG_PASSWORD
  export HURACAN_PUBLISHER__EXPORT_ROOT="${HURACAN_PUBLISHER__EXPORT_ROOT:-$STATE/exports}"
  case "${HURACAN_DEPLOY_COMPUTE:-dask}" in
    dask)
      export HURACAN_COMPUTE__MODE=dask
      export HURACAN_COMPUTE__DASK_ADDRESS="tcp://127.0.0.1:$HURACAN_DEPLOY_DASK_PORT" ;;
    in_process) ;;
    *) die "HURACAN_DEPLOY_COMPUTE must be dask or in_process, not ${HURACAN_DEPLOY_COMPUTE}" ;;
  esac
}

# DAGSTER_HOME (a copy of deploy/dagster.yaml) and the workspace that points at the code server;
# written through a rename, as several containers may write them at once
prepare_home() {  # prepare_home GRPC_PORT
  mkdir -p "$DAGSTER_HOME"
  cp "$REPO/deploy/dagster.yaml" "$DAGSTER_HOME/.dagster.yaml.$$" && mv "$DAGSTER_HOME/.dagster.yaml.$$" "$DAGSTER_HOME/dagster.yaml"
  printf 'load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: %s\n      location_name: huracan\n' \
    "$1" >"$STATE/.workspace.yaml.$$"
  mv "$STATE/.workspace.yaml.$$" "$STATE/workspace.yaml"
}

# a new cluster in $PGDATA owned by the server's user, with the Dagster database and user
init_postgres() {
  local bin pwfile
  bin="$(pg_bindir)"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (apt-get install postgresql)"
    "${AS_PG[@]}" test -x "$STATE" || die "the postgres user cannot reach $STATE: set HURACAN_DEPLOY_STATE to a folder it can reach"
  fi
  mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
  pwfile="$(mktemp "$STATE/.pwfile.XXXXXX")"
  printf '%s\n' "$DAGSTER_PG_PASSWORD" >"$pwfile"
  if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$PGDATA" "$pwfile"; fi
  "${AS_PG[@]}" "$bin/initdb" -D "$PGDATA" -U "$DAGSTER_PG_USERNAME" --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --no-locale || { rm -f "$pwfile"; die "initdb failed"; }
  rm -f "$pwfile"
  printf 'CREATE DATABASE "%s";\n' "$DAGSTER_PG_DB" | "${AS_PG[@]}" "$bin/postgres" --single -D "$PGDATA" postgres >/dev/null
}

# --- one service in the foreground ---------------------------------------------------------------
run_service() {
  service_environment
  local pg_port=$HURACAN_DEPLOY_PG_PORT dask_port=$HURACAN_DEPLOY_DASK_PORT grpc_port=$HURACAN_DEPLOY_GRPC_PORT
  local dashboard_port=${HURACAN_DEPLOY_DASK_DASHBOARD_PORT:-8787} web_port=${HURACAN_DEPLOY_WEB_PORT:-3000}
  # the HURACAN_DEPLOY_* variables are this script's, not Huracan settings
  unset "${!HURACAN_DEPLOY_@}"
  cd "$REPO"
  case "$1" in
    postgres)
      [[ -f "$PGDATA/PG_VERSION" ]] || init_postgres
      cd "$PGDATA"
      exec "${AS_PG[@]}" "$(pg_bindir)/postgres" -D "$PGDATA" -c listen_addresses=127.0.0.1 -p "$pg_port" \
        -c unix_socket_directories= ;;
    scheduler)
      exec "${BIN}dask" scheduler --host 127.0.0.1 --port "$dask_port" --dashboard-address "127.0.0.1:$dashboard_port" ;;
    worker-*)
      exec "${BIN}dask" worker "tcp://127.0.0.1:$dask_port" --nthreads 1 --nworkers 1 --host 127.0.0.1 \
        --dashboard-address 127.0.0.1:0 --name "$1" ;;
    code-server)
      prepare_home "$grpc_port"
      exec "${BIN}dagster" code-server start -m huracan_assets.definitions -h 127.0.0.1 -p "$grpc_port" \
        --location-name huracan ;;
    webserver)
      prepare_home "$grpc_port"
      exec "${BIN}dagster-webserver" -w "$STATE/workspace.yaml" -h 127.0.0.1 -p "$web_port" ;;
    daemon)
      prepare_home "$grpc_port"
      exec "${BIN}dagster-daemon" run -w "$STATE/workspace.yaml" ;;
    *) die "unknown service $1; known: ${SERVICES[*]}" ;;
  esac
}

# --- start, status, stop -------------------------------------------------------------------------
pidfile() { echo "$STATE/pids/$1.pid"; }

running() {  # the service's process group still has a member
  local pid
  [[ -f "$(pidfile "$1")" ]] || return 1
  pid="$(cat "$(pidfile "$1")")"
  kill -0 -- "-$pid" 2>/dev/null
}

wait_until() {  # wait_until SERVICE SECONDS COMMAND...: until COMMAND succeeds while SERVICE runs
  local name=$1 seconds=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 40 "$STATE/logs/$name.log" >&2 || true
      die "$name exited; its log: $STATE/logs/$name.log"
    fi
    ((SECONDS < deadline)) || die "$name did not answer within ${seconds} s; its log: $STATE/logs/$name.log"
    sleep 0.5
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() {
  "${BIN}python3" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$1"
}

dask_workers() {  # dask_workers ADDRESS N: the scheduler has N workers
  "${BIN}python3" -c 'import sys
from distributed import Client
with Client(sys.argv[1], timeout=10) as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=5)' "$1" "$2"
}

launch() {  # in its own session (process group), so that stop reaches its children too
  setsid "$SELF" run "$1" >"$STATE/logs/$1.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$1")"
}

start() {
  local name
  for name in "${SERVICES[@]}"; do
    if running "$name"; then die "$name is already running (pid $(cat "$(pidfile "$name")")); stop first"; fi
  done
  mkdir -p "$STATE/logs" "$STATE/pids"
  # the password: the caller's, else the one this state's database was made with, else a new one
  if [[ -z "${DAGSTER_PG_PASSWORD:-}" && -f "$STATE/instance.env" ]]; then
    DAGSTER_PG_PASSWORD="$(sed -n 's/^DAGSTER_PG_PASSWORD=//p' "$STATE/instance.env")"
  fi
  DAGSTER_PG_PASSWORD="${DAGSTER_PG_PASSWORD:-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}"
  export DAGSTER_PG_PASSWORD
  export HURACAN_DEPLOY_PG_PORT="${HURACAN_DEPLOY_PG_PORT:-$(free_port)}"
  export HURACAN_DEPLOY_DASK_PORT="${HURACAN_DEPLOY_DASK_PORT:-$(free_port)}"
  export HURACAN_DEPLOY_DASK_DASHBOARD_PORT="${HURACAN_DEPLOY_DASK_DASHBOARD_PORT:-$(free_port)}"
  export HURACAN_DEPLOY_GRPC_PORT="${HURACAN_DEPLOY_GRPC_PORT:-$(free_port)}"
  export HURACAN_DEPLOY_WEB_PORT="${HURACAN_DEPLOY_WEB_PORT:-$(free_port)}"
  export HURACAN_DEPLOY_COMPUTE="${HURACAN_DEPLOY_COMPUTE:-dask}"
  service_environment
  prepare_home "$HURACAN_DEPLOY_GRPC_PORT"
  # what a shell needs to use this instance (set -a; . instance.env; set +a); it holds the password
  (
    umask 077
    printf 'DAGSTER_HOME=%s\nDAGSTER_PG_USERNAME=%s\nDAGSTER_PG_PASSWORD=%s\nDAGSTER_PG_HOST=127.0.0.1\nDAGSTER_PG_PORT=%s\nDAGSTER_PG_DB=%s\n' \
      "$DAGSTER_HOME" "$DAGSTER_PG_USERNAME" "$DAGSTER_PG_PASSWORD" "$DAGSTER_PG_PORT" "$DAGSTER_PG_DB" >"$STATE/instance.env"
  )
  env | grep -E '^HURACAN_DEPLOY_' | sort >"$STATE/deploy.env"
  # a start that fails part-way stops what it started
  trap 'echo "run-local.sh: start failed; stopping what started" >&2; stop >&2' EXIT

  launch postgres
  wait_until postgres 120 "$(pg_bindir)/pg_isready" -h 127.0.0.1 -p "$HURACAN_DEPLOY_PG_PORT" -d "$DAGSTER_PG_DB"
  launch scheduler
  wait_until scheduler 60 port_open "$HURACAN_DEPLOY_DASK_PORT"
  launch worker-1
  launch worker-2
  wait_until worker-2 120 dask_workers "tcp://127.0.0.1:$HURACAN_DEPLOY_DASK_PORT" 2
  launch code-server
  wait_until code-server 180 "${BIN}dagster" api grpc-health-check -h 127.0.0.1 -p "$HURACAN_DEPLOY_GRPC_PORT"
  launch webserver
  launch daemon
  wait_until webserver 180 http_ok "http://127.0.0.1:$HURACAN_DEPLOY_WEB_PORT/server_info"
  wait_until daemon 180 "${BIN}dagster-daemon" liveness-check
  trap - EXIT

  cat <<EOF
postgres      127.0.0.1:$HURACAN_DEPLOY_PG_PORT  database $DAGSTER_PG_DB, user $DAGSTER_PG_USERNAME
dask          tcp://127.0.0.1:$HURACAN_DEPLOY_DASK_PORT  2 workers, dashboard http://127.0.0.1:$HURACAN_DEPLOY_DASK_DASHBOARD_PORT/status
code server   127.0.0.1:$HURACAN_DEPLOY_GRPC_PORT  location huracan, compute $HURACAN_DEPLOY_COMPUTE
webserver     http://127.0.0.1:$HURACAN_DEPLOY_WEB_PORT
daemon        live
DAGSTER_HOME  $DAGSTER_HOME  (the instance's variables for a shell: $STATE/instance.env)
logs          $STATE/logs/
EOF
}

status() {
  local name pid stopped=0
  for name in "${SERVICES[@]}"; do
    pid="$(cat "$(pidfile "$name")" 2>/dev/null || echo -)"
    if running "$name"; then
      printf '%-12s %-8s running\n' "$name" "$pid"
    else
      printf '%-12s %-8s stopped\n' "$name" "$pid"
      stopped=1
    fi
  done
  if [[ -f "$STATE/deploy.env" ]]; then sed 's/^/  /' "$STATE/deploy.env"; fi
  return "$stopped"
}

stop_group() {  # SIGTERM to the service's process group; SIGKILL to what is left after 30 s
  local name=$1 pid deadline
  if ! running "$name"; then
    rm -f "$(pidfile "$name")"
    return 0
  fi
  pid="$(cat "$(pidfile "$name")")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while running "$name" && ((SECONDS < deadline)); do sleep 0.2; done
  if running "$name"; then
    echo "run-local.sh: $name did not stop within 30 s; killing it" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
    while running "$name"; do sleep 0.2; done
  fi
  rm -f "$(pidfile "$name")"
}

stop() {
  local name
  trap - EXIT
  if [[ -f "$STATE/deploy.env" ]]; then source "$STATE/deploy.env"; fi
  for name in "${STOP_ORDER[@]}"; do
    if [[ $name == code-server ]] && running code-server; then
      # SIGTERM leaves the code server waiting for ever (it joins a thread that waits for this
      # request): ask it to shut down, as Dagster's own clients do
      "${BIN}python3" -c 'import sys
from dagster._grpc.client import DagsterGrpcClient
DagsterGrpcClient(port=int(sys.argv[1]), host="127.0.0.1").shutdown_server()' "$HURACAN_DEPLOY_GRPC_PORT" >/dev/null 2>&1 || true
    fi
    if [[ $name == postgres ]] && running postgres; then
      # a fast shutdown: sessions are ended, the database is checkpointed
      (cd "$PGDATA" && "${AS_PG[@]}" "$(pg_bindir)/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null) || true
    fi
    stop_group "$name"
  done
  echo "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  run)
    [[ $# -eq 2 ]] || die "usage: run-local.sh run {${SERVICES[*]}}"
    run_service "$2" ;;
  *) die "usage: run-local.sh {start|status|stop|run NAME}" ;;
esac
