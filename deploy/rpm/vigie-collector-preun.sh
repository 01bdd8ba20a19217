# vigie-collector %preun ($1 = 0 erase, 1 upgrade): stop the units on erase. Touches no data.
if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl stop vigie-collector.service vigie-collector-report.timer \
        vigie-collector-kpi-snapshot.timer vigie-collector-backup.timer >/dev/null 2>&1 || :
fi
