package source

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"reach/internal/model"
	"reach/internal/ref"
)

const kubeSystem = "kube-system"

// clusterScoped queues the cluster-scoped lists: namespaces, nodes, cluster policies and,
// for a path from outside, the classes and Gateways an outside client comes in through.
func (f *fetcher) clusterScoped(b *batch, gateway bool) {
	f.listIn(b, "", "Namespace", "Node")
	f.clusterPolicies(b)
	if gateway {
		gw := schema.GroupVersion{Group: "gateway.networking.k8s.io", Version: "v1"}
		f.listIn(b, "", "IngressClass")
		f.listTask(b, dynamicSpec(f.dyn, "GatewayClass", "gatewayclasses", gw), "", metav1.ListOptions{})
		f.listTask(b, dynamicSpec(f.dyn, "Gateway", "gateways", gw), "", metav1.ListOptions{})
		// a route in any namespace may send to the target's Service (with a ReferenceGrant)
		f.listTask(b, dynamicSpec(f.dyn, "HTTPRoute", "httproutes", gw), "", metav1.ListOptions{})
	}
}

// clusterPolicies queues AdminNetworkPolicies, BaselineAdminNetworkPolicies and
// ClusterNetworkPolicies (v1beta1, or v1alpha2 on servers that have only that).
func (f *fetcher) clusterPolicies(b *batch) {
	const group = "policy.networking.k8s.io"
	alpha1 := schema.GroupVersion{Group: group, Version: "v1alpha1"}
	f.listTask(b, dynamicSpec(f.dyn, "AdminNetworkPolicy", "adminnetworkpolicies", alpha1), "", metav1.ListOptions{})
	f.listTask(b, dynamicSpec(f.dyn, "BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", alpha1), "", metav1.ListOptions{})
	beta1 := dynamicSpec(f.dyn, "ClusterNetworkPolicy", "clusternetworkpolicies", schema.GroupVersion{Group: group, Version: "v1beta1"})
	alpha2 := dynamicSpec(f.dyn, "ClusterNetworkPolicy", "clusternetworkpolicies", schema.GroupVersion{Group: group, Version: "v1alpha2"})
	b.add("list ClusterNetworkPolicy", func(ctx context.Context) error {
		return f.listServed(ctx, "", beta1, alpha2)
	})
}

// clusterDNS queues what the dns and proxy layers read in kube-system. ConfigMaps are read
// by name only, and Secrets never.
func (f *fetcher) clusterDNS(b *batch) {
	f.listIn(b, kubeSystem, "Service", "EndpointSlice", "Pod", "DaemonSet", "Deployment", "NetworkPolicy", "Event")
	cm := typedSpec(f.cs, "ConfigMap")
	for _, name := range []string{"kube-proxy", "coredns", "cilium-config", "kubelet-config", "kubeadm-config"} {
		f.getTask(b, cm, kubeSystem, name)
	}
	f.getTask(b, typedSpec(f.cs, "ClusterRole"), "", "system:coredns")
}

// networkPlugin queues the DaemonSets of the namespaces network plugins use besides kube-system:
// the policy layer reads them to tell whether NetworkPolicies are enforced.
func (f *fetcher) networkPlugin(b *batch) {
	for _, ns := range model.PluginNamespaces {
		f.listIn(b, ns, "DaemonSet")
	}
}

// namespaceLists queues everything a path through namespace ns can touch.
func (f *fetcher) namespaceLists(b *batch, ns string, gateway bool) {
	f.listIn(b, ns, "Service", "EndpointSlice", "Pod", "NetworkPolicy", "Event",
		"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Ingress")
	if gateway {
		gwBeta := schema.GroupVersion{Group: "gateway.networking.k8s.io", Version: "v1beta1"}
		f.listTask(b, dynamicSpec(f.dyn, "ReferenceGrant", "referencegrants", gwBeta), ns, metav1.ListOptions{})
	}
}

// discover queues the requests that find where a DNS name or an address leads: Services
// named like the name's first label, or the pods and Services holding the address.
// Each is one request selected by field across namespaces.
func (f *fetcher) discover(b *batch, t ref.Ref) {
	switch t.Kind {
	case ref.DNSName:
		sel := fields.OneTermEqualSelector("metadata.name", dnsLabels(t.Name)[0]).String()
		f.listTask(b, typedSpec(f.cs, "Service"), "", metav1.ListOptions{FieldSelector: sel})
	case ref.Node:
		// a node port can belong to a Service of any namespace
		f.listTask(b, typedSpec(f.cs, "Service"), "", metav1.ListOptions{})
	case ref.Address:
		sel := fields.OneTermEqualSelector("status.podIP", t.Name).String()
		f.listTask(b, typedSpec(f.cs, "Pod"), "", metav1.ListOptions{FieldSelector: sel})
		// every Service: the address can be a ClusterIP, an external or load-balancer
		// IP (no field selects those), or a node's, with a node port of any namespace
		f.listTask(b, typedSpec(f.cs, "Service"), "", metav1.ListOptions{})
	}
}

// byName queues a get of one end when the list of its kind in its namespace was forbidden:
// a role can grant get on named objects without list. Otherwise that list already holds it.
func (f *fetcher) byName(b *batch, r ref.Ref) {
	ns := objectNamespace(r)
	if ns == "" || !f.has(opDenied, r.Kind, ns) {
		return
	}
	f.getTask(b, typedSpec(f.cs, r.Kind), ns, r.Name)
}

// listIn queues whole lists of kinds in ns ("" for cluster-scoped kinds or all namespaces).
func (f *fetcher) listIn(b *batch, ns string, kinds ...string) {
	for _, kind := range kinds {
		f.listTask(b, typedSpec(f.cs, kind), ns, metav1.ListOptions{})
	}
}

func (f *fetcher) listTask(b *batch, s kindSpec, ns string, o metav1.ListOptions) {
	key := "list " + s.kind + " " + ns + " " + o.LabelSelector + " " + o.FieldSelector
	b.add(key, func(ctx context.Context) error { return f.list(ctx, s, ns, o) })
}

func (f *fetcher) getTask(b *batch, s kindSpec, ns, name string) {
	b.add("get "+s.kind+" "+ns+" "+name, func(ctx context.Context) error { return f.get(ctx, s, ns, name) })
}
