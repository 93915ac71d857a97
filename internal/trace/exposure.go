package trace

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/ref"
	"reach/internal/report"
)

// ingressEntry is the Ingress rule a request from outside enters through.
type ingressEntry struct {
	ing     *networkingv1.Ingress
	backend *networkingv1.IngressServiceBackend // nil when the Ingress has no service backend
	host    string
	path    string
	port    ingressPort
}

// ingressPort is the Service port an Ingress backend names, by number or by name.
type ingressPort struct {
	number int32
	name   string
}

func (p ingressPort) matches(sp *corev1.ServicePort) bool {
	return p.number != 0 && sp.Port == p.number || p.name != "" && sp.Name == p.name
}

// resolveIngress picks the Ingress backend a request takes: the first rule's first path, else the default backend.
func (r *run) resolveIngress(t ref.Ref) {
	ing := r.m.Ingresses[keyOf(t.Namespace, t.Name)]
	if ing == nil {
		return
	}
	r.outside = true
	e := &ingressEntry{ing: ing}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil {
				e.backend, e.host, e.path = p.Backend.Service, rule.Host, p.Path
				break
			}
		}
		if e.backend != nil {
			break
		}
	}
	if e.backend == nil && ing.Spec.DefaultBackend != nil {
		e.backend = ing.Spec.DefaultBackend.Service
	}
	if e.backend != nil {
		e.port = ingressPort{number: e.backend.Port.Number, name: e.backend.Port.Name}
		r.svc = r.m.Service(ing.Namespace, e.backend.Name)
	}
	r.ingress = e
}

// checkExposure: how an outside client gets in (NodePort, LoadBalancer, Ingress, Gateway routes).
func (r *run) checkExposure() {
	mark := r.begin()
	r.end(mark, report.LayerExposure, report.StatusUnknown, "not checked yet")
}
