# vigie-agent %postun ($1 = 0 erase, 1 upgrade). Erase keeps /var/lib/vigie (node key, spool)
# unless VIGIE_PURGE_DATA=yes is set (VIGIE_PURGE_DATA=yes dnf remove vigie-agent).
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" = 0 ] && [ "${VIGIE_PURGE_DATA:-}" = "yes" ]; then
    rm -rf /var/lib/vigie
fi
