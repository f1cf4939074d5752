# shellcheck shell=bash disable=SC2034  # variables are used by the scripts sourcing this
# Shared by deploy/local/up and deploy/local/down; sourced, not executed.
#
# Everything the local stack writes lives under $LOCAL_DIR (kafka/ and
# postgres/), except the Kafka jar cache, which is shared between checkouts,
# and, when the postgres OS user cannot reach the checkout, the PostgreSQL data
# folder (see pg_resolve_home).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

# Absolute, because the servers resolve relative paths against their own cwd.
LOCAL_DIR="$(readlink -m "${COINLOG_LOCAL_DIR:-$REPO_ROOT/.local}")"
KAFKA_PORT="${COINLOG_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${COINLOG_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${COINLOG_PG_PORT:-15432}"
KAFKA_VERSION="${COINLOG_KAFKA_VERSION:-4.3.1}"
# Deadlines in seconds; generous because a cold start also downloads.
UP_TIMEOUT="${COINLOG_UP_TIMEOUT:-120}"
DOWN_TIMEOUT="${COINLOG_DOWN_TIMEOUT:-60}"

KAFKA_HOME="$LOCAL_DIR/kafka"
# One broker by default; COINLOG_KAFKA_BROKERS=3 starts a cluster of combined broker+controller
# nodes on ports KAFKA_PORT, KAFKA_PORT+10, ... (controllers on KAFKA_CONTROLLER_PORT+10*n).
KAFKA_BROKERS="${COINLOG_KAFKA_BROKERS:-1}"
[[ "$KAFKA_BROKERS" =~ ^[1-9]$ ]] || { printf '[local] ERROR: COINLOG_KAFKA_BROKERS must be 1..9\n' >&2; exit 1; }
KAFKA_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/coinlog/kafka-$KAFKA_VERSION"
# COINLOG_KAFKA_SECURITY=scram: clients log in with SASL/SCRAM-SHA-512 and the broker enforces
# the ACLs `coinlog topics ensure` creates; none (the default): anonymous PLAINTEXT.
KAFKA_SECURITY="${COINLOG_KAFKA_SECURITY:-none}"
[[ "$KAFKA_SECURITY" =~ ^(none|scram)$ ]] || { printf '[local] ERROR: COINLOG_KAFKA_SECURITY must be none or scram\n' >&2; exit 1; }
# One SCRAM user per principal of shared/kafka_acls.py (tests/unit/test_kafka_acls.py checks the
# list): the admin (the broker itself, ensure, tests' setup), the services, the sealer, the
# auditor (read-only CLI) and every upstream publisher of the topic registry.
KAFKA_PRINCIPALS=(admin wallet gifting payout sealer auditor payments promotions users live catalog policy creator-app payout-provider)
KAFKA_CREDENTIALS_DIR="$KAFKA_HOME/credentials"
KAFKA_JARS_MARKER="$KAFKA_CACHE_DIR/.complete"

# The admin login: owns the database, sets it up (roles, schemas, rebuilds and swaps), and is
# what DATABASE_URL names.
PG_USER_NAME=coinlog
PG_PASSWORD=coinlog
PG_DB_NAME=coinlog
# The roles deploy/compose/postgres-init.sh creates: one per service, owning its schema, and the
# read-only auditor. Each gets a COINLOG_DATABASE_URL_<ROLE> export; the local passwords are
# development values like the admin's.
PG_SERVICE_ROLES=(wallet gifting payout)
PG_ROLES=("${PG_SERVICE_ROLES[@]}" auditor)
pg_role_password() { printf '%s-local\n' "$1"; }
# Bootstrap superuser named explicitly so it is the same whichever OS user ran initdb.
PG_SUPERUSER=postgres
PG_OS_USER=postgres

log() { printf '[local] %s\n' "$*" >&2; }
die() { printf '[local] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# Prints the last lines of a log so a failed start explains itself.
show_log_tail() {
  local file="$1" lines="${2:-40}"
  if [[ -r "$file" ]]; then
    printf '[local] ---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" | sed 's/\x1b\[[0-9;]*m//g' >&2 || true
    printf '[local] ---- end of %s ----\n' "$file" >&2
  else
    log "(no log at $file)"
  fi
}

# wait_until DEADLINE_SECONDS DESCRIPTION COMMAND... : polls COMMAND once a
# second until it succeeds; returns 1 when the deadline passes. Set
# WAIT_ALIVE_PID to give up early when the process being waited for dies.
wait_until() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  while true; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if [[ -n "${WAIT_ALIVE_PID:-}" ]] && ! kill -0 "$WAIT_ALIVE_PID" 2>/dev/null; then
      log "$what: process $WAIT_ALIVE_PID exited"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "$what: not reached after ${timeout}s"
      return 1
    fi
    sleep 1
  done
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PID PATTERN: the pid exists and its command line contains PATTERN,
# so a stale pid file whose number was reused by another process is not
# mistaken for our server.
pid_alive() {
  local pid="$1" pattern="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# A zombie counts as gone: where PID 1 does not reap orphans, a stopped
# server can linger as one forever.
pid_gone() {
  ! kill -0 "$1" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]
}

# stop_pid NAME PID SIGNAL: asks politely, waits up to DOWN_TIMEOUT for the
# process to be gone, then SIGKILLs it.
stop_pid() {
  local name="$1" pid="$2" sig="$3"
  log "stopping $name (pid $pid, SIG$sig)"
  kill -s "$sig" "$pid" 2>/dev/null || return 0
  if wait_until "$DOWN_TIMEOUT" "$name shutdown" pid_gone "$pid"; then
    log "$name stopped"
    return 0
  fi
  log "$name did not stop within ${DOWN_TIMEOUT}s; sending SIGKILL"
  kill -s KILL "$pid" 2>/dev/null || true
  wait_until 10 "$name kill" pid_gone "$pid" || die "could not kill $name (pid $pid)"
}

apt_install() {
  local why="$1"
  shift
  if ! is_root; then
    log "$why; installing $* needs root (apt-get install -y $*)"
    return 1
  fi
  command -v apt-get >/dev/null 2>&1 || { log "$why; apt-get is not available"; return 1; }
  log "$why; installing $* with apt-get"
  local out
  if ! out="$(export DEBIAN_FRONTEND=noninteractive
              apt-get update -q 2>&1 && apt-get install -y -q --no-install-recommends "$@" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    return 1
  fi
}

# Serializes concurrent up/down runs on the same state folder. Long-lived
# servers are started with fd 9 closed, or they would hold the lock forever.
lock_local_dir() {
  mkdir -p "$LOCAL_DIR"
  exec 9>"$LOCAL_DIR/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "another deploy/local/up or down holds $LOCAL_DIR/.lock"
  fi
}

parse_components() {
  COMPONENTS=()
  local arg
  for arg in "$@"; do
    case "$arg" in
      kafka | postgres) COMPONENTS+=("$arg") ;;
      *) die "unknown argument '$arg' (expected: kafka, postgres)" ;;
    esac
  done
  ((${#COMPONENTS[@]})) || COMPONENTS=(kafka postgres)
}

wants() {
  local c
  for c in "${COMPONENTS[@]}"; do [[ "$c" == "$1" ]] && return 0; done
  return 1
}

# ---------------------------------------------------------------- Kafka

# select_kafka_node N: sets NODE_ID, NODE_HOME, NODE_PORT, NODE_CONTROLLER_PORT and
# KAFKA_PID_FILE for node N. A single broker keeps its files directly in $KAFKA_HOME.
select_kafka_node() {
  NODE_ID="$1"
  if ((KAFKA_BROKERS == 1)); then NODE_HOME="$KAFKA_HOME"; else NODE_HOME="$KAFKA_HOME/node-$1"; fi
  NODE_PORT=$((KAFKA_PORT + 10 * ($1 - 1)))
  NODE_CONTROLLER_PORT=$((KAFKA_CONTROLLER_PORT + 10 * ($1 - 1)))
  KAFKA_PID_FILE="$NODE_HOME/kafka.pid"
}
select_kafka_node 1

kafka_nodes() { seq 1 "$KAFKA_BROKERS"; }

kafka_bootstrap_servers() {
  local node servers=()
  for node in $(kafka_nodes); do servers+=("127.0.0.1:$((KAFKA_PORT + 10 * (node - 1)))"); done
  (IFS=,; printf '%s\n' "${servers[*]}")
}

kafka_pid() { cat "$KAFKA_PID_FILE" 2>/dev/null || true; }

kafka_password_file() { printf '%s/%s.password\n' "$KAFKA_CREDENTIALS_DIR" "$1"; }

# Generated once per state folder; the broker's storage is formatted with them.
ensure_kafka_credentials() {
  local name file
  mkdir -p "$KAFKA_CREDENTIALS_DIR"
  chmod 700 "$KAFKA_CREDENTIALS_DIR"
  for name in "${KAFKA_PRINCIPALS[@]}"; do
    file="$(kafka_password_file "$name")"
    [[ -s "$file" ]] && continue
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
  done
}
kafka_running() { pid_alive "$(kafka_pid)" kafka.Kafka; }

# ---------------------------------------------------------------- PostgreSQL

# Where the PostgreSQL state lives. Normally $LOCAL_DIR/postgres; when that
# was relocated (see pg_prepare_home in up) it is a symlink to the real place.
pg_home() {
  if [[ -L "$LOCAL_DIR/postgres" ]]; then
    readlink -m "$LOCAL_DIR/postgres"
  else
    printf '%s\n' "$LOCAL_DIR/postgres"
  fi
}

pg_data() { printf '%s/data\n' "$(pg_home)"; }

# Unix socket paths are limited to about 107 bytes; a deep checkout would
# exceed that, so fall back to a short per-state-folder path.
pg_socket_dir() {
  local dir
  dir="$(pg_home)/run"
  if ((${#dir} + 20 > 100)); then
    dir="/tmp/coinlog-$(local_dir_hash)-pg"
  fi
  printf '%s\n' "$dir"
}

# Runs a PostgreSQL server tool as the OS user that owns the data folder:
# initdb and pg_ctl refuse to run as root.
pg_as() {
  if is_root; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

# The postmaster pid, from the first line of postmaster.pid, if it runs.
pg_pid() {
  local pid
  pid="$(head -n 1 "$(pg_data)/postmaster.pid" 2>/dev/null || true)"
  pid_alive "$pid" postgres && printf '%s\n' "$pid"
  return 0
}

pg_running() { [[ -n "$(pg_pid)" ]]; }

# The port the running postmaster listens on (line 4 of postmaster.pid).
pg_running_port() { sed -n 4p "$(pg_data)/postmaster.pid" 2>/dev/null || true; }

# Short, stable id of this state folder, for names outside it.
local_dir_hash() { printf '%s' "$LOCAL_DIR" | sha256sum | cut -c1-12; }
