// Package testlab runs a real Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager) on 127.0.0.1 for live tests, and loads scenario objects
// into it the way a running cluster would hold them.
package testlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// EnvBin names the directory holding etcd, kube-apiserver and kube-controller-manager
// (lab/build.sh prints it).
const EnvBin = "REACH_LAB_BIN"

const mastersGroup = "system:masters"

// User is one identity in the apiserver's token file. A user whose groups include
// system:masters is an administrator.
type User struct {
	Name   string
	Token  string // random when empty
	Groups []string
}

// DefaultUsers is an administrator "admin" and "viewer", a user with no groups beyond
// system:authenticated and therefore no RBAC rights on cluster objects.
func DefaultUsers() []User {
	return []User{
		{Name: "admin", Groups: []string{mastersGroup}},
		{Name: "viewer"},
	}
}

// Options configure a lab. The zero value is usable.
type Options struct {
	BinDir string // "" means $REACH_LAB_BIN
	Users  []User // nil means DefaultUsers(); the first system:masters user drives the clients
}

// Lab is a running control plane. Its fields are read-only after start.
type Lab struct {
	Dir             string // temp dir holding data, certificates, kubeconfigs and logs
	Server          string // https://127.0.0.1:PORT
	AdminKubeconfig string
	Admin           *rest.Config
	Clientset       *kubernetes.Clientset
	Dynamic         dynamic.Interface

	users       []User
	kubeconfigs map[string]string
	caPEM       []byte
	procs       []*process
	cancel      context.CancelFunc
	stopOnce    sync.Once
	stopErr     error
}

// MissingBinariesError says the control-plane binaries are not where the lab looks.
type MissingBinariesError struct {
	Dir     string
	Missing []string
}

func (e *MissingBinariesError) Error() string {
	if e.Dir == "" {
		return fmt.Sprintf("%s is not set (run lab/build.sh and export %s=<dir it prints>)", EnvBin, EnvBin)
	}
	return fmt.Sprintf("control-plane binaries missing in %s=%s: %v (run lab/build.sh)", EnvBin, e.Dir, e.Missing)
}

// Start runs a lab with default options for the test and stops it when the test ends.
// Without binaries the test is skipped, or fails when CI=true.
func Start(ctx context.Context, t testing.TB) *Lab {
	t.Helper()
	return StartWith(ctx, t, Options{})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, t testing.TB, opts Options) *Lab {
	t.Helper()
	l, err := Launch(ctx, opts)
	if err != nil {
		var missing *MissingBinariesError
		if errors.As(err, &missing) && os.Getenv("CI") != "true" {
			t.Skipf("live lab unavailable: %v", err)
		}
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l.LogTails(t, 40)
		}
		if err := l.Stop(); err != nil {
			t.Errorf("stop lab: %v", err)
		}
	})
	return l
}

// Launch starts etcd, kube-apiserver (with the CRDs installed) and
// kube-controller-manager. ctx bounds start-up only; the processes run until Stop.
// On error nothing is left running.
func Launch(ctx context.Context, opts Options) (*Lab, error) {
	bins, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	users, err := withTokens(opts.Users)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "reach-lab-")
	if err != nil {
		return nil, fmt.Errorf("make lab dir: %w", err)
	}
	procCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Lab{Dir: dir, users: users, cancel: cancel, kubeconfigs: map[string]string{}}
	if err := l.boot(ctx, procCtx, bins); err != nil {
		err = fmt.Errorf("%w%s", err, l.tails(30))
		_ = l.Stop()
		return nil, err
	}
	return l, nil
}

// Stop kills every process of the lab and removes its directory. It is safe to call
// more than once.
func (l *Lab) Stop() error {
	l.stopOnce.Do(func() {
		var errs []error
		for _, p := range slices.Backward(l.procs) {
			errs = append(errs, p.stop())
		}
		l.cancel()
		errs = append(errs, os.RemoveAll(l.Dir))
		l.stopErr = errors.Join(errs...)
	})
	return l.stopErr
}

// Kubeconfig is the path of the kubeconfig file for the named user, "" if there is none.
func (l *Lab) Kubeconfig(user string) string { return l.kubeconfigs[user] }

// UserConfig is a client config authenticating as the named user.
func (l *Lab) UserConfig(user string) (*rest.Config, error) {
	for _, u := range l.users {
		if u.Name == user {
			return l.restConfig(u.Token), nil
		}
	}
	return nil, fmt.Errorf("no lab user %q", user)
}

// Users lists the lab's identities, tokens filled in.
func (l *Lab) Users() []User { return slices.Clone(l.users) }

type binaries struct{ etcd, apiserver, controllerManager string }

func findBinaries(dir string) (binaries, error) {
	if dir == "" {
		dir = os.Getenv(EnvBin)
	}
	if dir == "" {
		return binaries{}, &MissingBinariesError{}
	}
	b := binaries{
		etcd:              filepath.Join(dir, "etcd"),
		apiserver:         filepath.Join(dir, "kube-apiserver"),
		controllerManager: filepath.Join(dir, "kube-controller-manager"),
	}
	var missing []string
	for _, p := range []string{b.etcd, b.apiserver, b.controllerManager} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			missing = append(missing, filepath.Base(p))
		}
	}
	if len(missing) > 0 {
		return binaries{}, &MissingBinariesError{Dir: dir, Missing: missing}
	}
	return b, nil
}

// withTokens copies users, filling empty tokens with random ones, and checks there is
// an administrator to drive the clients.
func withTokens(in []User) ([]User, error) {
	if in == nil {
		in = DefaultUsers()
	}
	users := make([]User, len(in))
	admin := false
	for i, u := range in {
		u.Groups = slices.Clone(u.Groups)
		if u.Token == "" {
			b := make([]byte, 16)
			if _, err := rand.Read(b); err != nil {
				return nil, fmt.Errorf("make token for %q: %w", u.Name, err)
			}
			u.Token = hex.EncodeToString(b)
		}
		admin = admin || slices.Contains(u.Groups, mastersGroup)
		users[i] = u
	}
	if !admin {
		return nil, fmt.Errorf("lab users: none is in group %s", mastersGroup)
	}
	return users, nil
}

func (l *Lab) admin() User {
	for _, u := range l.users {
		if slices.Contains(u.Groups, mastersGroup) {
			return u
		}
	}
	return User{}
}
