#!/bin/sh
# Assembles Asterisk's configuration in /run/zentrale-asterisk/etc (zentrale's files from
# /usr/share/zentrale-asterisk plus the per-node *_local.conf written from the environment),
# then runs Asterisk in the foreground as this (asterisk) user. ARI_PASSWORD (or
# ARI_PASSWORD_FILE) is required. HTTP_BINDADDR/HTTP_BINDPORT: where ARI listens (0.0.0.0:8088
# by default, for a compose network; 127.0.0.1 with host networking).
set -eu
: "${ARI_USERNAME:=zentrale}"
: "${ZENTRALE_APP:=zentrale}"
: "${HTTP_BINDADDR:=0.0.0.0}"
: "${HTTP_BINDPORT:=8088}"
if [ -n "${ARI_PASSWORD_FILE:-}" ]; then ARI_PASSWORD=$(cat "$ARI_PASSWORD_FILE"); fi
if [ -z "${ARI_PASSWORD:-}" ]; then
    echo "zentrale-asterisk: set ARI_PASSWORD or ARI_PASSWORD_FILE" >&2
    exit 2
fi
umask 027
top=/run/zentrale-asterisk
mkdir -p "$top/etc" "$top/run" "$top/log" "$top/cache" \
    /var/spool/asterisk/recording /var/spool/asterisk/astdb
cp /usr/share/zentrale-asterisk/*.conf "$top/etc/"
printf 'bindaddr=%s\nbindport=%s\n' "$HTTP_BINDADDR" "$HTTP_BINDPORT" > "$top/etc/http_local.conf"
printf 'ZENTRALE_APP=%s\n' "$ZENTRALE_APP" > "$top/etc/extensions_local.conf"
printf '[%s]\ntype=user\nread_only=no\npassword=%s\n' "$ARI_USERNAME" "$ARI_PASSWORD" \
    > "$top/etc/ari_local.conf"
exec asterisk -f -n -C /etc/asterisk/asterisk.conf
