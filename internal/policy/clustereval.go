package policy

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// selects says whether a cluster policy's subject is the pod. hostNetwork pods are never subjects.
func (e *engine) selects(p *clusterPolicy, subject endpoint) bool {
	pod := subject.pod
	if pod == nil {
		return false
	}
	switch {
	case p.subjectNS != nil:
		return matches(p.subjectNS, e.nsLabels(pod.Namespace))
	case p.subjectPods != nil:
		return matches(&p.subjectPods.ns, e.nsLabels(pod.Namespace)) && matches(&p.subjectPods.pod, pod.Labels)
	}
	return false
}

// clusterTier walks one tier in order. The first matching rule of the first policy with one decides:
// allow or deny end the evaluation, pass hands the flow to the next tier.
func (e *engine) clusterTier(list []*clusterPolicy, c flowCtx) (verdicts []RuleVerdict, action Action) {
	for k, p := range list {
		rules := p.rules(c.dir)
		if len(rules) == 0 || !e.selects(p, c.subject) {
			continue
		}
		v := RuleVerdict{Policy: p.ref, Tier: p.tier, Direction: c.dir, Action: ActionNone, Rule: -1}
		if p.hasPriority {
			pr := p.priority
			v.Priority = &pr
		}
		for i, r := range rules {
			rc := e.clusterRuleCheck(r, i, c)
			v.Rules = append(v.Rules, rc)
			e.domainWarning(p, rc, c)
			if rc.Matched {
				v.Action, v.Rule, v.RuleName = r.action, i, r.name
				break
			}
		}
		v.Summary = clusterSummary(p, v, c)
		if v.Rule >= 0 {
			v.Deciding = v.Action != ActionPass
			verdicts = append(verdicts, v)
			if e.explain {
				e.samePriority(list[k+1:], p, v, c)
			}
			return verdicts, v.Action
		}
		verdicts = append(verdicts, v)
	}
	return verdicts, ActionNone
}

func clusterSummary(p *clusterPolicy, v RuleVerdict, c flowCtx) string {
	what := "priority " + fmt.Sprint(p.priority)
	if !p.hasPriority {
		what = "baseline"
	}
	if v.Rule < 0 {
		return fmt.Sprintf("%s %s (%s) selects %s; none of its %d %s rules matches", p.ref.Kind, p.ref.Name, what, c.subject, len(v.Rules), c.dir)
	}
	name := ""
	if v.RuleName != "" {
		name = fmt.Sprintf(" %q", v.RuleName)
	}
	return fmt.Sprintf("%s %s (%s) %s rule %d%s: %s: %s", p.ref.Kind, p.ref.Name, what, c.dir, v.Rule, name, actionWord(v.Action), v.Rules[v.Rule].Why)
}

func actionWord(a Action) string {
	switch a {
	case ActionAllow:
		return "allows"
	case ActionDeny:
		return "denies"
	case ActionPass:
		return "passes to the next tier"
	}
	return "no effect"
}

// clusterRuleCheck checks one rule; an element with no field set fails closed: it matches
// nothing in an allow rule and everything in a deny or pass rule.
func (e *engine) clusterRuleCheck(r clusterRule, i int, c flowCtx) RuleCheck {
	rc := RuleCheck{Index: i, Name: r.name, Field: ruleField(c.dir, i), Action: r.action}
	peersOK := false
	var bestFailed []Part
	for j, peer := range r.peers {
		pc := e.clusterPeer(peer, r.action, c)
		pc.Index, pc.Field = j, peerField(c.dir, i, j)
		rc.Peers = append(rc.Peers, pc)
		if pc.Matched {
			peersOK = true
		} else if bestFailed == nil || len(pc.Failed) < len(bestFailed) {
			bestFailed = pc.Failed
		}
	}
	pr := checkPorts(r.ports, c.dst, c.port, c.proto)
	rc.Ports = pr.why
	rc.Matched = peersOK && pr.ok
	if !peersOK {
		rc.Failed = append(rc.Failed, bestFailed...)
	}
	if !pr.ok {
		rc.Failed = append(rc.Failed, pr.part)
	}
	rc.Why = ruleWhy(rc, peersOK, pr, c)
	return rc
}

func (e *engine) clusterPeer(p clusterPeer, action Action, c flowCtx) PeerCheck {
	if p.empty() {
		if action == ActionAllow {
			return PeerCheck{Failed: []Part{PartPeerKind}, Why: "the element sets no field; an allow rule then matches nothing"}
		}
		return PeerCheck{Matched: true, Why: "the element sets no field; a deny or pass rule then matches everything"}
	}
	var checks []PeerCheck
	if p.namespaces != nil {
		checks = append(checks, e.clusterPods(p.namespaces, nil, c))
	}
	if p.pods != nil {
		checks = append(checks, e.clusterPods(&p.pods.ns, &p.pods.pod, c))
	}
	if p.nodes != nil {
		checks = append(checks, e.clusterNodes(p, c))
	}
	if len(p.networks) > 0 {
		checks = append(checks, clusterNetworks(p.networks, c))
	}
	if len(p.domains) > 0 {
		why := fmt.Sprintf("domainNames %s cannot be evaluated without DNS; treated as not matching %s", strings.Join(p.domains, ","), c.remote)
		e.unknown = append(e.unknown, why)
		checks = append(checks, PeerCheck{Failed: []Part{PartDomain}, Why: why})
	}
	for _, pc := range checks {
		if pc.Matched {
			return pc
		}
	}
	return checks[0]
}

// clusterPods matches the namespaces (pod == nil) or pods peer; hostNetwork pods never match.
func (e *engine) clusterPods(ns, pod *metav1.LabelSelector, c flowCtx) PeerCheck {
	target := c.remote.pod
	if target == nil {
		return PeerCheck{Failed: []Part{PartPeerKind}, Why: fmt.Sprintf("the %s is %s, not a pod on the pod network", remoteWord(c.dir), c.remote)}
	}
	nsWhat := fmt.Sprintf("namespace %q", target.Namespace)
	podWhat := fmt.Sprintf("pod %s/%s", target.Namespace, target.Name)
	pc := PeerCheck{Matched: true}
	var why []string
	if f := failing(ns, e.nsLabels(target.Namespace)); len(f) > 0 {
		pc.Matched = false
		pc.Failed = append(pc.Failed, PartNamespace)
		why = append(why, describeAll(f, nsWhat))
	} else {
		why = append(why, fmt.Sprintf("%s matches namespaces %s", nsWhat, selectorString(ns)))
	}
	if pod != nil {
		if f := failing(pod, target.Labels); len(f) > 0 {
			pc.Matched = false
			pc.Failed = append(pc.Failed, PartPod)
			why = append(why, describeAll(f, podWhat))
		} else {
			why = append(why, fmt.Sprintf("%s matches pods %s", podWhat, selectorString(pod)))
		}
	}
	pc.Why = strings.Join(why, "; ")
	return pc
}

func (e *engine) clusterNodes(p clusterPeer, c flowCtx) PeerCheck {
	n := c.remote.node
	if n == nil {
		return PeerCheck{Failed: []Part{PartPeerKind}, Why: fmt.Sprintf("%s is no node's address", c.remote)}
	}
	if f := failing(p.nodes, n.Labels); len(f) > 0 {
		return PeerCheck{Failed: []Part{PartNode}, Why: describeAll(f, fmt.Sprintf("node %q", n.Name))}
	}
	return PeerCheck{Matched: true, Why: fmt.Sprintf("%s is node %s, which matches nodes %s", c.remote.ip, n.Name, selectorString(p.nodes))}
}

func clusterNetworks(nets []string, c flowCtx) PeerCheck {
	for _, n := range nets {
		if inCIDR(c.remote.ip, n) {
			return PeerCheck{Matched: true, Why: fmt.Sprintf("%s is in network %s", c.remote.ip, n)}
		}
	}
	ip := c.remote.ip
	if ip == "" {
		ip = "the unknown address"
	}
	return PeerCheck{Failed: []Part{PartCIDR}, Why: fmt.Sprintf("%s is in none of the networks %s", ip, strings.Join(nets, ", "))}
}

// samePriority warns when a policy of the same priority would act differently on the flow: the
// API leaves the order between them to the implementation.
func (e *engine) samePriority(rest []*clusterPolicy, p *clusterPolicy, v RuleVerdict, c flowCtx) {
	for _, q := range rest {
		if !p.hasPriority || !q.hasPriority || q.priority != p.priority {
			return
		}
		if !e.selects(q, c.subject) {
			continue
		}
		for i, r := range q.rules(c.dir) {
			rc := e.clusterRuleCheck(r, i, c)
			if !rc.Matched {
				continue
			}
			if r.action != v.Action {
				f := finding("POLICY_SAME_PRIORITY", q.ref, c)
				f.Field = rc.Field
				f.Message = fmt.Sprintf("%s %s and %s %s share priority %d and disagree on %s (%s vs %s); the implementation may apply either",
					p.ref.Kind, p.ref.Name, q.ref.Kind, q.ref.Name, p.priority, flowWords(c), v.Action, r.action)
				f.Evidence = []string{v.Summary, fmt.Sprintf("%s %s %s rule %d: %s", q.ref.Kind, q.ref.Name, c.dir, i, rc.Why)}
				f.Fix = fmt.Sprintf("give %s %s and %s %s different priorities", p.ref.Kind, p.ref.Name, q.ref.Kind, q.ref.Name)
				e.extra = append(e.extra, f)
			}
			break
		}
	}
}

// domainWarning: an Accept rule with domainNames peers was reached and its ports match; whether
// it applies depends on what the names resolve to, which no snapshot shows.
func (e *engine) domainWarning(p *clusterPolicy, rc RuleCheck, c flowCtx) {
	if !e.explain || rc.Matched {
		return
	}
	for _, pc := range rc.Peers {
		for _, part := range pc.Failed {
			if part != PartDomain || hasPart(rc.Failed, PartPort) || hasPart(rc.Failed, PartProtocol) {
				continue
			}
			f := finding("POLICY_DOMAIN_UNKNOWN", p.ref, c)
			f.Field = pc.Field
			f.Message = fmt.Sprintf("%s %s %s could allow %s if a name resolves to %s; it is evaluated as not matching",
				p.ref.Kind, p.ref.Name, rc.Field, flowWords(c), c.remote)
			f.Evidence = []string{pc.Why}
			f.Fix = "check what the domain names resolve to from the pod, or allow the destination by selector or CIDR"
			e.extra = append(e.extra, f)
			return
		}
	}
}

func hasPart(parts []Part, p Part) bool {
	for _, x := range parts {
		if x == p {
			return true
		}
	}
	return false
}
