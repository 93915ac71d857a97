package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"

	"reach/internal/model"
)

// gen builds random small clusters from a small vocabulary, so selectors often match.
type gen struct{ r *rand.Rand }

var (
	vocabKeys   = []string{"app", "tier", "team"}
	vocabValues = []string{"a", "b", "c"}
	vocabNS     = []string{"n1", "n2", "n3"}
	vocabPorts  = []int32{53, 80, 443, 8080}
	vocabNames  = []string{"http", "dns", "metrics"}
	vocabProtos = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
)

func (g gen) pickS(list []string) string { return list[g.r.IntN(len(list))] }

func (g gen) labels(max int) map[string]string {
	out := map[string]string{}
	for i := g.r.IntN(max + 1); i > 0; i-- {
		out[g.pickS(vocabKeys)] = g.pickS(vocabValues)
	}
	return out
}

func (g gen) selector() *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	if g.r.IntN(3) == 0 {
		return s
	}
	if g.r.IntN(2) == 0 {
		s.MatchLabels = map[string]string{g.pickS(vocabKeys): g.pickS(vocabValues)}
	}
	if g.r.IntN(2) == 0 {
		ops := []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
		op := ops[g.r.IntN(len(ops))]
		e := metav1.LabelSelectorRequirement{Key: g.pickS(vocabKeys), Operator: op}
		if op == metav1.LabelSelectorOpIn || op == metav1.LabelSelectorOpNotIn {
			e.Values = []string{g.pickS(vocabValues), g.pickS(vocabValues)}
		}
		s.MatchExpressions = []metav1.LabelSelectorRequirement{e}
	}
	return s
}

func (g gen) nsSelector() *metav1.LabelSelector {
	if g.r.IntN(3) == 0 {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": g.pickS(vocabNS)}}
	}
	return g.selector()
}

func (g gen) objects(n int) []runtime.Object {
	var out []runtime.Object
	for _, ns := range vocabNS {
		out = append(out, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: g.labels(2)}})
	}
	out = append(out, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node", Labels: g.labels(1)},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}}})
	for i := 0; i < n; i++ {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: g.pickS(vocabNS), Labels: g.labels(2)},
			Spec: corev1.PodSpec{NodeName: "node", Containers: []corev1.Container{{Name: "c"}}}}
		for _, name := range vocabNames {
			if g.r.IntN(2) == 0 {
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{
					Name: name, ContainerPort: vocabPorts[g.r.IntN(len(vocabPorts))], Protocol: vocabProtos[g.r.IntN(2)]})
			}
		}
		ip := fmt.Sprintf("10.1.%d.%d", g.r.IntN(2), 10+i)
		if g.r.IntN(8) == 0 {
			p.Spec.HostNetwork, ip = true, "10.0.0.1"
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, HostIP: "10.0.0.1", PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
		out = append(out, p)
	}
	return out
}

func (g gen) npPorts() []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for i := g.r.IntN(3); i > 0; i-- {
		proto := vocabProtos[g.r.IntN(len(vocabProtos))]
		p := networkingv1.NetworkPolicyPort{Protocol: &proto}
		switch g.r.IntN(4) {
		case 0:
			v := intstr.FromString(g.pickS(vocabNames))
			p.Port = &v
		case 1:
			v := intstr.FromInt32(vocabPorts[g.r.IntN(len(vocabPorts))])
			p.Port = &v
			if g.r.IntN(2) == 0 {
				end := v.IntVal + int32(g.r.IntN(500))
				p.EndPort = &end
			}
		}
		out = append(out, p)
	}
	return out
}

func (g gen) npPeers() []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for i := g.r.IntN(3); i > 0; i-- {
		var p networkingv1.NetworkPolicyPeer
		switch g.r.IntN(4) {
		case 0:
			p.PodSelector = g.selector()
		case 1:
			p.NamespaceSelector = g.nsSelector()
		case 2:
			p.PodSelector, p.NamespaceSelector = g.selector(), g.nsSelector()
		default:
			p.IPBlock = &networkingv1.IPBlock{CIDR: fmt.Sprintf("10.1.%d.0/24", g.r.IntN(2))}
			if g.r.IntN(2) == 0 {
				p.IPBlock.Except = []string{fmt.Sprintf("10.1.%d.%d/30", g.r.IntN(2), 8+4*g.r.IntN(3))}
			}
		}
		out = append(out, p)
	}
	return out
}

func (g gen) networkPolicy(i int) *networkingv1.NetworkPolicy {
	p := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("np%d", i), Namespace: g.pickS(vocabNS)}}
	p.Spec.PodSelector = *g.selector()
	switch g.r.IntN(4) {
	case 0:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	case 1:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	case 2:
		p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	}
	for k := g.r.IntN(3); k > 0; k-- {
		p.Spec.Ingress = append(p.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.npPeers(), Ports: g.npPorts()})
	}
	for k := g.r.IntN(3); k > 0; k-- {
		p.Spec.Egress = append(p.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.npPeers(), Ports: g.npPorts()})
	}
	return p
}

func (g gen) cnpAction() cnpv1beta1.ClusterNetworkPolicyRuleAction {
	return []cnpv1beta1.ClusterNetworkPolicyRuleAction{"Accept", "Deny", "Pass"}[g.r.IntN(3)]
}

func (g gen) cnpProtocols() []cnpv1beta1.ClusterNetworkPolicyProtocol {
	var out []cnpv1beta1.ClusterNetworkPolicyProtocol
	for i := g.r.IntN(3); i > 0; i-- {
		port := &cnpv1beta1.Port{Number: vocabPorts[g.r.IntN(len(vocabPorts))]}
		if g.r.IntN(2) == 0 {
			port = &cnpv1beta1.Port{Range: &cnpv1beta1.PortRange{Start: 50, End: int32(100 + g.r.IntN(9000))}}
		}
		switch g.r.IntN(4) {
		case 0:
			out = append(out, cnpv1beta1.ClusterNetworkPolicyProtocol{TCP: &cnpv1beta1.ClusterNetworkPolicyProtocolTCP{DestinationPort: port}})
		case 1:
			out = append(out, cnpv1beta1.ClusterNetworkPolicyProtocol{UDP: &cnpv1beta1.ClusterNetworkPolicyProtocolUDP{DestinationPort: port}})
		case 2:
			out = append(out, cnpv1beta1.ClusterNetworkPolicyProtocol{DestinationNamedPort: g.pickS(vocabNames)})
		default:
			out = append(out, cnpv1beta1.ClusterNetworkPolicyProtocol{TCP: &cnpv1beta1.ClusterNetworkPolicyProtocolTCP{}})
		}
	}
	return out
}

func (g gen) cnp(i int) *cnpv1beta1.ClusterNetworkPolicy {
	p := &cnpv1beta1.ClusterNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cnp%d", i)}}
	p.Spec.Tier = []cnpv1beta1.Tier{cnpv1beta1.AdminTier, cnpv1beta1.BaselineTier}[g.r.IntN(2)]
	p.Spec.Priority = int32(g.r.IntN(5))
	if g.r.IntN(2) == 0 {
		p.Spec.Subject.Namespaces = g.nsSelector()
	} else {
		p.Spec.Subject.Pods = &cnpv1beta1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.selector()}
	}
	for k := g.r.IntN(3); k > 0; k-- {
		r := cnpv1beta1.ClusterNetworkPolicyIngressRule{Action: g.cnpAction(), Protocols: g.cnpProtocols()}
		r.From = []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: g.nsSelector()}}
		if g.r.IntN(2) == 0 {
			r.From = []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Pods: &cnpv1beta1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.selector()}}}
		}
		p.Spec.Ingress = append(p.Spec.Ingress, r)
	}
	for k := g.r.IntN(3); k > 0; k-- {
		r := cnpv1beta1.ClusterNetworkPolicyEgressRule{Action: g.cnpAction(), Protocols: g.cnpProtocols()}
		switch g.r.IntN(4) {
		case 0:
			r.To = []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Namespaces: g.nsSelector()}}
		case 1:
			r.To = []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Pods: &cnpv1beta1.NamespacedPod{NamespaceSelector: *g.nsSelector(), PodSelector: *g.selector()}}}
		case 2:
			r.To = []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Networks: []cnpv1beta1.CIDR{cnpv1beta1.CIDR(fmt.Sprintf("10.1.%d.0/25", g.r.IntN(2)))}}}
		default:
			r.To = []cnpv1beta1.ClusterNetworkPolicyEgressPeer{{Nodes: g.selector()}}
		}
		p.Spec.Egress = append(p.Spec.Egress, r)
	}
	return p
}

func (g gen) cluster(pods, nps, cnps int) (*model.Cluster, []runtime.Object) {
	objs := g.objects(pods)
	for i := 0; i < nps; i++ {
		objs = append(objs, g.networkPolicy(i))
	}
	for i := 0; i < cnps; i++ {
		objs = append(objs, g.cnp(i))
	}
	return build(objs), objs
}

func build(objs []runtime.Object) *model.Cluster {
	m := model.New()
	for _, o := range objs {
		if _, err := m.Add(o.DeepCopyObject(), model.Origin{}); err != nil {
			panic(err)
		}
	}
	m.Index()
	return m
}

type probeSpec struct {
	port  int32
	proto corev1.Protocol
}

var probeSpecs = []probeSpec{{80, corev1.ProtocolTCP}, {8080, corev1.ProtocolTCP}, {53, corev1.ProtocolUDP}, {443, corev1.ProtocolSCTP}}

// reach evaluates every ordered pair of pods on one port.
func reach(m *model.Cluster, ps probeSpec) map[string]bool {
	out := map[string]bool{}
	pods := matrixPods(m, nil)
	e := newEngine(m, false)
	for _, a := range pods {
		for _, b := range pods {
			d := e.evaluate(Flow{From: Peer{Pod: a}, To: Peer{Pod: b}, Port: ps.port, Protocol: ps.proto})
			out[podKey(a)+">"+podKey(b)] = d.Allowed
		}
	}
	return out
}

func TestPropertyClassesMatchPods(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		g := gen{rand.New(rand.NewPCG(seed, 7))}
		m, _ := g.cluster(9, 1+g.r.IntN(4), g.r.IntN(3))
		for _, ps := range probeSpecs {
			want := reach(m, ps)
			res := Matrix(m, MatrixRequest{Port: ps.port, Protocol: ps.proto})
			for _, a := range matrixPods(m, nil) {
				for _, b := range matrixPods(m, nil) {
					c, ok := res.Cell(a, b)
					if !ok {
						t.Fatalf("seed %d: %s or %s missing from the matrix", seed, podKey(a), podKey(b))
					}
					if c.Allowed != want[podKey(a)+">"+podKey(b)] {
						t.Fatalf("seed %d %d/%s: class answer %v differs from pod answer for %s -> %s", seed, ps.port, ps.proto, c.Allowed, podKey(a), podKey(b))
					}
				}
			}
		}
	}
}

func TestPropertyAddingAllowRuleKeepsReachability(t *testing.T) {
	for seed := uint64(1); seed <= 150; seed++ {
		g := gen{rand.New(rand.NewPCG(seed, 11))}
		_, objs := g.cluster(8, 1+g.r.IntN(4), g.r.IntN(3))
		before := build(objs)
		grown := make([]runtime.Object, 0, len(objs))
		for _, o := range objs {
			grown = append(grown, o.DeepCopyObject())
		}
		g.addAllow(grown)
		after := build(grown)
		for _, ps := range probeSpecs {
			b, a := reach(before, ps), reach(after, ps)
			for pair, ok := range b {
				if ok && !a[pair] {
					t.Fatalf("seed %d %d/%s: adding an allow rule removed %s", seed, ps.port, ps.proto, pair)
				}
			}
		}
	}
}

// addAllow adds one allow rule: to a NetworkPolicy in a direction it already isolates, or an
// Accept rule at a random place of a cluster policy.
func (g gen) addAllow(objs []runtime.Object) {
	for _, i := range g.r.Perm(len(objs)) {
		switch o := objs[i].(type) {
		case *networkingv1.NetworkPolicy:
			if appliesTo(o, Ingress) && g.r.IntN(2) == 0 {
				o.Spec.Ingress = append(o.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: g.npPeers(), Ports: g.npPorts()})
				return
			}
			if appliesTo(o, Egress) {
				o.Spec.PolicyTypes = explicitTypes(o)
				o.Spec.Egress = append(o.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: g.npPeers(), Ports: g.npPorts()})
				return
			}
		case *cnpv1beta1.ClusterNetworkPolicy:
			r := cnpv1beta1.ClusterNetworkPolicyIngressRule{Action: "Accept", Protocols: g.cnpProtocols(),
				From: []cnpv1beta1.ClusterNetworkPolicyIngressPeer{{Namespaces: g.nsSelector()}}}
			at := g.r.IntN(len(o.Spec.Ingress) + 1)
			o.Spec.Ingress = append(o.Spec.Ingress[:at], append([]cnpv1beta1.ClusterNetworkPolicyIngressRule{r}, o.Spec.Ingress[at:]...)...)
			return
		}
	}
}

// explicitTypes spells out the policy types a policy has, so adding rules does not change them.
func explicitTypes(p *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	var out []networkingv1.PolicyType
	if appliesTo(p, Ingress) {
		out = append(out, networkingv1.PolicyTypeIngress)
	}
	if appliesTo(p, Egress) {
		out = append(out, networkingv1.PolicyTypeEgress)
	}
	return out
}

func TestPropertyPolicySelectingNoPodChangesNothing(t *testing.T) {
	nobody := metav1.LabelSelector{MatchLabels: map[string]string{"no-such-key": "x"}}
	for seed := uint64(1); seed <= 100; seed++ {
		g := gen{rand.New(rand.NewPCG(seed, 13))}
		_, objs := g.cluster(8, g.r.IntN(3), g.r.IntN(2))
		before := build(objs)
		np := g.networkPolicy(99)
		np.Spec.PodSelector = nobody
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		cnp := g.cnp(99)
		cnp.Spec.Subject = cnpv1beta1.ClusterNetworkPolicySubject{Pods: &cnpv1beta1.NamespacedPod{PodSelector: nobody}}
		anp := &anpv1alpha1.AdminNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "nobody"},
			Spec: anpv1alpha1.AdminNetworkPolicySpec{Subject: anpv1alpha1.AdminNetworkPolicySubject{Namespaces: &nobody},
				Ingress: []anpv1alpha1.AdminNetworkPolicyIngressRule{{Action: "Deny", From: []anpv1alpha1.AdminNetworkPolicyIngressPeer{{Namespaces: &metav1.LabelSelector{}}}}}}}
		after := build(append(append([]runtime.Object(nil), objs...), np, cnp, anp))
		for _, ps := range probeSpecs {
			b, a := reach(before, ps), reach(after, ps)
			for pair, ok := range b {
				if ok != a[pair] {
					t.Fatalf("seed %d %d/%s: a policy selecting no pod changed %s", seed, ps.port, ps.proto, pair)
				}
			}
		}
	}
}

// TestPropertyQuickMatchesExplained keeps the matrix's fast decision equal to the explained one.
func TestPropertyQuickMatchesExplained(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		g := gen{rand.New(rand.NewPCG(seed, 17))}
		m, _ := g.cluster(8, 1+g.r.IntN(4), g.r.IntN(4))
		e := newEngine(m, false)
		pods := matrixPods(m, nil)
		for _, ps := range probeSpecs {
			for _, a := range pods {
				for _, b := range pods {
					f := Flow{From: Peer{Pod: a}, To: Peer{Pod: b}, Port: ps.port, Protocol: ps.proto}
					want := cellOf(e.evaluate(f))
					if got := e.decide(f); !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d %s -> %s %d/%s: quick %+v, explained %+v", seed, podKey(a), podKey(b), ps.port, ps.proto, got, want)
					}
				}
			}
		}
	}
}
