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
// they are told (/var/lib/kubelet, which the lab makes as the mount point of each
// kubelet's private one, see kubeletNamespaceScript; the kubelets' container-log
// links, libcni's result cache, the shims' sockets, the iptables lock, ip netns'
// mount). The lab notes which did not exist before it started and removes those at
// teardown.
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

// unmountUnder detaches every mount at or below dir. A mount already gone (EINVAL: no
// longer a mount point, ENOENT) is what was wanted; any other failure is reported
// with the mounts that are still there.
func unmountUnder(dir string) error {
	failed := map[string]error{}
	for range 10 {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			err := syscall.Unmount(mp, syscall.MNT_DETACH)
			if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				failed[mp] = err
			}
		}
	}
	mps := mountsUnder(dir)
	if len(mps) == 0 {
		return nil
	}
	var why []string
	for _, mp := range mps {
		if err := failed[mp]; err != nil {
			why = append(why, fmt.Sprintf("%s: %v", mp, err))
		}
	}
	err := fmt.Errorf("still mounted under %s: %v", dir, mps)
	if len(why) > 0 {
		err = fmt.Errorf("%w (%s)", err, strings.Join(why, "; "))
	}
	return err
}

// goneTimeout is how long a teardown step that failed waits for what it was removing
// to vanish anyway: a veth goes a moment after its peer's namespace, and the kernel
// forgets its name (ip: "Cannot find device") before its /sys/class/net entry.
const goneTimeout = 2 * time.Second

// gone reports whether path no longer exists.
func gone(path string) bool {
	_, err := os.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// waitGone waits up to timeout for path to vanish and reports whether it did.
func waitGone(path string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !gone(path) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// unlessGone is err, the failure to remove the thing at path, unless the thing is
// gone anyway (it vanished between a check and the removal): a teardown wants it gone,
// not to be the one who removed it. A thing still there is a real failure.
func unlessGone(err error, path string) error {
	if err == nil || waitGone(path, goneTimeout) {
		return nil
	}
	return err
}

// removeFile removes a file or an empty directory; one already gone is removed.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func linkPath(name string) string { return filepath.Join("/sys/class/net", name) }

// deleteNetwork removes the lab's network namespaces (the nodes' and the node
// network's, taking their veths and bridges along) and the host's end of its veth.
// Whatever is already gone counts as removed: the veth in particular goes by itself
// once rlab-net is deleted, at a moment of the kernel's choosing.
func deleteNetwork() error {
	ctx := context.Background()
	var errs []error
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), netnsPrefix) {
			_, err := run(ctx, "ip", "netns", "delete", e.Name())
			errs = append(errs, unlessGone(err, netnsPath(e.Name())))
		}
	}
	// The veth's peer was in rlab-net: give the kernel a moment to take it along
	// before deleting it here.
	if link := linkPath(hostVeth); !waitGone(link, time.Second) {
		_, err := run(ctx, "ip", "link", "delete", hostVeth)
		if err = unlessGone(err, link); err == nil && !waitGone(link, goneTimeout) {
			err = fmt.Errorf("%s still there after ip link delete", hostVeth)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeHostPaths removes the host paths the lab created. A /var/log/containers that
// was there before keeps everything but the links into dir; /run/netns stays while
// another namespace is in it. What is already gone counts as removed.
func removeHostPaths(dir string, created []string) error {
	var errs []error
	if !slices.Contains(created, "/var/log/containers") {
		entries, _ := os.ReadDir("/var/log/containers")
		for _, e := range entries {
			p := filepath.Join("/var/log/containers", e.Name())
			if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, dir+"/") {
				errs = append(errs, removeFile(p))
			}
		}
	}
	for _, p := range created {
		if p == netnsDir {
			if entries, err := os.ReadDir(p); err == nil && len(entries) == 0 {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
				// Another program's namespace may have come in the meantime: then
				// the directory is theirs to keep.
				if err := removeFile(p); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
					errs = append(errs, err)
				}
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
