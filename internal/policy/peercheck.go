package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// peerOutcome is one from/to element checked, with the smallest change that makes it match.
type peerOutcome struct {
	check PeerCheck
	fix   fixCandidate
}

// npPeer checks one element of a NetworkPolicy rule against the remote end of the flow.
func (e *engine) npPeer(p *networkingv1.NetworkPolicy, i, j int, peer networkingv1.NetworkPolicyPeer, c flowCtx) peerOutcome {
	field := peerField(c.dir, i, j)
	o := peerOutcome{check: PeerCheck{Index: j, Field: field}}
	if peer.IPBlock != nil {
		b := checkIPBlock(peer.IPBlock, c.remote.ip)
		o.check.Matched, o.check.Why = b.ok, b.why
		if !b.ok {
			o.check.Failed = []Part{PartCIDR}
			if c.remote.ip == "" {
				e.unknown = append(e.unknown, b.why)
			}
			o.fix = e.ipBlockFix(p, field, peer.IPBlock, b, c)
		}
		return o
	}
	if peer.PodSelector == nil && peer.NamespaceSelector == nil {
		o.check.Failed = []Part{PartPeerKind}
		o.check.Why = "the element sets no selector and no ipBlock, so it selects nothing"
		o.fix = fixCandidate{cost: 3, policy: policyRef(p), object: policyRef(p), field: field,
			fix: fmt.Sprintf("give %s a selector or an ipBlock", field)}
		return o
	}
	if c.remote.pod == nil {
		o = e.npNonPodPeer(p, field, peer, c)
	} else {
		o = e.npPodPeer(p, field, peer, c.remote.pod)
	}
	o.check.Index = j
	return o
}

// npPodPeer checks selectors against a pod on the pod network.
func (e *engine) npPodPeer(p *networkingv1.NetworkPolicy, field string, peer networkingv1.NetworkPolicyPeer, target *corev1.Pod) peerOutcome {
	o := peerOutcome{check: PeerCheck{Field: field}}
	nsWhat := fmt.Sprintf("namespace %q", target.Namespace)
	podWhat := fmt.Sprintf("pod %s/%s", target.Namespace, target.Name)
	var nsFail, podFail []requirement
	bare := false
	var why []string
	if peer.NamespaceSelector != nil {
		nsFail = failing(peer.NamespaceSelector, e.nsLabels(target.Namespace))
		if len(nsFail) == 0 {
			why = append(why, fmt.Sprintf("%s matches namespaceSelector %s", nsWhat, selectorString(peer.NamespaceSelector)))
		} else {
			why = append(why, describeAll(nsFail, nsWhat))
		}
	} else if target.Namespace != p.Namespace {
		bare = true
		why = append(why, fmt.Sprintf("a podSelector without namespaceSelector selects pods of namespace %q only; %s is in %q",
			p.Namespace, podWhat, target.Namespace))
	}
	if peer.PodSelector != nil {
		podFail = failing(peer.PodSelector, target.Labels)
		if len(podFail) == 0 {
			why = append(why, fmt.Sprintf("%s matches podSelector %s", podWhat, selectorString(peer.PodSelector)))
		} else {
			why = append(why, describeAll(podFail, podWhat))
		}
	}
	if peer.NamespaceSelector != nil && peer.PodSelector != nil && (len(nsFail) == 0) != (len(podFail) == 0) {
		why = append(why, "one element with both selectors matches only when both do; as two elements either would suffice")
	}
	o.check.Why = strings.Join(why, "; ")
	o.check.Matched = len(nsFail) == 0 && !bare && len(podFail) == 0
	if len(nsFail) > 0 || bare {
		o.check.Failed = append(o.check.Failed, PartNamespace)
	}
	if len(podFail) > 0 {
		o.check.Failed = append(o.check.Failed, PartPod)
	}
	if !o.check.Matched {
		o.fix = e.selectorFix(p, field, peer, target, nsFail, podFail, bare)
		o.fix.evidence = append(o.fix.evidence, fmt.Sprintf("%s: %s", field, o.check.Why))
	}
	return o
}

// npNonPodPeer: pod and namespace selectors only ever match pods on the pod network.
func (e *engine) npNonPodPeer(p *networkingv1.NetworkPolicy, field string, peer networkingv1.NetworkPolicyPeer, c flowCtx) peerOutcome {
	o := peerOutcome{check: PeerCheck{Field: field, Failed: []Part{PartPeerKind}}}
	list := field[:strings.LastIndex(field, "[")]
	host := c.remote.hostPod
	if host == nil {
		o.check.Why = fmt.Sprintf("the %s is %s, not a pod: pod and namespace selectors never match it", remoteWord(c.dir), c.remote)
		o.fix = fixCandidate{cost: 1, policy: policyRef(p), object: policyRef(p), field: list,
			fix: fmt.Sprintf("add an element `ipBlock: {cidr: %s}` to %s of NetworkPolicy %s/%s", hostCIDR(c.remote.ip), list, p.Namespace, p.Name)}
		return o
	}
	would := selectorsWouldMatch(e, p, peer, host)
	o.check.Why = fmt.Sprintf("the %s is hostNetwork pod %s/%s: it speaks with its node's IP %s, which pod and namespace selectors never match",
		remoteWord(c.dir), host.Namespace, host.Name, c.remote.ip)
	if would {
		o.check.Why += " (its labels would match this element)"
	}
	o.fix = fixCandidate{cost: 1, code: "POLICY_HOSTNETWORK_PEER", policy: policyRef(p), object: policyRef(p), field: list,
		message: fmt.Sprintf("%s of NetworkPolicy %s/%s selects pods, but %s/%s runs with hostNetwork and its traffic carries the node IP %s",
			field, p.Namespace, p.Name, host.Namespace, host.Name, c.remote.ip),
		fix: fmt.Sprintf("add an element `ipBlock: {cidr: %s}` (the node's IP) to %s of NetworkPolicy %s/%s", hostCIDR(c.remote.ip), list, p.Namespace, p.Name),
		evidence: []string{
			fmt.Sprintf("pod %s/%s: hostNetwork=true, hostIP=%s", host.Namespace, host.Name, c.remote.ip),
			fmt.Sprintf("%s: %s", field, o.check.Why),
		}}
	if !would {
		o.fix.cost = 2
	}
	return o
}

func selectorsWouldMatch(e *engine, p *networkingv1.NetworkPolicy, peer networkingv1.NetworkPolicyPeer, pod *corev1.Pod) bool {
	if peer.NamespaceSelector != nil {
		if !matches(peer.NamespaceSelector, e.nsLabels(pod.Namespace)) {
			return false
		}
	} else if pod.Namespace != p.Namespace {
		return false
	}
	return peer.PodSelector == nil || matches(peer.PodSelector, pod.Labels)
}
