#!/bin/sh
# Makes the cluster on first start, then runs postgres in the foreground. LISTEN_ADDRESSES
# (default *) and PGPORT (default 5432) say where it listens; the socket goes to /tmp.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${LISTEN_ADDRESSES:=*}"
: "${PGPORT:=5432}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "zentrale-postgres: set POSTGRES_PASSWORD" >&2
    exit 2
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
        >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
    fi
fi
exec postgres -D "$PGDATA" -c listen_addresses="$LISTEN_ADDRESSES" -p "$PGPORT" \
    -c unix_socket_directories=/tmp
