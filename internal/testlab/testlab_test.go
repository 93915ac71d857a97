package testlab

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestLabShop(t *testing.T) {
	ctx := t.Context()
	objs, err := LoadObjects("testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	l := Start(ctx, t)
	t.Logf("lab started in %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	if err := l.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	t.Logf("applied %d objects in %v", len(objs), applied.Sub(began).Round(time.Millisecond))
	cs := l.Clientset

	pods := map[string]*corev1.Pod{}
	for _, name := range []string{"cart-5f7b-ready", "cart-5f7b-unready", "cart-5f7b-leaving", "report-job"} {
		p, err := cs.CoreV1().Pods("shop").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod %s: %v", name, err)
		}
		pods[name] = p
	}
	rs, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "cart-5f7b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := cs.AppsV1().Deployments("shop").Get(ctx, "cart", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("status written as in the file", func(t *testing.T) {
		p := pods["cart-5f7b-unready"]
		if p.Status.PodIP != "10.244.0.6" || p.Status.HostIP != "172.18.0.2" || p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod status = ip %q host %q phase %q", p.Status.PodIP, p.Status.HostIP, p.Status.Phase)
		}
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount != 4 {
			t.Errorf("container statuses = %+v, want one with 4 restarts", p.Status.ContainerStatuses)
		}
		if dep.Status.ReadyReplicas != 1 || dep.Status.UnavailableReplicas != 1 {
			t.Errorf("deployment status = %+v", dep.Status)
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(node.Spec.Taints) != 0 {
			t.Errorf("node taints = %v, want none (as in the file)", node.Spec.Taints)
		}
		if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != "172.18.0.2" {
			t.Errorf("node addresses = %v", node.Status.Addresses)
		}
		svc, err := cs.CoreV1().Services("shop").Get(ctx, "cart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "10.96.4.7" {
			t.Errorf("cart clusterIP = %s, want 10.96.4.7", svc.Spec.ClusterIP)
		}
		lb, err := cs.CoreV1().Services("shop").Get(ctx, "cart-public", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ing := lb.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != "203.0.113.10" || lb.Spec.Ports[0].NodePort != 31080 {
			t.Errorf("cart-public = nodePort %d, ingress %+v", lb.Spec.Ports[0].NodePort, ing)
		}
		in, err := cs.NetworkingV1().Ingresses("shop").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ing := in.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != "203.0.113.20" {
			t.Errorf("ingress status = %+v", in.Status)
		}
		gw := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
		g, err := l.Dynamic.Resource(gw).Namespace("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if addr, _, _ := unstructured.NestedSlice(g.Object, "status", "addresses"); len(addr) != 1 {
			t.Errorf("gateway status addresses = %v", addr)
		}
	})

	t.Run("controller made the slice", func(t *testing.T) {
		list, err := cs.DiscoveryV1().EndpointSlices("shop").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=cart",
		})
		if err != nil {
			t.Fatal(err)
		}
		ready, terminating := map[string]bool{}, map[string]bool{}
		for _, s := range list.Items {
			if s.Name == "cart-x7k2p" {
				t.Errorf("the snapshot's controller-made slice %s was created; the lab's controller should make its own", s.Name)
			}
			if s.Labels[managedByLabel] != sliceController {
				t.Errorf("slice %s managed by %q", s.Name, s.Labels[managedByLabel])
			}
			for _, ep := range s.Endpoints {
				if ep.TargetRef == nil || ep.Conditions.Ready == nil || ep.Conditions.Terminating == nil {
					t.Fatalf("endpoint %v lacks targetRef, ready or terminating", ep)
				}
				if want := pods[ep.TargetRef.Name]; want == nil || want.UID != ep.TargetRef.UID {
					t.Errorf("endpoint targetRef %s/%s does not name a live cart pod", ep.TargetRef.Name, ep.TargetRef.UID)
				}
				if ep.NodeName == nil || *ep.NodeName != "node-a" {
					t.Errorf("endpoint %s nodeName = %v", ep.TargetRef.Name, ep.NodeName)
				}
				ready[ep.TargetRef.Name] = *ep.Conditions.Ready
				terminating[ep.TargetRef.Name] = *ep.Conditions.Terminating
			}
		}
		want := map[string]bool{"cart-5f7b-ready": true, "cart-5f7b-unready": false, "cart-5f7b-leaving": false}
		if !maps.Equal(ready, want) {
			t.Errorf("endpoints ready = %v, want %v", ready, want)
		}
		want = map[string]bool{"cart-5f7b-ready": false, "cart-5f7b-unready": false, "cart-5f7b-leaving": true}
		if !maps.Equal(terminating, want) {
			t.Errorf("endpoints terminating = %v, want %v", terminating, want)
		}
	})

	t.Run("manual slice and CRD object created", func(t *testing.T) {
		s, err := cs.DiscoveryV1().EndpointSlices("shop").Get(ctx, "legacy-db-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Endpoints) != 1 || s.Endpoints[0].Addresses[0] != "192.168.50.9" {
			t.Errorf("legacy-db-1 endpoints = %+v", s.Endpoints)
		}
		cnp := schema.GroupVersionResource{Group: "policy.networking.k8s.io", Version: "v1beta1", Resource: "clusternetworkpolicies"}
		if _, err := l.Dynamic.Resource(cnp).Get(ctx, "deny-shop-from-dev", metav1.GetOptions{}); err != nil {
			t.Errorf("get ClusterNetworkPolicy through v1beta1: %v", err)
		}
	})

	t.Run("event points at the live pod", func(t *testing.T) {
		ev, err := cs.CoreV1().Events("shop").Get(ctx, "cart-5f7b-unready.17a1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ev.InvolvedObject.UID != pods["cart-5f7b-unready"].UID {
			t.Errorf("event involvedObject.uid = %s, want live pod UID %s", ev.InvolvedObject.UID, pods["cart-5f7b-unready"].UID)
		}
		if ev.Count != 17 || ev.Reason != "Unhealthy" || ev.Type != corev1.EventTypeWarning || ev.LastTimestamp.Year() != 2026 {
			t.Errorf("event = count %d reason %s type %s last %v", ev.Count, ev.Reason, ev.Type, ev.LastTimestamp)
		}
	})

	t.Run("owners survive the garbage collector", func(t *testing.T) {
		time.Sleep(3 * time.Second) // the collector acts within a second or two on a dangling owner
		for name, owner := range map[string]metav1.Object{"cart-5f7b-ready": rs, "cart-5f7b-unready": rs, "cart-5f7b-leaving": rs} {
			p, err := cs.CoreV1().Pods("shop").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("pod %s after 3s: %v", name, err)
			}
			refs := p.OwnerReferences
			if len(refs) != 1 || refs[0].UID != owner.GetUID() {
				t.Errorf("pod %s ownerReferences = %+v, want the live ReplicaSet %s", name, refs, owner.GetUID())
			}
		}
		if refs := rs.OwnerReferences; len(refs) != 1 || refs[0].UID != dep.UID {
			t.Errorf("replicaset ownerReferences = %+v, want the live Deployment %s", refs, dep.UID)
		}
		orphan, err := cs.CoreV1().Pods("shop").Get(ctx, "report-job", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("pod report-job after 3s: %v", err)
		}
		if len(orphan.OwnerReferences) != 0 {
			t.Errorf("report-job keeps an owner the scenario lacks: %+v", orphan.OwnerReferences)
		}
	})

	t.Run("terminating pod stays terminating", func(t *testing.T) {
		p, err := cs.CoreV1().Pods("shop").Get(ctx, "cart-5f7b-leaving", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.DeletionTimestamp == nil {
			t.Fatal("cart-5f7b-leaving has no deletionTimestamp; the file shows it terminating")
		}
		if g := p.DeletionGracePeriodSeconds; g == nil || *g != 45 {
			t.Errorf("deletionGracePeriodSeconds = %v, want 45 as in the file", g)
		}
		if !slices.Contains(p.Finalizers, "shop.example/drain") || !slices.Contains(p.Finalizers, HoldFinalizer) {
			t.Errorf("finalizers = %v, want the file's and %s", p.Finalizers, HoldFinalizer)
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP != "10.244.0.8" || !podReady(p) {
			t.Errorf("status = phase %s ip %s ready %t, want as in the file", p.Status.Phase, p.Status.PodIP, podReady(p))
		}
		for _, name := range []string{"cart-5f7b-ready", "cart-5f7b-unready", "report-job"} {
			if p := pods[name]; p.DeletionTimestamp != nil || slices.Contains(p.Finalizers, HoldFinalizer) {
				t.Errorf("pod %s is terminating or held; the file has it running", name)
			}
		}
		list, err := cs.DiscoveryV1().EndpointSlices("shop").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=cart",
		})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				if ep.TargetRef == nil || ep.TargetRef.Name != "cart-5f7b-leaving" {
					continue
				}
				found = true
				c := ep.Conditions
				if c.Terminating == nil || !*c.Terminating || c.Serving == nil || !*c.Serving || c.Ready == nil || *c.Ready {
					t.Errorf("endpoint of cart-5f7b-leaving conditions = ready %v serving %v terminating %v, want false true true",
						deref(c.Ready), deref(c.Serving), deref(c.Terminating))
				}
				if ep.TargetRef.UID != p.UID || len(ep.Addresses) != 1 || ep.Addresses[0] != "10.244.0.8" {
					t.Errorf("endpoint of cart-5f7b-leaving = %+v", ep)
				}
			}
		}
		if !found {
			t.Error("no endpoint for cart-5f7b-leaving; the controller keeps terminating pods as terminating endpoints")
		}
	})

	t.Run("terminating namespace keeps its content", func(t *testing.T) {
		ns, err := cs.CoreV1().Namespaces().Get(ctx, "shop-old", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating {
			t.Errorf("namespace shop-old = deletionTimestamp %v phase %s, want set and Terminating", ns.DeletionTimestamp, ns.Status.Phase)
		}
		// The namespace controller acts on a deleted namespace 5s after seeing it deleted.
		time.Sleep(time.Until(applied.Add(8 * time.Second)))
		p, err := cs.CoreV1().Pods("shop-old").Get(ctx, "cart-old", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("pod shop-old/cart-old: %v", err)
		}
		if p.DeletionTimestamp != nil {
			t.Errorf("pod shop-old/cart-old is being deleted; the file has it running")
		}
		list, err := cs.DiscoveryV1().EndpointSlices("shop-old").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=cart",
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := sliceEndpoints(list.Items); !slices.Equal(got, []string{"IPv4 cart-old 10.244.0.9 ready=true serving=true terminating=false"}) {
			t.Errorf("shop-old/cart endpoints = %v", got)
		}
	})

	t.Run("viewer is forbidden", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", l.Kubeconfig("viewer"))
		if err != nil {
			t.Fatal(err)
		}
		viewer, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = viewer.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("viewer list pods: err = %v, want Forbidden", err)
		}
		if _, err := viewer.Discovery().ServerVersion(); err != nil {
			t.Errorf("viewer server version (allowed to every authenticated user): %v", err)
		}
	})
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
