#!/bin/sh
# Writes the per-node *_local.conf files from the environment, then runs Asterisk in the
# foreground as the asterisk user. ARI_PASSWORD (or ARI_PASSWORD_FILE) is required.
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
printf 'bindaddr=%s\nbindport=%s\n' "$HTTP_BINDADDR" "$HTTP_BINDPORT" > /etc/asterisk/http_local.conf
printf 'ZENTRALE_APP=%s\n' "$ZENTRALE_APP" > /etc/asterisk/extensions_local.conf
printf '[%s]\ntype=user\nread_only=no\npassword=%s\n' "$ARI_USERNAME" "$ARI_PASSWORD" \
    > /etc/asterisk/ari_local.conf
chown -R asterisk:asterisk /etc/asterisk /var/lib/asterisk /var/spool/asterisk /var/log/asterisk
exec asterisk -f -U asterisk -G asterisk
