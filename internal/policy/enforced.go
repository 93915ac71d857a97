package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// enforcers are names (of DaemonSets, pods, containers or images) of agents that enforce NetworkPolicy.
var enforcers = []string{
	"calico-node", "canal", "cilium", "antrea-agent", "weave-net", "kube-router", "azure-npm",
	"ovnkube-node", "kube-ovn-cni", "kube-network-policies", "anetd", "aws-network-policy-agent",
	"romana", "openshift-sdn",
}

// kindnetPolicySince is the date of the first kindnetd image shipped with kind that enforces
// NetworkPolicy (kind v0.24.0, which embeds kube-network-policies).
const kindnetPolicySince = "20240813"

var kindnetTag = regexp.MustCompile(`kindnetd:v(\d{8})`)

// agent is one network component seen in the cluster.
type agent struct {
	kind, namespace, name string
	containers            []corev1.Container
}

// EnforcedNote says whether the cluster's network plugin is known not to enforce NetworkPolicy.
// Unknown plugins count as enforcing: the note is only given on positive evidence, and it never
// turns a policy decision into a block or a pass on its own.
func EnforcedNote(m *model.Cluster) (bool, string) {
	agents := networkAgents(m)
	for _, a := range agents {
		if name := enforcer(a); name != "" {
			return true, ""
		}
	}
	for _, a := range agents {
		if why := nonEnforcer(a); why != "" {
			return false, why
		}
	}
	return true, ""
}

func networkAgents(m *model.Cluster) []agent {
	var out []agent
	keys := make([]model.Key, 0, len(m.DaemonSets))
	for k := range m.DaemonSets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		ds := m.DaemonSets[k]
		out = append(out, agent{"DaemonSet", ds.Namespace, ds.Name, containersOf(ds.Spec.Template.Spec)})
	}
	for _, ns := range append([]string{"kube-system"}, model.PluginNamespaces...) {
		for _, p := range m.PodsIn(ns) {
			if p.Spec.HostNetwork {
				out = append(out, agent{"Pod", p.Namespace, p.Name, containersOf(p.Spec)})
			}
		}
	}
	return out
}

func containersOf(s corev1.PodSpec) []corev1.Container {
	out := make([]corev1.Container, 0, len(s.InitContainers)+len(s.Containers))
	out = append(out, s.InitContainers...)
	return append(out, s.Containers...)
}

func enforcer(a agent) string {
	names := []string{a.name}
	for _, c := range a.containers {
		names = append(names, c.Name, c.Image)
	}
	for _, n := range names {
		for _, e := range enforcers {
			if strings.Contains(n, e) {
				return e
			}
		}
		if m := kindnetTag.FindStringSubmatch(n); m != nil && m[1] >= kindnetPolicySince {
			return "kindnet"
		}
		if strings.Contains(n, "aojea/kindnetd") {
			return "kindnet"
		}
	}
	return ""
}

func nonEnforcer(a agent) string {
	what := fmt.Sprintf("%s %s/%s", a.kind, a.namespace, a.name)
	for _, c := range a.containers {
		switch {
		case strings.Contains(c.Image, "flannel") || strings.Contains(a.name, "flannel"):
			return fmt.Sprintf("the network plugin is flannel (%s) and no policy agent (Calico, Cilium, kube-network-policies, ...) runs beside it: NetworkPolicies are not enforced", what)
		case kindnetTag.MatchString(c.Image):
			return fmt.Sprintf("the network plugin is kindnet (%s, image %s), which enforces no NetworkPolicy before the kind v0.24 image (v%s)", what, c.Image, kindnetPolicySince)
		case strings.Contains(c.Image, "amazon-k8s-cni") || a.name == "aws-node":
			return fmt.Sprintf("the network plugin is the AWS VPC CNI (%s) without its network policy agent container: NetworkPolicies are not enforced", what)
		}
	}
	return ""
}

func notEnforcedFinding(why string) report.Finding {
	f := report.Finding{Code: "POLICY_NOT_ENFORCED", Layer: report.LayerPolicy, Severity: report.SeverityInfo,
		Object:   ref("Namespace", "", "kube-system"),
		Message:  "the policies deny this flow, but " + why,
		Evidence: []string{why},
		Fix:      "install a network plugin or policy agent that enforces NetworkPolicy, or do not rely on these policies"}
	return f
}
