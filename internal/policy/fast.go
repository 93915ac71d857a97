package policy

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// The matrix asks for many decisions and no explanation. This file decides a flow with the same
// semantics as evaluate, without building verdicts or text; a property test keeps the two equal.

// quickSide is the outcome of one direction and the policies that decided it, named as a Cell does.
type quickSide struct {
	allowed bool
	tier    Tier
	by      []string
}

// decide returns the matrix cell of one flow.
func (e *engine) decide(f Flow) Cell {
	src, dst := resolveFlow(e.m, f)
	proto := f.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	eg := e.quick(flowCtx{dir: Egress, subject: src, remote: dst, dst: dst, port: f.Port, proto: proto})
	in := e.quick(flowCtx{dir: Ingress, subject: dst, remote: src, dst: dst, port: f.Port, proto: proto})
	return Cell{Allowed: eg.allowed && in.allowed, Egress: eg.tier, Ingress: in.tier, DecidedBy: append(eg.by, in.by...)}
}

func (e *engine) quick(c flowCtx) quickSide {
	if c.subject.pod == nil {
		return quickSide{allowed: true, tier: TierDefault}
	}
	if s, ok := e.quickCluster(e.admin, c); ok {
		return s
	}
	if s, isolated := e.quickNP(c); isolated {
		return s
	}
	if s, ok := e.quickCluster(e.baseline, c); ok {
		return s
	}
	return quickSide{allowed: true, tier: TierDefault}
}

func (e *engine) quickCluster(list []*clusterPolicy, c flowCtx) (quickSide, bool) {
	for _, p := range list {
		rules := p.rules(c.dir)
		if len(rules) == 0 || !e.selects(p, c.subject) {
			continue
		}
		for i, r := range rules {
			if !e.quickClusterRule(r, c) {
				continue
			}
			if r.action == ActionPass {
				return quickSide{}, false
			}
			by := p.ref.Kind + " " + p.ref.Name + " " + string(c.dir) + " rule " + strconv.Itoa(i)
			return quickSide{allowed: r.action == ActionAllow, tier: p.tier, by: []string{by}}, true
		}
	}
	return quickSide{}, false
}

func (e *engine) quickClusterRule(r clusterRule, c flowCtx) bool {
	if !portsMatch(r.ports, c) {
		return false
	}
	for _, peer := range r.peers {
		if e.quickClusterPeer(peer, r.action, c) {
			return true
		}
	}
	return false
}

func (e *engine) quickClusterPeer(p clusterPeer, action Action, c flowCtx) bool {
	if p.empty() {
		return action != ActionAllow
	}
	if t := c.remote.pod; t != nil {
		if p.namespaces != nil && matches(p.namespaces, e.nsLabels(t.Namespace)) {
			return true
		}
		if p.pods != nil && matches(&p.pods.ns, e.nsLabels(t.Namespace)) && matches(&p.pods.pod, t.Labels) {
			return true
		}
	}
	if p.nodes != nil && c.remote.node != nil && matches(p.nodes, c.remote.node.Labels) {
		return true
	}
	for _, n := range p.networks {
		if inCIDR(c.remote.ip, n) {
			return true
		}
	}
	return false
}

// quickNP: isolated when a policy of the subject's namespace selects it for the direction;
// then allowed when any rule of any of them matches.
func (e *engine) quickNP(c flowCtx) (quickSide, bool) {
	pod := c.subject.pod
	var isolating, allowing []string
	for _, p := range e.m.PoliciesIn(pod.Namespace) {
		if !appliesTo(p, c.dir) || !matches(&p.Spec.PodSelector, pod.Labels) {
			continue
		}
		name := "NetworkPolicy " + p.Namespace + "/" + p.Name
		isolating = append(isolating, name+" isolates "+string(c.dir))
		for i, r := range npRules(p, c.dir) {
			if e.quickNPRule(p, r, c) {
				allowing = append(allowing, name+" "+string(c.dir)+" rule "+strconv.Itoa(i))
				break
			}
		}
	}
	switch {
	case isolating == nil:
		return quickSide{}, false
	case allowing != nil:
		return quickSide{allowed: true, tier: TierNetworkPolicy, by: allowing}, true
	}
	return quickSide{tier: TierNetworkPolicy, by: isolating}, true
}

func (e *engine) quickNPRule(p *networkingv1.NetworkPolicy, r npRule, c flowCtx) bool {
	if !portsMatch(npPorts(r.ports), c) {
		return false
	}
	if len(r.peers) == 0 {
		return true
	}
	for _, peer := range r.peers {
		if e.quickNPPeer(p, peer, c) {
			return true
		}
	}
	return false
}

func (e *engine) quickNPPeer(p *networkingv1.NetworkPolicy, peer networkingv1.NetworkPolicyPeer, c flowCtx) bool {
	if b := peer.IPBlock; b != nil {
		if !inCIDR(c.remote.ip, b.CIDR) {
			return false
		}
		for _, ex := range b.Except {
			if inCIDR(c.remote.ip, ex) {
				return false
			}
		}
		return true
	}
	t := c.remote.pod
	if t == nil || (peer.PodSelector == nil && peer.NamespaceSelector == nil) {
		return false
	}
	if peer.NamespaceSelector != nil {
		if !matches(peer.NamespaceSelector, e.nsLabels(t.Namespace)) {
			return false
		}
	} else if t.Namespace != p.Namespace {
		return false
	}
	return peer.PodSelector == nil || matches(peer.PodSelector, t.Labels)
}

func portsMatch(specs []portSpec, c flowCtx) bool {
	if len(specs) == 0 {
		return true
	}
	for _, s := range specs {
		if ok, _, _ := matchPort(s, c.dst, c.port, c.proto); ok {
			return true
		}
	}
	return false
}
