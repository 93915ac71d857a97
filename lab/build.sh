#!/usr/bin/env bash
# Builds the control-plane binaries the live tests run (etcd, kube-apiserver,
# kube-controller-manager) into a cache keyed by their versions, so a warm
# machine skips the build. Prints the bin directory on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
k8s=v1.37.2
etcd=v3.7.0
bin=${REACH_CACHE:-$HOME/.cache/reach}/lab/k8s-$k8s-etcd-$etcd-$(go env GOVERSION)/bin
mkdir -p "$bin"
cd "$here"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
build() { # name package
  if [ -x "$bin/$1" ]; then return; fi
  echo "building $1 (cached afterwards in $bin)" >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$1.tmp" "$2"
  mv "$bin/$1.tmp" "$bin/$1"
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "$bin"
