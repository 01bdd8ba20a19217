#!/usr/bin/env bash
# Installs the Debian packages for real on this machine, exercises them, then purges them and checks
# the data rules (remove and upgrade keep data; purge keeps it unless VIGIE_PURGE_DATA=yes).
# Run by .ci/run after the tests; needs root and a disposable machine: it refuses to run where
# Vigie is already installed or has data, and leaves behind only the vigie-collector system user
# (Debian never removes users) and the tools it installs (lintian, openssl).
# Builds the packages with scripts/package.sh when target/debian/ has none (VIGIE_PACKAGE_PROFILE
# is passed through).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
step() { echo "package-test: $*"; }
# grep that reads all its input (grep -q exits at the first match: SIGPIPE + pipefail).
has() { grep "$@" >/dev/null; }
[ "$(id -u)" = 0 ] || fail "needs root (installs packages)"
for p in vigie-agent vigie-collector; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | has 'installed\|config-files'; then
    fail "$p is already installed here; this test installs and purges it (use a disposable machine)"
  fi
done
for d in /var/lib/vigie /var/lib/vigie-collector /var/lib/vigie-collector-backups /etc/vigie /run/credentials/vigie-collector.service; do
  [ ! -e "$d" ] || fail "$d exists; this test would purge it (use a disposable machine)"
done

need=()
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v rpm >/dev/null 2>&1 || need+=(rpm)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if ! ls target/debian/vigie-agent_*.deb target/debian/vigie-collector_*.deb >/dev/null 2>&1; then
  scripts/package.sh
fi
agent_deb=$(ls target/debian/vigie-agent_*.deb)
collector_deb=$(ls target/debian/vigie-collector_*.deb)
[ "$(echo "$agent_deb" | wc -l)" = 1 ] && [ "$(echo "$collector_deb" | wc -l)" = 1 ] \
  || fail "more than one package per name in target/debian/"
version=$(dpkg-deb -f "$collector_deb" Version)

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp" /run/credentials/vigie-collector.service
  for p in vigie-agent vigie-collector; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | has 'installed\|config-files'; then
      VIGIE_PURGE_DATA=yes apt-get purge -y -qq "$p" >/dev/null 2>&1 || true
    fi
  done
  rm -rf /etc/vigie /var/lib/vigie-collector-backups
}
trap cleanup EXIT

step "lintian"
# Every tag of severity info or above fails, unless deploy/debian/*/lintian-overrides justifies it.
lintian --fail-on error,warning,info --display-info "$agent_deb" "$collector_deb" \
  || fail "lintian reported tags (fix them or justify them in deploy/debian/<package>/lintian-overrides)"

step "rpm: contents and scriptlets (rpm -qlp, rpm -qp --scripts; not installed here)"
for p in vigie-agent vigie-collector; do
  rpmfile=$(ls target/generate-rpm/"$p"-*.rpm) || fail "no $p RPM in target/generate-rpm/"
  rpm -qlp "$rpmfile" > "$tmp/rpm.list"
  for f in "/usr/bin/$p" "/etc/vigie/${p#vigie-}.toml" "/usr/lib/systemd/system/$p.service" \
    "/usr/share/man/man1/$p.1" "/usr/share/bash-completion/completions/$p"; do
    has -x "$f" "$tmp/rpm.list" || fail "$rpmfile lacks $f"
  done
  rpm -qp --configfiles "$rpmfile" | has -x "/etc/vigie/${p#vigie-}.toml" || fail "$rpmfile: config not %config"
  rpm -qp --scripts "$rpmfile" > "$tmp/rpm.scripts"
  has 'VIGIE_PURGE_DATA:-}" = "yes"' "$tmp/rpm.scripts" || fail "$rpmfile: erase does not guard data removal"
  [ "$(grep -c 'rm -rf' "$tmp/rpm.scripts")" = 1 ] || fail "$rpmfile: data removed outside the guarded erase"
  rpm -qlvp "$rpmfile" | has -E "^-rwxr-xr-x +1 root +root .* /usr/bin/$p$" || fail "$rpmfile: /usr/bin/$p mode"
done
rpm -qlp target/generate-rpm/vigie-collector-*.rpm | has -x /usr/lib/systemd/system/vigie-collector-report.timer \
  || fail "collector RPM lacks the report timer"
rpm -qlp target/generate-rpm/vigie-collector-*.rpm | has -x /usr/lib/systemd/system/vigie-collector-backup.timer \
  || fail "collector RPM lacks the backup timer"

step "Ansible role vigie_agent (scripts/ansible-test.sh): install, configure, enrol, idempotent"
scripts/ansible-test.sh

step "install"
apt-get install -y -qq "./$agent_deb" "./$collector_deb"

step "binaries from /usr/bin"
[ "$(command -v vigie-agent)" = /usr/bin/vigie-agent ] || fail "vigie-agent is not /usr/bin/vigie-agent"
[ "$(command -v vigie-collector)" = /usr/bin/vigie-collector ] || fail "vigie-collector is not /usr/bin/vigie-collector"
/usr/bin/vigie-agent --version | has -x "vigie-agent ${version%-*}" || fail "vigie-agent --version is not ${version%-*}"
/usr/bin/vigie-collector --version | has -x "vigie-collector ${version%-*}" || fail "vigie-collector --version is not ${version%-*}"
/usr/bin/vigie-agent list | has '^patch_age ' || fail "vigie-agent list does not list patch_age"
# The packaged agent.toml is valid: exit 0 (all pass) or 1 (some check fails here), never 2.
rc=0; /usr/bin/vigie-agent --config /etc/vigie/agent.toml check --format json > "$tmp/report.json" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "vigie-agent check on the packaged agent.toml exited $rc"
grep -q '"results"' "$tmp/report.json" || fail "vigie-agent check printed no report"

step "files, owners, modes"
expect_stat() { # path owner:group octal-mode
  local got; got=$(stat -c '%U:%G %a' "$1") || fail "$1 missing"
  [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
getent passwd vigie-collector | has ':/var/lib/vigie-collector:/usr/sbin/nologin$' \
  || fail "user vigie-collector missing or wrong home/shell: $(getent passwd vigie-collector)"
expect_stat /var/lib/vigie-collector vigie-collector:vigie-collector 700
expect_stat /var/lib/vigie root:root 700
expect_stat /etc/vigie/collector.toml root:vigie-collector 640
expect_stat /etc/vigie/agent.toml root:root 644
for f in /etc/vigie/collector.toml; do
  dpkg-query -W -f='${Conffiles}\n' vigie-collector | has " $f " || fail "$f is not a conffile"
done
dpkg-query -W -f='${Conffiles}\n' vigie-agent | has " /etc/vigie/agent.toml " || fail "agent.toml is not a conffile"
for b in vigie-agent vigie-collector; do
  [ -f "/lib/systemd/system/$b.service" ] || [ -f "/usr/lib/systemd/system/$b.service" ] || fail "$b.service not installed"
  zcat "/usr/share/man/man1/$b.1.gz" | has '^\.TH' || fail "man page $b.1.gz missing or not roff"
  [ -s "/usr/share/zsh/vendor-completions/_$b" ] || fail "zsh completion of $b missing"
  [ -s "/usr/share/fish/vendor_completions.d/$b.fish" ] || fail "fish completion of $b missing"
  bash -c "source /usr/share/bash-completion/completions/$b && complete -p $b" >/dev/null \
    || fail "bash completion of $b does not register"
done
zcat /usr/share/man/man1/vigie-collector-check-config.1.gz | has '^\.TH' || fail "no man page per subcommand"
for f in grafana/vigie-fleet.json grafana/vigie-management.json prometheus/vigie-rules.yml prometheus/prometheus.yml \
  grafana/provisioning/dashboards/vigie.yaml grafana/provisioning/datasources/vigie.yaml; do
  [ -s "/usr/share/vigie/$f" ] || fail "/usr/share/vigie/$f missing"
done
cmp -s /usr/share/vigie/prometheus/vigie-rules.yml dashboards/prometheus/vigie-rules.yml || fail "packaged alert rules differ from dashboards/"
[ "$(dpkg -L vigie-agent vigie-collector | grep -c '^/usr/local')" = 0 ] || fail "a package ships files under /usr/local"

step "systemd-analyze verify on the installed units"
units=()
for b in vigie-agent.service vigie-collector.service vigie-collector-report.service \
  vigie-collector-report.timer vigie-collector-kpi-snapshot.service vigie-collector-kpi-snapshot.timer \
  vigie-collector-backup.service vigie-collector-backup.timer; do
  for d in /lib/systemd/system /usr/lib/systemd/system; do
    [ -f "$d/$b" ] && { units+=("$d/$b"); break; }
  done
  [ -f "$d/$b" ] || fail "unit $b not installed"
done
systemd-analyze verify --man=no "${units[@]}" > "$tmp/verify.out" 2>&1 || { cat "$tmp/verify.out"; fail "systemd-analyze verify"; }
[ ! -s "$tmp/verify.out" ] || { cat "$tmp/verify.out"; fail "systemd-analyze verify printed warnings"; }
grep -q '^ExecStart=/usr/bin/vigie-collector ' "${units[1]}" || fail "installed collector unit does not run /usr/bin/vigie-collector"

step "check-config on the packaged collector.toml"
# Unfilled: the enrolment secret and the TLS key are missing, a configuration error (exit 2).
rc=0; runuser -u vigie-collector -- /usr/bin/vigie-collector --config /etc/vigie/collector.toml check-config \
  > "$tmp/cc.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$tmp/cc.out"; fail "check-config on the unfilled example exited $rc, expected 2"; }
# Filled as README.Debian says: /etc/vigie/enroll-secret and /etc/vigie/tls/collector.{crt,key},
# root-only; LoadCredential= copies them for the service (done by hand here: no systemd as PID 1
# on CI, and the copy is what the service reads).
install -d -m 0755 /etc/vigie/tls
# A throw-away CA ($tmp/ca.crt, what agents get with enroll --ca) and the collector's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Vigie test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" >/dev/null 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout /etc/vigie/tls/collector.key -out "$tmp/collector.csr" >/dev/null 2>&1
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/collector.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/ext" -out /etc/vigie/tls/collector.crt >/dev/null 2>&1
chmod 0600 /etc/vigie/tls/collector.key
head -c 32 /dev/urandom | base64 > /etc/vigie/enroll-secret
chmod 0600 /etc/vigie/enroll-secret
creds=/run/credentials/vigie-collector.service
install -d -m 0500 -o vigie-collector -g vigie-collector "$creds"
install -m 0400 -o vigie-collector -g vigie-collector /etc/vigie/enroll-secret "$creds/enroll-secret"
install -m 0400 -o vigie-collector -g vigie-collector /etc/vigie/tls/collector.key "$creds/collector.key"
runuser -u vigie-collector -- /usr/bin/vigie-collector --config /etc/vigie/collector.toml check-config \
  > "$tmp/cc.out" 2>&1 || { cat "$tmp/cc.out"; fail "check-config on the filled example"; }
grep -q 'configuration is valid' "$tmp/cc.out" || fail "check-config did not say the configuration is valid"

step "serve the packaged configuration, enrol the packaged agent, deliver a report"
# As the unit runs it: the collector's user, the packaged collector.toml (listen 0.0.0.0:8443).
runuser -u vigie-collector -- /usr/bin/vigie-collector --config /etc/vigie/collector.toml serve \
  > "$tmp/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  curl -fsS --cacert "$tmp/ca.crt" https://127.0.0.1:8443/healthz >/dev/null 2>&1 && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log"; fail "vigie-collector serve exited"; }
  sleep 0.1
done
curl -fsS --cacert "$tmp/ca.crt" https://127.0.0.1:8443/healthz >/dev/null \
  || { cat "$tmp/serve.log"; fail "the packaged collector does not answer /healthz on 8443"; }
expect_stat /var/lib/vigie-collector/vigie.db vigie-collector:vigie-collector 600
/usr/bin/vigie-agent --config /etc/vigie/agent.toml enroll --collector https://127.0.0.1:8443 \
  --secret-file /etc/vigie/enroll-secret --ca "$tmp/ca.crt" \
  || { cat "$tmp/serve.log"; fail "vigie-agent enroll"; }
rc=0; /usr/bin/vigie-agent --config /etc/vigie/agent.toml run --once --collector https://127.0.0.1:8443 || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/serve.log"; fail "vigie-agent run --once exited $rc (report not delivered)"; }

step "the timers' commands, as their units run them"
# ExecStart= of the oneshot services, with systemd's own escapes ($$, %%) undone.
exec_of() { sed -n 's/^ExecStart=//p' "$(dirname "${units[0]}")/$1" | sed 's/\$\$/$/g; s/%%/%/g'; }
runuser -u vigie-collector -- sh -c "$(exec_of vigie-collector-kpi-snapshot.service)" \
  || fail "vigie-collector-kpi-snapshot.service's command failed"
runuser -u vigie-collector -- sh -c "$(exec_of vigie-collector-report.service)" \
  || fail "vigie-collector-report.service's command failed"
last_month=$(date -u -d 'last month' +%Y-%m)
ls /var/lib/vigie-collector/reports/ | has "$last_month.*\.html$" \
  || fail "the report timer's command wrote no HTML report for $last_month: $(ls /var/lib/vigie-collector/reports/)"
# The nightly backup, while the collector serves (systemd creates its StateDirectory; done by
# hand here), then a restore of it into an empty directory as the collector's user.
install -d -m 0700 -o vigie-collector -g vigie-collector /var/lib/vigie-collector-backups
runuser -u vigie-collector -- /usr/bin/vigie-collector --config /etc/vigie/collector.toml evidence public-key \
  > "$tmp/evidence.pem" || fail "evidence public-key (generates the signing key)"
runuser -u vigie-collector -- sh -c "$(exec_of vigie-collector-backup.service)" \
  || fail "vigie-collector-backup.service's command failed"
backup_file=/var/lib/vigie-collector-backups/vigie-collector-$(date -u +%Y-%m-%d).zip
expect_stat "$backup_file" vigie-collector:vigie-collector 600
# $tmp is root-only: the restore goes beside the backups, where the collector's user can write.
restored=/var/lib/vigie-collector-backups/restore-test
install -d -m 0700 -o vigie-collector -g vigie-collector "$restored"
runuser -u vigie-collector -- /usr/bin/vigie-collector restore "$backup_file" --data-dir "$restored" \
  > "$tmp/restore.out" 2>&1 || { cat "$tmp/restore.out"; fail "vigie-collector restore of the nightly backup"; }
cmp -s "$restored/evidence-signing.key" /var/lib/vigie-collector/evidence-signing.key \
  || fail "the restored signing key differs from /var/lib/vigie-collector/evidence-signing.key"
[ "$(sqlite3 "$restored/vigie.db" 'SELECT count(*) FROM hosts')" -ge 1 ] || fail "the restored database has no host"
rm -rf "$restored"
rc=0; runuser -u vigie-collector -- /usr/bin/vigie-collector restore "$backup_file" --data-dir /var/lib/vigie-collector \
  > "$tmp/restore.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "restore into the live data directory exited $rc, expected 2"
kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=

step "upgrade keeps data and the administrator's changes"
echo "# changed by the administrator" >> /etc/vigie/collector.toml
chmod 0600 /etc/vigie/collector.toml
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }
sums /var/lib/vigie-collector > "$tmp/collector.sums"
sums /var/lib/vigie > "$tmp/agent.sums"
[ -s "$tmp/collector.sums" ] && [ -s "$tmp/agent.sums" ] || fail "no data to keep"
same_data() { # what
  sums /var/lib/vigie-collector | cmp -s - "$tmp/collector.sums" || fail "$1 changed /var/lib/vigie-collector"
  sums /var/lib/vigie | cmp -s - "$tmp/agent.sums" || fail "$1 changed /var/lib/vigie"
}
# Reinstalling runs the whole upgrade path (prerm upgrade, postrm upgrade, postinst configure V).
dpkg -i --force-confold "$agent_deb" "$collector_deb" >/dev/null
grep -q '^# changed by the administrator$' /etc/vigie/collector.toml || fail "upgrade overwrote collector.toml"
expect_stat /etc/vigie/collector.toml root:vigie-collector 600
same_data upgrade
expect_stat /var/lib/vigie-collector vigie-collector:vigie-collector 700

step "remove keeps data and configuration"
apt-get remove -y -qq vigie-agent vigie-collector >/dev/null
[ ! -e /usr/bin/vigie-collector ] || fail "remove left /usr/bin/vigie-collector"
same_data remove
[ -f /etc/vigie/collector.toml ] || fail "remove deleted the conffile"

step "purge keeps data unless VIGIE_PURGE_DATA=yes"
env -u VIGIE_PURGE_DATA apt-get purge -y -qq vigie-agent vigie-collector > "$tmp/purge.out" 2>&1
[ ! -e /etc/vigie/collector.toml ] && [ ! -e /etc/vigie/agent.toml ] || fail "purge left the conffiles"
same_data "purge without VIGIE_PURGE_DATA"
grep -q 'purge keeps /var/lib/vigie-collector' "$tmp/purge.out" || fail "purge did not say where the data stays"
# Reinstalling over kept data adopts it untouched.
apt-get install -y -qq "./$agent_deb" "./$collector_deb" >/dev/null
same_data "reinstall over kept data"
VIGIE_PURGE_DATA=yes apt-get purge -y -qq vigie-agent vigie-collector >/dev/null
[ ! -e /var/lib/vigie-collector ] || fail "purge with VIGIE_PURGE_DATA=yes left /var/lib/vigie-collector"
[ ! -e /var/lib/vigie ] || fail "purge with VIGIE_PURGE_DATA=yes left /var/lib/vigie"
[ ! -e /var/lib/vigie-collector-backups ] || fail "purge with VIGIE_PURGE_DATA=yes left the backups"
getent passwd vigie-collector >/dev/null || fail "purge removed the vigie-collector user"

step "OK ($agent_deb, $collector_deb)"
