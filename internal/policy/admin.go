package policy

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"reach/internal/model"
	"reach/internal/report"
)

// clusterPolicy is a ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy in one shape.
type clusterPolicy struct {
	ref         report.ObjectRef
	tier        Tier
	priority    int32
	hasPriority bool
	subjectNS   *metav1.LabelSelector
	subjectPods *podSel
	ingress     []clusterRule
	egress      []clusterRule
}

type podSel struct{ ns, pod metav1.LabelSelector }

type clusterRule struct {
	name   string
	action Action
	peers  []clusterPeer
	// ports: nil matches every port.
	ports []portSpec
}

type clusterPeer struct {
	namespaces *metav1.LabelSelector
	pods       *podSel
	nodes      *metav1.LabelSelector
	networks   []string
	domains    []string
}

func (p clusterPeer) empty() bool {
	return p.namespaces == nil && p.pods == nil && p.nodes == nil && len(p.networks) == 0 && len(p.domains) == 0
}

func (p *clusterPolicy) rules(dir Direction) []clusterRule {
	if dir == Ingress {
		return p.ingress
	}
	return p.egress
}

// clusterPolicies returns the Admin-tier and Baseline-tier policies in evaluation order: by
// priority, ClusterNetworkPolicy before the older kinds at equal priority, then by name.
func clusterPolicies(m *model.Cluster) (admin, baseline []*clusterPolicy) {
	for _, p := range m.ClusterNetworkPolicies {
		c := fromCNP(p)
		if c.tier == TierAdmin {
			admin = append(admin, c)
		} else {
			baseline = append(baseline, c)
		}
	}
	for _, p := range m.AdminNetworkPolicies {
		admin = append(admin, fromANP(p))
	}
	for _, p := range m.BaselineAdminNetworkPolicies {
		baseline = append(baseline, fromBANP(p))
	}
	sortPolicies(admin)
	sortPolicies(baseline)
	return admin, baseline
}

var kindOrder = map[string]int{"ClusterNetworkPolicy": 0, "AdminNetworkPolicy": 1, "BaselineAdminNetworkPolicy": 2}

func sortPolicies(list []*clusterPolicy) {
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.hasPriority != b.hasPriority {
			return a.hasPriority
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		if a.ref.Kind != b.ref.Kind {
			return kindOrder[a.ref.Kind] < kindOrder[b.ref.Kind]
		}
		return a.ref.Name < b.ref.Name
	})
}

func fromCNP(p *cnpv1beta1.ClusterNetworkPolicy) *clusterPolicy {
	c := &clusterPolicy{ref: ref("ClusterNetworkPolicy", "", p.Name), tier: TierAdmin, priority: p.Spec.Priority, hasPriority: true,
		subjectNS: p.Spec.Subject.Namespaces}
	if p.Spec.Tier == cnpv1beta1.BaselineTier {
		c.tier = TierBaseline
	}
	if s := p.Spec.Subject.Pods; s != nil {
		c.subjectPods = &podSel{s.NamespaceSelector, s.PodSelector}
	}
	for _, r := range p.Spec.Ingress {
		rule := clusterRule{name: r.Name, action: cnpAction(r.Action), ports: cnpPorts(r.Protocols)}
		for _, peer := range r.From {
			rule.peers = append(rule.peers, clusterPeer{namespaces: peer.Namespaces, pods: cnpPods(peer.Pods)})
		}
		c.ingress = append(c.ingress, rule)
	}
	for _, r := range p.Spec.Egress {
		rule := clusterRule{name: r.Name, action: cnpAction(r.Action), ports: cnpPorts(r.Protocols)}
		for _, peer := range r.To {
			rule.peers = append(rule.peers, clusterPeer{namespaces: peer.Namespaces, pods: cnpPods(peer.Pods), nodes: peer.Nodes,
				networks: strs(peer.Networks), domains: strs(peer.DomainNames)})
		}
		c.egress = append(c.egress, rule)
	}
	return c
}

func cnpPods(p *cnpv1beta1.NamespacedPod) *podSel {
	if p == nil {
		return nil
	}
	return &podSel{p.NamespaceSelector, p.PodSelector}
}

func cnpAction(a cnpv1beta1.ClusterNetworkPolicyRuleAction) Action {
	switch a {
	case cnpv1beta1.ClusterNetworkPolicyRuleActionAccept:
		return ActionAllow
	case cnpv1beta1.ClusterNetworkPolicyRuleActionPass:
		return ActionPass
	}
	return ActionDeny
}

func cnpPorts(list []cnpv1beta1.ClusterNetworkPolicyProtocol) []portSpec {
	if len(list) == 0 {
		return nil
	}
	out := []portSpec{}
	add := func(proto corev1.Protocol, dp *cnpv1beta1.Port) {
		s := portSpec{protocol: proto}
		switch {
		case dp == nil:
		case dp.Range != nil:
			s.start, s.end = dp.Range.Start, dp.Range.End
		default:
			s.start, s.end = dp.Number, dp.Number
		}
		out = append(out, s)
	}
	for _, p := range list {
		switch {
		case p.TCP != nil:
			add(corev1.ProtocolTCP, p.TCP.DestinationPort)
		case p.UDP != nil:
			add(corev1.ProtocolUDP, p.UDP.DestinationPort)
		case p.SCTP != nil:
			add(corev1.ProtocolSCTP, p.SCTP.DestinationPort)
		case p.DestinationNamedPort != "":
			out = append(out, portSpec{named: p.DestinationNamedPort})
		}
	}
	return out
}

func fromANP(p *anpv1alpha1.AdminNetworkPolicy) *clusterPolicy {
	c := &clusterPolicy{ref: ref("AdminNetworkPolicy", "", p.Name), tier: TierAdmin, priority: p.Spec.Priority, hasPriority: true}
	anpSubject(c, p.Spec.Subject)
	for _, r := range p.Spec.Ingress {
		c.ingress = append(c.ingress, clusterRule{name: r.Name, action: anpAction(string(r.Action)), ports: anpPorts(r.Ports), peers: anpIngressPeers(r.From)})
	}
	for _, r := range p.Spec.Egress {
		rule := clusterRule{name: r.Name, action: anpAction(string(r.Action)), ports: anpPorts(r.Ports)}
		for _, peer := range r.To {
			rule.peers = append(rule.peers, clusterPeer{namespaces: peer.Namespaces, pods: anpPods(peer.Pods), nodes: peer.Nodes,
				networks: strs(peer.Networks), domains: strs(peer.DomainNames)})
		}
		c.egress = append(c.egress, rule)
	}
	return c
}

func fromBANP(p *anpv1alpha1.BaselineAdminNetworkPolicy) *clusterPolicy {
	c := &clusterPolicy{ref: ref("BaselineAdminNetworkPolicy", "", p.Name), tier: TierBaseline}
	anpSubject(c, p.Spec.Subject)
	for _, r := range p.Spec.Ingress {
		c.ingress = append(c.ingress, clusterRule{name: r.Name, action: anpAction(string(r.Action)), ports: anpPorts(r.Ports), peers: anpIngressPeers(r.From)})
	}
	for _, r := range p.Spec.Egress {
		rule := clusterRule{name: r.Name, action: anpAction(string(r.Action)), ports: anpPorts(r.Ports)}
		for _, peer := range r.To {
			cp := clusterPeer{namespaces: peer.Namespaces, pods: anpPods(peer.Pods), nodes: peer.Nodes}
			for _, n := range peer.Networks {
				cp.networks = append(cp.networks, string(n))
			}
			rule.peers = append(rule.peers, cp)
		}
		c.egress = append(c.egress, rule)
	}
	return c
}

func anpSubject(c *clusterPolicy, s anpv1alpha1.AdminNetworkPolicySubject) {
	c.subjectNS = s.Namespaces
	if s.Pods != nil {
		c.subjectPods = &podSel{s.Pods.NamespaceSelector, s.Pods.PodSelector}
	}
}

func anpIngressPeers(from []anpv1alpha1.AdminNetworkPolicyIngressPeer) []clusterPeer {
	out := make([]clusterPeer, 0, len(from))
	for _, peer := range from {
		out = append(out, clusterPeer{namespaces: peer.Namespaces, pods: anpPods(peer.Pods)})
	}
	return out
}

func anpPods(p *anpv1alpha1.NamespacedPod) *podSel {
	if p == nil {
		return nil
	}
	return &podSel{p.NamespaceSelector, p.PodSelector}
}

func anpAction(a string) Action {
	switch a {
	case "Allow", "Accept":
		return ActionAllow
	case "Pass":
		return ActionPass
	}
	return ActionDeny
}

// anpPorts converts the v1alpha1 port list; nil matches every port and protocols default to TCP.
func anpPorts(ports *[]anpv1alpha1.AdminNetworkPolicyPort) []portSpec {
	if ports == nil {
		return nil
	}
	out := []portSpec{}
	for _, p := range *ports {
		switch {
		case p.PortNumber != nil:
			out = append(out, portSpec{protocol: orTCP(p.PortNumber.Protocol), start: p.PortNumber.Port, end: p.PortNumber.Port})
		case p.PortRange != nil:
			out = append(out, portSpec{protocol: orTCP(p.PortRange.Protocol), start: p.PortRange.Start, end: p.PortRange.End})
		case p.NamedPort != nil:
			out = append(out, portSpec{named: *p.NamedPort})
		}
	}
	return out
}

func orTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// strs converts the string-typed values of the policy APIs (CIDRs, domain names).
func strs[T ~string](in []T) []string {
	var out []string
	for _, v := range in {
		out = append(out, string(v))
	}
	return out
}
