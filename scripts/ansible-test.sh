#!/usr/bin/env bash
# Runs the Ansible role deploy/ansible/roles/vigie_agent for real on this machine
# (`ansible-playbook --connection=local -i localhost,`): installs target/debian/vigie-agent_*.deb,
# templates /etc/vigie/agent.toml, enrols with the secret from an Ansible Vault variable against a
# collector this script starts (the binary of target/debian/vigie-collector_*.deb, TLS with a
# throw-away CA, on loopback), then checks: the agent delivers a report, the secret appears in no
# output, a second run changes nothing (changed=0). Purges the agent and its data at the end.
#
# Run by scripts/package-test.sh (root, disposable machine: refuses where Vigie is installed).
# Needs: ansible-core python3-apt openssl curl sqlite3 (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

fail() { echo "ansible-test: FAIL: $*" >&2; exit 1; }
step() { echo "ansible-test: $*"; }
[ "$(id -u)" = 0 ] || fail "needs root (installs a package)"
if dpkg-query -W -f='${Status}' vigie-agent 2>/dev/null | grep 'installed\|config-files' >/dev/null; then
  fail "vigie-agent is already installed here (use a disposable machine)"
fi
for d in /var/lib/vigie /etc/vigie; do
  [ ! -e "$d" ] || fail "$d exists; this test would remove it (use a disposable machine)"
done
need=()
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible-core)
python3 -c 'import apt' 2>/dev/null || need+=(python3-apt)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
agent_deb=$(ls "$PWD"/target/debian/vigie-agent_*.deb 2>/dev/null | head -1)
collector_deb=$(ls "$PWD"/target/debian/vigie-collector_*.deb 2>/dev/null | head -1)
[ -n "$agent_deb" ] && [ -n "$collector_deb" ] || fail "no packages in target/debian/: run scripts/package.sh"

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if dpkg-query -W -f='${Status}' vigie-agent 2>/dev/null | grep 'installed\|config-files' >/dev/null; then
    VIGIE_PURGE_DATA=yes apt-get purge -y -qq vigie-agent >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp" /etc/vigie /var/lib/vigie /var/cache/vigie-agent.deb
}
trap cleanup EXIT

step "collector (from $collector_deb) with TLS on loopback"
dpkg-deb -x "$collector_deb" "$tmp/pkg"
collector="$tmp/pkg/usr/bin/vigie-collector"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Vigie test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" >/dev/null 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$tmp/collector.key" -out "$tmp/collector.csr" >/dev/null 2>&1
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tmp/ext"
openssl x509 -req -in "$tmp/collector.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/ext" -out "$tmp/collector.crt" >/dev/null 2>&1
secret="ansible-vault-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$secret" > "$tmp/enroll-secret"
chmod 0600 "$tmp/enroll-secret" "$tmp/collector.key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$tmp/collector.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
tls_cert = "$tmp/collector.crt"
tls_key = "$tmp/collector.key"
[storage]
data_dir = "$tmp/data"
[auth]
enroll_secret_file = "$tmp/enroll-secret"
TOML
"$collector" --config "$tmp/collector.toml" serve > "$tmp/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 100); do
  curl -fsS --cacert "$tmp/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$tmp/serve.log"; fail "the collector exited"; }
  sleep 0.1
done
curl -fsS --cacert "$tmp/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null || { cat "$tmp/serve.log"; fail "no /healthz"; }

step "the enrolment secret in Ansible Vault"
head -c 24 /dev/urandom | base64 > "$tmp/vault-pass"
ansible-vault encrypt_string --vault-password-file "$tmp/vault-pass" --name vigie_agent_enroll_secret \
  "$secret" > "$tmp/vault.yml" 2>/dev/null
grep -q '^vigie_agent_enroll_secret: !vault' "$tmp/vault.yml" || fail "ansible-vault encrypt_string"
! grep -qF "$secret" "$tmp/vault.yml" || fail "the vault file holds the secret in clear"
cat > "$tmp/vars.yml" <<YAML
vigie_agent_deb: $agent_deb
vigie_agent_collector_url: https://127.0.0.1:$port
vigie_agent_ca_file: $tmp/ca.crt
vigie_agent_interval_seconds: 900
YAML

play() { # log-file
  ANSIBLE_ROLES_PATH="$PWD/deploy/ansible/roles" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    ansible-playbook --connection=local -i localhost, deploy/ansible/playbook.yml \
    -e "@$tmp/vars.yml" -e "@$tmp/vault.yml" --vault-password-file "$tmp/vault-pass" -v > "$1" 2>&1 \
    || { cat "$1"; fail "ansible-playbook failed"; }
  ! grep -qF "$secret" "$1" || fail "the enrolment secret appears in ansible-playbook's output ($1)"
}
step "first run: install, configure, enrol"
play "$tmp/run1.log"
grep -E '^localhost +: ok=[0-9]+ +changed=[1-9]' "$tmp/run1.log" >/dev/null || { cat "$tmp/run1.log"; fail "the first run changed nothing"; }
dpkg-query -W -f='${Status}' vigie-agent | grep -x 'install ok installed' >/dev/null || fail "vigie-agent not installed"
grep -qx "url = \"https://127.0.0.1:$port\"" /etc/vigie/agent.toml || fail "agent.toml does not name the collector"
grep -qx 'interval_seconds = 900' /etc/vigie/agent.toml || fail "agent.toml does not carry the role's variables"
[ "$(stat -c '%a' /var/lib/vigie/node_key)" = 600 ] || fail "no node key (mode 0600) after the role's enrolment"
ls /tmp/*.vigie-secret 2>/dev/null && fail "the role left the secret file behind"
if grep -q 'Enable and start vigie-agent.*skipping\|skipping: \[localhost\]' "$tmp/run1.log" \
   && ! [ -d /run/systemd/system ]; then
  step "no systemd here: the service step is skipped (vigie_agent_manage_service defaults to systemd hosts)"
fi

step "the enrolled agent delivers a report"
rc=0; /usr/bin/vigie-agent --config /etc/vigie/agent.toml run --once > "$tmp/agent.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/agent.log" "$tmp/serve.log"; fail "vigie-agent run --once exited $rc"; }
n=$(sqlite3 "$tmp/data/vigie.db" 'SELECT count(*) FROM hosts WHERE last_report_id IS NOT NULL')
[ "$n" = 1 ] || fail "the collector holds $n reporting hosts, expected 1"

step "second run: idempotent"
play "$tmp/run2.log"
grep -E '^localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$tmp/run2.log" >/dev/null \
  || { grep -B2 -A2 'changed:' "$tmp/run2.log" || true; tail -5 "$tmp/run2.log"; fail "the second run changed something"; }

kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=
step "OK (role vigie_agent: install from $agent_deb, configure, enrol from Vault; second run changed=0)"
