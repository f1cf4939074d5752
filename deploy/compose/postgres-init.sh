#!/usr/bin/env bash
# Creates one login role and one schema per service, plus a read-only auditor.
#
# The postgres image runs this once, when it initialises an empty data volume
# (/docker-entrypoint-initdb.d). deploy/local/up runs the same script on every start (with PGHOST
# and PGPORT naming its server), so every statement below can run again: a role that exists gets
# its password set again, a schema that exists is kept.
# Each password comes from the file its <NAME>_FILE variable names (a secret, as compose mounts
# them), else from <NAME> itself (the local stack); psql quotes them (:'var'), so no value is
# spliced into SQL.
set -Eeo pipefail

: "${POSTGRES_USER:?}" "${POSTGRES_DB:?}"

coinlog_secret() {
    local file_variable="$1_FILE"
    if [[ -n "${!file_variable:-}" ]]; then
        [[ -r "${!file_variable}" ]] \
            || { echo "$file_variable: cannot read ${!file_variable}" >&2; return 1; }
        local value
        value="$(<"${!file_variable}")"
        [[ -n "$value" ]] || { echo "$file_variable: ${!file_variable} is empty" >&2; return 1; }
        printf '%s' "$value"
    elif [[ -n "${!1:-}" ]]; then
        printf '%s' "${!1}"
    else
        echo "$1 or $file_variable must be set" >&2
        return 1
    fi
}

WALLET_DB_PASSWORD="$(coinlog_secret WALLET_DB_PASSWORD)"
GIFTING_DB_PASSWORD="$(coinlog_secret GIFTING_DB_PASSWORD)"
PAYOUT_DB_PASSWORD="$(coinlog_secret PAYOUT_DB_PASSWORD)"
AUDITOR_DB_PASSWORD="$(coinlog_secret AUDITOR_DB_PASSWORD)"

coinlog_psql() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" \
        --dbname "$POSTGRES_DB" -v db="$POSTGRES_DB" "$@"
}

# Nobody but the roles below (and the superuser) may connect or create temporary tables.
coinlog_psql <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL

# A login role, made if missing; its password is (re)set either way.
coinlog_login_role() {
    coinlog_psql -v role="$1" -v password="$2" <<'SQL'
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL
}

# A service role owns its schema and nothing else, so only the owning service can write it; it
# cannot even read another service's schema. CREATE on the database is needed by the migrations'
# CREATE SCHEMA IF NOT EXISTS and lets a service make a schema of its own under another name
# (the tests' namespaced `<ns>_wallet`); a schema a role creates belongs to that role, so the rule
# still holds.
coinlog_create_service_role() {
    coinlog_login_role "$1" "$2"
    coinlog_psql -v role="$1" <<'SQL'
GRANT CONNECT, TEMPORARY, CREATE ON DATABASE :"db" TO :"role";
CREATE SCHEMA IF NOT EXISTS :"role" AUTHORIZATION :"role";
SQL
    coinlog_hand_over_schema "$1"
}

# A schema made before its role existed (a local stack that ran the services as its admin)
# passes to the role, with its tables (and their indexes and sequences) and other sequences.
coinlog_hand_over_schema() {
    coinlog_psql -v role="$1" <<'SQL'
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'role', :'role')
  FROM pg_namespace WHERE nspname = :'role' AND nspowner <> :'role'::regrole \gexec
SELECT format('ALTER %s %I.%I OWNER TO %I',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
              n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :'role' AND c.relowner <> :'role'::regrole
   AND (c.relkind IN ('r', 'p')
        -- a sequence of a serial column moves with its table
        OR c.relkind = 'S' AND NOT EXISTS (
               SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('a', 'i'))) \gexec
SQL
}

coinlog_create_service_role wallet "$WALLET_DB_PASSWORD"
coinlog_create_service_role gifting "$GIFTING_DB_PASSWORD"
coinlog_create_service_role payout "$PAYOUT_DB_PASSWORD"

# The auditor reads every schema, including ones created after this script (pg_read_all_data
# covers future tables and schemas), and its sessions are read-only by default. It may not create
# anything: no CREATE or TEMPORARY on the database, so turning read-only off gains it nothing.
coinlog_login_role auditor "$AUDITOR_DB_PASSWORD"
coinlog_psql <<'SQL'
GRANT CONNECT ON DATABASE :"db" TO auditor;
GRANT pg_read_all_data TO auditor;
ALTER ROLE auditor SET default_transaction_read_only = on;
SQL
