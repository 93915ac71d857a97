package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func (n Node) containerdSocket() string { return filepath.Join(n.dir, "containerd", "containerd.sock") }
func (n Node) containerdState() string  { return filepath.Join(n.dir, "containerd", "state") }

// containerdConfig is containerd's config for one node: everything under the node's
// directory, shim sockets aside (containerd keeps those in /run/containerd/s), NRI off
// (its socket path is fixed and the nodes would share it), OOM score adjustments no
// lower than containerd's own (this machine refuses negative ones), pod network
// namespaces under the state directory.
func (n Node) containerdConfig() string {
	d := filepath.Join(n.dir, "containerd")
	return fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.nri.v1.nri"]
  disable = true

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = %[5]q

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "runc"
        Root = %[6]q
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %[7]q
`, filepath.Join(d, "root"), n.containerdState(), n.containerdSocket(), filepath.Join(d, "opt"),
		PauseImage, filepath.Join(d, "runc"), filepath.Join(n.dir, "cni"))
}

// cniConfig is the node's CNI network: the bridge cni0 with hairpin on (a pod calling
// its own Service), host-local addresses from the node's pod range, no masquerade.
func (n Node) cniConfig() string {
	return fmt.Sprintf(`{"cniVersion":"0.4.0","name":"rlab","plugins":[
 {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,
  "ipam":{"type":"host-local","ranges":[[{"subnet":%q}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":%q}},
 {"type":"portmap","capabilities":{"portMappings":true}}]}
`, n.PodCIDR, filepath.Join(n.dir, "cni-ipam"))
}

// kubeletConfig is the node's KubeletConfiguration. Anonymous, always-allowed access
// to the kubelet API: only the apiserver can reach it, through the host's veth.
func (n Node) kubeletConfig(resolvConf string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[1]s/%[2]s
containerRuntimeEndpoint: unix://%[3]s
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
failSwapOn: false
clusterDNS: [%[4]s]
clusterDomain: cluster.local
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
address: %[5]s
port: 10250
resolvConf: %[6]s
podLogsDir: %[7]s
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
volumePluginDir: %[8]s
`, cgroupRoot, n.Name, n.containerdSocket(), DNSServiceIP, n.IP, resolvConf, filepath.Join(n.dir, "pod-logs"),
		filepath.Join(n.dir, "volume-plugins"))
}

// kubeletRootDir is the node's kubelet --root-dir: pods, volumes, plugins_registry,
// pod-resources, checkpoints and the managers' state files are all under it.
func (n Node) kubeletRootDir() string { return filepath.Join(n.dir, "kubelet") }

// varLibKubelet is what the node's kubelet sees as /var/lib/kubelet (kubeletNamespace).
func (n Node) varLibKubelet() string { return filepath.Join(n.dir, "var-lib-kubelet") }

// A kubelet keeps some state under /var/lib/kubelet whatever its --root-dir:
//
//   - the device manager's registration socket and checkpoint: NewManagerImpl
//     (pkg/kubelet/cm/devicemanager/manager.go) takes pluginapi.KubeletSocket,
//     the constant /var/lib/kubelet/device-plugins/kubelet.sock of
//     k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1, and keeps its checkpoint
//     kubelet_internal_checkpoint in the same directory. At start the registration
//     server (devicemanager/plugin/v1beta1/server.go Start) removes every socket in
//     that directory (CleanupPluginDirectory), then listens on kubelet.sock: kubelets
//     starting together delete each other's socket or fail with "address already in
//     use". No flag or config field moves it.
//   - the self-signed serving certificate kubelet.crt/kubelet.key, in --cert-dir,
//     whose default is the fixed /var/lib/kubelet/pki (cmd/kubelet/app/options,
//     server.go InitializeTLS): two kubelets writing it at once can leave one's
//     certificate with the other's key. The flag moves it: the lab passes --cert-dir.
//
// (The flex volume directory, another fixed default, /usr/libexec/kubernetes/...,
// has the config field volumePluginDir; everything else of the kubelet's is under
// --root-dir, podLogsDir, or the shared /var/log/containers, whose links are named by
// pod and container ID.)
//
// So each kubelet runs in its own mount namespace where the node's varLibKubelet is
// bound over /var/lib/kubelet. That namespace must not hide the kubelet's own mounts
// from containerd, which runs in the host's: the kubelet mounts pods' volumes (the
// service account token's tmpfs, secrets, subPaths) under --root-dir, and containerd
// binds those paths into the containers. So the mount namespace is made with the
// host's propagation unchanged (util-linux unshare makes every mount private by
// default, and so does Go's Unshareflags), and the root dir is first made a shared
// bind mount of its own on the host (as the kubelet itself would do, DoMakeRShared,
// had it not found it shared already): its copy in the kubelet's namespace is in the
// same peer group, so volume mounts propagate to the host and back. The bind over
// /var/lib/kubelet is kept from propagating out: the mount holding /var/lib/kubelet
// is made private in the kubelet's namespace first (on a host whose / is shared the
// bind would otherwise appear on the host and in the other kubelets' namespaces), and
// the bind itself is made private too (a bind joins its source's peer group when the
// source is on a shared mount). A kubelet's namespace also holds copies of the other
// nodes' root dirs bound before it started, peers as well: harmless.
//
// Teardown: the bind over /var/lib/kubelet goes with the namespace, when its last
// process, the kubelet, dies; the root dir's bind is under the lab's directory
// (unmountUnder); the per-node directories go with it; /var/lib/kubelet, only a mount
// point on the host now, is one of the hostPaths, removed if the lab made it.
//
// The script's arguments are the node's directory to bind, then the kubelet's argv.
const kubeletNamespaceScript = `set -e
dir=$1
shift
mount --make-private "$(findmnt -n -o TARGET -T /var/lib/kubelet)"
mount --bind "$dir" /var/lib/kubelet
mount --make-private /var/lib/kubelet
exec "$@"
`

// kubeletNamespace prepares the host for the node's kubelet's mount namespace (see
// kubeletNamespaceScript) and returns the command that runs the kubelet in it:
// unshare, then sh binding the node's directory over /var/lib/kubelet, then exec.
// The pid stays the same from nsenter to the kubelet (neither nsenter --net nor
// unshare --mount forks), so start puts the kubelet itself in the lab's cgroup.
func (n Node) kubeletNamespace(kubelet string, args []string) (string, []string, error) {
	root := n.kubeletRootDir()
	for _, d := range []string{root, n.varLibKubelet(), "/var/lib/kubelet"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
	}
	if err := syscall.Mount(root, root, "", syscall.MS_BIND, ""); err != nil {
		return "", nil, fmt.Errorf("bind %s: %w", root, err)
	}
	if err := syscall.Mount("", root, "", syscall.MS_SHARED, ""); err != nil {
		return "", nil, fmt.Errorf("make %s shared: %w", root, err)
	}
	argv := []string{"--mount", "--propagation", "unchanged", "--",
		"sh", "-c", kubeletNamespaceScript, "rlab-kubelet", n.varLibKubelet(), kubelet}
	return "unshare", append(argv, args...), nil
}

// kubeProxyConfig is the node's KubeProxyConfiguration, which its kube-proxy pod
// reads from the host (the DaemonSet is one for all nodes, the modes differ).
func (n Node) kubeProxyConfig(kubeconfig string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
hostnameOverride: %[1]s
mode: %[2]s
clusterCIDR: %[3]s
conntrack:
  maxPerCore: 0
nodePortAddresses: [primary]
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
clientConnection:
  kubeconfig: %[4]s
`, n.Name, n.ProxyMode, ClusterCIDR, kubeconfig)
}

// startNode writes the node's configs and starts its containerd, then loads the
// images, then starts its kubelet. kube-proxy and kube-router come as DaemonSet pods
// once the Node object exists (deployKubeProxy, deployKubeRouter).
func (c *Cluster) startNode(ctx context.Context, n Node, archive string) error {
	for _, d := range []string{"containerd", "cni", "cni-ipam", "kubelet", "pod-logs", "pki"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"containerd.toml":      n.containerdConfig(),
		"cni/10-rlab.conflist": n.cniConfig(),
		"kubelet.yaml":         n.kubeletConfig(filepath.Join(c.Dir, "resolv.conf")),
		"kube-proxy.yaml":      n.kubeProxyConfig(c.Kubeconfig),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(n.dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if _, err := c.start("containerd-"+n.Name, n.Netns, c.labBin("containerd"),
		"--config", filepath.Join(n.dir, "containerd.toml")); err != nil {
		return err
	}
	if err := c.waitUntil(ctx, "containerd on "+n.Name, time.Minute, func(ctx context.Context) (string, error) {
		conn, err := net.Dial("unix", n.containerdSocket())
		if err != nil {
			return err.Error(), nil
		}
		conn.Close()
		return "", nil
	}); err != nil {
		return err
	}
	if _, err := run(ctx, c.bin("ctr"), "--address", n.containerdSocket(), "--namespace", "k8s.io",
		"images", "import", "--snapshotter", "overlayfs", archive); err != nil {
		return fmt.Errorf("load images on %s: %w", n.Name, err)
	}
	bin, args, err := n.kubeletNamespace(c.labBin("kubelet"), []string{
		"--config", filepath.Join(n.dir, "kubelet.yaml"),
		"--kubeconfig", c.Kubeconfig,
		"--hostname-override", n.Name,
		"--node-ip", n.IP,
		"--root-dir", n.kubeletRootDir(),
		"--cert-dir", filepath.Join(n.dir, "pki"),
		"--v", "1",
	})
	if err != nil {
		return fmt.Errorf("kubelet on %s: %w", n.Name, err)
	}
	_, err = c.start("kubelet-"+n.Name, n.Netns, bin, args...)
	return err
}

// apiBridge makes the apiserver (on the host's 127.0.0.1) reachable inside the node
// namespaces at the same address, through a unix socket, and from the pods at
// hostIP:PORT, the kubernetes Service's endpoint.
func (c *Cluster) apiBridge(port int) error {
	sock := filepath.Join(c.Dir, "apiserver.sock")
	p := strconv.Itoa(port)
	if _, err := c.start("socat-apiserver", "", c.labBin("socat"),
		"UNIX-LISTEN:"+sock+",fork,unlink-early", "TCP:127.0.0.1:"+p); err != nil {
		return err
	}
	if _, err := c.start("socat-apiserver-pods", "", c.labBin("socat"),
		"TCP-LISTEN:"+p+",bind="+hostIP+",fork,reuseaddr", "TCP:127.0.0.1:"+p); err != nil {
		return err
	}
	for _, n := range c.Nodes {
		if _, err := c.start("socat-apiserver-"+n.Name, n.Netns, c.labBin("socat"),
			"TCP-LISTEN:"+p+",bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:"+sock); err != nil {
			return err
		}
	}
	return nil
}
