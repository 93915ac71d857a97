package trace

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"reach/internal/report"
)

// listenerReject is why one Gateway listener does not accept a route, and what to change.
type listenerReject struct {
	listener string
	why      string
	onGW     bool // the Gateway must change (else the route)
	field    string
	fix      string
}

func isGatewayRef(pr gwv1.ParentReference) bool {
	return (pr.Group == nil || string(*pr.Group) == gatewayGroup) && (pr.Kind == nil || *pr.Kind == "Gateway")
}

// routeParents: some parent Gateway listener accepts the route. It returns how the route attaches, "" when it does not.
func (r *run) routeParents(rt *gwv1.HTTPRoute, e *entryCheck) string {
	var via []string
	var failed []report.Finding
	unknown := ""
	for _, pr := range rt.Spec.ParentRefs {
		if !isGatewayRef(pr) {
			e.details = append(e.details, fmt.Sprintf("parentRef %s: not a Gateway, not checked", pr.Name))
			continue
		}
		desc, f, why := r.routeParent(rt, pr)
		switch {
		case desc != "":
			via = append(via, desc)
		case f != nil:
			failed = append(failed, *f)
		default:
			unknown = why
		}
	}
	for _, f := range failed {
		if len(via) > 0 {
			f.Severity = report.SeverityWarning
		}
		e.fail(f)
	}
	switch {
	case len(via) > 0:
		return strings.Join(via, ", ")
	case len(failed) == 0 && unknown != "" && e.unknown == "":
		e.unknown = unknown
	case len(rt.Spec.ParentRefs) == 0:
		e.fail(report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Field: "spec.parentRefs",
			Message: fmt.Sprintf("HTTPRoute %s names no parent Gateway: nothing serves it", rt.Name),
			Fix:     "add spec.parentRefs: [{name: GATEWAY, namespace: NAMESPACE}]"})
	}
	return ""
}

// routeParent checks one parentRef: the Gateway exists, has a class, and a listener accepts the route.
func (r *run) routeParent(rt *gwv1.HTTPRoute, pr gwv1.ParentReference) (string, *report.Finding, string) {
	ns := refNamespace(pr.Namespace, rt.Namespace)
	gw := r.m.Gateways[keyOf(ns, string(pr.Name))]
	if gw == nil {
		if !r.m.Coverage.Absent("Gateway", ns, string(pr.Name)) {
			_, why := r.m.Coverage.Covered("Gateway", ns)
			return "", nil, fmt.Sprintf("cannot see Gateway %s/%s: %s", ns, pr.Name, why)
		}
		return "", &report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Field: "spec.parentRefs",
			Message: fmt.Sprintf("HTTPRoute %s attaches to Gateway %s/%s, which does not exist", rt.Name, ns, pr.Name),
			Fix:     "point spec.parentRefs at an existing Gateway: kubectl get gateways -A"}, ""
	}
	if f := r.gatewayClassMissing(gw); f != nil {
		return "", f, ""
	}
	listeners := candidateListeners(gw, pr)
	if len(listeners) == 0 {
		return "", r.noSuchListener(rt, gw, pr), ""
	}
	var rejects []listenerReject
	for _, l := range listeners {
		rej := r.listenerRejects(gw, l, rt)
		if rej == nil {
			return fmt.Sprintf("Gateway %s/%s listener %s (%s %d)", gw.Namespace, gw.Name, l.Name, l.Protocol, l.Port), nil, ""
		}
		rejects = append(rejects, *rej)
	}
	return "", r.rejectFinding(rt, gw, rejects), ""
}

func (r *run) gatewayClassMissing(gw *gwv1.Gateway) *report.Finding {
	name := string(gw.Spec.GatewayClassName)
	if ok, _ := r.m.Coverage.Covered("GatewayClass", ""); !ok || r.m.GatewayClasses[name] != nil {
		return nil
	}
	return &report.Finding{Code: "EXPOSURE_GATEWAY_CLASS", Object: r.obj("Gateway", gw.Namespace, gw.Name), Field: "spec.gatewayClassName",
		Message: fmt.Sprintf("Gateway %s names GatewayClass %q, which does not exist: no controller programs it", gw.Name, name),
		Fix:     "set spec.gatewayClassName to an installed class (kubectl get gatewayclasses), or install the controller of that class"}
}

// candidateListeners: the listeners a parentRef selects by sectionName and port.
func candidateListeners(gw *gwv1.Gateway, pr gwv1.ParentReference) []gwv1.Listener {
	var out []gwv1.Listener
	for _, l := range gw.Spec.Listeners {
		if pr.SectionName != nil && *pr.SectionName != "" && l.Name != *pr.SectionName {
			continue
		}
		if pr.Port != nil && l.Port != *pr.Port {
			continue
		}
		out = append(out, l)
	}
	return out
}

func listenerNames(gw *gwv1.Gateway) string {
	var out []string
	for _, l := range gw.Spec.Listeners {
		out = append(out, fmt.Sprintf("%s (%s %d)", l.Name, l.Protocol, l.Port))
	}
	return orNone(strings.Join(out, ", "))
}

func (r *run) noSuchListener(rt *gwv1.HTTPRoute, gw *gwv1.Gateway, pr gwv1.ParentReference) *report.Finding {
	want := ""
	if pr.SectionName != nil {
		want = fmt.Sprintf("sectionName %s", *pr.SectionName)
	}
	if pr.Port != nil {
		want = strings.TrimSpace(fmt.Sprintf("%s port %d", want, *pr.Port))
	}
	return &report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: r.routeRef(rt), Related: []report.ObjectRef{r.obj("Gateway", gw.Namespace, gw.Name)}, Field: "spec.parentRefs[].sectionName",
		Message:  fmt.Sprintf("HTTPRoute %s asks Gateway %s for %s, which no listener has: the route is not attached (NoMatchingParent)", rt.Name, gw.Name, want),
		Evidence: []string{fmt.Sprintf("Gateway %s/%s listeners: %s", gw.Namespace, gw.Name, listenerNames(gw))},
		Fix:      "set spec.parentRefs[].sectionName (and port) to a listener of the Gateway, or drop them to attach to every listener"}
}

func (r *run) rejectFinding(rt *gwv1.HTTPRoute, gw *gwv1.Gateway, rejects []listenerReject) *report.Finding {
	first := rejects[0]
	// The route is what is refused; the fix may sit on the Gateway's listener, which the field and fix name.
	obj, related := r.routeRef(rt), []report.ObjectRef{r.obj("Gateway", gw.Namespace, gw.Name)}
	var ev []string
	for _, j := range rejects {
		ev = append(ev, fmt.Sprintf("Gateway %s/%s listener %s: %s", gw.Namespace, gw.Name, j.listener, j.why))
	}
	return &report.Finding{Code: "EXPOSURE_GATEWAY_ROUTE", Object: obj, Related: related, Field: first.field,
		Message:  fmt.Sprintf("no listener of Gateway %s/%s accepts HTTPRoute %s/%s: %s", gw.Namespace, gw.Name, rt.Namespace, rt.Name, first.why),
		Evidence: ev, Fix: first.fix}
}

// listenerRejects says why a listener does not accept the route (kinds, namespaces, hostnames), nil when it does.
func (r *run) listenerRejects(gw *gwv1.Gateway, l gwv1.Listener, rt *gwv1.HTTPRoute) *listenerReject {
	if j := listenerKinds(gw, l); j != nil {
		return j
	}
	if j := r.listenerNamespaces(gw, l, rt); j != nil {
		return j
	}
	return listenerHostnames(gw, l, rt)
}

func listenerKinds(gw *gwv1.Gateway, l gwv1.Listener) *listenerReject {
	field := fmt.Sprintf("spec.listeners[%s].allowedRoutes.kinds", l.Name)
	if ar := l.AllowedRoutes; ar != nil && len(ar.Kinds) > 0 {
		var kinds []string
		for _, k := range ar.Kinds {
			if (k.Group == nil || string(*k.Group) == gatewayGroup) && k.Kind == "HTTPRoute" {
				return nil
			}
			kinds = append(kinds, string(k.Kind))
		}
		return &listenerReject{listener: string(l.Name), onGW: true, field: field,
			why: "allowedRoutes.kinds lists " + strings.Join(kinds, ", ") + ", not HTTPRoute",
			fix: fmt.Sprintf("add {kind: HTTPRoute} to %s of Gateway %s/%s", field, gw.Namespace, gw.Name)}
	}
	if l.Protocol == gwv1.HTTPProtocolType || l.Protocol == gwv1.HTTPSProtocolType {
		return nil
	}
	return &listenerReject{listener: string(l.Name), onGW: false, field: "spec.parentRefs[].sectionName",
		why: fmt.Sprintf("protocol %s takes other route kinds, not HTTPRoute", l.Protocol),
		fix: "attach the route to an HTTP or HTTPS listener with spec.parentRefs[].sectionName"}
}

func (r *run) listenerNamespaces(gw *gwv1.Gateway, l gwv1.Listener, rt *gwv1.HTTPRoute) *listenerReject {
	from := gwv1.NamespacesFromSame
	var sel labels.Selector
	if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		if ar.Namespaces.Selector != nil {
			sel, _ = metav1LabelSelector(ar.Namespaces.Selector)
		}
	}
	field := fmt.Sprintf("spec.listeners[%s].allowedRoutes.namespaces", l.Name)
	j := &listenerReject{listener: string(l.Name), onGW: true, field: field + ".from",
		fix: fmt.Sprintf("on Gateway %s/%s set %s.from: All, or from: Selector with matchLabels kubernetes.io/metadata.name: %s", gw.Namespace, gw.Name, field, rt.Namespace)}
	switch {
	case from == gwv1.NamespacesFromAll:
		return nil
	case from == gwv1.NamespacesFromSame && rt.Namespace == gw.Namespace:
		return nil
	case from == gwv1.NamespacesFromSame:
		j.why = fmt.Sprintf("allowedRoutes.namespaces.from is Same (the default): only routes in namespace %s attach, and the route is in %s", gw.Namespace, rt.Namespace)
	case from == gwv1.NamespacesFromSelector && sel != nil && sel.Matches(labels.Set(r.m.NamespaceLabels(rt.Namespace))):
		return nil
	case from == gwv1.NamespacesFromSelector:
		j.field = field + ".selector"
		j.why = fmt.Sprintf("allowedRoutes.namespaces.selector %s does not match namespace %s (labels %s)", selectorString(sel), rt.Namespace, labelsOrNone(r.m.NamespaceLabels(rt.Namespace)))
		j.fix = fmt.Sprintf("label namespace %s to match the selector (kubectl label namespace %s KEY=VALUE), or widen %s.selector on Gateway %s/%s", rt.Namespace, rt.Namespace, field, gw.Namespace, gw.Name)
	default:
		j.why = fmt.Sprintf("allowedRoutes.namespaces.from is %s: no route attaches", from)
	}
	return j
}

func selectorString(s labels.Selector) string {
	if s == nil {
		return "<invalid or unset>"
	}
	return s.String()
}

func listenerHostnames(gw *gwv1.Gateway, l gwv1.Listener, rt *gwv1.HTTPRoute) *listenerReject {
	if l.Hostname == nil || *l.Hostname == "" || len(rt.Spec.Hostnames) == 0 {
		return nil
	}
	var hosts []string
	for _, h := range rt.Spec.Hostnames {
		if hostnamesIntersect(string(*l.Hostname), string(h)) {
			return nil
		}
		hosts = append(hosts, string(h))
	}
	return &listenerReject{listener: string(l.Name), field: "spec.hostnames",
		why: fmt.Sprintf("route hostnames %s do not match listener hostname %s (NoMatchingListenerHostname)", strings.Join(hosts, ", "), *l.Hostname),
		fix: fmt.Sprintf("add a hostname matching %s to spec.hostnames of HTTPRoute %s/%s, or attach to a listener for %s", *l.Hostname, rt.Namespace, rt.Name, hosts[0])}
}

// hostnamesIntersect: exact names match themselves; "*.example.com" matches any name below example.com.
func hostnamesIntersect(a, b string) bool {
	switch {
	case a == b:
		return true
	case strings.HasPrefix(a, "*.") && strings.HasPrefix(b, "*."):
		return strings.HasSuffix(a[1:], b[1:]) || strings.HasSuffix(b[1:], a[1:])
	case strings.HasPrefix(a, "*."):
		return strings.HasSuffix(b, a[1:])
	case strings.HasPrefix(b, "*."):
		return strings.HasSuffix(a, b[1:])
	}
	return false
}
