package trace

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/report"
)

// entryCheck is what one way in from outside (an Ingress or an HTTPRoute) was found to be.
type entryCheck struct {
	name     string // "Ingress shop/web"
	summary  string // how the request goes in when it works
	findings []report.Finding
	unknown  string // why part of it could not be checked
	details  []string
}

// fail records a finding of this way in, with the catalogue's severity.
func (e *entryCheck) fail(f report.Finding) {
	if ch, ok := report.Lookup(f.Code); ok && f.Severity == "" {
		f.Severity = ch.Severity
	}
	e.findings = append(e.findings, f)
}

func (e *entryCheck) blocked() bool {
	for _, f := range e.findings {
		if blocking(f) {
			return true
		}
	}
	return false
}

func (e *entryCheck) firstBlocking() report.Finding {
	for _, f := range e.findings {
		if blocking(f) {
			return f
		}
	}
	return report.Finding{}
}

func (e *entryCheck) ok() bool { return e.unknown == "" && !e.blocked() }

// endEntries ends the exposure hop from the ways in: one that works is enough, and the others only warn.
func (r *run) endEntries(mark int, entries []entryCheck) {
	best, unknown := -1, -1
	for i := range entries {
		if best < 0 && entries[i].ok() {
			best = i
		}
		if unknown < 0 && entries[i].unknown != "" && !entries[i].blocked() {
			unknown = i
		}
	}
	var details []string
	for i := range entries {
		e := &entries[i]
		for _, f := range e.findings {
			if i != best && (best >= 0 || unknown >= 0) {
				f.Severity = report.SeverityWarning
			}
			r.add(f)
		}
		if len(entries) > 1 {
			details = append(details, e.describe())
		}
		details = append(details, e.details...)
	}
	switch {
	case best >= 0:
		r.endAuto(mark, report.LayerExposure, entries[best].summary, details...)
	case unknown >= 0:
		r.end(mark, report.LayerExposure, report.StatusUnknown, entries[unknown].unknown, details...)
	default:
		r.endAuto(mark, report.LayerExposure, entries[0].firstBlocking().Message, details...)
	}
}

func (e *entryCheck) describe() string {
	switch {
	case e.blocked():
		return fmt.Sprintf("%s: %s", e.name, e.firstBlocking().Message)
	case e.unknown != "":
		return fmt.Sprintf("%s: %s", e.name, e.unknown)
	}
	return fmt.Sprintf("%s: %s", e.name, e.summary)
}

// backendReady says whether a Service has a ready endpoint for one port, and if not, why, as evidence;
// seen is false when the endpoints cannot be seen.
func (r *run) backendReady(svc *corev1.Service, sp *corev1.ServicePort) (ready bool, why string, seen bool) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return true, "", true
	}
	svc0, sp0, eps0, backends0 := r.svc, r.svcPort, r.eps, r.backends
	r.svc, r.svcPort, r.eps, r.backends = svc, sp, nil, nil
	v, pods := r.pathEndpoints()
	r.svc, r.svcPort, r.eps, r.backends = svc0, sp0, eps0, backends0
	switch {
	case len(svc.Spec.Selector) > 0 && len(pods) == 0:
		if ok, _ := r.m.Coverage.Covered("Pod", svc.Namespace); !ok {
			return false, "", false
		}
		return false, fmt.Sprintf("selector %s matches no pod", labelsOrNone(svc.Spec.Selector)), true
	case v == nil:
		return false, "", false
	}
	n, _, _ := v.count()
	if n > 0 {
		return true, "", true
	}
	return false, fmt.Sprintf("0 of %d endpoints ready (%s)", len(v.addrs), v.source), true
}
