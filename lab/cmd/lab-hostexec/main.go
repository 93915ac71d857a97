// Command lab-hostexec is the image of the dataplane lab's node agents (kube-proxy,
// kube-router), run as DaemonSet pods: it chroots into /host (a hostPath volume of the
// machine's /), changes to /, and execs its arguments there — a program of the host
// by absolute path, then its flags:
//
//	lab-hostexec /tmp/rlab/bin/rlab-kube-proxy --config=...
//
// The pod runs with hostNetwork, so the program lives in the node's network
// namespace, and privileged, so it may program the node's netfilter.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// root is where the pod mounts the host's /.
const root = "/host"

func main() {
	if len(os.Args) < 2 {
		fail("usage: lab-hostexec PROGRAM [ARG...]  (PROGRAM a path on the host)")
	}
	if err := syscall.Chroot(root); err != nil {
		fail("chroot %s: %v", root, err)
	}
	if err := os.Chdir("/"); err != nil {
		fail("chdir /: %v", err)
	}
	env := os.Environ()
	if os.Getenv("PATH") == "" {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
		os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	prog := os.Args[1]
	if !strings.Contains(prog, "/") {
		p, err := exec.LookPath(prog)
		if err != nil {
			fail("%v", err)
		}
		prog = p
	}
	// argv[0] as given: the process keeps the name of the host's link (rlab-NAME).
	err := syscall.Exec(prog, os.Args[1:], env)
	fail("exec %s: %v", prog, err)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "lab-hostexec: "+format+"\n", args...)
	os.Exit(127)
}
