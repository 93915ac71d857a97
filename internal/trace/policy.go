package trace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/policy"
	"reach/internal/ref"
	"reach/internal/report"
)

// outsideIP stands for a client outside the cluster, externalIP for a destination outside it
// whose address the model cannot know (documentation addresses, RFC 5737).
const (
	outsideIP  = "203.0.113.10"
	externalIP = "198.51.100.10"
)

// checkPolicy: NetworkPolicies and cluster policies on the client's egress (including to DNS) and the
// backends' ingress, evaluated after DNAT: client -> each backend pod IP on its targetPort.
func (r *run) checkPolicy() {
	mark := r.begin()
	dests := r.policyDestinations()
	if r.svc != nil && r.svc.Spec.Type == corev1.ServiceTypeExternalName {
		r.end(mark, report.LayerPolicy, report.StatusSkip, "ExternalName Service: the destination is outside the cluster")
		return
	}
	if len(dests) == 0 && !r.usesClusterDNS() {
		r.end(mark, report.LayerPolicy, report.StatusSkip, "no pod on the path to evaluate policies for")
		return
	}
	if why := r.policyBlind(dests); why != "" {
		r.end(mark, report.LayerPolicy, report.StatusUnknown, "cannot see the policies: "+why)
		return
	}
	enforced, note := policy.EnforcedNote(r.m)
	var details []string
	dnsOK := r.checkDNSEgress(&details)
	allowed, denied := r.checkFlows(dests, &details)
	external := r.externalEgress(&details)
	if !enforced {
		r.softenPolicyFindings(mark, note)
	}
	summary := r.policySummary(dests, allowed, denied, dnsOK)
	if st := r.statusOf(mark); st != report.StatusFail && external == report.StatusUnknown {
		r.end(mark, report.LayerPolicy, report.StatusUnknown, "the client is isolated for egress and the external address is not known: "+summary, details...)
		return
	}
	r.endAuto(mark, report.LayerPolicy, summary, details...)
}

// policyDestinations are the pods traffic lands on: ready backends, else every backend, else the pod addressed.
func (r *run) policyDestinations() []*corev1.Pod {
	switch {
	case r.targetPod != nil:
		return []*corev1.Pod{r.targetPod}
	case len(r.ready) > 0:
		return r.ready
	}
	return r.backends
}

func (r *run) usesClusterDNS() bool {
	return r.client != nil && r.name != nil && r.name.resolver.cluster
}

// externalEgress: for a name outside the cluster the destination address is not known, so an
// egress-isolated client is checked against an address no rule names; a deny there is not proof.
func (r *run) externalEgress(details *[]string) report.Status {
	if r.client == nil || r.name == nil || !r.name.external {
		return report.StatusPass
	}
	d := policy.Evaluate(r.m, policy.Flow{From: policy.Peer{Pod: r.client}, To: policy.Peer{IP: externalIP}, Port: r.port, Protocol: r.protocol})
	*details = append(*details, fmt.Sprintf("egress to %s (address not known; checked as %s) port %d/%s: %s", r.name.query, externalIP, r.port, r.protocol, sideSummary(d)))
	if d.Allowed || !d.Egress.Isolated {
		return report.StatusPass
	}
	return report.StatusUnknown
}

// policyBlind says why the policies that matter are not visible, "" when they are.
func (r *run) policyBlind(dests []*corev1.Pod) string {
	namespaces := map[string]bool{}
	if r.client != nil {
		namespaces[r.client.Namespace] = true
	}
	for _, p := range dests {
		namespaces[p.Namespace] = true
	}
	var list []string
	for ns := range namespaces {
		list = append(list, ns)
	}
	sort.Strings(list)
	for _, ns := range list {
		if ok, why := r.m.Coverage.Covered("NetworkPolicy", ns); !ok {
			return why
		}
	}
	for _, kind := range []string{"ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"} {
		if ok, why := r.m.Coverage.Covered(kind, ""); !ok {
			return why
		}
	}
	return ""
}

// checkDNSEgress: a client isolated for egress must still reach the DNS pods on UDP and TCP 53.
func (r *run) checkDNSEgress(details *[]string) bool {
	if !r.usesClusterDNS() {
		return true
	}
	dns := r.dnsService()
	if dns == nil {
		return true
	}
	var pods []*corev1.Pod
	for _, p := range r.m.PodsMatching(dns.Namespace, dns.Spec.Selector) {
		if model.PodReady(p) {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return true
	}
	d := policy.EvaluateDNS(r.m, r.client, pods)
	*details = append(*details, "DNS egress: "+sideSummary(d))
	for _, f := range d.Findings {
		r.add(f)
	}
	return d.Allowed
}

// checkFlows evaluates client -> each destination pod and folds the findings of the flows: those of
// denied flows, then the warnings of allowed ones.
func (r *run) checkFlows(dests []*corev1.Pod, details *[]string) (allowed, denied []*corev1.Pod) {
	from := r.policySource()
	var deny, warn flowFindings
	for _, p := range dests {
		port, ok := r.destPort(p)
		if !ok {
			continue
		}
		d := policy.Evaluate(r.m, policy.Flow{From: from, To: policy.Peer{Pod: p}, Port: port, Protocol: r.protocol})
		line := fmt.Sprintf("%s -> pod %s %d/%s: %s", peerName(from), p.Name, port, r.protocol, sideSummary(d))
		*details = append(*details, line)
		if d.Allowed {
			allowed = append(allowed, p)
			warn.add(d.Findings)
			continue
		}
		denied = append(denied, p)
		deny.add(d.Findings)
	}
	partial := len(allowed) > 0 && len(denied) > 0
	for _, f := range deny.result() {
		if partial && f.Severity == report.SeverityError {
			f.Degrades = true
			f.Message += fmt.Sprintf(" (%d of %d backend pods are allowed)", len(allowed), len(allowed)+len(denied))
		}
		r.add(f)
	}
	for _, f := range warn.result() {
		r.add(f)
	}
	return allowed, denied
}

// flowFindings folds the findings of several flows into one per code, object and field, with the
// related objects of all: the same policy failing for every backend pod is one finding.
type flowFindings struct {
	list []report.Finding
	// more counts the folded findings whose message differed from the kept one (another pod named).
	more []int
}

func (ff *flowFindings) add(fs []report.Finding) {
	for _, f := range fs {
		merged := false
		for i := range ff.list {
			g := &ff.list[i]
			if g.Code == f.Code && g.Object == f.Object && g.Field == f.Field {
				g.Related = appendMissing(g.Related, f.Related)
				if g.Message != f.Message {
					ff.more[i]++
				}
				merged = true
				break
			}
		}
		if !merged {
			ff.list = append(ff.list, f)
			ff.more = append(ff.more, 0)
		}
	}
}

func (ff *flowFindings) result() []report.Finding {
	for i, n := range ff.more {
		if n > 0 {
			ff.list[i].Message += fmt.Sprintf(" (likewise for %s)", plural(n, "more backend pod", "more backend pods"))
		}
	}
	return ff.list
}

func (r *run) destPort(p *corev1.Pod) (int32, bool) {
	if r.targetPod != nil {
		return r.port, r.port != 0
	}
	return r.targetPortOn(p)
}

// policySource is the client as policies see it: its pod, its node's IP for a node, an outside address.
func (r *run) policySource() policy.Peer {
	switch {
	case r.client != nil:
		return policy.Peer{Pod: r.client}
	case r.req.Source.Kind == ref.Node && r.clientNode != nil:
		return policy.Peer{IP: model.NodeInternalIP(r.clientNode)}
	}
	return policy.Peer{IP: outsideIP}
}

func peerName(p policy.Peer) string {
	switch {
	case p.Pod != nil:
		return "pod " + p.Pod.Name
	case p.IP == outsideIP:
		return "outside client (" + outsideIP + ")"
	}
	return p.IP
}

func sideSummary(d policy.Decision) string {
	var parts []string
	for _, s := range []policy.Side{d.Egress, d.Ingress} {
		if s.Summary != "" {
			parts = append(parts, s.Summary)
		}
	}
	verdict := "allowed"
	if !d.Allowed {
		verdict = "denied"
	}
	if len(parts) == 0 {
		return verdict
	}
	return verdict + ": " + strings.Join(parts, "; ")
}

func appendMissing(list, add []report.ObjectRef) []report.ObjectRef {
	for _, a := range add {
		found := false
		for _, l := range list {
			if l == a {
				found = true
				break
			}
		}
		if !found {
			list = append(list, a)
		}
	}
	return list
}

// softenPolicyFindings: where the network plugin does not enforce policies, a deny is a note, not a block.
func (r *run) softenPolicyFindings(mark int, note string) {
	for i := mark; i < len(r.findings); i++ {
		if r.findings[i].Severity == report.SeverityError {
			r.findings[i].Severity = report.SeverityWarning
			r.findings[i].Message += " (not enforced: " + note + ")"
		}
	}
}

func (r *run) policySummary(dests, allowed, denied []*corev1.Pod, dnsOK bool) string {
	var parts []string
	if !dnsOK {
		parts = append(parts, "DNS egress denied")
	}
	switch {
	case len(denied) == 0 && len(allowed) > 0:
		parts = append(parts, fmt.Sprintf("allowed to %s", plural(len(allowed), "pod", "pods")))
	case len(allowed) == 0 && len(denied) > 0:
		parts = append(parts, fmt.Sprintf("denied to %s", plural(len(denied), "pod", "pods")))
	case len(denied) > 0:
		parts = append(parts, fmt.Sprintf("allowed to %d, denied to %d of %d pods", len(allowed), len(denied), len(dests)))
	}
	if len(parts) == 0 {
		return "no policy applies"
	}
	return strings.Join(parts, "; ")
}
