package trace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/report"
)

const (
	ingressClassAnnotation   = "kubernetes.io/ingress.class"
	defaultClassAnnotation   = "ingressclass.kubernetes.io/is-default-class"
	ingressBackendFieldPaths = "spec.rules[].http.paths[].backend.service"
)

// ingressEntriesFor checks the Ingresses of the Service's namespace that route to it (Ingress backends cannot cross namespaces).
func (r *run) ingressEntriesFor(svc *corev1.Service) []entryCheck {
	var out []entryCheck
	for _, k := range sortedKeys(r.m.Ingresses) {
		if k.Namespace != svc.Namespace {
			continue
		}
		ing := r.m.Ingresses[k]
		if b, host, path := ingressBackendTo(ing, svc.Name); b != nil {
			out = append(out, r.checkIngressEntry(ing, b, host, path))
		}
	}
	return out
}

// ingressBackendTo finds the first rule path, else the default backend, that sends to the named Service.
func ingressBackendTo(ing *networkingv1.Ingress, name string) (*networkingv1.IngressServiceBackend, string, string) {
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Name == name {
				return p.Backend.Service, rule.Host, p.Path
			}
		}
	}
	if d := ing.Spec.DefaultBackend; d != nil && d.Service != nil && d.Service.Name == name {
		return d.Service, "", ""
	}
	return nil, "", ""
}

// checkIngressEntry: the Ingress has a class a controller serves, and its backend Service, port and endpoints exist.
func (r *run) checkIngressEntry(ing *networkingv1.Ingress, b *networkingv1.IngressServiceBackend, host, path string) entryCheck {
	e := entryCheck{name: fmt.Sprintf("Ingress %s/%s", ing.Namespace, ing.Name)}
	class := r.ingressClassOf(ing, &e)
	r.ingressBackend(ing, b, &e)
	target := "no Service backend"
	if b != nil {
		target = fmt.Sprintf("Service %s:%s", b.Name, ingressPortString(b))
	}
	e.summary = fmt.Sprintf("Ingress %s (class %s) %s -> %s", ing.Name, class, hostPath(host, path), target)
	if addrs := ingressAddresses(ing); len(addrs) > 0 {
		e.summary += " at " + strings.Join(addrs, ", ")
	}
	return e
}

func hostPath(host, path string) string {
	return orDefault(host, "*") + orDefault(path, "/")
}

func ingressPortString(b *networkingv1.IngressServiceBackend) string {
	if b.Port.Name != "" {
		return b.Port.Name
	}
	return fmt.Sprintf("%d", b.Port.Number)
}

func ingressAddresses(ing *networkingv1.Ingress) []string {
	var out []string
	for _, i := range ing.Status.LoadBalancer.Ingress {
		if i.IP != "" {
			out = append(out, i.IP)
		} else if i.Hostname != "" {
			out = append(out, i.Hostname)
		}
	}
	return out
}

// ingressClassOf resolves the Ingress's class; a class no IngressClass defines, or none without a default, fails.
func (r *run) ingressClassOf(ing *networkingv1.Ingress, e *entryCheck) string {
	name, field := ing.Annotations[ingressClassAnnotation], "metadata.annotations["+ingressClassAnnotation+"]"
	if ing.Spec.IngressClassName != nil {
		name, field = *ing.Spec.IngressClassName, "spec.ingressClassName"
	}
	if addrs := ingressAddresses(ing); len(addrs) > 0 {
		e.details = append(e.details, fmt.Sprintf("Ingress %s status.loadBalancer: %s: a controller serves it", ing.Name, strings.Join(addrs, ", ")))
		return orDefault(name, "default")
	}
	if ok, why := r.m.Coverage.Covered("IngressClass", ""); !ok {
		e.unknown = "cannot see IngressClasses: " + why
		return orDefault(name, "unset")
	}
	if name == "" {
		if d := r.defaultIngressClass(); d != "" {
			return d + " (default)"
		}
		r.ingressNoClass(ing, e)
		return "none"
	}
	if r.m.IngressClasses[name] != nil {
		return name
	}
	r.ingressUnknownClass(ing, name, field, e)
	return name
}

func (r *run) defaultIngressClass() string {
	for _, name := range r.ingressClassNames() {
		if r.m.IngressClasses[name].Annotations[defaultClassAnnotation] == "true" {
			return name
		}
	}
	return ""
}

func (r *run) ingressClassNames() []string {
	out := make([]string, 0, len(r.m.IngressClasses))
	for n := range r.m.IngressClasses {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ingressClassEvidence lists the IngressClasses that exist, with their controllers.
func (r *run) ingressClassEvidence(ing *networkingv1.Ingress) []string {
	var list []string
	for _, n := range r.ingressClassNames() {
		c := r.m.IngressClasses[n]
		s := fmt.Sprintf("%s (controller %s", n, orNone(c.Spec.Controller))
		if c.Annotations[defaultClassAnnotation] == "true" {
			s += ", default"
		}
		list = append(list, s+")")
	}
	return []string{"IngressClasses: " + orNone(strings.Join(list, ", ")), fmt.Sprintf("Ingress %s status.loadBalancer: empty (no controller has taken it)", ing.Name)}
}

func (r *run) ingressNoClass(ing *networkingv1.Ingress, e *entryCheck) {
	fix := "install an ingress controller (it creates an IngressClass), then set spec.ingressClassName to that class"
	if names := r.ingressClassNames(); len(names) > 0 {
		fix = fmt.Sprintf("kubectl -n %s patch ingress %s --type merge -p '{\"spec\":{\"ingressClassName\":\"%s\"}}', or mark a class default: kubectl annotate ingressclass %s %s=true",
			ing.Namespace, ing.Name, names[0], names[0], defaultClassAnnotation)
	}
	e.fail(report.Finding{Code: "EXPOSURE_INGRESS_CLASS", Object: r.obj("Ingress", ing.Namespace, ing.Name), Field: "spec.ingressClassName",
		Message:  fmt.Sprintf("Ingress %s names no class and no IngressClass is marked default: no controller picks it up, so it gets no address", ing.Name),
		Evidence: append([]string{"spec.ingressClassName: unset; annotation " + ingressClassAnnotation + ": unset"}, r.ingressClassEvidence(ing)...),
		Fix:      fix})
}

func (r *run) ingressUnknownClass(ing *networkingv1.Ingress, name, field string, e *entryCheck) {
	fix := fmt.Sprintf("install the controller for class %q, or set %s to an existing class", name, field)
	best := ""
	for _, n := range r.ingressClassNames() {
		if best == "" || levenshtein(n, name) < levenshtein(best, name) {
			best = n
		}
	}
	if best != "" {
		fix = fmt.Sprintf("kubectl -n %s patch ingress %s --type merge -p '{\"spec\":{\"ingressClassName\":\"%s\"}}' (an existing class)", ing.Namespace, ing.Name, best)
	}
	e.fail(report.Finding{Code: "EXPOSURE_INGRESS_CLASS", Object: r.obj("Ingress", ing.Namespace, ing.Name), Field: field,
		Message:  fmt.Sprintf("Ingress %s asks for class %q, which no IngressClass defines: no controller serves it, so it gets no address", ing.Name, name),
		Evidence: append([]string{fmt.Sprintf("%s: %s", field, name)}, r.ingressClassEvidence(ing)...),
		Fix:      fix})
}

// ingressBackend: the backend Service exists in the Ingress's namespace, has the port, and has a ready endpoint.
func (r *run) ingressBackend(ing *networkingv1.Ingress, b *networkingv1.IngressServiceBackend, e *entryCheck) {
	obj := r.obj("Ingress", ing.Namespace, ing.Name)
	if b == nil {
		e.fail(report.Finding{Code: "EXPOSURE_INGRESS_BACKEND", Object: obj, Field: "spec.rules",
			Message: fmt.Sprintf("Ingress %s has no Service backend (no rule path and no defaultBackend names a Service)", ing.Name),
			Fix:     "add a rule path whose backend.service names the Service and port"})
		return
	}
	svc := r.m.Service(ing.Namespace, b.Name)
	if svc == nil {
		r.ingressServiceMissing(ing, b, e)
		return
	}
	var sp *corev1.ServicePort
	want := ingressPort{number: b.Port.Number, name: b.Port.Name}
	for i := range svc.Spec.Ports {
		if want.matches(&svc.Spec.Ports[i]) {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		e.fail(report.Finding{Code: "EXPOSURE_INGRESS_BACKEND", Object: obj, Related: []report.ObjectRef{r.obj("Service", svc.Namespace, svc.Name)}, Field: ingressBackendFieldPaths + ".port",
			Message:  fmt.Sprintf("Ingress %s sends to port %s of Service %s, which the Service does not have: the controller answers 503", ing.Name, ingressPortString(b), svc.Name),
			Evidence: []string{"Service ports: " + servicePorts(svc)},
			Fix:      fmt.Sprintf("set the Ingress backend port to one of the Service's ports (%s)", servicePorts(svc))})
		return
	}
	r.ingressEndpoints(ing, svc, sp, e)
}

func (r *run) ingressServiceMissing(ing *networkingv1.Ingress, b *networkingv1.IngressServiceBackend, e *entryCheck) {
	if !r.m.Coverage.Absent("Service", ing.Namespace, b.Name) {
		_, why := r.m.Coverage.Covered("Service", ing.Namespace)
		e.unknown = fmt.Sprintf("cannot see Service %s: %s", b.Name, why)
		return
	}
	ev := []string{fmt.Sprintf("no Service %s in namespace %s; Ingress backends cannot cross namespaces", b.Name, ing.Namespace)}
	related := []report.ObjectRef{}
	fix := fmt.Sprintf("create Service %s in namespace %s, or point the Ingress at an existing Service there", b.Name, ing.Namespace)
	for _, s := range r.m.ServicesNamed(b.Name) {
		ev = append(ev, fmt.Sprintf("Service %s exists in namespace %s", s.Name, s.Namespace))
		related = append(related, r.obj("Service", s.Namespace, s.Name))
		fix = fmt.Sprintf("create the Ingress in namespace %s, or add an ExternalName Service %s in %s pointing to %s.%s.svc.%s (if the controller allows ExternalName backends)",
			s.Namespace, b.Name, ing.Namespace, s.Name, s.Namespace, clusterDomain(r.m))
	}
	e.fail(report.Finding{Code: "EXPOSURE_INGRESS_BACKEND", Object: r.obj("Ingress", ing.Namespace, ing.Name), Related: related, Field: ingressBackendFieldPaths + ".name",
		Message:  fmt.Sprintf("Ingress %s sends to Service %s, which does not exist in namespace %s: the controller answers 503", ing.Name, b.Name, ing.Namespace),
		Evidence: ev, Fix: fix})
}

func (r *run) ingressEndpoints(ing *networkingv1.Ingress, svc *corev1.Service, sp *corev1.ServicePort, e *entryCheck) {
	ready, why, seen := r.backendReady(svc, sp)
	switch {
	case !seen:
		e.unknown = fmt.Sprintf("cannot see the endpoints of Service %s", svc.Name)
	case !ready:
		e.fail(report.Finding{Code: "EXPOSURE_INGRESS_BACKEND", Object: r.obj("Service", svc.Namespace, svc.Name), Related: []report.ObjectRef{r.obj("Ingress", ing.Namespace, ing.Name)},
			Message:  fmt.Sprintf("Service %s behind Ingress %s has no ready endpoint for port %s: the controller answers 503", svc.Name, ing.Name, portString(sp)),
			Evidence: []string{why},
			Fix: fmt.Sprintf("make the Service's pods ready (see the endpoints and pod layers): kubectl -n %s get endpointslices -l kubernetes.io/service-name=%s; kubectl -n %s describe pods -l %s",
				svc.Namespace, svc.Name, svc.Namespace, labelsOrNone(svc.Spec.Selector))})
	}
}
