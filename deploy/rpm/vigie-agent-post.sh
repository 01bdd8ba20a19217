# vigie-agent %post ($1 = 1 install, 2 upgrade): the state directory when absent.
if [ ! -d /var/lib/vigie ]; then
    install -d -o root -g root -m 0700 /var/lib/vigie
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -ge 2 ] && [ -d /run/systemd/system ]; then
    systemctl try-restart vigie-agent.service >/dev/null 2>&1 || :
fi
