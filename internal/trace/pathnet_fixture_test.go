package trace

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// pathNet builds small clusters for the proxy, exposure and node layers: three nodes, cluster DNS,
// kube-proxy on every node, and Service shop/web (port 80 -> 8080) backed by web-1 on node-b and web-2 on node-c.
type pathNet struct {
	objs []runtime.Object
	drop map[string]bool // "Kind/ns/name" left out of the cluster
}

var pnTrue = true

func newPathNet() *pathNet {
	n := &pathNet{drop: map[string]bool{}}
	n.add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"team": "shop"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "infra"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}})
	for i, name := range []string{"node-a", "node-b", "node-c"} {
		n.add(pnNode(name, "10.0.0."+string(rune('1'+i)), corev1.ConditionTrue, ""))
	}
	n.add(pnService("kube-system", "kube-dns", "10.96.0.10", map[string]string{"k8s-app": "kube-dns"}, 53))
	n.add(pnPod("kube-system", "coredns-1", "node-a", "10.244.0.5", map[string]string{"k8s-app": "kube-dns"}, 53))
	n.add(pnDaemonSet("kube-system", "kube-proxy", map[string]string{"k8s-app": "kube-proxy"}))
	for _, node := range []string{"node-a", "node-b", "node-c"} {
		n.add(pnPod("kube-system", "kube-proxy-"+node[len(node)-1:], node, "", map[string]string{"k8s-app": "kube-proxy"}, 0))
	}
	n.add(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"}, Data: map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"\"\nipvs:\n  strictARP: false\n"}})
	n.add(pnService("shop", "web", "10.96.1.1", map[string]string{"app": "web"}, 80))
	for _, p := range []*corev1.Pod{pnPod("shop", "web-1", "node-b", "10.244.1.10", map[string]string{"app": "web"}, 8080), pnPod("shop", "web-2", "node-c", "10.244.2.10", map[string]string{"app": "web"}, 8080)} {
		p.Labels["pod-template-hash"] = "7c9d"
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7c9d", Controller: &pnTrue}}
		n.add(p)
	}
	n.add(pnSlice("shop", "web", pnEndpoint("10.244.1.10", "web-1", "node-b", true), pnEndpoint("10.244.2.10", "web-2", "node-c", true)))
	n.add(pnPod("shop", "client", "node-a", "10.244.0.20", map[string]string{"app": "client"}, 0))
	return n
}

func (n *pathNet) add(objs ...runtime.Object) *pathNet {
	n.objs = append(n.objs, objs...)
	return n
}

// without leaves objects out, by "Kind/ns/name".
func (n *pathNet) without(keys ...string) *pathNet {
	for _, k := range keys {
		n.drop[k] = true
	}
	return n
}

// find returns the object added under "Kind/ns/name", for a case to change it.
func (n *pathNet) find(key string) runtime.Object {
	for _, o := range n.objs {
		if pnKey(o) == key {
			return o
		}
	}
	return nil
}

func (n *pathNet) svc(ns, name string) *corev1.Service {
	return n.find("Service/" + ns + "/" + name).(*corev1.Service)
}
func (n *pathNet) pod(ns, name string) *corev1.Pod {
	return n.find("Pod/" + ns + "/" + name).(*corev1.Pod)
}
func (n *pathNet) node(name string) *corev1.Node { return n.find("Node//" + name).(*corev1.Node) }

func pnKey(o runtime.Object) string {
	m := o.(metav1.Object)
	kind := ""
	switch o.(type) {
	case *corev1.Namespace:
		kind = "Namespace"
	case *corev1.Node:
		kind = "Node"
	case *corev1.Pod:
		kind = "Pod"
	case *corev1.Service:
		kind = "Service"
	case *corev1.ConfigMap:
		kind = "ConfigMap"
	case *appsv1.DaemonSet:
		kind = "DaemonSet"
	case *discoveryv1.EndpointSlice:
		kind = "EndpointSlice"
	}
	return kind + "/" + m.GetNamespace() + "/" + m.GetName()
}

func (n *pathNet) cluster(t *testing.T) *model.Cluster {
	t.Helper()
	c := model.New()
	c.Coverage.Snapshot = true
	for _, o := range n.objs {
		if n.drop[pnKey(o)] {
			continue
		}
		if _, err := c.Add(o, model.Origin{}); err != nil {
			t.Fatalf("add %s: %v", pnKey(o), err)
		}
	}
	c.Index()
	return c
}

// trace runs one trace from source to target; both are parsed with default namespace shop.
func (n *pathNet) trace(t *testing.T, source, target string) report.Trace {
	t.Helper()
	s, err := ref.Parse(source, "shop")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ref.Parse(target, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return Trace(n.cluster(t), Request{Source: s, Target: d})
}

func pnNode(name, ip string, ready corev1.ConditionStatus, message string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: pnReason(ready), Message: message, LastHeartbeatTime: metav1.Unix(1700000000, 0)}},
		}}
}

func pnReason(s corev1.ConditionStatus) string {
	switch s {
	case corev1.ConditionTrue:
		return "KubeletReady"
	case corev1.ConditionUnknown:
		return "NodeStatusUnknown"
	}
	return "KubeletNotReady"
}

func pnService(ns, name, ip string, sel map[string]string, port int32) *corev1.Service {
	target := port
	if name == "web" {
		target = 8080
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip}, Selector: sel,
			Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target), Protocol: corev1.ProtocolTCP}}}}
}

func pnPod(ns, name, node, ip string, labels map[string]string, port int32) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: "example/app:1"}
	if port != 0 {
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP}}
	}
	if ip == "" {
		ip = "10.0.0.9"
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{c}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

// pnCrashing makes a pod crash-loop: Running but not ready, its container waiting.
func pnCrashing(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 12, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
}

func pnDaemonSet(ns, name string, labels map[string]string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "example/" + name}}}}},
		Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, NumberReady: 3}}
}

func pnEndpoint(ip, pod, node string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &node,
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod}}
}

func pnSlice(ns, svc string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	name, port, proto := "http", int32(8080), corev1.ProtocolTCP
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc12", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
		Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}}}
}

// hop returns the hop of one layer.
func pnHop(t *testing.T, tr report.Trace, layer report.Layer) report.Hop {
	t.Helper()
	for _, h := range tr.Hops {
		if h.Layer == layer {
			return h
		}
	}
	t.Fatalf("no %s hop in %+v", layer, tr.Hops)
	return report.Hop{}
}

func pnFinding(tr report.Trace, code report.Code) *report.Finding {
	for i := range tr.Findings {
		if tr.Findings[i].Code == code {
			return &tr.Findings[i]
		}
	}
	return nil
}

// pnCase is one expectation on a trace: the layer's hop status, the verdict, the root cause, and a finding code.
type pnCase struct {
	status  report.Status
	verdict report.Verdict
	root    report.Code // "" when no root cause is expected
	code    report.Code // a finding that must be present, "" for none of the layer's
	object  string      // "Kind/ns/name" of that finding's object, "" to skip
	summary string      // a substring of the hop summary, "" to skip
}

// check asserts a case. A reachable verdict also accepts unknown when the unknown hops belong to other layers,
// so the cases do not depend on layers outside this test's scope.
func (c pnCase) check(t *testing.T, tr report.Trace, layer report.Layer) {
	t.Helper()
	h := pnHop(t, tr, layer)
	if h.Status != c.status {
		t.Errorf("%s hop status %s, want %s (%s; details %v)", layer, h.Status, c.status, h.Summary, h.Details)
	}
	if c.summary != "" && !strings.Contains(h.Summary, c.summary) {
		t.Errorf("%s hop summary %q, want it to contain %q", layer, h.Summary, c.summary)
	}
	if !pnVerdictOK(tr, c.verdict, layer) {
		t.Errorf("verdict %s, want %s (hops %+v)", tr.Verdict, c.verdict, tr.Hops)
	}
	switch {
	case c.root == "" && tr.RootCause != nil && c.verdict != report.VerdictBlocked:
		t.Errorf("root cause %s, want none", tr.RootCause.Code)
	case c.root != "" && (tr.RootCause == nil || tr.RootCause.Code != c.root):
		t.Errorf("root cause %+v, want %s", tr.RootCause, c.root)
	}
	if c.code == "" {
		for _, f := range tr.Findings {
			if f.Layer == layer {
				t.Errorf("unexpected %s finding %s: %s", layer, f.Code, f.Message)
			}
		}
		return
	}
	f := pnFinding(tr, c.code)
	if f == nil {
		t.Fatalf("no %s finding; findings %+v", c.code, tr.Findings)
	}
	if got := f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name; c.object != "" && got != c.object {
		t.Errorf("%s object %s, want %s", c.code, got, c.object)
	}
	if f.Message == "" || f.Fix == "" {
		t.Errorf("%s without message or fix: %+v", c.code, f)
	}
}

func pnVerdictOK(tr report.Trace, want report.Verdict, layer report.Layer) bool {
	if tr.Verdict == want {
		return true
	}
	if want != report.VerdictReachable || tr.Verdict != report.VerdictUnknown {
		return false
	}
	for _, h := range tr.Hops {
		if h.Status == report.StatusUnknown && h.Layer == layer {
			return false
		}
	}
	return true
}
