#!/usr/bin/env bash
# Runs the whole test suite: unit tests, scenarios from files, scenarios live against a real
# control plane (etcd, kube-apiserver, kube-controller-manager built once by lab/build.sh and
# cached), then, as root, the dataplane lab: a real three-node cluster whose packets judge
# reach's verdicts (lab/ground) and whose kube-router is compared with the policy engine
# (lab/conformance). The lab needs the Debian packages lab/deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")"
REACH_LAB_BIN=$(lab/build.sh)
export REACH_LAB_BIN
unformatted=$(gofmt -l cmd internal lab)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on: $unformatted" >&2
  exit 1
fi
go vet ./...
(cd lab && go vet ./...)
go test -count=1 -timeout 60m "$@" ./...

if [ "$(id -u)" -ne 0 ] || ! lab/deps.sh --check; then
  if [ -n "${CI:-}" ]; then
    echo "the dataplane lab needs root and lab/deps.sh" >&2
    exit 1
  fi
  echo "skipping the dataplane lab: it needs root and the packages of lab/deps.sh" >&2
  exit 0
fi
REACH_DATAPLANE_BIN=$(lab/build.sh dataplane)
export REACH_DATAPLANE_BIN REACH_DATAPLANE=1
# One lab at a time: the packages run one after another.
(cd lab && go test -count=1 -p 1 -timeout 45m "$@" ./...)
