package policy

import (
	"fmt"
	"sort"
	"strings"

	"reach/internal/report"
)

// findings turns the verdicts of both directions into POLICY_* findings: for a denied direction
// the failure mode and the smallest change; for an allowed one the warnings about the rules used.
func (e *engine) findings(d Decision, eg, in flowCtx, ev, iv []RuleVerdict) []report.Finding {
	var out []report.Finding
	for _, s := range []struct {
		side Side
		c    flowCtx
		v    []RuleVerdict
	}{{d.Egress, eg, ev}, {d.Ingress, in, iv}} {
		switch {
		case s.side.Allowed:
			out = append(out, e.allowedWarnings(s.c, s.v)...)
		case s.side.Tier == TierNetworkPolicy:
			out = append(out, e.npDeny(s.c, s.v)...)
		default:
			out = append(out, e.clusterDeny(s.c, s.v))
		}
	}
	return append(out, e.extra...)
}

func finding(code report.Code, object report.ObjectRef, c flowCtx) report.Finding {
	f := report.Finding{Code: code, Layer: report.LayerPolicy, Severity: report.SeverityError, Object: object, Related: related(c)}
	if ch, ok := report.Lookup(code); ok {
		f.Severity = ch.Severity
	}
	return f
}

// related lists the pods of the flow, source first.
func related(c flowCtx) []report.ObjectRef {
	src, dst := c.remote, c.subject
	if c.dir == Egress {
		src, dst = dst, src
	}
	var out []report.ObjectRef
	for _, ep := range []endpoint{src, dst} {
		if p := ep.owner(); p != nil {
			out = append(out, podRef(p))
		}
	}
	return out
}

func flowWords(c flowCtx) string {
	if c.dir == Ingress {
		return fmt.Sprintf("ingress to %s on %d/%s from %s", c.subject, c.port, c.proto, c.remote)
	}
	return fmt.Sprintf("egress from %s to %s on %d/%s", c.subject, c.remote, c.port, c.proto)
}

// npDeny explains an isolated direction no rule allows: a specific failure mode when the nearest
// rule shows one, then the deny naming every isolating policy.
func (e *engine) npDeny(c flowCtx, verdicts []RuleVerdict) []report.Finding {
	var np []RuleVerdict
	for _, v := range verdicts {
		if v.Tier == TierNetworkPolicy {
			np = append(np, v)
		}
	}
	cands := nearest(np)
	code := report.Code("POLICY_INGRESS_DENY")
	if c.dir == Egress {
		code = "POLICY_EGRESS_DENY"
	}
	generic := finding(code, np[0].Policy, c)
	names := make([]string, len(np))
	for i, v := range np {
		names[i] = v.Policy.Name
	}
	generic.Message = fmt.Sprintf("%s is denied: %d NetworkPolicies of namespace %s (%s) select %s for %s and none of their rules matches",
		flowWords(c), len(np), np[0].Policy.Namespace, strings.Join(names, ", "), c.subject, c.dir)
	if len(np) == 1 {
		generic.Message = fmt.Sprintf("%s is denied: NetworkPolicy %s/%s selects %s for %s and none of its rules matches",
			flowWords(c), np[0].Policy.Namespace, np[0].Policy.Name, c.subject, c.dir)
	}
	generic.Evidence = npEvidence(np)
	var out []report.Finding
	seen := map[string]bool{}
	emit := func(f *fixCandidate) {
		key := fmt.Sprintf("%s %v %s", f.code, f.object, f.field)
		if f.code != "" && !seen[key] {
			seen[key] = true
			out = append(out, specific(*f, c))
		}
	}
	if len(cands) > 0 {
		best := cands[0]
		generic.Object, generic.Field, generic.Fix = best.policy, "", best.fix
		if best.object == best.policy {
			generic.Field = best.field
		}
		for _, f := range cands {
			if f.cost == best.cost {
				emit(f)
			}
		}
	}
	for _, v := range np {
		if v.fix != nil && v.fix.unisolate {
			emit(v.fix)
		}
	}
	return append(out, generic)
}

func specific(f fixCandidate, c flowCtx) report.Finding {
	s := finding(f.code, f.object, c)
	s.Field, s.Message, s.Evidence, s.Fix = f.field, f.message, f.evidence, f.fix
	return s
}

// nearest orders the changes over every rule of every isolating policy, smallest first and, at
// equal size, a recognised failure mode before a generic change. Removing one policy's isolation
// counts only when no other policy isolates the pod.
func nearest(np []RuleVerdict) []*fixCandidate {
	var out []*fixCandidate
	for _, v := range np {
		if v.fix != nil && !(v.fix.unisolate && len(np) > 1) {
			out = append(out, v.fix)
		}
		for _, r := range v.Rules {
			out = append(out, r.fixes...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].cost != out[j].cost {
			return out[i].cost < out[j].cost
		}
		return out[i].code != "" && out[j].code == ""
	})
	return out
}

func npEvidence(np []RuleVerdict) []string {
	var out []string
	for _, v := range np {
		out = append(out, fmt.Sprintf("NetworkPolicy %s/%s: %s", v.Policy.Namespace, v.Policy.Name, v.Summary))
		for _, r := range v.Rules {
			out = append(out, fmt.Sprintf("  %s: failed on %s: %s", r.Field, partList(r.Failed), r.Why))
		}
	}
	return out
}

func partList(parts []Part) string {
	seen := map[Part]bool{}
	var s []string
	for _, p := range parts {
		if !seen[p] {
			seen[p] = true
			s = append(s, string(p))
		}
	}
	return strings.Join(s, ", ")
}

// clusterDeny explains a deny rule of the Admin or Baseline tier.
func (e *engine) clusterDeny(c flowCtx, verdicts []RuleVerdict) report.Finding {
	var v RuleVerdict
	for _, x := range verdicts {
		if x.Deciding {
			v = x
		}
	}
	r := v.Rules[v.Rule]
	name := v.Policy.Kind + " " + v.Policy.Name
	if v.Tier == TierAdmin {
		f := finding("POLICY_ADMIN_DENY", v.Policy, c)
		f.Field = r.Field
		f.Message = fmt.Sprintf("%s is denied by %s (Admin tier, priority %d) %s rule %d%s, which no NetworkPolicy can override",
			flowWords(c), name, deref(v.Priority), c.dir, v.Rule, quoted(v.RuleName))
		f.Evidence = clusterEvidence(verdicts)
		f.Fix = fmt.Sprintf("narrow %s of %s so it does not match, or add an Accept (or Pass) rule for %s on %d/%s before it (or in an Admin-tier policy with a lower priority number)",
			r.Field, name, describeRemote(c.remote), c.port, c.proto)
		return f
	}
	f := finding("POLICY_BASELINE_DENY", v.Policy, c)
	f.Field = r.Field
	f.Message = fmt.Sprintf("%s is denied by %s (Baseline tier) %s rule %d%s, and no NetworkPolicy selects %s for %s",
		flowWords(c), name, c.dir, v.Rule, quoted(v.RuleName), c.subject, c.dir)
	f.Evidence = clusterEvidence(verdicts)
	f.Fix = fmt.Sprintf("add a NetworkPolicy in namespace %s that selects %s and allows %s %s on %d/%s (NetworkPolicies override the Baseline tier), or narrow %s of %s",
		c.subject.pod.Namespace, c.subject, c.dir, describeRemote(c.remote), c.port, c.proto, r.Field, name)
	return f
}

func clusterEvidence(verdicts []RuleVerdict) []string {
	var out []string
	for _, v := range verdicts {
		out = append(out, v.Summary)
	}
	return out
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" %q", s)
}

// allowedWarnings: an endPort range some plugins ignore decided an allowed direction.
func (e *engine) allowedWarnings(c flowCtx, verdicts []RuleVerdict) []report.Finding {
	var out []report.Finding
	for _, v := range verdicts {
		if !v.Deciding || v.Action != ActionAllow || v.Tier != TierNetworkPolicy {
			continue
		}
		r := v.Rules[v.Rule]
		if !r.viaRange {
			continue
		}
		f := finding("POLICY_ENDPORT", v.Policy, c)
		f.Field = r.Field + ".ports"
		f.Message = fmt.Sprintf("%s is allowed only through a port range (endPort) of NetworkPolicy %s/%s; network plugins without endPort support ignore the range",
			flowWords(c), v.Policy.Namespace, v.Policy.Name)
		f.Evidence = []string{r.Ports}
		f.Fix = fmt.Sprintf("check that the network plugin supports endPort, or list port %d/%s explicitly in %s", c.port, c.proto, f.Field)
		out = append(out, f)
	}
	return out
}
