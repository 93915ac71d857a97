// Command lab runs the dataplane lab (package reach/lab/cluster) for a person at a
// terminal. Run it as root from the lab module:
//
//	cd lab && go run ./cmd/lab up     # prints the administrator's kubeconfig path
//	kubectl --kubeconfig /tmp/rlab/kubeconfig get nodes
//	cd lab && go run ./cmd/lab down   # stops everything and removes every trace
//
// up starts a background process that holds the cluster; down stops it and then
// sweeps whatever a crashed lab may have left. run holds the cluster in the
// foreground until interrupted. The binaries come from $REACH_DATAPLANE_BIN, else
// lab/build.sh dataplane; the Debian packages from lab/deps.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"reach/lab/cluster"
)

// cmdDir holds the background process's copy of this program, its pid, log and the
// ready file; down removes it.
const cmdDir = "/tmp/rlab-cmd"

func main() {
	fs := flag.NewFlagSet("lab", flag.ExitOnError)
	dir := fs.String("dir", cluster.DefaultDir, "the lab's state directory")
	bin := fs.String("bin", "", "directory of the lab's binaries (default $"+cluster.EnvBin+", else lab/build.sh dataplane)")
	module := fs.String("module", "", "the lab module's directory (default: the one holding the working directory)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: lab [flags] up|down|run")
		fs.PrintDefaults()
	}
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	verb := os.Args[1]
	_ = fs.Parse(os.Args[2:])
	opts := cluster.Options{Dir: *dir, BinDir: *bin, ModuleDir: *module, Log: os.Stderr}
	var err error
	switch verb {
	case "up":
		err = up(opts)
	case "down":
		err = down(opts.Dir)
	case "run":
		err = runForeground(opts)
	case "serve":
		err = serve(opts)
	default:
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

func resolve(ctx context.Context, opts *cluster.Options) error {
	if opts.ModuleDir == "" {
		out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			return fmt.Errorf("find the lab module: %w", err)
		}
		opts.ModuleDir = filepath.Dir(strings.TrimSpace(string(out)))
	}
	if opts.BinDir == "" {
		d, err := cluster.FindBinaries(ctx, opts.ModuleDir, os.Stderr)
		if err != nil {
			return err
		}
		opts.BinDir = d
	}
	return nil
}

// up starts serve in the background and waits until it reports the cluster up.
func up(opts cluster.Options) error {
	ctx := context.Background()
	if pid, ok := servePid(); ok {
		return fmt.Errorf("a lab is already up (pid %d): lab down first", pid)
	}
	if err := resolve(ctx, &opts); err != nil {
		return err
	}
	if err := os.RemoveAll(cmdDir); err != nil {
		return err
	}
	if err := os.MkdirAll(cmdDir, 0o755); err != nil {
		return err
	}
	// A copy: go run deletes its binary when this process ends.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	exe := filepath.Join(cmdDir, "rlab-lab")
	if err := copyFile(self, exe); err != nil {
		return err
	}
	logPath := filepath.Join(cmdDir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(exe, "serve", "-dir", opts.Dir, "-bin", opts.BinDir, "-module", opts.ModuleDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cmdDir, "serve.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(os.Stderr, "lab: starting (log %s)\n", logPath)
	ready := filepath.Join(cmdDir, "ready")
	deadline := time.After(10 * time.Minute)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			fmt.Println(strings.TrimSpace(string(b)))
			fmt.Fprintln(os.Stderr, "lab: up; take it down with: go run ./cmd/lab down")
			return nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			os.Stderr.Write(b)
			return fmt.Errorf("the lab failed to start (%v); see %s", err, logPath)
		case <-deadline:
			return errors.New("the lab did not come up within 10 minutes: lab down, then look at " + logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serve brings the cluster up, reports it ready, and holds it until SIGTERM or SIGINT.
func serve(opts cluster.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, err := cluster.Up(ctx, opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cmdDir, "ready"), []byte(c.Kubeconfig+"\n"), 0o644); err != nil {
		return errors.Join(err, c.Down())
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "lab: taking the cluster down")
	return c.Down()
}

func runForeground(opts cluster.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := resolve(ctx, &opts); err != nil {
		return err
	}
	c, err := cluster.Up(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Println(c.Kubeconfig)
	fmt.Fprintln(os.Stderr, "lab: up; interrupt to take it down")
	<-ctx.Done()
	return c.Down()
}

// down stops the background process (which takes its cluster down), then sweeps.
func down(dir string) error {
	if pid, ok := servePid(); ok {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; alive(pid) && i < 600; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	err := cluster.Sweep(dir)
	return errors.Join(err, os.RemoveAll(cmdDir))
}

func servePid() (int, bool) {
	b, err := os.ReadFile(filepath.Join(cmdDir, "serve.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !alive(pid) {
		return 0, false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return pid, err == nil && strings.HasPrefix(exe, cmdDir+"/")
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
