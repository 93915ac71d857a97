package trace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"reach/internal/report"
)

const pnCNIMessage = "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"

// pnNodeDown marks a node NotReady (or Unknown) and the endpoint of the backend on it not ready, as the controllers would.
func pnNodeDown(n *pathNet, node string, status corev1.ConditionStatus, message string) {
	nd := n.node(node)
	nd.Status.Conditions[0].Status, nd.Status.Conditions[0].Reason, nd.Status.Conditions[0].Message = status, pnReason(status), message
	nd.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoSchedule}}
	eps := n.find("EndpointSlice/shop/web-abc12").(*discoveryv1.EndpointSlice).Endpoints
	for i := range eps {
		if *eps[i].NodeName == node {
			f := false
			eps[i].Conditions.Ready, eps[i].Conditions.Serving = &f, &f
		}
	}
}

func TestNodes(t *testing.T) {
	cases := []struct {
		name           string
		setup          func(*pathNet)
		source, target string
		want           pnCase
	}{
		{"all nodes ready", nil, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "3 nodes Ready: node-a, node-b, node-c"}},
		{"one backend node not ready", func(n *pathNet) {
			pnNodeDown(n, "node-c", corev1.ConditionUnknown, "Kubelet stopped posting node status.")
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "NODE_NOT_READY", object: "Node//node-c", summary: "1 of 3 nodes not Ready: node-c"}},
		{"every backend node not ready", func(n *pathNet) {
			pnNodeDown(n, "node-b", corev1.ConditionFalse, "PLEG is not healthy")
			pnNodeDown(n, "node-c", corev1.ConditionUnknown, "Kubelet stopped posting node status.")
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, code: "NODE_NOT_READY", object: "Node//node-b"}},
		{"backend node without network plugin", func(n *pathNet) {
			pnNodeDown(n, "node-b", corev1.ConditionFalse, pnCNIMessage)
			pnNodeDown(n, "node-c", corev1.ConditionFalse, pnCNIMessage)
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, code: "NODE_CNI_NOT_READY", object: "Node//node-b"}},
		{"network unavailable on the client's node", func(n *pathNet) {
			nd := n.node("node-a")
			nd.Status.Conditions = append(nd.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue, Reason: "NoRouteCreated", Message: "RouteController failed to create a route"})
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "NODE_CNI_NOT_READY", code: "NODE_CNI_NOT_READY", object: "Node//node-a"}},
		{"outside client addresses a node that is down", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster, "")
			pnNodeDown(n, "node-a", corev1.ConditionUnknown, "Kubelet stopped posting node status.")
		}, "outside", "node/node-a:30080",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, code: "NODE_NOT_READY", object: "Node//node-a"}},
		{"nodes not visible", func(n *pathNet) { n.without("Node//node-a", "Node//node-b", "Node//node-c") }, "pod/client", "svc/web",
			pnCase{status: report.StatusUnknown, verdict: report.VerdictUnknown}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newPathNet()
			if c.setup != nil {
				c.setup(n)
			}
			c.want.check(t, n.trace(t, c.source, c.target), report.LayerNode)
		})
	}
}
