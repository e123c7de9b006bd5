#!/usr/bin/env bash
# Installs, from Debian's packages, whatever gpushare needs to build and test and is missing.
# Safe to run again: it asks apt only for packages that are not installed yet.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libcurl4-openssl-dev
  libspdlog-dev libgtest-dev libgmock-dev googletest zlib1g-dev libbrotli-dev
  openssl curl clang-format clang-tidy
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

# The end-to-end suite builds etcd, kube-apiserver and kube-scheduler from Go modules.
if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: no Go toolchain on PATH; the e2e suite needs Go >= 1.26 (golang-go from Debian is too old)" >&2
fi
