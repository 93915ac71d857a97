#!/usr/bin/env bash
# Builds the binaries the labs run into a cache keyed by their versions, so a warm
# machine skips every build.
#
#   lab/build.sh            etcd, kube-apiserver and kube-controller-manager, for the
#                           live tests; prints their bin directory on stdout.
#   lab/build.sh dataplane  also kubelet, kube-proxy, kube-scheduler, containerd and its
#                           runc shim and ctr, CoreDNS and kube-router, for the dataplane lab
#                           (lab/cluster); prints one directory linking all of them.
#
# The Debian packages the dataplane lab needs besides are installed by lab/deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
k8s=v1.37.2
etcd=v3.7.0
containerd=v2.4.2
coredns=v1.15.0
kuberouter=v2.1.0
gover=$(go env GOVERSION)
cache=${REACH_CACHE:-$HOME/.cache/reach}/lab
bin=$cache/k8s-$k8s-etcd-$etcd-$gover/bin
mode=${1:-controlplane}
case $mode in
  controlplane|dataplane) ;;
  *) echo "usage: $0 [dataplane]" >&2; exit 2 ;;
esac
mkdir -p "$bin"
cd "$here"
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
timed() { # name command...
  local start=$SECONDS
  echo "building $1" >&2
  "${@:2}"
  echo "built $1 in $((SECONDS - start))s" >&2
}
build() { # name package: from the lab module, into $bin
  if [ -x "$bin/$1" ]; then return; fi
  timed "$1 (cached afterwards in $bin)" \
    env CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$1.tmp" "$2"
  mv "$bin/$1.tmp" "$bin/$1"
}
install() { # dir name module/package@version [go flags...]: a separate module, with go install
  local dir=$1 name=$2 pkg=$3
  if [ -x "$dir/$name" ]; then return; fi
  mkdir -p "$dir/.tmp"
  # Outside the lab module, so its go.mod plays no part; GOFLAGS from the caller could.
  (cd "$dir" && timed "$name (cached afterwards in $dir)" \
    env GOBIN="$dir/.tmp" GOFLAGS= CGO_ENABLED=0 go install -trimpath "${@:4}" "$pkg")
  mv "$dir/.tmp/$name" "$dir/$name"
  rmdir "$dir/.tmp"
}
build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
if [ "$mode" = controlplane ]; then
  echo "$bin"
  exit 0
fi

build kubelet k8s.io/kubernetes/cmd/kubelet
build kube-proxy k8s.io/kubernetes/cmd/kube-proxy
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
cbin=$cache/containerd-$containerd-$gover/bin
for c in containerd containerd-shim-runc-v2 ctr; do
  install "$cbin" "$c" "github.com/containerd/containerd/v2/cmd/$c@$containerd" -tags no_btrfs \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$containerd"
done
dbin=$cache/coredns-$coredns-$gover/bin
install "$dbin" coredns "github.com/coredns/coredns@$coredns" -ldflags "-s -w"
rbin=$cache/kube-router-$kuberouter-$gover/bin
install "$rbin" kube-router "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$kuberouter" -ldflags "-s -w"

# One directory naming every binary, keyed by all the versions.
all=$cache/dataplane-k8s-$k8s-etcd-$etcd-containerd-$containerd-coredns-$coredns-kube-router-$kuberouter-$gover/bin
mkdir -p "$all"
for f in "$bin"/* "$cbin"/* "$dbin"/* "$rbin"/*; do
  ln -sfn "$f" "$all/$(basename "$f")"
done
echo "$all"
