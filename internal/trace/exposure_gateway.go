package trace

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"reach/internal/report"
)

const gatewayGroup = "gateway.networking.k8s.io"

// isServiceRef says whether a backendRef names a core Service (the default kind).
func isServiceRef(b gwv1.BackendObjectReference) bool {
	group, kind := "", "Service"
	if b.Group != nil {
		group = string(*b.Group)
	}
	if b.Kind != nil {
		kind = string(*b.Kind)
	}
	return group == "" && kind == "Service"
}

func refNamespace(ns *gwv1.Namespace, def string) string {
	if ns == nil || *ns == "" {
		return def
	}
	return string(*ns)
}

// backendRefsTo lists a route's backendRefs that name the Service.
func backendRefsTo(rt *gwv1.HTTPRoute, svc *corev1.Service) []gwv1.BackendObjectReference {
	var out []gwv1.BackendObjectReference
	for _, rule := range rt.Spec.Rules {
		for _, b := range rule.BackendRefs {
			ref := b.BackendObjectReference
			if isServiceRef(ref) && string(ref.Name) == svc.Name && refNamespace(ref.Namespace, rt.Namespace) == svc.Namespace {
				out = append(out, ref)
			}
		}
	}
	return out
}

// routesTo lists the HTTPRoutes with a backendRef to the Service, by namespace and name.
func (r *run) routesTo(svc *corev1.Service) []*gwv1.HTTPRoute {
	var out []*gwv1.HTTPRoute
	for _, k := range sortedKeys(r.m.HTTPRoutes) {
		if rt := r.m.HTTPRoutes[k]; len(backendRefsTo(rt, svc)) > 0 {
			out = append(out, rt)
		}
	}
	return out
}

// checkRoute: the route's backendRefs to the Service resolve, and some parent Gateway listener accepts the route.
func (r *run) checkRoute(rt *gwv1.HTTPRoute) entryCheck {
	e := entryCheck{name: fmt.Sprintf("HTTPRoute %s/%s", rt.Namespace, rt.Name)}
	for _, b := range backendRefsTo(rt, r.svc) {
		r.routeBackend(rt, b, &e)
	}
	via := r.routeParents(rt, &e)
	r.routeStatus(rt, &e)
	e.summary = fmt.Sprintf("HTTPRoute %s via %s -> Service %s", rt.Name, orDefault(via, "no Gateway"), r.svc.Name)
	return e
}

func (r *run) routeRef(rt *gwv1.HTTPRoute) report.ObjectRef {
	return r.obj("HTTPRoute", rt.Namespace, rt.Name)
}

// routeBackend: a backendRef to another namespace needs a ReferenceGrant there; its port must be a Service port.
func (r *run) routeBackend(rt *gwv1.HTTPRoute, b gwv1.BackendObjectReference, e *entryCheck) {
	svc := r.svc
	related := []report.ObjectRef{r.svcRef()}
	if svc.Namespace != rt.Namespace && !r.referenceGranted(rt, svc, e) {
		return
	}
	if b.Port == nil {
		e.fail(report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Related: related, Field: "spec.rules[].backendRefs[].port",
			Message:  fmt.Sprintf("HTTPRoute %s sends to Service %s without a port, which a Service backendRef requires: the reference does not resolve", rt.Name, svc.Name),
			Evidence: []string{"Service ports: " + servicePorts(svc)},
			Fix:      fmt.Sprintf("set port: %d on the backendRef", svc.Spec.Ports[0].Port)})
		return
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == int32(*b.Port) {
			return
		}
	}
	e.fail(report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Related: related, Field: "spec.rules[].backendRefs[].port",
		Message:  fmt.Sprintf("HTTPRoute %s sends to port %d of Service %s, which the Service does not have: the reference does not resolve", rt.Name, *b.Port, svc.Name),
		Evidence: []string{"Service ports: " + servicePorts(svc)},
		Fix:      fmt.Sprintf("set the backendRef port to one of the Service's ports (%s)", servicePorts(svc))})
}

// referenceGranted: a ReferenceGrant in the Service's namespace lets HTTPRoutes of the route's namespace refer to it.
func (r *run) referenceGranted(rt *gwv1.HTTPRoute, svc *corev1.Service, e *entryCheck) bool {
	var seen []string
	for _, k := range sortedKeys(r.m.ReferenceGrants) {
		if k.Namespace != svc.Namespace {
			continue
		}
		g := r.m.ReferenceGrants[k]
		seen = append(seen, g.Name)
		if grantFrom(g.Spec.From, rt.Namespace) && grantTo(g.Spec.To, svc.Name) {
			e.details = append(e.details, fmt.Sprintf("ReferenceGrant %s/%s lets HTTPRoutes in %s refer to Service %s", g.Namespace, g.Name, rt.Namespace, svc.Name))
			return true
		}
	}
	if ok, why := r.m.Coverage.Covered("ReferenceGrant", svc.Namespace); !ok {
		e.unknown = fmt.Sprintf("HTTPRoute %s refers to Service %s/%s across namespaces; cannot see ReferenceGrants there: %s", rt.Name, svc.Namespace, svc.Name, why)
		return false
	}
	e.fail(report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Related: []report.ObjectRef{r.svcRef()}, Field: "spec.rules[].backendRefs[].namespace",
		Message: fmt.Sprintf("HTTPRoute %s in namespace %s sends to Service %s in namespace %s, and no ReferenceGrant there allows it: the reference does not resolve (RefNotPermitted)",
			rt.Name, rt.Namespace, svc.Name, svc.Namespace),
		Evidence: []string{fmt.Sprintf("ReferenceGrants in %s: %s", svc.Namespace, orNone(strings.Join(seen, ", ")))},
		Fix: fmt.Sprintf("create a ReferenceGrant in namespace %s with from: [{group: %s, kind: HTTPRoute, namespace: %s}] and to: [{group: \"\", kind: Service, name: %s}]",
			svc.Namespace, gatewayGroup, rt.Namespace, svc.Name)})
	return false
}

func grantFrom(from []gwv1.ReferenceGrantFrom, ns string) bool {
	for _, f := range from {
		if string(f.Group) == gatewayGroup && f.Kind == "HTTPRoute" && string(f.Namespace) == ns {
			return true
		}
	}
	return false
}

func grantTo(to []gwv1.ReferenceGrantTo, name string) bool {
	for _, t := range to {
		if t.Group == "" && t.Kind == "Service" && (t.Name == nil || *t.Name == "" || string(*t.Name) == name) {
			return true
		}
	}
	return false
}

// routeStatus quotes what the Gateway controller says about the route; a False condition it reports fails the route.
func (r *run) routeStatus(rt *gwv1.HTTPRoute, e *entryCheck) {
	for _, ps := range rt.Status.Parents {
		gw := fmt.Sprintf("Gateway %s/%s", refNamespace(ps.ParentRef.Namespace, rt.Namespace), ps.ParentRef.Name)
		for _, c := range ps.Conditions {
			if c.Type != "Accepted" && c.Type != "ResolvedRefs" {
				continue
			}
			line := fmt.Sprintf("status.parents[%s].conditions %s=%s reason %s: %s", gw, c.Type, c.Status, c.Reason, c.Message)
			e.details = append(e.details, line)
			if c.Status == "False" && !e.blocked() {
				e.fail(report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Related: []report.ObjectRef{r.svcRef()}, Field: "status.parents[].conditions",
					Message:  fmt.Sprintf("the Gateway controller reports HTTPRoute %s %s=False (%s) for %s", rt.Name, c.Type, c.Reason, gw),
					Evidence: []string{line},
					Fix:      fmt.Sprintf("kubectl -n %s describe httproute %s; fix what the %s condition names", rt.Namespace, rt.Name, c.Type)})
			}
		}
	}
}
