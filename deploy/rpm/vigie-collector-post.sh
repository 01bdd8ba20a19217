# vigie-collector %post ($1 = 1 install, 2 upgrade): the system user and the state directory when
# absent; existing data, owners and modes are left as they are.
if ! getent passwd vigie-collector >/dev/null; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers vigie-collector.conf
    else
        useradd --system --user-group --home-dir /var/lib/vigie-collector --no-create-home \
            --shell /usr/sbin/nologin --comment "Vigie collector" vigie-collector
    fi
fi
if [ ! -d /var/lib/vigie-collector ]; then
    install -d -o vigie-collector -g vigie-collector -m 0700 /var/lib/vigie-collector
fi
if [ "$1" = 1 ] && [ -f /etc/vigie/collector.toml ]; then
    chgrp vigie-collector /etc/vigie/collector.toml
    chmod 0640 /etc/vigie/collector.toml
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -ge 2 ] && [ -d /run/systemd/system ]; then
    systemctl try-restart vigie-collector.service >/dev/null 2>&1 || :
fi
