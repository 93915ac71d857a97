package trace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reach/internal/report"
)

func pnNoKubeProxy(n *pathNet) {
	n.without("DaemonSet/kube-system/kube-proxy", "Pod/kube-system/kube-proxy-a", "Pod/kube-system/kube-proxy-b", "Pod/kube-system/kube-proxy-c", "ConfigMap/kube-system/kube-proxy")
}

func pnCilium(n *pathNet, kpr string) {
	n.add(pnDaemonSet("kube-system", "cilium", map[string]string{"k8s-app": "cilium"}))
	for _, node := range []string{"node-a", "node-b", "node-c"} {
		n.add(pnPod("kube-system", "cilium-"+node[len(node)-1:], node, "", map[string]string{"k8s-app": "cilium"}, 0))
	}
	n.add(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"}, Data: map[string]string{"kube-proxy-replacement": kpr}})
}

func pnLocal(p corev1.ServiceInternalTrafficPolicy) *corev1.ServiceInternalTrafficPolicy { return &p }

// pnNodePort turns shop/web into a NodePort (or LoadBalancer) Service on 30080.
func pnNodePort(n *pathNet, typ corev1.ServiceType, etp corev1.ServiceExternalTrafficPolicy, lbIP string) {
	s := n.svc("shop", "web")
	s.Spec.Type, s.Spec.ExternalTrafficPolicy = typ, etp
	s.Spec.Ports[0].NodePort = 30080
	if typ == corev1.ServiceTypeLoadBalancer {
		s.Spec.HealthCheckNodePort = 31999
	}
	if lbIP != "" {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
	}
}

func TestProxy(t *testing.T) {
	cases := []struct {
		name           string
		setup          func(*pathNet)
		source, target string
		want           pnCase
	}{
		{"kube-proxy healthy", nil, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "kube-proxy (iptables) on node-a"}},
		{"no kube-proxy and no replacement", func(n *pathNet) {
			pnNoKubeProxy(n)
			n.add(pnDaemonSet("kube-system", "kindnet", map[string]string{"app": "kindnet"}))
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_MISSING", code: "PROXY_MISSING", object: "DaemonSet/kube-system/kube-proxy"}},
		{"kube-proxy crash-looping on the client's node", func(n *pathNet) { pnCrashing(n.pod("kube-system", "kube-proxy-a")) }, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_MISSING", code: "PROXY_MISSING", object: "Node//node-a"}},
		{"no kube-proxy pod on the client's node", func(n *pathNet) { n.without("Pod/kube-system/kube-proxy-a") }, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_MISSING", code: "PROXY_MISSING", object: "Node//node-a"}},
		{"kube-proxy missing elsewhere does not matter", func(n *pathNet) { n.without("Pod/kube-system/kube-proxy-c") }, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable}},
		{"cilium replacement healthy", func(n *pathNet) { pnNoKubeProxy(n); pnCilium(n, "true") }, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "Cilium kube-proxy replacement on node-a"}},
		{"cilium without replacement and no kube-proxy", func(n *pathNet) { pnNoKubeProxy(n); pnCilium(n, "false") }, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_MISSING", code: "PROXY_MISSING", object: "DaemonSet/kube-system/kube-proxy"}},
		{"cilium replacement and kube-proxy both", func(n *pathNet) { pnCilium(n, "strict") }, "pod/client", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "PROXY_BOTH", object: "DaemonSet/kube-system/kube-proxy"}},
		{"kube-router service proxy by default", func(n *pathNet) {
			pnNoKubeProxy(n)
			n.add(pnDaemonSet("kube-system", "kube-router", map[string]string{"k8s-app": "kube-router"}))
			n.add(pnPod("kube-system", "kube-router-a", "node-a", "", map[string]string{"k8s-app": "kube-router"}, 0))
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "kube-router service proxy"}},
		{"kube-system DaemonSets not visible", func(n *pathNet) { n.without("DaemonSet/kube-system/kube-proxy") }, "pod/client", "svc/web",
			pnCase{status: report.StatusUnknown, verdict: report.VerdictUnknown}},
		{"internalTrafficPolicy Local fails even when kube-system is not visible", func(n *pathNet) {
			n.svc("shop", "web").Spec.InternalTrafficPolicy = pnLocal(corev1.ServiceInternalTrafficPolicyLocal)
			n.without("DaemonSet/kube-system/kube-proxy")
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_INTERNAL_LOCAL_NO_ENDPOINT", code: "PROXY_INTERNAL_LOCAL_NO_ENDPOINT"}},
		{"internalTrafficPolicy Local with a local endpoint", func(n *pathNet) {
			n.svc("shop", "web").Spec.InternalTrafficPolicy = pnLocal(corev1.ServiceInternalTrafficPolicyLocal)
			n.pod("shop", "client").Spec.NodeName = "node-b"
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable}},
		{"internalTrafficPolicy Local without a local endpoint", func(n *pathNet) {
			n.svc("shop", "web").Spec.InternalTrafficPolicy = pnLocal(corev1.ServiceInternalTrafficPolicyLocal)
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_INTERNAL_LOCAL_NO_ENDPOINT", code: "PROXY_INTERNAL_LOCAL_NO_ENDPOINT", object: "Service/shop/web"}},
		{"externalTrafficPolicy Local via NodePort on some nodes", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal, "")
		}, "outside", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictDegraded, root: "PROXY_EXTERNAL_LOCAL_NO_ENDPOINT", code: "PROXY_EXTERNAL_LOCAL_NO_ENDPOINT", object: "Service/shop/web"}},
		{"externalTrafficPolicy Local via a node without endpoint", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal, "")
		}, "outside", "node/node-a:30080",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "PROXY_EXTERNAL_LOCAL_NO_ENDPOINT", code: "PROXY_EXTERNAL_LOCAL_NO_ENDPOINT"}},
		{"externalTrafficPolicy Local via a node with an endpoint", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal, "")
		}, "outside", "node/node-b:30080",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "kube-proxy (iptables) on node-b"}},
		{"externalTrafficPolicy Local behind a load balancer", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyLocal, "203.0.113.10")
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable}},
		{"kube-proxy missing on one node behind a load balancer", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyCluster, "203.0.113.10")
			n.without("Pod/kube-system/kube-proxy-c")
		}, "outside", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictDegraded, root: "PROXY_MISSING", code: "PROXY_MISSING", object: "DaemonSet/kube-system/kube-proxy", summary: "on 2 of 3 Ready nodes"}},
		{"pod calls its own Service", nil, "pod/web-1", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "PROXY_HAIRPIN", object: "Service/shop/web"}},
		{"IPVS without strictARP beside MetalLB", func(n *pathNet) {
			n.find("ConfigMap/kube-system/kube-proxy").(*corev1.ConfigMap).Data["config.conf"] = "kind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n"
			n.add(pnDaemonSet("metallb-system", "speaker", map[string]string{"app": "metallb", "component": "speaker"}))
			pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyCluster, "203.0.113.10")
		}, "pod/client", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "PROXY_IPVS_STRICTARP", object: "ConfigMap/kube-system/kube-proxy", summary: "kube-proxy (ipvs)"}},
		{"headless Service has no proxy rules", func(n *pathNet) { n.svc("shop", "web").Spec.ClusterIP = corev1.ClusterIPNone }, "pod/client", "svc/web",
			pnCase{status: report.StatusSkip, verdict: report.VerdictReachable}},
		{"direct to a pod", nil, "pod/client", "pod/web-1:8080",
			pnCase{status: report.StatusSkip, verdict: report.VerdictReachable}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newPathNet()
			if c.setup != nil {
				c.setup(n)
			}
			c.want.check(t, n.trace(t, c.source, c.target), report.LayerProxy)
		})
	}
}
