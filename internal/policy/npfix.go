package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/model"
	"reach/internal/report"
)

const nameLabel = "kubernetes.io/metadata.name"

// selectorFix is the smallest change for a selector element that missed a pod.
func (e *engine) selectorFix(p *networkingv1.NetworkPolicy, field string, peer networkingv1.NetworkPolicyPeer,
	target *corev1.Pod, nsFail, podFail []requirement, bare bool) fixCandidate {
	pol := policyRef(p)
	nsName := target.Namespace
	podObj := fmt.Sprintf("pod %s/%s%s", target.Namespace, target.Name, workloadOf(e.m, target))
	switch {
	case !relabelable(nsFail) || !relabelable(podFail):
		return addElementFix(pol, field, target)
	case bare && len(podFail) == 0:
		return fixCandidate{cost: 1, code: "POLICY_AND_VS_OR", policy: pol, object: pol, field: field,
			message: fmt.Sprintf("%s of NetworkPolicy %s/%s has a podSelector but no namespaceSelector, so it selects pods of namespace %q only; pod %s/%s matches the pod labels but lives in %q",
				field, p.Namespace, p.Name, p.Namespace, target.Namespace, target.Name, nsName),
			fix: fmt.Sprintf("add `namespaceSelector: {matchLabels: {%s: %s}}` to %s of NetworkPolicy %s/%s, in the same element as its podSelector (one element = AND)",
				nameLabel, nsName, field, p.Namespace, p.Name)}
	case bare:
		return fixCandidate{cost: 1 + len(podFail), policy: pol, object: pol, field: field,
			fix: fmt.Sprintf("add `namespaceSelector: {matchLabels: {%s: %s}}` to %s of NetworkPolicy %s/%s and %s",
				nameLabel, nsName, field, p.Namespace, p.Name, labelFix(podFail, podObj))}
	case len(nsFail) > 0 && len(podFail) == 0 && allMissing(nsFail):
		return e.namespaceLabelFix(p, field, nsName, nsFail)
	case len(nsFail) > 0 && len(podFail) == 0:
		return fixCandidate{cost: len(nsFail), policy: pol, object: pol, field: field + ".namespaceSelector",
			fix: fmt.Sprintf("make %s.namespaceSelector of NetworkPolicy %s/%s select namespace %q (e.g. %s: %s), or %s",
				field, p.Namespace, p.Name, nsName, nameLabel, nsName, labelFix(nsFail, "namespace "+nsName))}
	case len(nsFail) == 0:
		return fixCandidate{cost: len(podFail), policy: pol, object: podRef(target), field: field + ".podSelector",
			fix: labelFix(podFail, podObj) + fmt.Sprintf(", or widen %s.podSelector of NetworkPolicy %s/%s", field, p.Namespace, p.Name)}
	}
	return fixCandidate{cost: len(nsFail) + len(podFail), policy: pol, object: pol, field: field,
		fix: labelFix(nsFail, "namespace "+nsName) + " and " + labelFix(podFail, podObj)}
}

// relabelable says whether the label edits that satisfy the terms are a sensible fix: adding or
// removing labels is; changing the value of a label the object carries (its identity, often part of
// an immutable workload selector) or the namespace's name label (set by the API server) is not.
func relabelable(reqs []requirement) bool {
	for _, r := range reqs {
		if r.key == nameLabel || (r.has && !r.remove && !r.anyValue) {
			return false
		}
	}
	return true
}

// addElementFix allows the target with a new element beside the one that missed, leaving what
// that element selects as it is.
func addElementFix(pol report.ObjectRef, field string, target *corev1.Pod) fixCandidate {
	list := field[:strings.LastIndex(field, "[")]
	return fixCandidate{cost: 1, policy: pol, object: pol, field: list,
		fix: fmt.Sprintf("add an element %s to %s of NetworkPolicy %s/%s", describeRemote(endpoint{pod: target}), list, pol.Namespace, pol.Name)}
}

func allMissing(reqs []requirement) bool {
	for _, r := range reqs {
		if r.has {
			return false
		}
	}
	return true
}

// namespaceLabelFix: the namespaceSelector wants a label the namespace does not carry at all.
func (e *engine) namespaceLabelFix(p *networkingv1.NetworkPolicy, field, ns string, reqs []requirement) fixCandidate {
	keys := make([]string, len(reqs))
	for i, r := range reqs {
		keys[i] = r.key
	}
	return fixCandidate{cost: len(reqs), code: "POLICY_NAMESPACE_LABEL", policy: policyRef(p),
		object: ref("Namespace", "", ns), field: "metadata.labels",
		message: fmt.Sprintf("%s.namespaceSelector of NetworkPolicy %s/%s selects on %s, which namespace %q does not carry",
			field, p.Namespace, p.Name, strings.Join(keys, ", "), ns),
		fix: fmt.Sprintf("%s, or select it by its automatic label in NetworkPolicy %s/%s: `%s: %s`",
			labelFix(reqs, "namespace "+ns), p.Namespace, p.Name, nameLabel, ns),
		evidence: []string{fmt.Sprintf("namespace %s labels: %s", ns, model.LabelString(e.nsLabels(ns)))}}
}

// ipBlockFix: an ipBlock that missed; recognise a ClusterIP or an except range.
func (e *engine) ipBlockFix(p *networkingv1.NetworkPolicy, field string, b *networkingv1.IPBlock, r blockResult, c flowCtx) fixCandidate {
	pol := policyRef(p)
	name := fmt.Sprintf("NetworkPolicy %s/%s", p.Namespace, p.Name)
	if r.except != "" {
		return fixCandidate{cost: 1, code: "POLICY_IPBLOCK_CLUSTER", policy: pol, object: pol, field: field + ".ipBlock.except",
			message:  fmt.Sprintf("%s.ipBlock of %s allows %s except %s, which holds %s", field, name, b.CIDR, r.except, c.remote),
			fix:      fmt.Sprintf("remove %s from %s.ipBlock.except of %s, or allow %s with a selector", r.except, field, name, c.remote),
			evidence: []string{r.why}}
	}
	if c.dir == Egress && c.remote.pod != nil {
		for _, s := range servicesSelecting(e.m, c.remote.pod) {
			for _, ip := range clusterIPs(s) {
				if inCIDR(ip, b.CIDR) {
					return fixCandidate{cost: 1, code: "POLICY_IPBLOCK_CLUSTER", policy: pol, object: pol, field: field + ".ipBlock",
						message: fmt.Sprintf("%s.ipBlock %s of %s holds ClusterIP %s of Service %s/%s, but policies see the pod IP %s after DNAT",
							field, b.CIDR, name, ip, s.Namespace, s.Name, c.remote.ip),
						fix:      fmt.Sprintf("replace %s.ipBlock of %s with %s", field, name, describeRemote(c.remote)),
						evidence: []string{r.why, fmt.Sprintf("Service %s/%s ClusterIP %s selects %s", s.Namespace, s.Name, ip, c.remote)}}
				}
			}
		}
	}
	list := field[:strings.LastIndex(field, "[")]
	return fixCandidate{cost: 1, policy: pol, object: pol, field: list,
		fix: fmt.Sprintf("add an element %s to %s of %s", describeRemote(c.remote), list, name)}
}

// npRuleFixes lists the changes that make one rule match: each missed element's fix, combined
// with the ports' fix when the ports miss too.
func (e *engine) npRuleFixes(p *networkingv1.NetworkPolicy, i int, c flowCtx, peersOK bool,
	missed []peerOutcome, pr portResult) []*fixCandidate {
	if !e.explain {
		return nil
	}
	var port *fixCandidate
	if !pr.ok {
		pf := e.npPortFix(p, i, c, pr)
		port = &pf
	}
	if peersOK {
		return []*fixCandidate{port}
	}
	out := make([]*fixCandidate, 0, len(missed))
	for _, o := range missed {
		f := o.fix
		if port != nil {
			f = fixCandidate{cost: f.cost + port.cost, policy: policyRef(p), object: policyRef(p), field: ruleField(c.dir, i),
				fix: f.fix + "; and " + port.fix, evidence: append(append([]string(nil), f.evidence...), port.evidence...)}
		}
		out = append(out, &f)
	}
	return out
}

func (e *engine) npPortFix(p *networkingv1.NetworkPolicy, i int, c flowCtx, pr portResult) fixCandidate {
	pol := policyRef(p)
	name := fmt.Sprintf("NetworkPolicy %s/%s", p.Namespace, p.Name)
	field := ruleField(c.dir, i) + ".ports"
	if len(pr.missingNames) > 0 && c.dst.owner() != nil {
		dst := c.dst.owner()
		n := pr.missingNames[0]
		return fixCandidate{cost: 1, code: "POLICY_NAMED_PORT", policy: pol, object: pol, field: field,
			message: fmt.Sprintf("%s of %s names port %q, which pod %s/%s does not declare for %s", field, name, n, dst.Namespace, dst.Name, c.proto),
			fix: fmt.Sprintf("use `port: %d` instead of %q in %s of %s, or name the container port %d/%s %q on pod %s/%s%s",
				c.port, n, field, name, c.port, c.proto, n, dst.Namespace, dst.Name, workloadOf(e.m, dst)),
			evidence: []string{fmt.Sprintf("pod %s/%s declares ports: %s", dst.Namespace, dst.Name, declaredPorts(dst)), pr.why}}
	}
	return fixCandidate{cost: 1, policy: pol, object: pol, field: field,
		fix:      fmt.Sprintf("add to %s %s rule %d a port %d/%s", name, c.dir, i, c.port, c.proto),
		evidence: []string{fmt.Sprintf("%s: %s", field, pr.why)}}
}

// npNoRulesFix: a policy that isolates a direction it has no rules for.
func (e *engine) npNoRulesFix(p *networkingv1.NetworkPolicy, c flowCtx) *fixCandidate {
	if !e.explain {
		return nil
	}
	pol := policyRef(p)
	name := fmt.Sprintf("NetworkPolicy %s/%s", p.Namespace, p.Name)
	if c.dir == Ingress && len(p.Spec.Egress) > 0 && defaultedTypes(p) {
		message := fmt.Sprintf("%s has only egress rules but omits policyTypes, which then defaults to [Ingress, Egress]: it isolates ingress and allows none", name)
		types := "policyTypes unset"
		if len(p.Spec.PolicyTypes) > 0 {
			message = fmt.Sprintf("%s has only egress rules but its policyTypes [Ingress, Egress] (what the API server stores when policyTypes is omitted) isolate ingress: it allows none", name)
			types = fmt.Sprintf("policyTypes %v", p.Spec.PolicyTypes)
		}
		return &fixCandidate{cost: 1, unisolate: true, code: "POLICY_TYPES_DEFAULT", policy: pol, object: pol, field: "spec.policyTypes",
			message:  message,
			fix:      fmt.Sprintf("set `policyTypes: [Egress]` on %s", name),
			evidence: []string{fmt.Sprintf("%s: %s, %d ingress rules, %d egress rules", name, types, len(p.Spec.Ingress), len(p.Spec.Egress))}}
	}
	if c.dir == Egress && len(p.Spec.PolicyTypes) > 0 && len(p.Spec.Ingress) > 0 {
		return &fixCandidate{cost: 1, unisolate: true, code: "POLICY_TYPES_DEFAULT", policy: pol, object: pol, field: "spec.policyTypes",
			message:  fmt.Sprintf("%s lists Egress in policyTypes but has no egress rules: it denies all egress of the pods it selects", name),
			fix:      fmt.Sprintf("remove Egress from spec.policyTypes of %s, or add the egress rules it needs", name),
			evidence: []string{fmt.Sprintf("%s: policyTypes %v, %d ingress rules, 0 egress rules", name, p.Spec.PolicyTypes, len(p.Spec.Ingress))}}
	}
	word := "from"
	if c.dir == Egress {
		word = "to"
	}
	return &fixCandidate{cost: 2, policy: pol, object: pol, field: "spec." + string(c.dir),
		fix: fmt.Sprintf("add an %s rule to %s %s %s on port %d/%s", c.dir, name, word, describeRemote(c.remote), c.port, c.proto)}
}

// defaultedTypes says whether policyTypes reads as the default for a policy with egress rules:
// unset, or [Ingress, Egress] as the API server fills it in for an unset field, so a policy
// read back from a cluster shows the same mistake as its manifest.
func defaultedTypes(p *networkingv1.NetworkPolicy) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return true
	}
	return len(p.Spec.PolicyTypes) == 2 && appliesTo(p, Ingress) && appliesTo(p, Egress)
}

func declaredPorts(p *corev1.Pod) string {
	var parts []string
	for _, list := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				s := fmt.Sprintf("%d/%s", cp.ContainerPort, proto)
				if cp.Name != "" {
					s = cp.Name + "=" + s
				}
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
