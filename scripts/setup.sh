#!/usr/bin/env bash
# Installs and starts what rigger's demo and tests need on a Debian 12 machine,
# and nothing that is already there: Debian packages (the Docker engine,
# debootstrap, a shell linter, gnupg, an ssh client, zip/unzip for the archive
# download tests, chromium for the docs page's browser test), a running Docker
# daemon, node_modules. `setup.sh bench` also installs ansible-core, for the comparison.
# Idempotent and quick when everything is in place. Run as root.
# If it starts dockerd, its pid goes to /run/rigger-dockerd.pid (so CI can stop it).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "must run as root (apt-get, dockerd, debootstrap)"
  exit 1
fi

packages=(docker.io debootstrap shellcheck gnupg dpkg-dev apt-utils openssh-client zip unzip chromium)
if [[ ${1:-} == bench ]]; then packages+=(ansible-core); fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  dockerd_log=${DOCKERD_LOG:-/var/log/rigger-dockerd.log}
  log "starting dockerd (log: $dockerd_log)"
  nohup dockerd >"$dockerd_log" 2>&1 &
  echo $! >/run/rigger-dockerd.pid
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    if ! kill -0 "$(cat /run/rigger-dockerd.pid)" 2>/dev/null; then
      log "dockerd exited; last lines of $dockerd_log:"
      tail -n 30 "$dockerd_log" >&2
      exit 1
    fi
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not answer within 60 s"; tail -n 30 "$dockerd_log" >&2; exit 1; }
fi

# Each systemd test host uses ~7 inotify instances of root; the default (128) is ~15 hosts.
if [[ $(cat /proc/sys/fs/inotify/max_user_instances) -lt 1024 ]]; then
  sysctl -q -w fs.inotify.max_user_instances=1024
fi

# node_modules: install when missing or older than the lock file.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi
