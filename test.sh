#!/usr/bin/env bash
# Runs the whole test suite: unit tests, scenarios from files, and scenarios live against a real
# control plane (etcd, kube-apiserver, kube-controller-manager built once by lab/build.sh and cached).
set -euo pipefail
cd "$(dirname "$0")"
REACH_LAB_BIN=$(lab/build.sh)
export REACH_LAB_BIN
unformatted=$(gofmt -l cmd internal)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 -timeout 60m "$@" ./...
