package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/report"
)

// appliesTo says whether a NetworkPolicy isolates its pods in a direction: Ingress always when
// policyTypes is empty, Egress when it has egress rules.
func appliesTo(p *networkingv1.NetworkPolicy, dir Direction) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == Ingress || len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		if (t == networkingv1.PolicyTypeIngress && dir == Ingress) || (t == networkingv1.PolicyTypeEgress && dir == Egress) {
			return true
		}
	}
	return false
}

// npRule is one NetworkPolicy rule of either direction.
type npRule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func npRules(p *networkingv1.NetworkPolicy, dir Direction) []npRule {
	var out []npRule
	if dir == Ingress {
		for _, r := range p.Spec.Ingress {
			out = append(out, npRule{r.From, r.Ports})
		}
		return out
	}
	for _, r := range p.Spec.Egress {
		out = append(out, npRule{r.To, r.Ports})
	}
	return out
}

func ruleField(dir Direction, i int) string { return fmt.Sprintf("spec.%s[%d]", dir, i) }

func peerField(dir Direction, i, j int) string {
	if dir == Ingress {
		return fmt.Sprintf("spec.ingress[%d].from[%d]", i, j)
	}
	return fmt.Sprintf("spec.egress[%d].to[%d]", i, j)
}

// flowCtx is what every check of one direction needs.
type flowCtx struct {
	dir     Direction
	subject endpoint // the pod the policy selects
	remote  endpoint // the other end
	dst     endpoint // the destination, for named ports
	port    int32
	proto   corev1.Protocol
}

// npTier evaluates the NetworkPolicies of the subject's namespace for one direction.
// The subject is isolated when any selects it for that direction; it is then allowed when any
// rule of any of them matches.
func (e *engine) npTier(c flowCtx) (verdicts []RuleVerdict, isolated, allowed bool) {
	pod := c.subject.pod
	if pod == nil {
		return nil, false, false
	}
	for _, p := range e.m.PoliciesIn(pod.Namespace) {
		if !appliesTo(p, c.dir) || !matches(&p.Spec.PodSelector, pod.Labels) {
			continue
		}
		isolated = true
		v := e.npVerdict(p, c)
		if v.Action == ActionAllow {
			allowed = true
		}
		verdicts = append(verdicts, v)
	}
	for i := range verdicts {
		verdicts[i].Deciding = !allowed || verdicts[i].Action == ActionAllow
	}
	return verdicts, isolated, allowed
}

func (e *engine) npVerdict(p *networkingv1.NetworkPolicy, c flowCtx) RuleVerdict {
	v := RuleVerdict{
		Policy:    ref("NetworkPolicy", p.Namespace, p.Name),
		Tier:      TierNetworkPolicy,
		Direction: c.dir,
		Action:    ActionNone,
		Rule:      -1,
	}
	rules := npRules(p, c.dir)
	for i, r := range rules {
		rc := e.npRuleCheck(p, i, r, c)
		if rc.Matched && v.Rule < 0 {
			v.Action, v.Rule = ActionAllow, i
		}
		v.Rules = append(v.Rules, rc)
	}
	switch {
	case v.Rule >= 0:
		v.Summary = fmt.Sprintf("%s rule %d allows: %s", c.dir, v.Rule, v.Rules[v.Rule].Why)
	case len(rules) == 0:
		v.fix = e.npNoRulesFix(p, c)
		v.Summary = fmt.Sprintf("selects %s (podSelector %s) for %s and has no %s rules: denies all %s",
			c.subject, selectorString(&p.Spec.PodSelector), c.dir, c.dir, c.dir)
	default:
		v.Summary = fmt.Sprintf("selects %s (podSelector %s) for %s; none of its %d %s rules matches",
			c.subject, selectorString(&p.Spec.PodSelector), c.dir, len(rules), c.dir)
	}
	return v
}

// npRuleCheck checks one rule: any peer (or none listed) and any port (or none listed).
func (e *engine) npRuleCheck(p *networkingv1.NetworkPolicy, i int, r npRule, c flowCtx) RuleCheck {
	rc := RuleCheck{Index: i, Field: ruleField(c.dir, i), Action: ActionAllow}
	peersOK := len(r.peers) == 0
	best := -1
	var missed []peerOutcome
	for j, peer := range r.peers {
		o := e.npPeer(p, i, j, peer, c)
		rc.Peers = append(rc.Peers, o.check)
		if o.check.Matched {
			peersOK = true
			continue
		}
		missed = append(missed, o)
		if best < 0 || o.fix.cost < missed[best].fix.cost {
			best = len(missed) - 1
		}
	}
	specs := npPorts(r.ports)
	pr := checkPorts(specs, c.dst, c.port, c.proto)
	rc.Ports = pr.why
	rc.Matched = peersOK && pr.ok
	rc.viaRange = rc.Matched && pr.viaRange
	if !peersOK {
		rc.Failed = append(rc.Failed, missed[best].check.Failed...)
	}
	if !pr.ok {
		rc.Failed = append(rc.Failed, pr.part)
	}
	rc.Why = ruleWhy(rc, peersOK, pr, c)
	if !rc.Matched {
		rc.fixes = e.npRuleFixes(p, i, c, peersOK, missed, pr)
	}
	return rc
}

func ruleWhy(rc RuleCheck, peersOK bool, pr portResult, c flowCtx) string {
	var peerWhy string
	switch {
	case len(rc.Peers) == 0:
		peerWhy = fmt.Sprintf("every %s", remoteWord(c.dir))
	case peersOK:
		for _, pc := range rc.Peers {
			if pc.Matched {
				peerWhy = pc.Why
				break
			}
		}
	default:
		parts := make([]string, len(rc.Peers))
		for k, pc := range rc.Peers {
			parts[k] = fmt.Sprintf("element %d: %s", pc.Index, pc.Why)
		}
		peerWhy = "no element matches (" + strings.Join(parts, "; ") + ")"
	}
	return peerWhy + "; ports: " + pr.why
}

func remoteWord(dir Direction) string {
	if dir == Ingress {
		return "source"
	}
	return "destination"
}

func ref(kind, ns, name string) report.ObjectRef {
	return report.ObjectRef{Kind: kind, Namespace: ns, Name: name}
}
