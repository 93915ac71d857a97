package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"reach/internal/testlab"
)

// EnvBin names the directory holding the lab's binaries (lab/build.sh dataplane
// prints it).
const EnvBin = "REACH_DATAPLANE_BIN"

// DefaultDir is where the lab keeps its state; one lab runs on a machine at a time.
const DefaultDir = "/tmp/rlab"

// binaries are what lab/build.sh dataplane builds.
var binaries = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy",
	"containerd", "containerd-shim-runc-v2", "ctr", "coredns", "kube-router",
}

// commands are what lab/deps.sh installs.
var commands = []string{"ip", "nsenter", "unshare", "mount", "findmnt", "sysctl", "socat", "runc", "iptables", "ip6tables", "nft", "ipset", "conntrack"}

var cniPlugins = []string{"bridge", "host-local", "loopback", "portmap"}

// Options configure a lab cluster. The zero value is usable.
type Options struct {
	Dir       string    // state directory; "" means DefaultDir
	BinDir    string    // "" means $REACH_DATAPLANE_BIN
	ModuleDir string    // the lab module's directory, to build the images; "" means the one holding the working directory
	Log       io.Writer // progress; nil means none
}

// Cluster is a running lab cluster. Its fields are read-only.
type Cluster struct {
	Dir        string
	Kubeconfig string // the administrator's kubeconfig
	Server     string // https://127.0.0.1:PORT
	Nodes      []Node
	Lab        *testlab.Lab
	Admin      *rest.Config
	Clientset  *kubernetes.Clientset

	binDir    string
	moduleDir string
	log       io.Writer
	lock      *os.File
	host      hostState
	mu        sync.Mutex // procs
	procs     []*process
	downOnce  sync.Once
	downErr   error
}

// Up starts a cluster: the control plane, three nodes, the DaemonSets kube-proxy
// (iptables, nftables and iptables mode on the three nodes) and kube-router
// (NetworkPolicy), CoreDNS, the kubernetes Service's endpoint, and the outside
// machine on the node network (OutsideExec). On error nothing is left behind.
// Leftovers of an earlier lab in the same directory are swept first.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	c := &Cluster{Dir: opts.Dir, binDir: opts.BinDir, moduleDir: opts.ModuleDir, log: opts.Log}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.binDir == "" {
		c.binDir = os.Getenv(EnvBin)
	}
	if c.log == nil {
		c.log = io.Discard
	}
	if err := checkDir(c.Dir); err != nil {
		return nil, err
	}
	if err := c.checkPrerequisites(ctx); err != nil {
		return nil, err
	}
	lock, err := acquireLock(c.Dir)
	if err != nil {
		return nil, err
	}
	c.lock = lock
	if err := sweep(c.Dir); err != nil {
		c.releaseLock()
		return nil, fmt.Errorf("sweep an earlier lab: %w", err)
	}
	began := time.Now()
	if err := c.up(ctx); err != nil {
		err = fmt.Errorf("%w%s", err, c.tails(25))
		if derr := c.Down(); derr != nil {
			err = fmt.Errorf("%w; tear down: %v", err, derr)
		}
		return nil, err
	}
	c.logf("cluster up in %v; kubeconfig %s", time.Since(began).Round(time.Millisecond), c.Kubeconfig)
	return c, nil
}

// Down stops everything of the cluster and removes every trace of it. It is safe to
// call more than once.
func (c *Cluster) Down() error {
	c.downOnce.Do(func() {
		var errs []error
		errs = append(errs, killCgroups())
		if c.Lab != nil {
			errs = append(errs, c.Lab.Stop())
		}
		for _, p := range c.procList() {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				errs = append(errs, fmt.Errorf("%s still running after 10s", p.name))
			}
		}
		errs = append(errs, sweep(c.Dir))
		c.releaseLock()
		c.downErr = errors.Join(errs...)
	})
	return c.downErr
}

// Sweep removes whatever a lab using dir left behind (after a crash or a kill). It
// fails while a live lab holds dir.
func Sweep(dir string) error {
	if dir == "" {
		dir = DefaultDir
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	lock, err := acquireLock(dir)
	if err != nil {
		return err
	}
	defer func() {
		_ = os.Remove(lock.Name())
		lock.Close()
	}()
	return sweep(dir)
}

// acquireLock takes DIR.lock, which a live lab holds for its whole life.
func acquireLock(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("a lab is running with %s (lock %s held): take it down first", dir, f.Name())
	}
	return f, nil
}

func (c *Cluster) releaseLock() {
	if c.lock != nil {
		_ = os.Remove(c.lock.Name())
		c.lock.Close()
		c.lock = nil
	}
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "lab: "+format+"\n", args...)
}

func (c *Cluster) checkPrerequisites(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("the dataplane lab needs root (network namespaces, cgroups, mounts)")
	}
	if c.binDir == "" {
		return fmt.Errorf("%s is not set (run lab/build.sh dataplane and export %s=<dir it prints>)", EnvBin, EnvBin)
	}
	var missing []string
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(c.binDir, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("binaries missing in %s: %v (run lab/build.sh dataplane)", c.binDir, missing)
	}
	missing = nil
	for _, cmd := range commands {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, cmd)
		}
	}
	for _, p := range cniPlugins {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			missing = append(missing, "/usr/lib/cni/"+p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v (run lab/deps.sh)", missing)
	}
	if c.moduleDir == "" {
		out, err := run(ctx, "go", "env", "GOMOD")
		if err != nil {
			return fmt.Errorf("find the lab module: %w", err)
		}
		c.moduleDir = filepath.Dir(strings.TrimSpace(out))
	}
	b, err := os.ReadFile(filepath.Join(c.moduleDir, "go.mod"))
	if err != nil || !bytes.HasPrefix(b, []byte("module reach/lab\n")) {
		return fmt.Errorf("%s is not the reach/lab module (run from lab/ or set Options.ModuleDir)", c.moduleDir)
	}
	return nil
}

// bin is the path of a binary from the bin directory.
func (c *Cluster) bin(name string) string { return filepath.Join(c.binDir, name) }

// labBin is the path under which the lab runs a program: a link named rlab-NAME in
// DIR/bin, so the lab's processes are told apart from anyone else's by name.
func (c *Cluster) labBin(name string) string { return filepath.Join(c.Dir, "bin", "rlab-"+name) }

// linkBinaries fills DIR/bin: rlab-NAME links for every program the lab runs, the
// shim under its own name (containerd looks it up on PATH), and DIR/cp, the bin
// directory handed to testlab, whose scripts join the lab's cgroup and run the
// control plane under rlab- names, the apiserver calling kubelets by InternalIP and
// the controller manager also running the workload controllers.
func (c *Cluster) linkBinaries() error {
	bin := filepath.Join(c.Dir, "bin")
	cp := filepath.Join(c.Dir, "cp")
	for _, d := range []string{bin, cp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, b := range binaries {
		if err := os.Symlink(c.bin(b), filepath.Join(bin, "rlab-"+b)); err != nil {
			return err
		}
	}
	if err := os.Symlink(c.bin("containerd-shim-runc-v2"), filepath.Join(bin, "containerd-shim-runc-v2")); err != nil {
		return err
	}
	socat, err := exec.LookPath("socat")
	if err != nil {
		return err
	}
	if err := os.Symlink(socat, filepath.Join(bin, "rlab-socat")); err != nil {
		return err
	}
	join := filepath.Join(cgroupFS, "pids", cgroupRoot, procsGroup, "cgroup.procs")
	extra := map[string]string{
		"kube-apiserver":          " --kubelet-preferred-address-types=InternalIP",
		"kube-controller-manager": " --controllers=deployment,replicaset,daemonset,statefulset,job",
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		script := fmt.Sprintf("#!/bin/sh\necho $$ > %s\nexec %s \"$@\"%s\n", join, c.labBin(b), extra[b])
		if err := os.WriteFile(filepath.Join(cp, b), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) up(ctx context.Context) error {
	c.Nodes = newNodes(c.Dir, []string{"iptables", "nftables", "iptables"})
	for _, d := range []string{c.Dir, filepath.Join(c.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := c.noteHost(); err != nil {
		return fmt.Errorf("note host state: %w", err)
	}
	if err := makeCgroups(c.Nodes); err != nil {
		return err
	}
	if err := c.linkBinaries(); err != nil {
		return fmt.Errorf("link binaries: %w", err)
	}
	// Pods using dnsPolicy Default get this: nothing outside the lab.
	if err := os.WriteFile(filepath.Join(c.Dir, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}

	step := time.Now()
	type built struct {
		archive string
		err     error
	}
	images := make(chan built, 1)
	go func() {
		a, err := c.buildImages(ctx)
		images <- built{a, err}
	}()

	lab, err := testlab.Launch(ctx, testlab.Options{BinDir: filepath.Join(c.Dir, "cp")})
	if err != nil {
		<-images
		return fmt.Errorf("control plane: %w", err)
	}
	c.Lab, c.Admin, c.Clientset, c.Server = lab, lab.Admin, lab.Clientset, lab.Server
	c.host.TestlabDir = lab.Dir
	if err := c.saveHostState(); err != nil {
		<-images
		return err
	}
	kc, err := os.ReadFile(lab.AdminKubeconfig)
	if err != nil {
		<-images
		return err
	}
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		<-images
		return err
	}
	c.logf("control plane up in %v at %s", time.Since(step).Round(time.Millisecond), c.Server)

	u, err := url.Parse(c.Server)
	if err != nil {
		<-images
		return err
	}
	apiPort, _ := strconv.Atoi(u.Port())
	schedPort, err := freePort()
	if err != nil {
		<-images
		return err
	}
	if _, err := c.start("kube-scheduler", "", c.labBin("kube-scheduler"),
		"--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort)); err != nil {
		<-images
		return err
	}

	step = time.Now()
	if err := setupNetwork(ctx, c.Nodes); err != nil {
		<-images
		return err
	}
	if err := c.apiBridge(apiPort); err != nil {
		<-images
		return err
	}
	c.logf("node network up in %v", time.Since(step).Round(time.Millisecond))
	if err := c.serviceEndpoint(ctx, apiPort); err != nil {
		<-images
		return err
	}

	img := <-images
	if img.err != nil {
		return fmt.Errorf("images: %w", img.err)
	}
	step = time.Now()
	errs := make(chan error, len(c.Nodes))
	for _, n := range c.Nodes {
		go func() { errs <- c.startNode(ctx, n, img.archive) }()
	}
	for range c.Nodes {
		if err := <-errs; err != nil {
			return err
		}
	}
	if err := c.registerNodes(ctx); err != nil {
		return err
	}
	c.logf("nodes registered in %v", time.Since(step).Round(time.Millisecond))

	step = time.Now()
	if err := c.deployKubeProxy(ctx); err != nil {
		return err
	}
	if err := c.deployCoreDNS(ctx); err != nil {
		return err
	}
	// CoreDNS reaches the apiserver through the kubernetes Service: kube-proxy first,
	// and kube-router once kube-proxy's rules are in place (WaitKubeProxySynced).
	if err := c.WaitDaemonSetReady(ctx, "kube-system", KubeProxyDaemonSet, 2*time.Minute); err != nil {
		return err
	}
	if err := c.WaitKubeProxySynced(ctx, ""); err != nil {
		return err
	}
	if err := c.deployKubeRouter(ctx); err != nil {
		return err
	}
	if err := c.WaitDaemonSetReady(ctx, "kube-system", KubeRouterDaemonSet, 2*time.Minute); err != nil {
		return err
	}
	c.logf("kube-proxy and kube-router ready on every node in %v", time.Since(step).Round(time.Millisecond))
	step = time.Now()
	if err := c.waitNodesReady(ctx); err != nil {
		return err
	}
	if err := c.WaitDeploymentReady(ctx, "kube-system", "coredns", 2*time.Minute); err != nil {
		return err
	}
	c.logf("nodes ready and CoreDNS serving in %v", time.Since(step).Round(time.Millisecond))
	return nil
}

// registerNodes waits for every kubelet's Node and gives it its pod range (the lab
// allocates them itself: each node's CNI config and routes already use them).
func (c *Cluster) registerNodes(ctx context.Context) error {
	for _, n := range c.Nodes {
		err := c.waitUntil(ctx, "node "+n.Name+" to register", 90*time.Second, func(ctx context.Context) (string, error) {
			node, err := c.Clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return "not registered", nil
			}
			if err != nil {
				return err.Error(), nil
			}
			if node.Spec.PodCIDR == n.PodCIDR {
				return "", nil
			}
			patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, n.PodCIDR, n.PodCIDR)
			_, err = c.Clientset.CoreV1().Nodes().Patch(ctx, n.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			if err != nil {
				return "set podCIDR: " + err.Error(), nil
			}
			return "podCIDR set", nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) waitNodesReady(ctx context.Context) error {
	return c.waitUntil(ctx, "nodes to be Ready", 2*time.Minute, func(ctx context.Context) (string, error) {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error(), nil
		}
		var notReady []string
		for _, n := range nodes.Items {
			ready := false
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					ready = cond.Status == corev1.ConditionTrue
					if !ready {
						notReady = append(notReady, n.Name+": "+cond.Message)
					}
				}
			}
			if !ready && !slices.ContainsFunc(notReady, func(s string) bool { return strings.HasPrefix(s, n.Name+":") }) {
				notReady = append(notReady, n.Name+": no Ready condition")
			}
		}
		if len(nodes.Items) < len(c.Nodes) {
			notReady = append(notReady, fmt.Sprintf("%d of %d nodes", len(nodes.Items), len(c.Nodes)))
		}
		return strings.Join(notReady, "; "), nil
	})
}

// WaitDeploymentReady waits until the Deployment's pods are all updated and ready.
func (c *Cluster) WaitDeploymentReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	return c.waitUntil(ctx, "deployment "+ns+"/"+name, timeout, func(ctx context.Context) (string, error) {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.ReadyReplicas != want || s.Replicas != want {
			return fmt.Sprintf("replicas %d updated %d ready %d of %d", s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, want), nil
		}
		return "", nil
	})
}

// waitUntil polls cond until it holds, the timeout passes, or a lab process dies.
func (c *Cluster) waitUntil(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (string, error)) error {
	var why string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range c.procList() {
			if done, err := p.exited(); done {
				return false, fmt.Errorf("%s exited: %v", p.name, err)
			}
		}
		w, err := cond(ctx)
		if ctx.Err() != nil {
			return false, nil
		}
		why = w
		return w == "" && err == nil, err
	})
	if err != nil {
		return fmt.Errorf("wait for %s: %w (last: %s)", what, err, why)
	}
	return nil
}

// tails is the end of every log of the lab's own processes and of its kube-system
// pods (kube-proxy, kube-router, CoreDNS), for an error message.
func (c *Cluster) tails(n int) string {
	var b strings.Builder
	for _, p := range c.procList() {
		fmt.Fprintf(&b, "\n--- %s (last %d lines of %s) ---\n%s", p.name, n, p.log, testlab.TailFile(p.log, n))
	}
	logs := c.systemPodLogs()
	for _, name := range slices.Sorted(maps.Keys(logs)) {
		fmt.Fprintf(&b, "\n--- %s (last %d lines of %s) ---\n%s", name, n, logs[name], testlab.TailFile(logs[name], n))
	}
	return b.String()
}

// Logs lists the log files of the lab's processes by name, and those of its
// kube-system pods' containers as NODE/POD/CONTAINER/RESTART.log.
func (c *Cluster) Logs() map[string]string {
	out := c.systemPodLogs()
	for _, p := range c.procList() {
		out[p.name] = p.log
	}
	return out
}

// systemPodLogs finds the kubelets' logs of kube-system containers, named
// NODE/POD/CONTAINER/RESTART.log.
func (c *Cluster) systemPodLogs() map[string]string {
	out := map[string]string{}
	for _, n := range c.Nodes {
		files, _ := filepath.Glob(filepath.Join(n.dir, "pod-logs", "kube-system_*", "*", "*.log"))
		for _, f := range files {
			rel, err := filepath.Rel(filepath.Join(n.dir, "pod-logs"), f)
			if err != nil {
				continue
			}
			parts := strings.Split(rel, string(filepath.Separator)) // kube-system_POD_UID, CONTAINER, N.log
			pod := strings.Split(strings.TrimPrefix(parts[0], "kube-system_"), "_")[0]
			out[n.Name+"/"+pod+"/"+parts[1]+"/"+parts[2]] = f
		}
	}
	return out
}

func (c *Cluster) procList() []*process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.procs)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FindBinaries returns the directory of the lab's binaries: $REACH_DATAPLANE_BIN, else
// what lab/build.sh dataplane prints (building what is not cached yet; its progress
// goes to progress).
func FindBinaries(ctx context.Context, moduleDir string, progress io.Writer) (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		return d, nil
	}
	if moduleDir == "" {
		out, err := run(ctx, "go", "env", "GOMOD")
		if err != nil {
			return "", err
		}
		moduleDir = filepath.Dir(strings.TrimSpace(out))
	}
	cmd := exec.CommandContext(ctx, filepath.Join(moduleDir, "build.sh"), "dataplane")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lab/build.sh dataplane: %w", err)
	}
	return strings.TrimSpace(out.String()), nil
}
