package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// dnsTarget is one address the client's resolver sends to.
type dnsTarget struct {
	peer  Peer
	udp   int32
	tcp   int32
	label string
}

// EvaluateDNS checks that the client may query cluster DNS: UDP and TCP to every DNS pod on its
// DNS ports (53 unless the pod names its ports dns and dns-tcp), after DNAT of the kube-dns
// Service, plus any node-local DNS addresses given. Allowed means UDP reaches at least one.
func EvaluateDNS(m *model.Cluster, client *corev1.Pod, dnsPods []*corev1.Pod, nodeLocal ...string) Decision {
	targets := dnsTargets(dnsPods, nodeLocal)
	if client == nil || len(targets) == 0 {
		return Decision{Allowed: true, Unknown: []string{"no DNS pods to check the client's DNS egress against"}}
	}
	var udpOK, tcpOK []string
	var udpDeny, tcpDeny, udpAllow *Decision
	for _, t := range targets {
		u := Evaluate(m, Flow{From: Peer{Pod: client}, To: t.peer, Port: t.udp, Protocol: corev1.ProtocolUDP})
		tc := Evaluate(m, Flow{From: Peer{Pod: client}, To: t.peer, Port: t.tcp, Protocol: corev1.ProtocolTCP})
		if u.Allowed {
			udpOK = append(udpOK, t.label)
			if udpAllow == nil {
				udpAllow = &u
			}
		} else if udpDeny == nil {
			udpDeny = &u
		}
		if tc.Allowed {
			tcpOK = append(tcpOK, t.label)
		} else if tcpDeny == nil {
			tcpDeny = &tc
		}
	}
	d := Decision{Allowed: len(udpOK) > 0}
	switch {
	case udpDeny != nil:
		d.Verdicts, d.Egress, d.Ingress, d.Unknown = udpDeny.Verdicts, udpDeny.Egress, udpDeny.Ingress, udpDeny.Unknown
		d.Findings = dnsDenied(client, *udpDeny, len(udpOK) > 0, targets)
	case tcpDeny != nil:
		d.Verdicts, d.Egress, d.Ingress, d.Unknown = tcpDeny.Verdicts, tcpDeny.Egress, tcpDeny.Ingress, tcpDeny.Unknown
		d.Findings = dnsUDPOnly(client, *udpAllow, *tcpDeny, len(tcpOK) > 0)
	default:
		d.Verdicts, d.Egress, d.Ingress, d.Unknown = udpAllow.Verdicts, udpAllow.Egress, udpAllow.Ingress, udpAllow.Unknown
		d.Findings = udpAllow.Findings
	}
	return d
}

func dnsTargets(pods []*corev1.Pod, nodeLocal []string) []dnsTarget {
	var out []dnsTarget
	for _, p := range pods {
		t := dnsTarget{peer: Peer{Pod: p}, udp: 53, tcp: 53, label: fmt.Sprintf("pod %s/%s", p.Namespace, p.Name)}
		if n, _, ok := namedPort(p, "dns", corev1.ProtocolUDP); ok {
			t.udp = n
		}
		if n, _, ok := namedPort(p, "dns-tcp", corev1.ProtocolTCP); ok {
			t.tcp = n
		}
		out = append(out, t)
	}
	for _, ip := range nodeLocal {
		out = append(out, dnsTarget{peer: Peer{IP: ip}, udp: 53, tcp: 53, label: "node-local DNS " + ip})
	}
	return out
}

// dnsDenied: UDP 53 is denied to some or every DNS target.
func dnsDenied(client *corev1.Pod, u Decision, some bool, targets []dnsTarget) []report.Finding {
	var out []report.Finding
	var base *report.Finding
	for i, f := range u.Findings {
		switch f.Code {
		case "POLICY_EGRESS_DENY", "POLICY_ADMIN_DENY", "POLICY_BASELINE_DENY":
			if base == nil && !u.Egress.Allowed {
				base = &u.Findings[i]
				continue
			}
		}
		out = append(out, f)
	}
	if u.Egress.Allowed || base == nil {
		return u.Findings
	}
	f := *base
	f.Code = "POLICY_EGRESS_DNS"
	f.Severity = report.SeverityError
	f.Degrades = some
	f.Message = fmt.Sprintf("egress of pod %s/%s to cluster DNS (UDP 53) is denied: every name lookup times out while connections by IP still work; %s",
		client.Namespace, client.Name, f.Message)
	if base.Code == "POLICY_EGRESS_DENY" {
		f.Field = "spec.egress"
		f.Fix = fmt.Sprintf("add an egress rule to %s %s/%s: %s", f.Object.Kind, f.Object.Namespace, f.Object.Name, dnsRule(targets))
	}
	return append([]report.Finding{f}, out...)
}

// dnsUDPOnly: UDP reaches DNS, TCP does not. A warning, not a degradation: lookups work and only
// answers too large for UDP fail.
func dnsUDPOnly(client *corev1.Pod, u, t Decision, some bool) []report.Finding {
	object := report.ObjectRef{}
	field := ""
	for _, v := range u.Verdicts {
		if v.Deciding && v.Direction == Egress && v.Action == ActionAllow {
			object, field = v.Policy, fmt.Sprintf("spec.egress[%d].ports", v.Rule)
			break
		}
	}
	for _, f := range t.Findings {
		if object.Name == "" && f.Code != "POLICY_NOT_ENFORCED" {
			object, field = f.Object, f.Field
		}
	}
	f := report.Finding{Code: "POLICY_EGRESS_DNS_UDP_ONLY", Layer: report.LayerPolicy, Severity: report.SeverityWarning,
		Object: object, Related: []report.ObjectRef{podRef(client)}, Field: field,
		Message: fmt.Sprintf("pod %s/%s may query cluster DNS over UDP but not over TCP: answers too large for UDP are retried over TCP and fail", client.Namespace, client.Name),
		Fix:     fmt.Sprintf("allow port 53/TCP next to 53/UDP in %s %s", object.Kind, strings.TrimPrefix(object.Namespace+"/"+object.Name, "/")),
	}
	if some {
		f.Message += " (some DNS pods accept TCP)"
	}
	for _, v := range t.Verdicts {
		if v.Deciding {
			f.Evidence = append(f.Evidence, fmt.Sprintf("TCP: %s %s: %s", v.Policy.Kind, strings.TrimPrefix(v.Policy.Namespace+"/"+v.Policy.Name, "/"), v.Summary))
		}
	}
	for _, tf := range t.Findings {
		if tf.Code != "POLICY_NOT_ENFORCED" {
			f.Evidence = append(f.Evidence, fmt.Sprintf("TCP: %s: %s", tf.Code, tf.Message))
		}
	}
	return []report.Finding{f}
}

// dnsRule is the egress rule that allows the DNS targets.
func dnsRule(targets []dnsTarget) string {
	var pods, ips []string
	seen := map[string]bool{}
	for _, t := range targets {
		if p := t.peer.Pod; p != nil {
			id := strings.ReplaceAll(model.LabelString(identity(p)), "=", ": ")
			s := fmt.Sprintf("{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}, podSelector: {matchLabels: {%s}}}", p.Namespace, id)
			if !seen[s] {
				seen[s] = true
				pods = append(pods, s)
			}
		} else {
			ips = append(ips, fmt.Sprintf("{ipBlock: {cidr: %s}}", hostCIDR(t.peer.IP)))
		}
	}
	port := int32(53)
	if len(targets) > 0 {
		port = targets[0].udp
	}
	return fmt.Sprintf("`to: [%s], ports: [{port: %d, protocol: UDP}, {port: %d, protocol: TCP}]`",
		strings.Join(append(pods, ips...), ", "), port, port)
}
