package trace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"reach/internal/report"
)

func pnIngressClass(name string, isDefault bool) *networkingv1.IngressClass {
	c := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
	if isDefault {
		c.Annotations = map[string]string{defaultClassAnnotation: "true"}
	}
	return c
}

// pnIngress routes shop.example.com/ to a Service port, by number or by name.
func pnIngress(ns, name, class, svc string, port int32, portName string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if class != "" {
		ing.Spec.IngressClassName = &class
	}
	pt := networkingv1.PathTypePrefix
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pt, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: svc, Port: networkingv1.ServiceBackendPort{Number: port, Name: portName}}}}}}}}}
	return ing
}

func pnGateway(from gwv1.FromNamespaces, sel map[string]string, hostname string) *gwv1.Gateway {
	l := gwv1.Listener{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType,
		AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &from}}}
	if sel != nil {
		l.AllowedRoutes.Namespaces.Selector = &metav1.LabelSelector{MatchLabels: sel}
	}
	if hostname != "" {
		h := gwv1.Hostname(hostname)
		l.Hostname = &h
	}
	return &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "gw"},
		Spec: gwv1.GatewaySpec{GatewayClassName: "envoy", Listeners: []gwv1.Listener{l}}}
}

// pnRoute attaches to Gateway infra/gw and sends to Service backendNS/web port 80.
func pnRoute(ns, backendNS, section string, hostnames ...string) *gwv1.HTTPRoute {
	gwNS, port := gwv1.Namespace("infra"), gwv1.PortNumber(80)
	pr := gwv1.ParentReference{Name: "gw", Namespace: &gwNS}
	if section != "" {
		s := gwv1.SectionName(section)
		pr.SectionName = &s
	}
	b := gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "web", Port: &port}}}
	if backendNS != ns {
		bns := gwv1.Namespace(backendNS)
		b.Namespace = &bns
	}
	rt := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
	rt.Spec.ParentRefs = []gwv1.ParentReference{pr}
	for _, h := range hostnames {
		rt.Spec.Hostnames = append(rt.Spec.Hostnames, gwv1.Hostname(h))
	}
	rt.Spec.Rules = []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{b}}}
	return rt
}

func pnGrant(ns, fromNS string) *gwv1beta1.ReferenceGrant {
	g := &gwv1beta1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "from-" + fromNS}}
	g.Spec.From = []gwv1.ReferenceGrantFrom{{Group: gatewayGroup, Kind: "HTTPRoute", Namespace: gwv1.Namespace(fromNS)}}
	g.Spec.To = []gwv1.ReferenceGrantTo{{Group: "", Kind: "Service"}}
	return g
}

func pnGatewayClass() *gwv1.GatewayClass {
	return &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "envoy"}, Spec: gwv1.GatewayClassSpec{ControllerName: "gateway.envoyproxy.io/gatewayclass-controller"}}
}

func TestExposure(t *testing.T) {
	cases := []struct {
		name           string
		setup          func(*pathNet)
		source, target string
		want           pnCase
	}{
		{"LoadBalancer pending is reachable on the NodePort", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyCluster, "")
		}, "outside", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "EXPOSURE_LB_PENDING", object: "Service/shop/web"}},
		{"LoadBalancer with an address", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeLoadBalancer, corev1.ServiceExternalTrafficPolicyCluster, "203.0.113.10")
			n.svc("shop", "web").Spec.LoadBalancerSourceRanges = []string{"198.51.100.0/24"}
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "LoadBalancer 203.0.113.10 port 80"}},
		{"NodePort on one node", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster, "")
		}, "outside", "node/node-a:30080",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "NodePort 30080 on node node-a (10.0.0.1)"}},
		{"nodePort outside the range in a manifest", func(n *pathNet) {
			pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster, "")
			n.svc("shop", "web").Spec.Ports[0].NodePort = 40080
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_NODEPORT_RANGE", code: "EXPOSURE_NODEPORT_RANGE", object: "Service/shop/web"}},
		{"ClusterIP from outside with nothing in front", nil, "outside", "svc/web",
			pnCase{status: report.StatusWarn, verdict: report.VerdictBlocked, root: "SERVICE_CLUSTERIP_FROM_OUTSIDE", summary: "nothing exposes it outside the cluster"}},
		{"Ingress with a known class", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "nginx", "web", 80, ""))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "Ingress web (class nginx) shop.example.com/ -> Service web:80"}},
		{"Ingress in front of a ClusterIP Service", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "nginx", "web", 0, "http"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "Ingress web (class nginx)"}},
		{"Ingress with an unknown class", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "ngnix", "web", 80, ""))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_INGRESS_CLASS", code: "EXPOSURE_INGRESS_CLASS", object: "Ingress/shop/web"}},
		{"Ingress without class and without default", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "", "web", 80, ""))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_INGRESS_CLASS", code: "EXPOSURE_INGRESS_CLASS", object: "Ingress/shop/web"}},
		{"Ingress without class takes the default", func(n *pathNet) {
			n.add(pnIngressClass("nginx", true), pnIngress("shop", "web", "", "web", 80, ""))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "class nginx (default)"}},
		{"IngressClasses not visible", func(n *pathNet) {
			n.add(pnIngress("shop", "web", "nginx", "web", 80, ""))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusUnknown, verdict: report.VerdictUnknown}},
		{"Ingress backend Service in another namespace", func(n *pathNet) {
			n.add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "front"}})
			n.add(pnIngressClass("nginx", false), pnIngress("front", "web", "nginx", "web", 80, ""))
		}, "outside", "front/ingress/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_INGRESS_BACKEND", code: "EXPOSURE_INGRESS_BACKEND", object: "Ingress/front/web"}},
		{"Ingress backend port not on the Service", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "nginx", "web", 0, "https"))
		}, "outside", "ingress/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_INGRESS_BACKEND", code: "EXPOSURE_INGRESS_BACKEND", object: "Ingress/shop/web"}},
		{"Ingress backend without ready endpoints", func(n *pathNet) {
			n.add(pnIngressClass("nginx", false), pnIngress("shop", "web", "nginx", "web", 80, ""))
			n.svc("shop", "web").Spec.Selector = map[string]string{"app": "webb"}
			n.without("EndpointSlice/shop/web-abc12")
		}, "outside", "ingress/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_INGRESS_BACKEND", code: "EXPOSURE_INGRESS_BACKEND", object: "Service/shop/web"}},
		{"HTTPRoute from another namespace than the Gateway's (Same)", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSame, nil, ""), pnRoute("shop", "shop", ""))
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/shop/web"}},
		{"HTTPRoute allowed from All namespaces", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromAll, nil, "*.example.com"), pnRoute("shop", "shop", "http", "shop.example.com"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "HTTPRoute web via Gateway infra/gw listener http (HTTP 80)"}},
		{"HTTPRoute allowed by namespace selector", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSelector, map[string]string{"team": "shop"}, ""), pnRoute("shop", "shop", ""))
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable}},
		{"HTTPRoute namespace not selected", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSelector, map[string]string{"gateway": "public"}, ""), pnRoute("shop", "shop", ""))
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/shop/web"}},
		{"HTTPRoute hostname not on the listener", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromAll, nil, "*.example.com"), pnRoute("shop", "shop", "", "shop.example.org"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/shop/web"}},
		{"HTTPRoute sectionName names no listener", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromAll, nil, ""), pnRoute("shop", "shop", "https"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/shop/web"}},
		{"cross-namespace backendRef without ReferenceGrant", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSame, nil, ""), pnRoute("infra", "shop", ""), pnGrant("shop", "other"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/infra/web"}},
		{"cross-namespace backendRef with ReferenceGrant", func(n *pathNet) {
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromSame, nil, ""), pnRoute("infra", "shop", ""), pnGrant("shop", "infra"))
		}, "outside", "svc/web",
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable}},
		{"route status says not accepted", func(n *pathNet) {
			rt := pnRoute("shop", "shop", "")
			rt.Status.Parents = []gwv1.RouteParentStatus{{ParentRef: rt.Spec.ParentRefs[0], ControllerName: "example.com/gw",
				Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "NotAllowedByListeners", Message: "no listener allows this route"}}}}
			n.add(pnGatewayClass(), pnGateway(gwv1.NamespacesFromAll, nil, ""), rt)
		}, "outside", "svc/web",
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_GATEWAY_ROUTE", code: "EXPOSURE_GATEWAY_ROUTE", object: "HTTPRoute/shop/web"}},
		{"pod from outside", nil, "outside", "pod/web-1:8080",
			pnCase{status: report.StatusSkip, verdict: report.VerdictReachable}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newPathNet()
			if c.setup != nil {
				c.setup(n)
			}
			c.want.check(t, n.trace(t, c.source, c.target), report.LayerExposure)
		})
	}
}

func TestHostnamesIntersect(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"shop.example.com", "shop.example.com", true},
		{"*.example.com", "shop.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"shop.example.com", "*.example.com", true},
		{"*.example.com", "*.shop.example.com", true},
		{"*.example.com", "*.example.org", false},
		{"shop.example.com", "cart.example.com", false},
	}
	for _, c := range cases {
		if got := hostnamesIntersect(c.a, c.b); got != c.want {
			t.Errorf("hostnamesIntersect(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
