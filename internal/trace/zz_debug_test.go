package trace

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestZZDebug(t *testing.T) {
	if os.Getenv("PNDEBUG") == "" {
		t.Skip()
	}
	dump := func(n *pathNet, s, d string) {
		tr := n.trace(t, s, d)
		var ex any
		for _, h := range tr.Hops {
			if h.Layer == "exposure" {
				ex = h
			}
		}
		b, _ := json.MarshalIndent(struct{ V, H, F any }{tr.Verdict, ex, tr.Findings}, "", " ")
		fmt.Println(string(b))
	}
	n := newPathNet()
	n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSame, nil, ""), pnRoute("shop", "shop", ""))
	dump(n, "outside", "svc/web")
	n = newPathNet()
	n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSame, nil, ""), pnRoute("infra", "shop", ""), pnGrant("shop", "other"))
	dump(n, "outside", "svc/web")
	n = newPathNet()
	n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "nginx", "web", 80, ""))
	n.svc("shop", "web").Spec.Selector = map[string]string{"app": "webb"}
	n.without("EndpointSlice/shop/web-abc12")
	dump(n, "outside", "ingress/web")
	n = newPathNet()
	pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyCluster, "")
	dump(n, "outside", "svc/web")
	n = newPathNet()
	n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "ngnix", "web", 80, ""))
	dump(n, "outside", "ingress/web")
}
