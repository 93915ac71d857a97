// Package policy decides whether the policies of a cluster let one flow through: NetworkPolicy,
// ClusterNetworkPolicy (Admin and Baseline tiers) and the older AdminNetworkPolicy and
// BaselineAdminNetworkPolicy. It explains every decision rule by rule and groups pods into
// classes for the reachability matrix. Everything here is a pure function of the model.
package policy

import (
	corev1 "k8s.io/api/core/v1"

	"reach/internal/report"
)

// Peer is one end of a flow: a pod (Pod != nil) or a bare IP (outside, a node, a hostNetwork pod).
// A hostNetwork pod stands for its node's IP (status.hostIP).
type Peer struct {
	Pod *corev1.Pod
	IP  string
}

// Flow is one connection as the policies see it: after DNAT, so To is a pod IP and Port its targetPort.
type Flow struct {
	From, To Peer
	Port     int32
	Protocol corev1.Protocol
}

// Tier is the level a policy is evaluated at.
type Tier string

const (
	TierAdmin         Tier = "admin"
	TierNetworkPolicy Tier = "networkpolicy"
	TierBaseline      Tier = "baseline"
	// TierDefault is the Kubernetes default: everything allowed when no tier decided.
	TierDefault Tier = "default"
)

// Direction is the side of the flow a policy controls.
type Direction string

const (
	Ingress Direction = "ingress"
	Egress  Direction = "egress"
)

// Action is what a policy or rule does with a flow.
type Action string

const (
	ActionAllow Action = "allow"
	ActionDeny  Action = "deny"
	ActionPass  Action = "pass"
	// ActionNone: the policy selects the pod but none of its rules matched. A NetworkPolicy then
	// isolates the pod; a cluster policy has no effect.
	ActionNone Action = "none"
)

// Part names a piece of a rule that can fail to match.
type Part string

const (
	PartNamespace Part = "namespace labels"
	PartPod       Part = "pod labels"
	PartPeerKind  Part = "peer kind"
	PartPort      Part = "port"
	PartProtocol  Part = "protocol"
	PartCIDR      Part = "CIDR"
	PartNode      Part = "node labels"
	PartDomain    Part = "domain name"
)

// PeerCheck says whether one element of a rule's from/to list matched the remote end and why not.
type PeerCheck struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Matched bool   `json:"matched"`
	Failed  []Part `json:"failed,omitempty"`
	// Why is the explanation in words, e.g. `namespace "web" lacks label team (selector team=web)`.
	Why string `json:"why"`
}

// RuleCheck is one rule of a policy checked against the flow.
type RuleCheck struct {
	Index   int    `json:"index"`
	Name    string `json:"name,omitempty"`
	Field   string `json:"field"`
	Action  Action `json:"action"`
	Matched bool   `json:"matched"`
	// Failed lists every part that did not match: the peers' (when no peer matched) and the ports'.
	Failed []Part      `json:"failed,omitempty"`
	Peers  []PeerCheck `json:"peers,omitempty"`
	Ports  string      `json:"ports"`
	Why    string      `json:"why"`
	fixes  []*fixCandidate
	// viaRange: the rule matched through a port range (endPort).
	viaRange bool
}

// RuleVerdict is one policy considered for one direction of the flow.
type RuleVerdict struct {
	Policy    report.ObjectRef `json:"policy"`
	Tier      Tier             `json:"tier"`
	Priority  *int32           `json:"priority,omitempty"`
	Direction Direction        `json:"direction"`
	Action    Action           `json:"action"`
	// Rule is the index of the rule that matched, -1 when none did.
	Rule     int    `json:"rule"`
	RuleName string `json:"ruleName,omitempty"`
	// Deciding marks the verdicts that decided this direction: the allowing rules, the denying
	// rule, or every isolating policy when a NetworkPolicy-tier direction is denied.
	Deciding bool        `json:"deciding"`
	Summary  string      `json:"summary"`
	Rules    []RuleCheck `json:"rules,omitempty"`
	fix      *fixCandidate
}

// Side is the outcome of one direction.
type Side struct {
	Allowed bool `json:"allowed"`
	// Tier is the tier that decided (TierDefault when none did).
	Tier Tier `json:"tier"`
	// Isolated is true when NetworkPolicies select the pod for this direction.
	Isolated bool   `json:"isolated"`
	Summary  string `json:"summary"`
}

// Decision is the answer for one flow.
type Decision struct {
	Allowed bool `json:"allowed"`
	Egress  Side `json:"egress"`
	Ingress Side `json:"ingress"`
	// Verdicts lists every policy considered, egress of the source first, then ingress of the
	// destination, each in evaluation order (Admin tier by priority, NetworkPolicy, Baseline tier).
	Verdicts []RuleVerdict    `json:"verdicts,omitempty"`
	Findings []report.Finding `json:"findings,omitempty"`
	// Unknown lists what could not be evaluated (domain-name peers, missing addresses).
	Unknown []string `json:"unknown,omitempty"`
}

// Deciding returns the verdicts that decided the flow, in evaluation order.
func (d Decision) Deciding() []RuleVerdict {
	var out []RuleVerdict
	for _, v := range d.Verdicts {
		if v.Deciding {
			out = append(out, v)
		}
	}
	return out
}
