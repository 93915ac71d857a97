package policy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
)

// classifier knows every fact any policy can look at, so pods that agree on all of them get the
// same answer for every flow: they form one class.
type classifier struct {
	m *model.Cluster
	// The label keys any namespace, pod or node selector reads, each with the values selectors
	// name: a label is kept when its value is named, reduced to "present" when not.
	nsKeys, podKeys, nodeKeys keySet
	names                     []string // port names any rule uses
	cidrs                     []string // every CIDR of an ipBlock (with its except ranges) or networks peer
	// npNamespaces hold NetworkPolicies: their pods may be selected by them, and by the bare
	// podSelectors of their rules, so namespace identity matters there.
	npNamespaces map[string]bool
	nsProjected  map[string]string
}

// keySet maps a label key to the values selectors name for it.
type keySet map[string]map[string]bool

func (k keySet) add(key string, values ...string) {
	if k[key] == nil {
		k[key] = map[string]bool{}
	}
	for _, v := range values {
		k[key][v] = true
	}
}

func (k keySet) addSelector(sel *metav1.LabelSelector) {
	if sel == nil {
		return
	}
	for key, v := range sel.MatchLabels {
		k.add(key, v)
	}
	for _, e := range sel.MatchExpressions {
		k.add(e.Key, e.Values...)
	}
}

func (k keySet) sorted() []string {
	out := make([]string, 0, len(k))
	for key := range k {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

// project renders the labels as selectors can tell them apart: a named value as itself, any
// other value as "*", an absent key not at all.
func (k keySet) project(lbls map[string]string) string {
	var parts []string
	for _, key := range k.sorted() {
		v, ok := lbls[key]
		switch {
		case !ok:
		case k[key][v]:
			parts = append(parts, key+"="+v)
		default:
			parts = append(parts, key+"=*")
		}
	}
	return strings.Join(parts, ",")
}

func newClassifier(m *model.Cluster, e *engine) *classifier {
	c := &classifier{m: m, nsKeys: keySet{}, podKeys: keySet{}, nodeKeys: keySet{},
		npNamespaces: map[string]bool{}, nsProjected: map[string]string{}}
	names, cidrs := map[string]bool{}, map[string]bool{}
	for _, p := range m.NetworkPolicies {
		c.npNamespaces[p.Namespace] = true
		c.podKeys.addSelector(&p.Spec.PodSelector)
		for _, r := range append(npRules(p, Ingress), npRules(p, Egress)...) {
			c.addNPRule(r, names, cidrs)
		}
	}
	for _, list := range [][]*clusterPolicy{e.admin, e.baseline} {
		for _, p := range list {
			c.nsKeys.addSelector(p.subjectNS)
			if p.subjectPods != nil {
				c.nsKeys.addSelector(&p.subjectPods.ns)
				c.podKeys.addSelector(&p.subjectPods.pod)
			}
			for _, r := range append(append([]clusterRule(nil), p.ingress...), p.egress...) {
				c.addClusterRule(r, names, cidrs)
			}
		}
	}
	c.names, c.cidrs = sortedSet(names), sortedSet(cidrs)
	return c
}

func (c *classifier) addNPRule(r npRule, names, cidrs map[string]bool) {
	for _, peer := range r.peers {
		c.nsKeys.addSelector(peer.NamespaceSelector)
		c.podKeys.addSelector(peer.PodSelector)
		if b := peer.IPBlock; b != nil {
			cidrs[b.CIDR] = true
			for _, ex := range b.Except {
				cidrs[ex] = true
			}
		}
	}
	for _, port := range r.ports {
		if port.Port != nil && port.Port.Type == intstr.String {
			names[port.Port.StrVal] = true
		}
	}
}

func (c *classifier) addClusterRule(r clusterRule, names, cidrs map[string]bool) {
	for _, peer := range r.peers {
		c.nsKeys.addSelector(peer.namespaces)
		if peer.pods != nil {
			c.nsKeys.addSelector(&peer.pods.ns)
			c.podKeys.addSelector(&peer.pods.pod)
		}
		c.nodeKeys.addSelector(peer.nodes)
		for _, n := range peer.networks {
			cidrs[n] = true
		}
	}
	for _, s := range r.ports {
		if s.named != "" {
			names[s.named] = true
		}
	}
}

// key is the class of a pod: everything a policy can read about it, and nothing else.
func (c *classifier) key(p *corev1.Pod) string {
	var b strings.Builder
	if c.npNamespaces[p.Namespace] {
		fmt.Fprintf(&b, "ns=%s|", p.Namespace)
	}
	nsl, ok := c.nsProjected[p.Namespace]
	if !ok {
		nsl = c.nsKeys.project(c.m.NamespaceLabels(p.Namespace))
		c.nsProjected[p.Namespace] = nsl
	}
	b.WriteString("nsl:" + nsl)
	b.WriteString("|pl:" + c.podKeys.project(p.Labels))
	ips := model.PodIPs(p)
	if isHostNetwork(p) {
		b.WriteString("|host")
		ips = []string{hostIP(c.m, p)}
		if n := c.m.NodeByIP(ips[0]); n != nil {
			b.WriteString("|node:" + c.nodeKeys.project(n.Labels))
		} else if n := c.m.Nodes[p.Spec.NodeName]; n != nil {
			b.WriteString("|node:" + c.nodeKeys.project(n.Labels))
		}
	}
	for _, ip := range ips {
		b.WriteString("|ip:")
		if strings.Contains(ip, ":") {
			b.WriteString("6")
		} else {
			b.WriteString("4")
		}
		for _, cidr := range c.cidrs {
			if inCIDR(ip, cidr) {
				b.WriteString("1")
			} else {
				b.WriteString("0")
			}
		}
	}
	for _, n := range c.names {
		b.WriteString("|port:" + n + "=" + portsNamed(p, n))
	}
	return b.String()
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func portsNamed(p *corev1.Pod, name string) string {
	var parts []string
	for _, list := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, ct := range list {
			for _, cp := range ct.Ports {
				if cp.Name == name {
					parts = append(parts, fmt.Sprintf("%d/%s", cp.ContainerPort, orTCP(cp.Protocol)))
				}
			}
		}
	}
	return strings.Join(parts, "+")
}

// shown returns the labels policies read as they tell them apart, for display: a value no
// selector names is shown as "*".
func shown(lbls map[string]string, keys keySet) map[string]string {
	out := map[string]string{}
	for k, values := range keys {
		if v, ok := lbls[k]; ok {
			if !values[v] {
				v = "*"
			}
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
