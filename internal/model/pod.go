package model

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodReady says whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	return PodCondition(p, corev1.PodReady) == corev1.ConditionTrue
}

// PodLikelyReady is PodReady, except that a Running pod with no Ready condition at all (a
// hand-written manifest) counts as ready unless a container says otherwise.
func PodLikelyReady(p *corev1.Pod) bool {
	switch PodCondition(p, corev1.PodReady) {
	case corev1.ConditionTrue:
		return true
	case "":
		if p.Status.Phase != corev1.PodRunning {
			return false
		}
		for _, cs := range p.Status.ContainerStatuses {
			if !cs.Ready {
				return false
			}
		}
		return true
	}
	return false
}

// PodCondition returns the status of one pod condition, "" when absent.
func PodCondition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// PodTerminating says whether the pod is being deleted.
func PodTerminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }

// NodeReady returns the status of the node's Ready condition, "" when absent.
func NodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// NodeDown says whether a node reports itself not ready (Ready False or Unknown) or its network
// unavailable. A node without conditions (a hand-written manifest) is not called down.
func NodeDown(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue:
			return true
		case c.Type == corev1.NodeNetworkUnavailable && c.Status == corev1.ConditionTrue:
			return true
		}
	}
	return false
}

// NodeNotReady says whether a node's Ready condition is False or Unknown. A node without
// conditions (a hand-written manifest) is not called not ready.
func NodeNotReady(n *corev1.Node) bool {
	st := NodeReady(n)
	return st != "" && st != corev1.ConditionTrue
}

// NodeInternalIP returns the node's first InternalIP.
func NodeInternalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// EventTime is the newest time an event carries.
func EventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// Owner returns the workload that controls a pod, following ReplicaSet to Deployment.
// It falls back to the controller reference alone when the owner objects are not in the model.
func (c *Cluster) Owner(p *corev1.Pod) ObjKey {
	for _, ref := range p.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		if ref.Kind == "ReplicaSet" {
			if rs := c.ReplicaSets[Key{p.Namespace, ref.Name}]; rs != nil {
				for _, up := range rs.OwnerReferences {
					if up.Controller != nil && *up.Controller {
						return ObjKey{up.Kind, p.Namespace, up.Name}
					}
				}
			} else if d := deploymentOfReplicaSet(ref.Name, p.Labels); d != "" {
				return ObjKey{"Deployment", p.Namespace, d}
			}
		}
		return ObjKey{ref.Kind, p.Namespace, ref.Name}
	}
	return ObjKey{}
}

// deploymentOfReplicaSet guesses the Deployment of a ReplicaSet from its name and the
// pod-template-hash label, as the Deployment controller names them.
func deploymentOfReplicaSet(rs string, labels map[string]string) string {
	h := labels["pod-template-hash"]
	if h == "" || len(rs) <= len(h)+1 || rs[len(rs)-len(h)-1:] != "-"+h {
		return ""
	}
	return rs[:len(rs)-len(h)-1]
}

// PluginNamespaces are the namespaces, besides kube-system, that network plugins install their node
// agents in (flannel, Calico's operator, Cilium, kube-network-policies): where to look for the
// agent that says whether NetworkPolicies are enforced, and MetalLB, whose L2 mode the proxy layer reads.
var PluginNamespaces = []string{"kube-flannel", "calico-system", "cilium", "kube-network-policies", "metallb-system"}
