#!/usr/bin/env bash
# Installs the Debian packages the dataplane lab (lab/cluster) runs: the container
# runtime's runc, the CNI plugins, the packet filters kube-proxy and kube-router
# program, and the tools the lab drives them with. Installs only what is missing,
# running apt-get update at most once. With --check it installs nothing and fails if
# something is missing.
set -euo pipefail
pkgs=(runc containernetworking-plugins iptables nftables ipset conntrack socat iproute2 util-linux)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "${1:-}" = --check ]; then
  echo "lab/deps.sh: missing ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "lab/deps.sh: missing ${missing[*]}; run as root to install them" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
