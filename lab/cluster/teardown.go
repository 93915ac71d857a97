package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// hostPaths are places outside the lab's directory that its programs create whatever
// they are told (the kubelet's device-plugin socket and container-log links, libcni's
// result cache, the shims' sockets, the iptables lock, ip netns' mount). The lab
// notes which did not exist before it started and removes those at teardown.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/etc/cni",
	"/run/containerd", "/var/lib/containerd", "/opt/containerd", "/run/nri", "/var/run/nri",
	"/var/lib/kube-router", "/run/xtables.lock", "/run/netns",
}

// kernelTunables are the host-wide sysctls a kubelet sets at start; teardown puts
// back what they were.
var kernelTunables = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// hostState is what a teardown needs to undo the lab's changes outside its directory,
// kept in DIR/host.json so a later process can undo them after a crash.
type hostState struct {
	Created    []string          `json:"created"`
	Sysctls    map[string]string `json:"sysctls"`
	TestlabDir string            `json:"testlabDir,omitempty"`
}

func hostStatePath(dir string) string { return filepath.Join(dir, "host.json") }

func readHostState(dir string) (hostState, error) {
	var st hostState
	b, err := os.ReadFile(hostStatePath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func (c *Cluster) saveHostState() error {
	b, err := json.MarshalIndent(c.host, "", "  ")
	if err != nil {
		return err
	}
	tmp := hostStatePath(c.Dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, hostStatePath(c.Dir))
}

// noteHost records which host paths are missing and the kernel tunables' values,
// before anything of the lab's can change them.
func (c *Cluster) noteHost() error {
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			c.host.Created = append(c.host.Created, p)
		}
	}
	c.host.Sysctls = map[string]string{}
	for _, k := range kernelTunables {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", k)); err == nil {
			c.host.Sysctls[k] = strings.TrimSpace(string(b))
		}
	}
	return c.saveHostState()
}

// checkDir refuses a lab directory a teardown could not safely remove.
func checkDir(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || !strings.HasPrefix(filepath.Base(dir), "rlab") {
		return fmt.Errorf("lab directory %q: want an absolute, clean path whose last element starts with rlab", dir)
	}
	return nil
}

// sweep removes everything a lab using dir may have left: its processes and pods
// (everything in its cgroups), mounts under dir, network namespaces and the host
// veth, kernel tunables, host paths it created, the control plane's directory and
// dir itself. It is safe on a machine with no lab and after any failure.
func sweep(dir string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	st, err := readHostState(dir)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("read host state: %w", err))
	}
	errs = append(errs, killCgroups())
	errs = append(errs, unmountUnder(dir))
	errs = append(errs, deleteNetwork())
	for k, v := range st.Sysctls {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", k, err))
		}
	}
	errs = append(errs, removeCgroups())
	errs = append(errs, removeHostPaths(dir, st.Created))
	if d := st.TestlabDir; d != "" && strings.HasPrefix(filepath.Base(d), "reach-lab-") {
		errs = append(errs, os.RemoveAll(d))
	}
	errs = append(errs, os.RemoveAll(dir))
	return errors.Join(errs...)
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return slices.Compact(out)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unmountUnder(dir string) error {
	for range 10 {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			_ = syscall.Unmount(mp, syscall.MNT_DETACH)
		}
	}
	if mps := mountsUnder(dir); len(mps) > 0 {
		return fmt.Errorf("still mounted under %s: %v", dir, mps)
	}
	return nil
}

// deleteNetwork removes the lab's network namespaces (the nodes' and the node
// network's, taking their veths and bridges along) and the host's end of its veth.
func deleteNetwork() error {
	ctx := context.Background()
	var errs []error
	entries, _ := os.ReadDir(netnsDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), netnsPrefix) {
			if _, err := run(ctx, "ip", "netns", "delete", e.Name()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + hostVeth); err == nil {
		if _, err := run(ctx, "ip", "link", "delete", hostVeth); err != nil {
			errs = append(errs, err)
		}
	}
	// A veth goes away a moment after its namespace.
	for i := 0; i < 50; i++ {
		if _, err := os.Stat("/sys/class/net/" + hostVeth); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.Join(errs...)
}

// removeHostPaths removes the host paths the lab created. A /var/log/containers that
// was there before keeps everything but the links into dir; /run/netns stays while
// another namespace is in it.
func removeHostPaths(dir string, created []string) error {
	var errs []error
	if !slices.Contains(created, "/var/log/containers") {
		entries, _ := os.ReadDir("/var/log/containers")
		for _, e := range entries {
			p := filepath.Join("/var/log/containers", e.Name())
			if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, dir+"/") {
				errs = append(errs, os.Remove(p))
			}
		}
	}
	for _, p := range created {
		if p == netnsDir {
			if entries, err := os.ReadDir(p); err == nil && len(entries) == 0 {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
				errs = append(errs, os.Remove(p))
			}
			continue
		}
		if len(mountsUnder(p)) > 0 {
			errs = append(errs, fmt.Errorf("leave %s: something is mounted under it", p))
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
