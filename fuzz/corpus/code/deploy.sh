#!/usr/bin/env bash
set -euo pipefail

log() {
  echo "[deploy] $*"
}

function build {
  docker build -t inventory .
}

log "starting"
build
