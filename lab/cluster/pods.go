package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
)

// Node returns the lab node of the given name.
func (c *Cluster) Node(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// ContainerPID is the host PID of a running container's main process, read from its
// runtime's state: the way into the pod's namespaces without the apiserver.
func (c *Cluster) ContainerPID(ctx context.Context, ns, pod, container string) (int, error) {
	p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	node, ok := c.Node(p.Spec.NodeName)
	if !ok {
		return 0, fmt.Errorf("pod %s/%s is on %q, not a lab node", ns, pod, p.Spec.NodeName)
	}
	var id string
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == container || container == "" {
			if s.State.Running == nil {
				return 0, fmt.Errorf("container %s of pod %s/%s is not running", s.Name, ns, pod)
			}
			_, id, _ = strings.Cut(s.ContainerID, "://")
			break
		}
	}
	if id == "" {
		return 0, fmt.Errorf("pod %s/%s has no container %q in its status", ns, pod, container)
	}
	b, err := os.ReadFile(filepath.Join(node.containerdState(), "io.containerd.runtime.v2.task", "k8s.io", id, "init.pid"))
	if err != nil {
		return 0, fmt.Errorf("find the process of container %s: %w", id, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// PodNetns is the network namespace file of a pod (through one of its running
// containers), for nsenter --net.
func (c *Cluster) PodNetns(ctx context.Context, ns, pod string) (string, error) {
	pid, err := c.ContainerPID(ctx, ns, pod, "")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), nil
}

// NsenterExec runs argv in a container as the container sees the world, entering its
// network, mount, UTS and IPC namespaces from the host (so argv is a path in the
// container's filesystem). It bypasses the apiserver and the kubelet. The error
// carries the output; a non-zero exit is an *exec.ExitError.
func (c *Cluster) NsenterExec(ctx context.Context, ns, pod, container string, argv ...string) (string, error) {
	pid, err := c.ContainerPID(ctx, ns, pod, container)
	if err != nil {
		return "", err
	}
	args := append([]string{"--target", strconv.Itoa(pid), "--net", "--mount", "--uts", "--ipc", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("in %s/%s: %s: %w: %s", ns, pod, strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Exec runs argv in a container through the apiserver and the kubelet, as kubectl
// exec does, and returns its stdout and stderr.
func (c *Cluster) Exec(ctx context.Context, ns, pod, container string, argv ...string) (string, string, error) {
	req := c.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(c.Admin, "POST", req.URL())
	if err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}
