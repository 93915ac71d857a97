package testlab

import (
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
	t.Logf("applied %d objects in %v", len(objs), time.Since(began).Round(time.Millisecond))
	cs := l.Clientset

	pods := map[string]*corev1.Pod{}
	for _, name := range []string{"cart-5f7b-ready", "cart-5f7b-unready", "report-job"} {
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
		ready := map[string]bool{}
		for _, s := range list.Items {
			if s.Name == "cart-x7k2p" {
				t.Errorf("the snapshot's controller-made slice %s was created; the lab's controller should make its own", s.Name)
			}
			if s.Labels[managedByLabel] != sliceController {
				t.Errorf("slice %s managed by %q", s.Name, s.Labels[managedByLabel])
			}
			for _, ep := range s.Endpoints {
				if ep.TargetRef == nil || ep.Conditions.Ready == nil {
					t.Fatalf("endpoint %v lacks targetRef or ready", ep)
				}
				if want := pods[ep.TargetRef.Name]; want == nil || want.UID != ep.TargetRef.UID {
					t.Errorf("endpoint targetRef %s/%s does not name a live cart pod", ep.TargetRef.Name, ep.TargetRef.UID)
				}
				if ep.NodeName == nil || *ep.NodeName != "node-a" {
					t.Errorf("endpoint %s nodeName = %v", ep.TargetRef.Name, ep.NodeName)
				}
				ready[ep.TargetRef.Name] = *ep.Conditions.Ready
			}
		}
		want := map[string]bool{"cart-5f7b-ready": true, "cart-5f7b-unready": false}
		if len(ready) != len(want) || ready["cart-5f7b-ready"] != true || ready["cart-5f7b-unready"] != false {
			t.Errorf("endpoints ready = %v, want %v", ready, want)
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
		for name, owner := range map[string]metav1.Object{"cart-5f7b-ready": rs, "cart-5f7b-unready": rs} {
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
