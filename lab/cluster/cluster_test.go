package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestDataplane brings the lab up and checks real traffic: kube-proxy and kube-router
// as DaemonSets with a ready pod on every node, DNS, a Service's ClusterIP, the probe
// (/probe) inside pods with their own resolv.conf, exec and logs through the
// apiserver, ports bound to 127.0.0.1 only, a NodePort from the outside machine, and a
// NetworkPolicy default-deny enforced (the connection fails) and lifted. It needs root, lab/deps.sh and
// lab/build.sh dataplane, and runs only with REACH_DATAPLANE=1.
func TestDataplane(t *testing.T) {
	if os.Getenv("REACH_DATAPLANE") != "1" {
		t.Skip("set REACH_DATAPLANE=1 to run the dataplane lab (root; lab/deps.sh; lab/build.sh dataplane)")
	}
	ctx := t.Context()
	bin, err := FindBinaries(ctx, "", testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	var absent []string
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err != nil {
			absent = append(absent, p)
		}
	}
	began := time.Now()
	c, err := Up(ctx, Options{BinDir: bin, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	upTime := time.Since(began).Round(time.Millisecond)
	t.Logf("cluster up in %v", upTime)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.tails(30))
		}
		began := time.Now()
		if err := c.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
		t.Logf("cluster down in %v (it came up in %v)", time.Since(began).Round(time.Millisecond), upTime)
		checkNoTrace(t, c.Dir, absent)
	})

	const ns = "demo"
	cs := c.Clientset
	t.Run("node agents", func(t *testing.T) {
		for _, name := range []string{KubeProxyDaemonSet, KubeRouterDaemonSet} {
			ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Labels["k8s-app"] != name || !ds.Spec.Template.Spec.HostNetwork {
				t.Errorf("daemonset %s: labels %v, hostNetwork %v", name, ds.Labels, ds.Spec.Template.Spec.HostNetwork)
			}
			pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=" + name})
			if err != nil {
				t.Fatal(err)
			}
			ready := map[string]string{}
			for _, p := range pods.Items {
				for _, cond := range p.Status.Conditions {
					if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && p.Status.Phase == corev1.PodRunning {
						ready[p.Spec.NodeName] = p.Name
					}
				}
			}
			for _, n := range c.Nodes {
				pod, ok := ready[n.Name]
				if !ok {
					t.Errorf("daemonset %s: no ready pod on %s", name, n.Name)
					continue
				}
				// The pod's process is the host's binary, under its rlab- name, in the
				// node's network namespace.
				pid, err := c.ContainerPID(ctx, "kube-system", pod, name)
				if err != nil {
					t.Error(err)
					continue
				}
				comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
				netns, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", "net"))
				var st syscall.Stat_t
				nodeNS := ""
				if syscall.Stat(n.NetnsPath(), &st) == nil {
					nodeNS = fmt.Sprintf("net:[%d]", st.Ino)
				}
				want := "rlab-" + name
				want = want[:min(len(want), 15)] // the kernel keeps 15 bytes of a name
				if strings.TrimSpace(string(comm)) != want || netns != nodeNS {
					t.Errorf("pod %s on %s: process %q in %s, want %q in %s", pod, n.Name, strings.TrimSpace(string(comm)), netns, want, nodeNS)
				}
			}
		}
		ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, KubeRouterDaemonSet, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if args := strings.Join(ds.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--run-service-proxy=false") {
			t.Errorf("kube-router args %q lack --run-service-proxy=false", args)
		}
	})
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	echoLabels := map[string]string{"app": "echo"}
	echo := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: echoLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: echoLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "echo", Image: EchoImage, ImagePullPolicy: corev1.PullNever,
					Args:  []string{"8080", "127.0.0.1:9090", "--listen=127.0.0.1:9091"},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: echoLabels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	client := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: ns, Labels: map[string]string{"app": "client"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "client", Image: ClientImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, echo, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svcLive, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodePort := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo-nodeport", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: echoLabels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	nodePortLive, err := cs.CoreV1().Services(ns).Create(ctx, nodePort, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	step := time.Now()
	if err := c.WaitDeploymentReady(ctx, ns, "echo", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.waitUntil(ctx, "client pod running", 2*time.Minute, func(ctx context.Context) (string, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "client", metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if p.Status.Phase != corev1.PodRunning {
			return string(p.Status.Phase), nil
		}
		return "", nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("workload running in %v", time.Since(step).Round(time.Millisecond))
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var echoPod corev1.Pod
	for _, p := range pods.Items {
		t.Logf("pod %s on %s ip %s", p.Name, p.Spec.NodeName, p.Status.PodIP)
		if p.Labels["app"] == "echo" {
			echoPod = p
		}
	}

	clusterIP := svcLive.Spec.ClusterIP
	probe := func(args ...string) (string, int) {
		out, err := c.NsenterExec(ctx, ns, "client", "client", append([]string{ImageBinary}, args...)...)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("probe %v: %v", args, err)
		}
		return out, 0
	}

	// kube-proxy programs the Service's endpoints a moment after the pods are ready:
	// wait until each node (and the client) reaches the ClusterIP before the checks.
	step = time.Now()
	for _, n := range c.Nodes {
		var out string
		err := c.waitUntil(ctx, "service echo from "+n.Name, 30*time.Second, func(ctx context.Context) (string, error) {
			var err error
			out, err = c.NodeExec(ctx, n.Name, c.ProbePath(), "tcp", clusterIP+":80", "2s")
			if err != nil {
				return out, nil
			}
			return "", nil
		})
		if err != nil {
			rules, _ := c.NodeExec(ctx, n.Name, "iptables-save", "-t", "filter")
			t.Fatalf("%v (last: %q); filter table of %s (%s):\n%s", err, out, n.Name, n.ProxyMode, rules)
		}
		t.Logf("service echo answers on %s (%s) after %v", n.Name, n.ProxyMode, time.Since(step).Round(time.Millisecond))
	}
	if err := c.waitUntil(ctx, "service echo from the client pod", 30*time.Second, func(ctx context.Context) (string, error) {
		if out, code := probe("tcp", clusterIP+":80", "2s"); code != 0 {
			return out, nil
		}
		return "", nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("dns", func(t *testing.T) {
		for _, name := range []string{"echo", "echo.demo.svc.cluster.local", "kubernetes.default"} {
			out, code := probe("dns", name)
			want := clusterIP
			if name == "kubernetes.default" {
				want = "10.96.0.1"
			}
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("dns %s: exit %d, %q; want %s", name, code, out, want)
			}
		}
		if out, code := probe("dns", "missing.demo.svc.cluster.local"); code == 0 {
			t.Errorf("dns of a missing name answered: %q", out)
		}
	})
	t.Run("clusterip", func(t *testing.T) {
		if out, code := probe("tcp", clusterIP+":80"); code != 0 || !strings.HasPrefix(out, "connected") {
			t.Errorf("tcp %s:80: exit %d, %q", clusterIP, code, out)
		}
		out, code := probe("http", "http://echo.demo/hello")
		if code != 0 || !strings.Contains(out, "200 OK") || !strings.Contains(out, "pod=echo-") {
			t.Errorf("http get: exit %d, %q", code, out)
		}
	})
	t.Run("localhost-only port", func(t *testing.T) {
		out, code := probe("tcp", echoPod.Status.PodIP+":9090")
		if code != 1 || !strings.Contains(out, "connection refused") {
			t.Errorf("tcp to a port bound to 127.0.0.1: exit %d, %q; want connection refused", code, out)
		}
		// --listen=127.0.0.1:9091: refused from another pod, served inside the pod.
		out, code = probe("tcp", echoPod.Status.PodIP+":9091")
		if code != 1 || !strings.Contains(out, "connection refused") {
			t.Errorf("tcp to --listen=127.0.0.1:9091 from another pod: exit %d, %q; want connection refused", code, out)
		}
		out, err := c.NsenterExec(ctx, ns, echoPod.Name, "echo", ProbeBinary, "http", "http://127.0.0.1:9091/inside")
		if err != nil || !strings.Contains(out, "200 OK") || !strings.Contains(out, "port=9091") {
			t.Errorf("http to --listen=127.0.0.1:9091 inside the echo pod: %v, %q", err, out)
		}
	})
	t.Run("probe in pods", func(t *testing.T) {
		// The pod's own resolv.conf (search demo.svc.cluster.local ...): a short name.
		out, err := c.NsenterExec(ctx, ns, "client", "client", ProbeBinary, "dns", "echo")
		if err != nil || !strings.Contains(out, clusterIP) {
			t.Errorf("%s dns echo in the client pod: %v, %q; want %s", ProbeBinary, err, out, clusterIP)
		}
		out, err = c.NsenterExec(ctx, ns, echoPod.Name, "echo", ProbeBinary, "dns", "kubernetes.default")
		if err != nil || !strings.Contains(out, "10.96.0.1") {
			t.Errorf("%s dns kubernetes.default in the echo pod: %v, %q", ProbeBinary, err, out)
		}
		out, err = c.NsenterExec(ctx, ns, echoPod.Name, "echo", ProbeBinary, "http", "http://echo/from-echo")
		if err != nil || !strings.Contains(out, "200 OK") {
			t.Errorf("%s http echo in the echo pod: %v, %q", ProbeBinary, err, out)
		}
	})
	t.Run("node and outside", func(t *testing.T) {
		run := func(outside bool, node string, args ...string) (string, int) {
			argv := append([]string{c.ProbePath()}, args...)
			var out string
			var err error
			if outside {
				out, err = c.OutsideExec(ctx, argv...)
			} else {
				out, err = c.NodeExec(ctx, node, argv...)
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return out, ee.ExitCode()
			}
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			return out, 0
		}
		for _, n := range c.Nodes {
			if out, code := run(false, n.Name, "tcp", clusterIP+":80", "3s"); code != 0 || !strings.HasPrefix(out, "connected") {
				t.Errorf("from %s (%s) to the ClusterIP: exit %d, %q", n.Name, n.ProxyMode, code, out)
			}
		}
		np := nodePortLive.Spec.Ports[0].NodePort
		for _, n := range c.Nodes {
			url := fmt.Sprintf("http://%s:%d/outside", n.IP, np)
			var out string
			err := c.waitUntil(ctx, "NodePort on "+n.Name+" from outside", 30*time.Second, func(ctx context.Context) (string, error) {
				var code int
				out, code = run(true, "", "http", url, "3s")
				if code != 0 || !strings.Contains(out, "200 OK") || !strings.Contains(out, "pod=echo-") {
					return out, nil
				}
				return "", nil
			})
			if err != nil {
				t.Errorf("%s (%s): %v", url, n.ProxyMode, err)
				continue
			}
			t.Logf("outside -> %s (%s): %s", url, n.ProxyMode, strings.ReplaceAll(strings.TrimSpace(out), "\n", " | "))
		}
		// No route from outside to the Services or the pods.
		for _, target := range []string{clusterIP + ":80", echoPod.Status.PodIP + ":8080"} {
			if out, code := run(true, "", "tcp", target, "2s"); code == 0 {
				t.Errorf("outside reached %s: %q", target, out)
			}
		}
	})
	t.Run("exec and logs through the apiserver", func(t *testing.T) {
		stdout, stderr, err := c.Exec(ctx, ns, "client", "client", ImageBinary, "tcp", "echo:80")
		if err != nil || !strings.HasPrefix(stdout, "connected") {
			t.Errorf("exec: %v, stdout %q stderr %q", err, stdout, stderr)
		}
		b, err := cs.CoreV1().Pods(ns).GetLogs(echoPod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(b), "listening on") || !strings.Contains(string(b), "listening on 127.0.0.1:9091/tcp") {
			t.Errorf("logs: %v, %q", err, b)
		}
	})
	t.Run("networkpolicy", func(t *testing.T) {
		deny := &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			},
		}
		if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, deny, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		step := time.Now()
		var out string
		err := c.waitUntil(ctx, "default-deny enforced", time.Minute, func(ctx context.Context) (string, error) {
			var code int
			out, code = probe("tcp", clusterIP+":80", "2s")
			// kube-router answers a denied connection with an ICMP port unreachable
			// (REJECT), so the client sees "connection refused" (exit 1); a policy
			// implementation that drops makes it time out (exit 2).
			if code == 0 || (code == 1 && !strings.Contains(out, "refused")) {
				return out, nil
			}
			return "", nil
		})
		if err != nil {
			t.Fatalf("%v (last probe: %q)", err, out)
		}
		t.Logf("default-deny enforced after %v: %s", time.Since(step).Round(time.Millisecond), strings.TrimSpace(out))
		if err := cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, "default-deny", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		step = time.Now()
		err = c.waitUntil(ctx, "traffic restored", time.Minute, func(ctx context.Context) (string, error) {
			var code int
			out, code = probe("tcp", clusterIP+":80", "2s")
			if code != 0 {
				return out, nil
			}
			return "", nil
		})
		if err != nil {
			t.Fatalf("%v (last probe: %q)", err, out)
		}
		t.Logf("traffic restored after %v", time.Since(step).Round(time.Millisecond))
	})
}

// checkNoTrace fails the test if anything of the lab is left on the machine.
func checkNoTrace(t *testing.T, dir string, absent []string) {
	t.Helper()
	for _, p := range absent {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left (it was not there before the lab)", p)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s still exists", dir)
	}
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), netnsPrefix) {
				t.Errorf("network namespace %s left", e.Name())
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + hostVeth); err == nil {
		t.Errorf("veth %s left", hostVeth)
	}
	if pids := cgroupPids(); len(pids) > 0 {
		t.Errorf("processes left in the lab's cgroups: %v", pids)
	}
	for _, h := range hierarchies(true) {
		if _, err := os.Stat(filepath.Join(h, cgroupRoot)); err == nil {
			t.Errorf("cgroup %s/%s left", h, cgroupRoot)
		}
	}
	if m := mountsUnder(dir); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
