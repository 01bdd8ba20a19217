# vigie-collector %postun ($1 = 0 erase, 1 upgrade). RPM has no purge: erase keeps
# /var/lib/vigie-collector (database, evidence signing key) and /var/lib/vigie-collector-backups unless VIGIE_PURGE_DATA=yes is set
# (VIGIE_PURGE_DATA=yes dnf remove vigie-collector). The user is never removed.
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" = 0 ] && [ "${VIGIE_PURGE_DATA:-}" = "yes" ]; then
    rm -rf /var/lib/vigie-collector /var/lib/vigie-collector-backups
fi
