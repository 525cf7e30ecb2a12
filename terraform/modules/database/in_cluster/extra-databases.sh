#!/bin/sh
# Terraform appends one `create <name>` line per var.extra_databases (terraform/modules/database/in_cluster). The
# postgres image runs it once,
# on first start (empty data directory), as the owner role: one login role per database, owning only that database.
# The password is read by psql from its file, so it never appears in a command line.
set -eu

create() {
  MCC_PASSWORD_FILE="/etc/postgres-secret/$1-password" \
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set=name="$1" <<'SQL'
\set password `cat "$MCC_PASSWORD_FILE"`
CREATE ROLE :"name" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}
