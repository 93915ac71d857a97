package trace

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// checkClient: the source exists, runs, sits on a ready node, and can use cluster DNS when it needs to.
func (r *run) checkClient() {
	mark := r.begin()
	s := r.req.Source
	switch {
	case r.outside:
		r.end(mark, report.LayerClient, report.StatusSkip, "outside the cluster")
		return
	case s.Kind == ref.Node:
		r.checkClientNode(mark)
		return
	case r.client == nil:
		r.sourceMissing(mark)
		return
	}
	p := r.client
	details := []string{fmt.Sprintf("pod %s/%s on node %s, IP %s", p.Namespace, p.Name, orNone(p.Spec.NodeName), orNone(p.Status.PodIP))}
	if s.IsWorkload() {
		details = append(details, fmt.Sprintf("picked pod %s of %s %s", p.Name, s.Kind, s.Name))
	}
	switch {
	case model.PodTerminating(p):
		r.add(report.Finding{Code: "CLIENT_NOT_RUNNING", Object: r.podRef(p),
			Message:  fmt.Sprintf("source pod %s is terminating", p.Name),
			Evidence: []string{"metadata.deletionTimestamp is set"},
			Fix:      "trace from a pod that is not being deleted"})
	case p.Status.Phase != corev1.PodRunning:
		r.add(report.Finding{Code: "CLIENT_NOT_RUNNING", Object: r.podRef(p), Field: "status.phase",
			Message:  fmt.Sprintf("source pod %s is %s, not Running: nothing it sends is meaningful", p.Name, orNone(string(p.Status.Phase))),
			Evidence: []string{fmt.Sprintf("status.phase: %s", p.Status.Phase)},
			Fix:      fmt.Sprintf("get the pod running first: kubectl describe pod -n %s %s", p.Namespace, p.Name)})
	case r.clientNode != nil && model.NodeNotReady(r.clientNode):
		r.add(report.Finding{Code: "CLIENT_NOT_RUNNING", Object: r.obj("Node", "", r.clientNode.Name), Related: []report.ObjectRef{r.podRef(p)},
			Message:  fmt.Sprintf("source pod %s runs on node %s, which is not Ready", p.Name, r.clientNode.Name),
			Evidence: []string{nodeReadyEvidence(r.clientNode)},
			Fix:      fmt.Sprintf("bring node %s back to Ready (kubectl describe node %s), or trace from a pod on another node", r.clientNode.Name, r.clientNode.Name)})
	}
	if p.Spec.HostNetwork {
		details = append(details, "hostNetwork: true")
	}
	r.checkClientDNSPolicy()
	summary := fmt.Sprintf("pod %s Running on %s", p.Name, orNone(p.Spec.NodeName))
	if st := r.statusOf(mark); st == report.StatusFail {
		summary = r.findings[mark].Message
	}
	r.endAuto(mark, report.LayerClient, summary, details...)
}

// checkClientDNSPolicy: a hostNetwork pod with dnsPolicy ClusterFirst resolves with the node's resolver.
func (r *run) checkClientDNSPolicy() {
	p := r.client
	if !p.Spec.HostNetwork || r.name == nil || r.req.Target.Kind != ref.DNSName {
		return
	}
	if p.Spec.DNSPolicy != "" && p.Spec.DNSPolicy != corev1.DNSClusterFirst {
		return
	}
	if r.name.external {
		return
	}
	r.add(report.Finding{Code: "CLIENT_HOSTNETWORK_DNSPOLICY", Object: r.clientOwnerOrPod(), Related: []report.ObjectRef{r.podRef(p)},
		Field:   "spec.dnsPolicy",
		Message: fmt.Sprintf("pod %s uses hostNetwork with dnsPolicy ClusterFirst, so it resolves with the node's resolver: %q fails with NXDOMAIN", p.Name, r.req.Target.Name),
		Evidence: []string{"spec.hostNetwork: true",
			fmt.Sprintf("spec.dnsPolicy: %s", orDefault(string(p.Spec.DNSPolicy), "ClusterFirst (default)"))},
		Fix: "set spec.dnsPolicy: ClusterFirstWithHostNet in the pod template"})
}

// clientOwnerOrPod is the object to change for a fix in the client's pod template.
func (r *run) clientOwnerOrPod() report.ObjectRef {
	if o := r.m.Owner(r.client); o.Kind != "" && o.Kind != "ReplicaSet" && o.Kind != "Node" {
		return r.obj(o.Kind, o.Namespace, o.Name)
	}
	return r.podRef(r.client)
}

func (r *run) checkClientNode(mark int) {
	n := r.clientNode
	if n == nil {
		r.sourceMissing(mark)
		return
	}
	if model.NodeNotReady(n) {
		r.add(report.Finding{Code: "NODE_NOT_READY", Layer: report.LayerClient, Object: r.obj("Node", "", n.Name),
			Message:  fmt.Sprintf("source node %s is not Ready", n.Name),
			Evidence: []string{nodeReadyEvidence(n)},
			Fix:      fmt.Sprintf("kubectl describe node %s", n.Name)})
	}
	r.endAuto(mark, report.LayerClient, fmt.Sprintf("node %s (%s)", n.Name, orNone(model.NodeInternalIP(n))))
}

func (r *run) sourceMissing(mark int) {
	s := r.req.Source
	kind := s.Kind
	if s.IsWorkload() {
		kind = "Pod"
	}
	if !r.m.Coverage.Absent(kind, s.Namespace, s.Name) {
		_, why := r.m.Coverage.Covered(kind, s.Namespace)
		r.end(mark, report.LayerClient, report.StatusUnknown, fmt.Sprintf("cannot see %s: %s", s.Raw, why))
		return
	}
	msg := fmt.Sprintf("%s %s not found", s.Kind, s.Name)
	if s.Namespace != "" && s.Kind != ref.Node {
		msg += " in namespace " + s.Namespace
	}
	if s.IsWorkload() {
		msg = fmt.Sprintf("no pod of %s %s/%s found", s.Kind, s.Namespace, s.Name)
	}
	r.add(report.Finding{Code: "SOURCE_NOT_FOUND", Object: r.obj(s.Kind, s.Namespace, s.Name), Message: msg,
		Fix: "check the name and namespace (-n) of the source: kubectl get " + kindPlural(s.Kind) + namespaceFlag(s.Namespace)})
	r.endAuto(mark, report.LayerClient, msg)
}

func nodeReadyEvidence(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("node %s condition Ready=%s reason %s: %s", n.Name, c.Status, orNone(c.Reason), c.Message)
		}
	}
	return fmt.Sprintf("node %s has no Ready condition", n.Name)
}
