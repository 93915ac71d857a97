package source

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"reach/internal/model"
	"reach/internal/ref"
)

func om(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, ResourceVersion: "1"}
}

func fixture() []runtime.Object {
	app := map[string]string{"app": "cart"}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: om("", "shop", nil)},
		&corev1.Namespace{ObjectMeta: om("", "web", nil)},
		&corev1.Namespace{ObjectMeta: om("", "other", nil)},
		&corev1.Namespace{ObjectMeta: om("", kubeSystem, nil)},
		&corev1.Node{ObjectMeta: om("", "n1", nil)},
		&corev1.Pod{ObjectMeta: om("web", "frontend", map[string]string{"app": "frontend"})},
		&corev1.Pod{ObjectMeta: om("shop", "cart-1", app), Status: corev1.PodStatus{PodIP: "10.0.0.7"}},
		&corev1.Pod{ObjectMeta: om("other", "unrelated", nil)},
		&corev1.Service{ObjectMeta: om("shop", "cart", nil), Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9", Selector: app}},
		&corev1.Service{ObjectMeta: om(kubeSystem, "kube-dns", nil)},
		&corev1.Pod{ObjectMeta: om(kubeSystem, "coredns-1", map[string]string{"k8s-app": "kube-dns"})},
		&corev1.ConfigMap{ObjectMeta: om(kubeSystem, "coredns", nil)},
		&corev1.ConfigMap{ObjectMeta: om(kubeSystem, "unrelated", nil)},
		&corev1.Secret{ObjectMeta: om("shop", "token", nil)},
		&appsv1.Deployment{ObjectMeta: om("shop", "cart", nil), Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: app}}},
		&networkingv1.NetworkPolicy{ObjectMeta: om("shop", "deny-all", nil)},
		&networkingv1.Ingress{ObjectMeta: om("shop", "cart", nil)},
	}
}

func newFakes(objs ...runtime.Object) (*fake.Clientset, *dynfake.FakeDynamicClient) {
	policy := "policy.networking.k8s.io"
	gw := "gateway.networking.k8s.io"
	kinds := map[schema.GroupVersionResource]string{
		{Group: policy, Version: "v1alpha1", Resource: "adminnetworkpolicies"}:         "AdminNetworkPolicyList",
		{Group: policy, Version: "v1alpha1", Resource: "baselineadminnetworkpolicies"}: "BaselineAdminNetworkPolicyList",
		{Group: policy, Version: "v1beta1", Resource: "clusternetworkpolicies"}:        "ClusterNetworkPolicyList",
		{Group: policy, Version: "v1alpha2", Resource: "clusternetworkpolicies"}:       "ClusterNetworkPolicyList",
		{Group: gw, Version: "v1", Resource: "gatewayclasses"}:                         "GatewayClassList",
		{Group: gw, Version: "v1", Resource: "gateways"}:                               "GatewayList",
		{Group: gw, Version: "v1", Resource: "httproutes"}:                             "HTTPRouteList",
		{Group: gw, Version: "v1beta1", Resource: "referencegrants"}:                   "ReferenceGrantList",
	}
	var dynObjs []runtime.Object
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok {
			dynObjs = append(dynObjs, u)
		}
	}
	typed := slices.DeleteFunc(slices.Clone(objs), func(o runtime.Object) bool {
		_, ok := o.(*unstructured.Unstructured)
		return ok
	})
	return fake.NewClientset(typed...), dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, dynObjs...)
}

func mustRef(t *testing.T, s, ns string) ref.Ref {
	t.Helper()
	r, err := ref.Parse(s, ns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func forbid(resource string) k8stesting.ReactionFunc {
	return func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", errors.New("rbac"))
	}
}

func TestForbiddenMessage(t *testing.T) {
	tests := []struct {
		name, verb, what, ns, want string
	}{
		{"namespaced list", "list", "networkpolicies", "shop", "list networkpolicies in shop: forbidden"},
		{"get by name", "get", "configmaps/kube-proxy", kubeSystem, "get configmaps/kube-proxy in kube-system: forbidden"},
		{"cluster-scoped", "list", "nodes", "", "list nodes (cluster-wide): forbidden"},
		{"cluster-scoped get", "get", "clusterroles/system:coredns", "", "get clusterroles/system:coredns (cluster-wide): forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forbidden(tt.verb, tt.what, tt.ns); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTargetNamespaces(t *testing.T) {
	svc := func(ns, name, ip string) *corev1.Service {
		return &corev1.Service{ObjectMeta: om(ns, name, nil), Spec: corev1.ServiceSpec{ClusterIP: ip}}
	}
	known := found{
		namespaces: map[string]bool{"web": true, "shop": true, "db": true},
		services:   []*corev1.Service{svc("shop", "cart", "10.96.0.9"), svc("legacy", "cart", "10.96.0.10"), svc("shop", "pay", "")},
		pods:       []*corev1.Pod{{ObjectMeta: om("db", "pg-0", nil), Status: corev1.PodStatus{PodIP: "10.0.0.7"}}},
	}
	blind := known
	blind.namespaces = nil
	tests := []struct {
		name, target string
		f            found
		want         []string
	}{
		{"short name: client namespace and Services of that name", "cart:8080", known, []string{"legacy", "shop", "web"}},
		{"name.namespace", "pay.shop:80", known, []string{"shop", "web"}},
		{"full name", "pay.shop.svc.cluster.local:80", known, []string{"shop", "web"}},
		{"second label not a namespace", "api.nowhere:80", known, []string{"web"}},
		{"pod record", "pg-0.pg.db.svc.cluster.local:5432", known, []string{"db", "web"}},
		{"outside name", "example.com:443", known, []string{"web"}},
		{"namespaces unknown: cluster form kept", "api.nowhere:80", blind, []string{"nowhere", "web"}},
		{"namespaces unknown: outside name dropped", "api.example.com:443", blind, []string{"web"}},
		{"service address", "10.96.0.10:80", known, []string{"legacy"}},
		{"pod address", "10.0.0.7:5432", known, []string{"db"}},
		{"object", "shop/svc/cart:80", known, []string{"shop"}},
		{"node", "node/n1:10250", known, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := targetNamespaces(mustRef(t, tt.target, "web"), "web", tt.f)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func load(t *testing.T, cs *fake.Clientset, dyn *dynfake.FakeDynamicClient, src, dst string) *model.Cluster {
	t.Helper()
	req := LiveRequest{Source: mustRef(t, src, "web"), Target: mustRef(t, dst, "web")}
	c, err := loadLive(context.Background(), cs, dyn, req, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLiveForbiddenDegrades(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	cs.PrependReactor("list", "networkpolicies", forbid("networkpolicies"))
	c := load(t, cs, dyn, "pod/frontend", "shop/svc/cart:8080")

	const want = "list networkpolicies in shop: forbidden"
	if ok, why := c.Coverage.Covered("NetworkPolicy", "shop"); ok || why != want {
		t.Errorf("NetworkPolicy in shop: covered=%v why=%q, want %q", ok, why, want)
	}
	if !slices.Contains(c.Coverage.Denied(), want) {
		t.Errorf("Denied() = %v, want it to hold %q", c.Coverage.Denied(), want)
	}
	for _, kind := range []string{"Pod", "Service", "EndpointSlice", "Deployment"} {
		if ok, why := c.Coverage.Covered(kind, "shop"); !ok {
			t.Errorf("%s in shop not covered: %s", kind, why)
		}
	}
	if c.Pod("shop", "cart-1") == nil || c.Pod("web", "frontend") == nil || c.Service("shop", "cart") == nil {
		t.Error("pods or service of the path missing")
	}
	if c.Pod("other", "unrelated") != nil {
		t.Error("a pod off the path was loaded")
	}
	if c.ConfigMaps[model.Key{Namespace: kubeSystem, Name: "coredns"}] == nil {
		t.Error("coredns ConfigMap missing")
	}
	if !c.Coverage.Absent("ConfigMap", kubeSystem, "kube-proxy") {
		t.Error("kube-proxy ConfigMap not marked absent")
	}
	if ok, why := c.Coverage.Covered("AdminNetworkPolicy", ""); !ok {
		t.Errorf("AdminNetworkPolicy not covered: %s", why)
	}
}

func TestLiveRequestsStayTargeted(t *testing.T) {
	tests := []struct{ name, src, dst string }{
		{"pod to service", "pod/frontend", "shop/svc/cart:8080"},
		{"deployment to name", "shop/deploy/cart", "cart.shop:8080"},
		{"pod to address", "pod/frontend", "10.0.0.7:8080"},
		{"outside to ingress", "outside", "shop/ingress/cart:80"},
		{"node to pod", "node/n1", "shop/pod/cart-1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, dyn := newFakes(fixture()...)
			load(t, cs, dyn, tt.src, tt.dst)
			for _, a := range cs.Actions() {
				res := a.GetResource().Resource
				if v := a.GetVerb(); v != "get" && v != "list" {
					t.Errorf("%s %s: only get and list are allowed", v, res)
				}
				if res == "secrets" || res == "configmaps" && a.GetVerb() != "get" {
					t.Errorf("%s %s in %q", a.GetVerb(), res, a.GetNamespace())
				}
				l, ok := a.(k8stesting.ListAction)
				if ok && res == "pods" && a.GetNamespace() == "" && l.GetListRestrictions().Fields.Empty() {
					t.Errorf("cluster-wide pod list without a field selector")
				}
			}
		})
	}
}

func TestLiveDNSName(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	c := load(t, cs, dyn, "pod/frontend", "cart.shop:8080")
	if c.Service("shop", "cart") == nil || c.Pod("shop", "cart-1") == nil {
		t.Fatal("the namespace a DNS name leads to was not read")
	}
	if ok, _ := c.Coverage.Covered("Pod", "shop"); !ok {
		t.Error("pods in shop not covered")
	}
	// The discovery list selects by name across namespaces; it covers no namespace.
	if ok, _ := c.Coverage.Covered("Service", "other"); ok {
		t.Error("Services in other marked covered by a selected list")
	}
}

func TestLiveAddressReadsAllServices(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" { // the fake ignores field selectors
			return true, &corev1.PodList{}, nil
		}
		return false, nil, nil
	})
	c := load(t, cs, dyn, "pod/frontend", "10.96.0.9:8080")
	if ok, _ := c.Coverage.Covered("Service", "other"); !ok {
		t.Error("the list of every Service not marked as covering all namespaces")
	}
	if c.Pod("shop", "cart-1") == nil {
		t.Error("the namespace of the Service holding the address was not read")
	}
}

func TestLiveGetsByNameWhenListForbidden(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	cs.PrependReactor("list", "pods", forbid("pods"))
	c := load(t, cs, dyn, "pod/frontend", "shop/svc/cart:8080")
	if c.Pod("web", "frontend") == nil {
		t.Error("source pod not read by name")
	}
	if ok, why := c.Coverage.Covered("Pod", "web"); ok || why != "list pods in web: forbidden" {
		t.Errorf("Pod in web: covered=%v why=%q", ok, why)
	}
}

func TestLiveOtherErrorsAbort(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	cs.PrependReactor("list", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	req := LiveRequest{Source: mustRef(t, "pod/frontend", "web"), Target: mustRef(t, "shop/svc/cart:80", "web")}
	_, err := loadLive(context.Background(), cs, dyn, req, time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), `list endpointslices in "`) {
		t.Fatalf("err = %v, want a wrapped endpointslices error", err)
	}
}

func TestClusterPolicyVersions(t *testing.T) {
	cnp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
		"metadata": map[string]any{"name": "old"},
	}}
	cs, dyn := newFakes(append(fixture(), cnp)...)
	dyn.PrependReactor("list", "clusternetworkpolicies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetResource().Version == "v1beta1" {
			return true, nil, apierrors.NewNotFound(a.GetResource().GroupResource(), "")
		}
		return false, nil, nil
	})
	dyn.PrependReactor("list", "adminnetworkpolicies", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(a.GetResource().GroupResource(), "")
	})
	c := load(t, cs, dyn, "pod/frontend", "shop/svc/cart:80")
	if c.ClusterNetworkPolicies["old"] == nil {
		t.Error("v1alpha2 ClusterNetworkPolicy not read when v1beta1 is not served")
	}
	if ok, why := c.Coverage.Covered("AdminNetworkPolicy", ""); !ok {
		t.Errorf("a CRD not installed should mean none exist: %s", why)
	}
}

func TestCollectPages(t *testing.T) {
	cs, _ := newFakes()
	var seen []string
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		o := a.(k8stesting.ListActionImpl).ListOptions
		seen = append(seen, o.Continue)
		if o.Limit != pageSize {
			t.Errorf("Limit = %d, want %d", o.Limit, pageSize)
		}
		if o.Continue == "" {
			return true, &corev1.PodList{ListMeta: metav1.ListMeta{Continue: "p2"}, Items: []corev1.Pod{{ObjectMeta: om("a", "1", nil)}}}, nil
		}
		return true, &corev1.PodList{Items: []corev1.Pod{{ObjectMeta: om("a", "2", nil)}}}, nil
	})
	items, err := collect(context.Background(), typedSpec(cs, "Pod"), "a", metav1.ListOptions{})
	if err != nil || len(items) != 2 || !slices.Equal(seen, []string{"", "p2"}) {
		t.Fatalf("items=%d err=%v continues=%q", len(items), err, seen)
	}
}

func TestLiveNamespaces(t *testing.T) {
	cs, dyn := newFakes(fixture()...)
	c, err := loadNamespaces(context.Background(), cs, dyn, []string{"shop", "web", "shop"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pod("shop", "cart-1") == nil || c.Pod("other", "unrelated") != nil {
		t.Error("wrong pods loaded")
	}
	if ok, _ := c.Coverage.Covered("NetworkPolicy", "shop"); !ok {
		t.Error("policies in shop not covered")
	}
	all, err := loadNamespaces(context.Background(), cs, dyn, nil, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := all.Coverage.Covered("Pod", "other"); !ok || all.Pod("other", "unrelated") == nil {
		t.Error("all namespaces not read")
	}
}

func TestLiveUnreachableServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := LiveRequest{Source: mustRef(t, "pod/frontend", "web"), Target: mustRef(t, "shop/svc/cart:80", "web")}
	_, err := Live(ctx, &rest.Config{Host: "http://127.0.0.1:1"}, req)
	if err == nil || !strings.HasPrefix(err.Error(), "list ") && !strings.HasPrefix(err.Error(), "get ") {
		t.Fatalf("err = %v, want the request that failed named", err)
	}
}

// TestLiveNetworkPlugin: the DaemonSets of the network plugin namespaces are read, by a trace and by
// the matrix, so the policy layer can tell whether NetworkPolicies are enforced.
func TestLiveNetworkPlugin(t *testing.T) {
	flannel := &appsv1.DaemonSet{ObjectMeta: om("kube-flannel", "kube-flannel-ds", nil)}
	cs, dyn := newFakes(append(fixture(), flannel)...)
	key := model.Key{Namespace: "kube-flannel", Name: "kube-flannel-ds"}
	if c := load(t, cs, dyn, "pod/frontend", "shop/svc/cart:8080"); c.DaemonSets[key] == nil {
		t.Error("trace: flannel DaemonSet not read")
	}
	c, err := loadNamespaces(context.Background(), cs, dyn, []string{"shop"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.DaemonSets[key] == nil {
		t.Error("matrix: flannel DaemonSet not read")
	}
}

// An address can be a node's, and its port a node port of a Service in any namespace:
// the namespace of that Service is read.
func TestLiveNodeAddressWithNodePort(t *testing.T) {
	objs := append(fixture(),
		&corev1.Namespace{ObjectMeta: om("", "edge", nil)},
		&corev1.Service{ObjectMeta: om("edge", "gateway", nil), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.40",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}},
		&corev1.Pod{ObjectMeta: om("edge", "gateway-1", nil)},
	)
	cs, dyn := newFakes(objs...)
	c := load(t, cs, dyn, "outside", "172.18.0.4:30080")
	if c.Service("edge", "gateway") == nil {
		t.Fatal("the NodePort Service was not read")
	}
	if ok, why := c.Coverage.Covered("Pod", "edge"); !ok {
		t.Errorf("pods of the NodePort Service's namespace not read: %s", why)
	}
}
