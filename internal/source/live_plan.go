package source

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"reach/internal/model"
	"reach/internal/ref"
)

// sourceNamespace is the namespace whose pods can be the client, "" for a node or outside.
func sourceNamespace(r ref.Ref) string {
	if r.Kind == ref.Pod || r.IsWorkload() {
		return r.Namespace
	}
	return ""
}

// objectNamespace is the namespace of a reference that names a namespaced object, "" otherwise.
func objectNamespace(r ref.Ref) string {
	switch r.Kind {
	case ref.Pod, ref.Deployment, ref.StatefulSet, ref.DaemonSet, ref.Service, ref.Ingress:
		return r.Namespace
	}
	return ""
}

// found is what the first round of requests saw that decides where a name or address points.
type found struct {
	namespaces map[string]bool // nil when the namespaces could not be listed
	services   []*corev1.Service
	pods       []*corev1.Pod
}

// targetNamespaces are the namespaces a target can lead to, sorted.
func targetNamespaces(t ref.Ref, srcNS string, f found) []string {
	set := map[string]bool{}
	switch t.Kind {
	case ref.DNSName:
		dnsNamespaces(t.Name, srcNS, f, set)
	case ref.Address:
		addressNamespaces(t.Name, f, set)
		// the address may be a node's, and the port a node port
		nodePortNamespaces(t.Port, f, set)
	case ref.Node:
		nodePortNamespaces(t.Port, f, set)
	default:
		if ns := objectNamespace(t); ns != "" {
			set[ns] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// nodePortNamespaces adds the namespaces of Services with a node port of that number.
func nodePortNamespaces(port int32, f found, set map[string]bool) {
	for _, s := range f.services {
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 && p.NodePort == port {
				set[s.Namespace] = true
			}
		}
	}
}

// dnsNamespaces: the client's own namespace (the first search domain), the namespaces of
// Services named like the first label, and a label in the namespace position when that namespace exists.
func dnsNamespaces(name, srcNS string, f found, set map[string]bool) {
	if srcNS != "" {
		set[srcNS] = true
	}
	labels := dnsLabels(name)
	for _, s := range f.services {
		if s.Name == labels[0] {
			set[s.Namespace] = true
		}
	}
	for _, ns := range namespaceLabels(labels) {
		if f.namespaces[ns] || f.namespaces == nil && clusterForm(labels) {
			set[ns] = true
		}
	}
}

func dnsLabels(name string) []string {
	return strings.Split(strings.ToLower(strings.TrimSuffix(name, ".")), ".")
}

// namespaceLabels are the labels that can name a namespace: the second (svc.ns), and the one
// before "svc" (pod-0.svc.ns.svc.cluster.local).
func namespaceLabels(labels []string) []string {
	var out []string
	if len(labels) >= 2 {
		out = append(out, labels[1])
	}
	for i := 2; i < len(labels); i++ {
		if labels[i] == "svc" {
			out = append(out, labels[i-1])
		}
	}
	return slices.DeleteFunc(out, func(ns string) bool { return len(validation.IsDNS1123Label(ns)) > 0 })
}

// clusterForm says whether a name reads as a cluster name (svc.ns or …svc…) rather than an
// outside one, to guess its namespace when the namespaces could not be listed.
func clusterForm(labels []string) bool {
	return len(labels) == 2 || slices.Contains(labels[2:], "svc")
}

func addressNamespaces(ip string, f found, set map[string]bool) {
	for _, s := range f.services {
		if s.Spec.ClusterIP == ip || slices.Contains(s.Spec.ClusterIPs, ip) || slices.Contains(s.Spec.ExternalIPs, ip) {
			set[s.Namespace] = true
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP == ip {
				set[s.Namespace] = true
			}
		}
	}
	for _, p := range f.pods {
		if slices.Contains(model.PodIPs(p), ip) {
			set[p.Namespace] = true
		}
	}
}

// found gathers what the first round read, for targetNamespaces.
func (f *fetcher) found() found {
	var out found
	if f.has(opListed, "Namespace", "") {
		out.namespaces = map[string]bool{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, obj := range f.objs {
		switch o := obj.(type) {
		case *corev1.Namespace:
			if out.namespaces != nil {
				out.namespaces[k.Name] = true
			}
		case *corev1.Service:
			out.services = append(out.services, o)
		case *corev1.Pod:
			out.pods = append(out.pods, o)
		}
	}
	return out
}
