#!/bin/sh
# Installs what the keychain integration tests need on Debian/Ubuntu: a D-Bus daemon, the
# gnome-keyring Secret Service (run headless, unlocked, on a private bus by
# test/helpers/secret-service.ts) and secret-tool (libsecret-tools), the keyring's own client
# the tests use to prove where a secret is. Idempotent: when everything is present it does nothing,
# and it runs `apt-get update` only when a package is missing.
set -eu

packages="dbus gnome-keyring libsecret-tools"

missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $package"
  fi
done

if [ -z "$missing" ]; then
  echo "secret service packages already installed:$(printf ' %s' $packages)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# --no-install-recommends: gnome-keyring recommends a GUI prompter (gcr) and more; the tests run
# the daemon unlocked without one.
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
