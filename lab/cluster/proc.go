package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupRoot holds every process the lab starts and every pod's cgroup, in each
// cgroup v1 hierarchy: procs/ for the lab's own processes (joined in the pids
// hierarchy), NODE/ as that kubelet's cgroup root.
const (
	cgroupFS   = "/sys/fs/cgroup"
	cgroupRoot = "rlab"
	procsGroup = "procs"
)

// process is one program the lab runs, in its own process group, its output in a log
// file.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs bin with args, inside the named network namespace when netns is set,
// and puts it in the lab's cgroup so a sweep finds it and all it forks.
func (c *Cluster) start(name, netns, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(c.Dir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logFile.Close()
	argv := append([]string{bin}, args...)
	if netns != "" {
		argv = append([]string{"nsenter", "--net=" + netnsPath(netns), "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.Dir
	cmd.Env = c.env()
	// Its own group, so a kill reaches what it forks; Pdeathsig, so a lab whose
	// owner dies takes its processes with it (containers and shims are reparented,
	// the sweep of the cgroup finds them).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := joinCgroup(cmd.Process.Pid); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// env is the environment of the lab's processes: the lab's bin directory first (where
// containerd finds its shim), then the system's.
func (c *Cluster) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+filepath.Join(c.Dir, "bin")+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

// run runs a short command and returns its combined output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	return runIn(ctx, "", nil, name, args...)
}

// runIn is run in a directory with extra environment.
func runIn(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// hierarchies lists the mounted cgroup v1 hierarchies under /sys/fs/cgroup and, with
// all, the cgroup2 one too (runc mirrors its containers' cgroups there on a hybrid
// machine, so a sweep must look there as well).
func hierarchies(all bool) []string {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && strings.HasPrefix(f[1], cgroupFS+"/") && (f[2] == "cgroup" || (all && f[2] == "cgroup2")) {
			out = append(out, f[1])
		}
	}
	return out
}

// makeCgroups creates the lab's cgroups: rlab/procs in the pids hierarchy, and
// rlab/NODE in every hierarchy for each node's kubelet.
func makeCgroups(nodes []Node) error {
	hs := hierarchies(false)
	if !slices.Contains(hs, filepath.Join(cgroupFS, "pids")) {
		return fmt.Errorf("no cgroup v1 pids hierarchy at %s/pids", cgroupFS)
	}
	for _, h := range hs {
		dirs := []string{filepath.Join(h, cgroupRoot)}
		for _, n := range nodes {
			dirs = append(dirs, filepath.Join(h, cgroupRoot, n.Name))
		}
		if filepath.Base(h) == "pids" {
			dirs = append(dirs, filepath.Join(h, cgroupRoot, procsGroup))
		}
		for _, d := range dirs {
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("make cgroup: %w", err)
			}
			if filepath.Base(h) == "cpuset" {
				// A v1 cpuset takes no task until it has cpus and mems: inherit them.
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(filepath.Dir(d), f))
					if err != nil {
						return fmt.Errorf("read cpuset: %w", err)
					}
					if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
						return fmt.Errorf("write cpuset: %w", err)
					}
				}
			}
		}
	}
	return nil
}

func joinCgroup(pid int) error {
	f := filepath.Join(cgroupFS, "pids", cgroupRoot, procsGroup, "cgroup.procs")
	if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("join cgroup %s: %w", f, err)
	}
	return nil
}

// cgroupPids lists every process in the lab's cgroups, in any hierarchy.
func cgroupPids() []int {
	seen := map[int]bool{}
	var out []int
	for _, h := range hierarchies(true) {
		root := filepath.Join(h, cgroupRoot)
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, s := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(s); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
			return nil
		})
	}
	return out
}

// killCgroups kills every process in the lab's cgroups until none is left; a child
// forked between a listing and the kills is in the same cgroup and found next round.
func killCgroups() error {
	freezer := filepath.Join(cgroupFS, "freezer", cgroupRoot)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := cgroupPids()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes in the lab's cgroups still alive after 30s: %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		thaw(freezer) // a frozen process (a paused container) dies only once thawed
		time.Sleep(100 * time.Millisecond)
	}
}

func thaw(root string) {
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.WriteFile(filepath.Join(path, "freezer.state"), []byte("THAWED"), 0o644)
		}
		return nil
	})
}

// removeCgroups removes the lab's cgroup directories, deepest first.
func removeCgroups() error {
	var errs []error
	for _, h := range hierarchies(true) {
		root := filepath.Join(h, cgroupRoot)
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for _, d := range slices.Backward(dirs) {
			var err error
			for range 50 { // a cgroup whose last task just died can be busy for a moment
				if err = os.Remove(d); err == nil || errors.Is(err, fs.ErrNotExist) {
					err = nil
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
