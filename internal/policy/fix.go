package policy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// fixCandidate is one change that would let the flow through one rule, with its size.
// The explanation picks the smallest over every isolating policy.
type fixCandidate struct {
	cost int
	// code is a specific failure mode; empty means the generic deny of the direction.
	code report.Code
	// policy is the policy whose rule the change concerns.
	policy report.ObjectRef
	// object is what to change: the policy, or the namespace or pod missing a label.
	object   report.ObjectRef
	field    string
	fix      string
	message  string
	evidence []string
	// unisolate: the change removes the policy's isolation instead of allowing the flow; it
	// suffices only when no other policy isolates the pod.
	unisolate bool
}

func policyRef(p *networkingv1.NetworkPolicy) report.ObjectRef {
	return ref("NetworkPolicy", p.Namespace, p.Name)
}

func podRef(p *corev1.Pod) report.ObjectRef { return ref("Pod", p.Namespace, p.Name) }

// ignoredLabels are set by controllers on every pod and never identify a workload.
var ignoredLabels = map[string]bool{
	"pod-template-hash":                  true,
	"controller-revision-hash":           true,
	"pod-template-generation":            true,
	"statefulset.kubernetes.io/pod-name": true,
	"apps.kubernetes.io/pod-index":       true,
	"batch.kubernetes.io/controller-uid": true,
	"batch.kubernetes.io/job-name":       true,
	"controller-uid":                     true,
	"job-name":                           true,
}

// identity returns the labels that name a pod's workload: a well-known name label when it has one,
// else every label but those controllers add.
func identity(p *corev1.Pod) map[string]string {
	for _, k := range []string{"app.kubernetes.io/name", "app", "k8s-app", "name"} {
		if v, ok := p.Labels[k]; ok {
			return map[string]string{k: v}
		}
	}
	out := map[string]string{}
	for k, v := range p.Labels {
		if !ignoredLabels[k] {
			out[k] = v
		}
	}
	return out
}

// describeRemote says how a new rule element would select the remote end.
func describeRemote(remote endpoint) string {
	if p := remote.pod; p != nil {
		id := model.LabelString(identity(p))
		if id == "" {
			return fmt.Sprintf("`namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}` (pod %s/%s has no labels)", p.Namespace, p.Namespace, p.Name)
		}
		return fmt.Sprintf("`namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}, podSelector: {matchLabels: {%s}}`",
			p.Namespace, strings.ReplaceAll(id, "=", ": "))
	}
	if remote.ip == "" {
		return "the peer"
	}
	return fmt.Sprintf("`ipBlock: {cidr: %s}`", hostCIDR(remote.ip))
}

// workloadOf names the controller of a pod for a fix that edits pod labels.
func workloadOf(m *model.Cluster, p *corev1.Pod) string {
	o := m.Owner(p)
	if o.Name == "" {
		return ""
	}
	return fmt.Sprintf(" (in the pod template of %s %s/%s)", o.Kind, o.Namespace, o.Name)
}

// servicesSelecting returns the Services of the pod's namespace whose selector matches it.
func servicesSelecting(m *model.Cluster, p *corev1.Pod) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range m.ServicesIn(p.Namespace) {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		ok := true
		for k, v := range s.Spec.Selector {
			if p.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func clusterIPs(s *corev1.Service) []string {
	set := map[string]bool{}
	for _, ip := range append([]string{s.Spec.ClusterIP}, s.Spec.ClusterIPs...) {
		if ip != "" && ip != corev1.ClusterIPNone {
			set[ip] = true
		}
	}
	out := make([]string, 0, len(set))
	for ip := range set {
		out = append(out, ip)
	}
	sort.Strings(out)
	return out
}
