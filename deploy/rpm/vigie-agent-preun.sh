# vigie-agent %preun ($1 = 0 erase, 1 upgrade): stop the service on erase. Touches no data.
if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl stop vigie-agent.service >/dev/null 2>&1 || :
fi
