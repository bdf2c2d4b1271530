#!/bin/sh
# Installs tmux on Debian/Ubuntu: the real terminal the paste-back end-to-end test runs the CLI in
# (test/helpers/tmux.ts: send-keys to type, capture-pane to read the screen). Idempotent: when it
# is present it does nothing, and it runs `apt-get update` only when it is missing.
set -eu

if command -v tmux >/dev/null 2>&1; then
  echo "tmux already installed: $(tmux -V)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "installing: tmux"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux
