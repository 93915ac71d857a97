package trace

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/runtime"

	"reach/internal/model"
)

func nameCluster(t *testing.T) *model.Cluster {
	t.Helper()
	m := model.New()
	svc := func(ns, name, ip string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Selector: map[string]string{"app": name}}}
	}
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	objs := []runtime.Object{
		svc("shop", "cart", "10.96.0.20"),
		svc("payments", "orders", "10.96.0.30"),
		svc("data", "postgres", corev1.ClusterIPNone),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "postgres-0", Labels: map[string]string{"app": "postgres"}},
			Spec:   corev1.PodSpec{Subdomain: "postgres"},
			Status: corev1.PodStatus{PodIP: "10.244.1.5", Conditions: ready}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "postgres-1", Labels: map[string]string{"app": "postgres"}},
			Spec:   corev1.PodSpec{Subdomain: "postgres"},
			Status: corev1.PodStatus{PodIP: "10.244.1.6"}},
	}
	for _, o := range objs {
		if _, err := m.Add(o, model.Origin{}); err != nil {
			t.Fatal(err)
		}
	}
	m.Index()
	return m
}

func TestResolveName(t *testing.T) {
	m := nameCluster(t)
	client := func(ns string, mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "client"}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	ndots := func(n string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &n}}}
		}
	}
	tests := []struct {
		name, query, ns string
		mut             func(*corev1.Pod)
		wantFQDN        string
		wantSvc         string
		wantPod         string
		external        bool
		notReady        bool
		firstTried      string
	}{
		{name: "short name in own namespace", query: "cart", ns: "shop", wantFQDN: "cart.shop.svc.cluster.local", wantSvc: "shop/cart"},
		{name: "short name from other namespace", query: "cart", ns: "payments", wantFQDN: "", firstTried: "cart.payments.svc.cluster.local"},
		{name: "name.namespace", query: "orders.payments", ns: "shop", wantFQDN: "orders.payments.svc.cluster.local", wantSvc: "payments/orders"},
		{name: "name.namespace.svc", query: "orders.payments.svc", ns: "shop", wantFQDN: "orders.payments.svc.cluster.local", wantSvc: "payments/orders"},
		{name: "fqdn without dot under ndots 5", query: "cart.shop.svc.cluster.local", ns: "payments", wantFQDN: "cart.shop.svc.cluster.local", wantSvc: "shop/cart", firstTried: "cart.shop.svc.cluster.local.payments.svc.cluster.local"},
		{name: "fqdn with ndots 1 tried first", query: "cart.shop.svc.cluster.local", ns: "payments", mut: ndots("1"), wantFQDN: "cart.shop.svc.cluster.local", wantSvc: "shop/cart", firstTried: "cart.shop.svc.cluster.local"},
		{name: "trailing dot", query: "cart.shop.svc.cluster.local.", ns: "payments", wantFQDN: "cart.shop.svc.cluster.local", wantSvc: "shop/cart", firstTried: "cart.shop.svc.cluster.local"},
		{name: "external name", query: "api.example.com", ns: "shop", external: true, wantFQDN: "api.example.com", firstTried: "api.example.com.shop.svc.cluster.local"},
		{name: "per-pod name of headless service", query: "postgres-0.postgres.data", ns: "shop", wantFQDN: "postgres-0.postgres.data.svc.cluster.local", wantPod: "postgres-0"},
		{name: "per-pod name of unready pod", query: "postgres-1.postgres.data.svc.cluster.local", ns: "data", notReady: true},
		{name: "pod ip name", query: "10-244-1-5.data.pod.cluster.local", ns: "shop", wantFQDN: "10-244-1-5.data.pod.cluster.local", wantPod: "postgres-0"},
		{name: "typo", query: "cartt", ns: "shop"},
		// a dotted relative name whose search candidate names a headless Service is that
		// Service's per-pod name, not an upstream one
		{name: "missing per-pod name relative", query: "postgres-2.postgres", ns: "data", firstTried: "postgres-2.postgres.data.svc.cluster.local"},
		{name: "unready per-pod name relative", query: "postgres-1.postgres", ns: "data", notReady: true},
		{name: "ready per-pod name relative", query: "postgres-0.postgres", ns: "data", wantFQDN: "postgres-0.postgres.data.svc.cluster.local", wantPod: "postgres-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := client(tt.ns, tt.mut)
			res := resolveName(m, resolverOf(p, "cluster.local"), tt.query, "cluster.local")
			if res.fqdn != tt.wantFQDN {
				t.Errorf("fqdn %q, want %q (tried %s)", res.fqdn, tt.wantFQDN, strings.Join(res.tried, ", "))
			}
			gotSvc := ""
			if res.svc != nil {
				gotSvc = res.svc.Namespace + "/" + res.svc.Name
			}
			if gotSvc != tt.wantSvc && tt.wantPod == "" {
				t.Errorf("service %q, want %q", gotSvc, tt.wantSvc)
			}
			gotPod := ""
			if res.pod != nil {
				gotPod = res.pod.Name
			}
			if gotPod != tt.wantPod {
				t.Errorf("pod %q, want %q", gotPod, tt.wantPod)
			}
			if res.external != tt.external {
				t.Errorf("external %v, want %v", res.external, tt.external)
			}
			if strings.HasPrefix(tt.query, "postgres-2.") && res.noSuchPod == nil {
				t.Error("noSuchPod not set")
			}
			if (res.notReady != nil) != tt.notReady {
				t.Errorf("notReady %v, want %v", res.notReady != nil, tt.notReady)
			}
			if tt.firstTried != "" && res.tried[0] != tt.firstTried {
				t.Errorf("first tried %q, want %q", res.tried[0], tt.firstTried)
			}
		})
	}
}

func TestResolverOf(t *testing.T) {
	tests := []struct {
		name    string
		pod     corev1.PodSpec
		cluster bool
		search  int
	}{
		{name: "default ClusterFirst", pod: corev1.PodSpec{}, cluster: true, search: 3},
		{name: "hostNetwork ClusterFirst falls back to node", pod: corev1.PodSpec{HostNetwork: true}, cluster: false},
		{name: "hostNetwork ClusterFirstWithHostNet", pod: corev1.PodSpec{HostNetwork: true, DNSPolicy: corev1.DNSClusterFirstWithHostNet}, cluster: true, search: 3},
		{name: "Default", pod: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, cluster: false},
		{name: "extra searches", pod: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Searches: []string{"corp.example"}}}, cluster: true, search: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rv := resolverOf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: tt.pod}, "cluster.local")
			if rv.cluster != tt.cluster {
				t.Errorf("cluster %v, want %v", rv.cluster, tt.cluster)
			}
			if tt.cluster && len(rv.search) != tt.search {
				t.Errorf("search %v, want %d entries", rv.search, tt.search)
			}
		})
	}
}
