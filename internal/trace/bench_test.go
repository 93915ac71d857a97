package trace

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
	"reach/internal/ref"
)

// bigCluster generates a cluster of realistic shape: ns namespaces, each with svcs Services of
// podsPer pods (two containers, probes, owner references), an EndpointSlice per Service, and pols
// NetworkPolicies per namespace.
func bigCluster(b *testing.B, ns, svcs, podsPer, pols, nodes int) *model.Cluster {
	b.Helper()
	m := model.New()
	m.Coverage.Snapshot = true
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
	for n := 0; n < nodes; n++ {
		name := fmt.Sprintf("node-%04d", n)
		mustAdd(b, m, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.16.%d.%d", n/250, n%250+1)}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
	}
	ip := 0
	for i := 0; i < ns; i++ {
		nsName := fmt.Sprintf("team-%03d", i)
		mustAdd(b, m, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName, Labels: map[string]string{"kubernetes.io/metadata.name": nsName, "team": fmt.Sprint(i % 10)}}})
		for j := 0; j < pols; j++ {
			mustAdd(b, m, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: fmt.Sprintf("allow-%d", j)},
				Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", j)}},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "1"}}}}}}}})
		}
		for s := 0; s < svcs; s++ {
			app := fmt.Sprintf("app-%d", s)
			mustAdd(b, m, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: app},
				Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.96.%d.%d", (i*svcs+s)/250, (i*svcs+s)%250+1), Selector: map[string]string{"app": app},
					Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}}})
			slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: app + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: app}},
				AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: strp("http"), Port: i32p(8080), Protocol: protop(corev1.ProtocolTCP)}}}
			for p := 0; p < podsPer; p++ {
				ip++
				podIP := fmt.Sprintf("10.%d.%d.%d", 64+ip/65000, (ip/250)%250, ip%250+1)
				node := fmt.Sprintf("node-%04d", ip%nodes)
				name := fmt.Sprintf("%s-7d9f8b6c5d-%05d", app, p)
				mustAdd(b, m, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: nsName, Name: name, Labels: map[string]string{"app": app, "pod-template-hash": "7d9f8b6c5d"},
					OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: app + "-7d9f8b6c5d", Controller: boolp(true)}}},
					Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{
						{Name: "app", Image: "registry.example/app:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}}}},
						{Name: "log", Image: "registry.example/log:1"}}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP, HostIP: "172.16.0.1", Conditions: ready,
						ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true}, {Name: "log", Ready: true}}}})
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{podIP}, Conditions: discoveryv1.EndpointConditions{Ready: boolp(true)},
					NodeName: strp(node), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: nsName, Name: name}})
			}
			mustAdd(b, m, slice)
		}
	}
	m.Index()
	return m
}

func mustAdd(b *testing.B, m *model.Cluster, o interface{}) {
	obj, ok := o.(interface {
		GetName() string
	})
	if !ok {
		b.Fatalf("%T is not an object", o)
	}
	if _, err := m.Add(o.(kruntime.Object), model.Origin{}); err != nil {
		b.Fatalf("add %s: %v", obj.GetName(), err)
	}
}

func strp(s string) *string                     { return &s }
func i32p(i int32) *int32                       { return &i }
func boolp(v bool) *bool                        { return &v }
func protop(p corev1.Protocol) *corev1.Protocol { return &p }

// BenchmarkTraceLargeCluster traces one path in a cluster of 150,000 pods, 10,000 Services and
// 10,000 NetworkPolicies, and reports the heap the model holds.
func BenchmarkTraceLargeCluster(b *testing.B) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	m := bigCluster(b, 500, 20, 15, 20, 1000)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heapMB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	src, _ := ref.Parse("pod/app-1-7d9f8b6c5d-00003", "team-001")
	dst, _ := ref.Parse("app-7.team-002:80", "team-001")
	req := Request{Source: src, Target: dst}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := Trace(m, req)
		if t.Verdict == "" {
			b.Fatal("no verdict")
		}
	}
	b.ReportMetric(heapMB, "model-MB")
	b.ReportMetric(float64(len(m.Pods)), "pods")
}

// BenchmarkLoadLargeCluster measures building and indexing the model of 150,000 pods.
func BenchmarkLoadLargeCluster(b *testing.B) {
	for i := 0; i < b.N; i++ {
		bigCluster(b, 500, 20, 15, 20, 1000)
	}
}
