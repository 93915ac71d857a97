package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// The lab's network. Nothing routes between it and the machine's own interfaces: the
// host reaches it only through hostVeth, which carries the apiserver's calls to the
// kubelets and the pods' calls to the apiserver, and the host does not forward.
const (
	netnsDir    = "/run/netns"
	netnsPrefix = "rlab-"
	nodeNet     = netnsPrefix + "net" // holds br0, the switch between the nodes
	hostVeth    = "rlab0"             // the host's end of its link to br0
	hostIP      = "172.18.0.1"
	nodeSubnet  = "172.18.0.0/24"
	outsideNet  = netnsPrefix + "outside" // the machine outside the cluster
	// OutsideIP is the address of the outside machine (OutsideExec) on the node
	// network: no node's, no route to the pods or Services.
	OutsideIP = "172.18.0.100"
	// ClusterCIDR holds every node's pod range, 10.244.N.0/24 for node N.
	ClusterCIDR = "10.244.0.0/16"
	// ServiceCIDR is the apiserver's IPv4 service range.
	ServiceCIDR = "10.96.0.0/16"
	// DNSServiceIP is the ClusterIP of kube-system/kube-dns.
	DNSServiceIP = "10.96.0.10"
)

// Node is one node of the lab: a network namespace with its own containerd and
// kubelet, running the kube-proxy and kube-router DaemonSets' pods.
type Node struct {
	Name      string // the Node object's name, node-a, node-b, ...
	Index     int
	IP        string // InternalIP on the node network, 172.18.0.(Index+2)
	PodCIDR   string // 10.244.Index.0/24
	Gateway   string // the node's address on its pod bridge cni0, 10.244.Index.1
	Netns     string // network namespace name under /run/netns
	ProxyMode string // kube-proxy's --proxy-mode
	dir       string
}

// NetnsPath is the node's network namespace file, for nsenter --net.
func (n Node) NetnsPath() string { return netnsPath(n.Netns) }

func netnsPath(name string) string { return filepath.Join(netnsDir, name) }

func newNodes(dir string, modes []string) []Node {
	nodes := make([]Node, len(modes))
	for i, mode := range modes {
		name := "node-" + string(rune('a'+i))
		nodes[i] = Node{
			Name:      name,
			Index:     i,
			IP:        fmt.Sprintf("172.18.0.%d", i+2),
			PodCIDR:   fmt.Sprintf("10.244.%d.0/24", i),
			Gateway:   fmt.Sprintf("10.244.%d.1", i),
			Netns:     netnsPrefix + name,
			ProxyMode: mode,
			dir:       filepath.Join(dir, "nodes", name),
		}
	}
	return nodes
}

// ipScript runs one ip command for each line.
func ipScript(ctx context.Context, lines []string) error {
	for _, l := range lines {
		if _, err := run(ctx, "ip", strings.Fields(l)...); err != nil {
			return err
		}
	}
	return nil
}

// nsSysctl sets sysctls inside a network namespace.
func nsSysctl(ctx context.Context, netns string, kv ...string) error {
	args := append([]string{"--net=" + netnsPath(netns), "--", "sysctl", "-qw"}, kv...)
	_, err := run(ctx, "nsenter", args...)
	return err
}

// setupNetwork makes the node network and each node's namespace: eth0 on br0 at the
// node's IP, an empty bridge cni0 at the pod gateway (the CNI bridge plugin adds the
// pods), routes to the other nodes' pods, and the host's veth with routes to the pod
// ranges (the pods' replies from the apiserver's forwarder); and the outside machine,
// a namespace on br0 at OutsideIP with no route beyond the node subnet.
func setupNetwork(ctx context.Context, nodes []Node) error {
	lines := []string{
		"netns add " + nodeNet,
		"-n " + nodeNet + " link set lo up",
		"-n " + nodeNet + " link add br0 type bridge",
		"-n " + nodeNet + " link set br0 up",
		"link add " + hostVeth + " type veth peer name host netns " + nodeNet,
		"-n " + nodeNet + " link set host master br0 up",
		"addr add " + hostIP + "/24 dev " + hostVeth,
		"link set " + hostVeth + " up",
		"netns add " + outsideNet,
		"-n " + outsideNet + " link set lo up",
		"-n " + nodeNet + " link add outside type veth peer name eth0 netns " + outsideNet,
		"-n " + nodeNet + " link set outside master br0 up",
		"-n " + outsideNet + " addr add " + OutsideIP + "/24 dev eth0",
		"-n " + outsideNet + " link set eth0 up",
	}
	for _, n := range nodes {
		ns := "-n " + n.Netns + " "
		lines = append(lines,
			"netns add "+n.Netns,
			ns+"link set lo up",
			ns+"link add cni0 type bridge",
			ns+"addr add "+n.Gateway+"/24 dev cni0",
			ns+"link set cni0 up",
			"-n "+nodeNet+" link add "+n.Name+" type veth peer name eth0 netns "+n.Netns,
			"-n "+nodeNet+" link set "+n.Name+" master br0 up",
			ns+"addr add "+n.IP+"/24 dev eth0",
			ns+"link set eth0 up",
			// Service traffic leaves by eth0 before kube-proxy's DNAT: by cni0 the
			// kernel's ICMP redirects eat the rate limit and REJECTs become timeouts.
			ns+"route add "+ServiceCIDR+" dev eth0",
			"route add "+n.PodCIDR+" via "+n.IP+" dev "+hostVeth,
		)
		for _, o := range nodes {
			if o.Name != n.Name {
				lines = append(lines, ns+"route add "+o.PodCIDR+" via "+o.IP+" dev eth0")
			}
		}
	}
	if err := ipScript(ctx, lines); err != nil {
		return fmt.Errorf("set up the node network: %w", err)
	}
	for _, n := range nodes {
		if err := nsSysctl(ctx, n.Netns, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0"); err != nil {
			return fmt.Errorf("node %s sysctls: %w", n.Name, err)
		}
	}
	return nil
}

// NodeExec runs a host program (argv[0] a path on the host, such as ProbePath) in
// the network namespace of the named node, as a process on that node would run. The
// error carries the output; a non-zero exit is an *exec.ExitError.
func (c *Cluster) NodeExec(ctx context.Context, node string, argv ...string) (string, error) {
	n, ok := c.Node(node)
	if !ok {
		return "", fmt.Errorf("no lab node %q", node)
	}
	return netnsExec(ctx, n.Netns, argv)
}

// OutsideExec runs a host program (argv[0] a path on the host, such as ProbePath) on
// the outside machine: a network namespace on the node network at OutsideIP, with no
// route to the pods or Services, as a client outside the cluster. The error carries
// the output; a non-zero exit is an *exec.ExitError.
func (c *Cluster) OutsideExec(ctx context.Context, argv ...string) (string, error) {
	return netnsExec(ctx, outsideNet, argv)
}

// ProbePath is the host path of the lab's client (lab/cmd/lab-client, the image's
// ProbeBinary), for NodeExec and OutsideExec: "dns NAME", "tcp HOST:PORT", "http URL",
// "udp HOST:PORT", each with an optional TIMEOUT.
func (c *Cluster) ProbePath() string { return filepath.Join(c.Dir, "images", "lab-client") }

func netnsExec(ctx context.Context, netns string, argv []string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("run in %s: no program", netns)
	}
	args := append([]string{"--net=" + netnsPath(netns), "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("in %s: %s: %w: %s", netns, strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
