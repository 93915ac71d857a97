package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const dnsPods = `
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns-1, namespace: kube-system, labels: {k8s-app: kube-dns, pod-template-hash: abc}}
spec:
  nodeName: n1
  containers:
  - name: coredns
    ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]
status: {podIP: 10.244.0.2, podIPs: [{ip: 10.244.0.2}]}
`

func TestEvaluateDNS(t *testing.T) {
	cases := []struct {
		name    string
		policy  string
		allowed bool
		codes   []string
		fix     string
	}{
		{name: "no policy", allowed: true},
		{
			name: "egress isolation without DNS",
			policy: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: api}}}]}]`,
			codes: []string{"POLICY_EGRESS_DNS"},
			fix:   "ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]",
		},
		{
			name: "UDP only",
			policy: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}]}]`,
			allowed: true,
			codes:   []string{"POLICY_EGRESS_DNS_UDP_ONLY"},
			fix:     "allow port 53/TCP next to 53/UDP in NetworkPolicy web/egress",
		},
		{
			name: "UDP and TCP",
			policy: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]`,
			allowed: true,
		},
		{
			name: "namespace selector on a missing label",
			policy: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {name: kube-system}}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]`,
			codes: []string{"POLICY_EGRESS_DNS", "POLICY_NAMESPACE_LABEL"},
			fix:   "add label name=kube-system to namespace kube-system",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterFrom(t, shopBase, dnsPods, tc.policy)
			d := EvaluateDNS(m, m.Pod("web", "frontend"), []*corev1.Pod{m.Pod("kube-system", "coredns-1")})
			if d.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v\n%s", d.Allowed, tc.allowed, dumpFindings(d))
			}
			if got := strings.Join(codes(d), ","); got != strings.Join(tc.codes, ",") {
				t.Fatalf("codes = %s, want %s\n%s", got, strings.Join(tc.codes, ","), dumpFindings(d))
			}
			for _, f := range d.Findings {
				if f.Code == "POLICY_EGRESS_DNS_UDP_ONLY" && f.Degrades {
					t.Errorf("UDP-only DNS degrades the flow; it is a warning: lookups work")
				}
			}
			if tc.fix != "" {
				all := ""
				for _, f := range d.Findings {
					all += f.Fix + "\n"
				}
				if !strings.Contains(all, tc.fix) {
					t.Errorf("fixes lack %q:\n%s", tc.fix, all)
				}
			}
		})
	}
}

func TestEnforcedNote(t *testing.T) {
	ds := func(ns, name, image string) string {
		return `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: ` + name + `, image: "` + image + `"}]}
`
	}
	cases := []struct {
		name     string
		docs     string
		enforced bool
		why      string
	}{
		{name: "nothing known", docs: shopBase, enforced: true},
		{name: "plain flannel", docs: ds("kube-flannel", "kube-flannel-ds", "docker.io/flannel/flannel:v0.25.1"), why: "flannel"},
		{name: "canal", docs: ds("kube-system", "canal", "docker.io/calico/node:v3.27.0") + "---\n" + ds("kube-flannel", "kube-flannel-ds", "docker.io/flannel/flannel:v0.25.1"), enforced: true},
		{name: "old kindnet", docs: ds("kube-system", "kindnet", "docker.io/kindest/kindnetd:v20230511-dc714da8"), why: "kindnet"},
		{name: "kindnet with policies", docs: ds("kube-system", "kindnet", "docker.io/kindest/kindnetd:v20241108-5c6d2daf"), enforced: true},
		{name: "cilium", docs: ds("kube-system", "cilium", "quay.io/cilium/cilium:v1.16.0"), enforced: true},
		{name: "aws vpc cni alone", docs: ds("kube-system", "aws-node", "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.0"), why: "AWS VPC CNI"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterFrom(t, tc.docs)
			enforced, why := EnforcedNote(m)
			if enforced != tc.enforced || !strings.Contains(why, tc.why) {
				t.Errorf("EnforcedNote = %v, %q; want %v, containing %q", enforced, why, tc.enforced, tc.why)
			}
		})
	}
}

// TestNotEnforcedNote: a denied flow on a plugin that does not enforce carries the note.
func TestNotEnforcedNote(t *testing.T) {
	m := clusterFrom(t, shopBase, npHead+`metadata: {name: deny, namespace: api}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: kube-flannel-ds, namespace: kube-flannel}
spec:
  selector: {matchLabels: {app: flannel}}
  template:
    metadata: {labels: {app: flannel}}
    spec: {containers: [{name: kube-flannel, image: docker.io/flannel/flannel:v0.25.1}]}`)
	d := Evaluate(m, flow(m, "web/frontend", "api/backend", 8080, ""))
	got := codes(d)
	if d.Allowed || got[len(got)-1] != "POLICY_NOT_ENFORCED" {
		t.Errorf("codes = %v", got)
	}
}
