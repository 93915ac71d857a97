package model

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

type index struct {
	podsByNS      map[string][]*corev1.Pod
	podsByLabel   map[string]map[string][]*corev1.Pod // ns -> "k=v" -> pods
	podsByIP      map[string][]*corev1.Pod
	servicesByNS  map[string][]*corev1.Service
	servicesByIP  map[string]*corev1.Service
	servicesNamed map[string][]*corev1.Service
	slicesBySvc   map[Key][]*discoveryv1.EndpointSlice
	policiesByNS  map[string][]*networkingv1.NetworkPolicy
	eventsByObj   map[ObjKey][]*corev1.Event
	nodesByIP     map[string]*corev1.Node
}

// Index builds the lookups. Call it once after the last Add.
func (c *Cluster) Index() {
	x := index{
		podsByNS:      map[string][]*corev1.Pod{},
		podsByLabel:   map[string]map[string][]*corev1.Pod{},
		podsByIP:      map[string][]*corev1.Pod{},
		servicesByNS:  map[string][]*corev1.Service{},
		servicesByIP:  map[string]*corev1.Service{},
		servicesNamed: map[string][]*corev1.Service{},
		slicesBySvc:   map[Key][]*discoveryv1.EndpointSlice{},
		policiesByNS:  map[string][]*networkingv1.NetworkPolicy{},
		eventsByObj:   map[ObjKey][]*corev1.Event{},
		nodesByIP:     map[string]*corev1.Node{},
	}
	for _, p := range c.Pods {
		x.podsByNS[p.Namespace] = append(x.podsByNS[p.Namespace], p)
		byLabel := x.podsByLabel[p.Namespace]
		if byLabel == nil {
			byLabel = map[string][]*corev1.Pod{}
			x.podsByLabel[p.Namespace] = byLabel
		}
		for k, v := range p.Labels {
			byLabel[k+"="+v] = append(byLabel[k+"="+v], p)
		}
		for _, ip := range PodIPs(p) {
			x.podsByIP[ip] = append(x.podsByIP[ip], p)
		}
	}
	for _, pods := range x.podsByNS {
		sortPods(pods)
	}
	for _, byLabel := range x.podsByLabel {
		for _, pods := range byLabel {
			sortPods(pods)
		}
	}
	for _, pods := range x.podsByIP {
		sortPods(pods)
	}
	for _, s := range c.Services {
		x.servicesByNS[s.Namespace] = append(x.servicesByNS[s.Namespace], s)
		x.servicesNamed[s.Name] = append(x.servicesNamed[s.Name], s)
		for _, ip := range s.Spec.ClusterIPs {
			if ip != "" && ip != corev1.ClusterIPNone {
				x.servicesByIP[ip] = s
			}
		}
		if ip := s.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
			x.servicesByIP[ip] = s
		}
	}
	for _, list := range x.servicesByNS {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	for _, list := range x.servicesNamed {
		sort.Slice(list, func(i, j int) bool { return list[i].Namespace < list[j].Namespace })
	}
	for _, s := range c.EndpointSlices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := Key{s.Namespace, svc}
		x.slicesBySvc[k] = append(x.slicesBySvc[k], s)
	}
	for _, list := range x.slicesBySvc {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	for _, p := range c.NetworkPolicies {
		x.policiesByNS[p.Namespace] = append(x.policiesByNS[p.Namespace], p)
	}
	for _, list := range x.policiesByNS {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	for _, e := range c.Events {
		o := e.InvolvedObject
		k := ObjKey{o.Kind, o.Namespace, o.Name}
		x.eventsByObj[k] = append(x.eventsByObj[k], e)
	}
	for _, list := range x.eventsByObj {
		sort.SliceStable(list, func(i, j int) bool { return EventTime(list[i]).After(EventTime(list[j])) })
	}
	for _, n := range c.Nodes {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP {
				x.nodesByIP[a.Address] = n
			}
		}
	}
	c.idx = x
}

func sortPods(pods []*corev1.Pod) {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
}

// PodIPs returns every IP of a pod, the primary first.
func PodIPs(p *corev1.Pod) []string {
	var out []string
	if p.Status.PodIP != "" {
		out = append(out, p.Status.PodIP)
	}
	for _, ip := range p.Status.PodIPs {
		if ip.IP != "" && ip.IP != p.Status.PodIP {
			out = append(out, ip.IP)
		}
	}
	return out
}

// PodsIn returns the pods of a namespace sorted by name.
func (c *Cluster) PodsIn(ns string) []*corev1.Pod { return c.idx.podsByNS[ns] }

// PodNamespaces returns the namespaces that hold pods, sorted.
func (c *Cluster) PodNamespaces() []string {
	out := make([]string, 0, len(c.idx.podsByNS))
	for ns := range c.idx.podsByNS {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// PodsMatching returns the pods of ns whose labels match an equality selector (a Service selector).
// An empty selector matches nothing, as for Services.
func (c *Cluster) PodsMatching(ns string, sel map[string]string) []*corev1.Pod {
	if len(sel) == 0 {
		return nil
	}
	byLabel := c.idx.podsByLabel[ns]
	var smallest []*corev1.Pod
	first := true
	for k, v := range sel {
		list := byLabel[k+"="+v]
		if first || len(list) < len(smallest) {
			smallest, first = list, false
		}
	}
	var out []*corev1.Pod
	for _, p := range smallest {
		if labels.SelectorFromSet(sel).Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// PodsSelected returns the pods of ns that a label selector matches.
func (c *Cluster) PodsSelected(ns string, sel labels.Selector) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range c.idx.podsByNS[ns] {
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// PodsByIP returns the pods holding an IP (several when hostNetwork pods share a node IP).
func (c *Cluster) PodsByIP(ip string) []*corev1.Pod { return c.idx.podsByIP[ip] }

// Pod returns a pod by namespace and name.
func (c *Cluster) Pod(ns, name string) *corev1.Pod { return c.Pods[Key{ns, name}] }

// Service returns a Service by namespace and name.
func (c *Cluster) Service(ns, name string) *corev1.Service { return c.Services[Key{ns, name}] }

// ServicesIn returns the Services of a namespace sorted by name.
func (c *Cluster) ServicesIn(ns string) []*corev1.Service { return c.idx.servicesByNS[ns] }

// ServicesNamed returns the Services of that name in every namespace, sorted by namespace.
func (c *Cluster) ServicesNamed(name string) []*corev1.Service { return c.idx.servicesNamed[name] }

// ServiceByIP returns the Service owning a ClusterIP.
func (c *Cluster) ServiceByIP(ip string) *corev1.Service { return c.idx.servicesByIP[ip] }

// ServiceNames returns every Service name with its namespace, for suggestions.
func (c *Cluster) ServiceNames() []Key {
	out := make([]Key, 0, len(c.Services))
	for k := range c.Services {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// SlicesFor returns the EndpointSlices labelled for a Service, sorted by name.
func (c *Cluster) SlicesFor(ns, svc string) []*discoveryv1.EndpointSlice {
	return c.idx.slicesBySvc[Key{ns, svc}]
}

// SlicesIn returns every EndpointSlice of a namespace, sorted by name (manual slices lacking the label too).
func (c *Cluster) SlicesIn(ns string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for k, s := range c.EndpointSlices {
		if k.Namespace == ns {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// PoliciesIn returns the NetworkPolicies of a namespace sorted by name.
func (c *Cluster) PoliciesIn(ns string) []*networkingv1.NetworkPolicy { return c.idx.policiesByNS[ns] }

// EventsFor returns the events about an object, newest first.
func (c *Cluster) EventsFor(kind, ns, name string) []*corev1.Event {
	return c.idx.eventsByObj[ObjKey{kind, ns, name}]
}

// NodeByIP returns the node with that InternalIP or ExternalIP.
func (c *Cluster) NodeByIP(ip string) *corev1.Node { return c.idx.nodesByIP[ip] }

// NodeNames returns the names of all nodes, sorted.
func (c *Cluster) NodeNames() []string {
	out := make([]string, 0, len(c.Nodes))
	for n := range c.Nodes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Origin returns where an object came from, if it came from a file.
func (c *Cluster) Origin(kind, ns, name string) Origin { return c.Origins[ObjKey{kind, ns, name}] }

// NamespaceLabels returns the labels of a namespace, including the automatic
// kubernetes.io/metadata.name label even when the snapshot's Namespace lacks it or is absent.
func (c *Cluster) NamespaceLabels(ns string) map[string]string {
	out := map[string]string{"kubernetes.io/metadata.name": ns}
	if n := c.Namespaces[ns]; n != nil {
		for k, v := range n.Labels {
			out[k] = v
		}
	}
	return out
}

// HasNamespace says whether a namespace is known to exist (its object or any object in it).
func (c *Cluster) HasNamespace(ns string) bool {
	if _, ok := c.Namespaces[ns]; ok {
		return true
	}
	return len(c.idx.podsByNS[ns]) > 0 || len(c.idx.servicesByNS[ns]) > 0
}

// LabelString renders labels as k=v pairs sorted by key.
func LabelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
