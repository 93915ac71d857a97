package policy

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// engine holds what many evaluations over one cluster share.
type engine struct {
	m        *model.Cluster
	admin    []*clusterPolicy
	baseline []*clusterPolicy
	ns       map[string]map[string]string
	// explain: compute fixes and findings, not only the verdicts.
	explain bool
	// per evaluation
	unknown []string
	extra   []report.Finding
}

func newEngine(m *model.Cluster, explain bool) *engine {
	e := &engine{m: m, ns: map[string]map[string]string{}, explain: explain}
	e.admin, e.baseline = clusterPolicies(m)
	return e
}

func (e *engine) nsLabels(ns string) map[string]string {
	l, ok := e.ns[ns]
	if !ok {
		l = e.m.NamespaceLabels(ns)
		e.ns[ns] = l
	}
	return l
}

// Evaluate decides one flow: egress of the source, then ingress of the destination, each through
// the Admin tier, the NetworkPolicies and the Baseline tier. Decision.Allowed is what the policies
// say; when the network plugin does not enforce them a POLICY_NOT_ENFORCED note is added.
func Evaluate(m *model.Cluster, f Flow) Decision {
	e := newEngine(m, true)
	d := e.evaluate(f)
	if !d.Allowed {
		if enforced, why := EnforcedNote(m); !enforced {
			d.Findings = append(d.Findings, notEnforcedFinding(why))
		}
	}
	withOrigins(m, &d)
	return d
}

// withOrigins points the objects of a decision at the file and line they were read from.
func withOrigins(m *model.Cluster, d *Decision) {
	at := func(r *report.ObjectRef) {
		if o := m.Origin(r.Kind, r.Namespace, r.Name); o.File != "" {
			r.File, r.Line = o.File, o.Line
		}
	}
	for i := range d.Verdicts {
		at(&d.Verdicts[i].Policy)
	}
	for i := range d.Findings {
		at(&d.Findings[i].Object)
		for j := range d.Findings[i].Related {
			at(&d.Findings[i].Related[j])
		}
	}
}

// Explain is Evaluate between two pods on a port, the hook behind a matrix cell.
func Explain(m *model.Cluster, from, to *corev1.Pod, port int32, proto corev1.Protocol) Decision {
	return Evaluate(m, Flow{From: Peer{Pod: from}, To: Peer{Pod: to}, Port: port, Protocol: proto})
}

func (e *engine) evaluate(f Flow) Decision {
	e.unknown, e.extra = nil, nil
	src, dst := resolveFlow(e.m, f)
	if dst.owner() == nil && dst.ip != "" {
		if s := e.m.ServiceByIP(dst.ip); s != nil {
			e.unknown = append(e.unknown, fmt.Sprintf("%s is the ClusterIP of Service %s/%s: policies see the backend pod IP and targetPort after DNAT, so evaluate the flow to each backend pod", dst.ip, s.Namespace, s.Name))
		}
	}
	proto := f.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	eg := flowCtx{dir: Egress, subject: src, remote: dst, dst: dst, port: f.Port, proto: proto}
	in := flowCtx{dir: Ingress, subject: dst, remote: src, dst: dst, port: f.Port, proto: proto}
	var d Decision
	var ev, iv []RuleVerdict
	d.Egress, ev = e.side(eg)
	d.Ingress, iv = e.side(in)
	d.Verdicts = append(ev, iv...)
	d.Allowed = d.Egress.Allowed && d.Ingress.Allowed
	d.Unknown = uniqueSorted(e.unknown)
	if e.explain {
		d.Findings = e.findings(d, eg, in, ev, iv)
	}
	return d
}

// side decides one direction: Admin tier, then NetworkPolicy (final for isolated pods), then
// Baseline tier, then the default allow.
func (e *engine) side(c flowCtx) (Side, []RuleVerdict) {
	if c.subject.pod == nil {
		return Side{Allowed: true, Tier: TierDefault, Summary: fmt.Sprintf("no policy applies to the %s of %s", c.dir, c.subject)}, nil
	}
	all, act := e.clusterTier(e.admin, c)
	if act == ActionAllow || act == ActionDeny {
		return Side{Allowed: act == ActionAllow, Tier: TierAdmin, Summary: last(all).Summary}, all
	}
	passed := ""
	if act == ActionPass {
		passed = last(all).Summary + "; then "
	}
	np, isolated, allowed := e.npTier(c)
	all = append(all, np...)
	if isolated {
		return Side{Allowed: allowed, Tier: TierNetworkPolicy, Isolated: true, Summary: passed + npSideSummary(c, np, allowed)}, all
	}
	base, act := e.clusterTier(e.baseline, c)
	all = append(all, base...)
	if act == ActionAllow || act == ActionDeny {
		return Side{Allowed: act == ActionAllow, Tier: TierBaseline, Summary: passed + last(base).Summary}, all
	}
	return Side{Allowed: true, Tier: TierDefault, Summary: passed + fmt.Sprintf("no policy isolates the %s of %s", c.dir, c.subject)}, all
}

func last(v []RuleVerdict) RuleVerdict { return v[len(v)-1] }

func npSideSummary(c flowCtx, np []RuleVerdict, allowed bool) string {
	if allowed {
		for _, v := range np {
			if v.Action == ActionAllow {
				return fmt.Sprintf("NetworkPolicy %s/%s allows the %s of %s (rule %d)", v.Policy.Namespace, v.Policy.Name, c.dir, c.subject, v.Rule)
			}
		}
	}
	if len(np) == 1 {
		return fmt.Sprintf("NetworkPolicy %s/%s isolates the %s of %s and does not allow %d/%s with %s",
			np[0].Policy.Namespace, np[0].Policy.Name, c.dir, c.subject, c.port, c.proto, c.remote)
	}
	return fmt.Sprintf("%d NetworkPolicies isolate the %s of %s and none allows %d/%s with %s", len(np), c.dir, c.subject, c.port, c.proto, c.remote)
}

func uniqueSorted(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	sort.Strings(list)
	out := list[:1]
	for _, s := range list[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}
