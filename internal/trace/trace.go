// Package trace walks the path of one request through the model, hop by hop, and names the first
// place it breaks. It is a pure function of the model and the request.
package trace

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// Request is one trace: from Source to Target. Protocol is "" when the user did not say.
type Request struct {
	Source, Target ref.Ref
	Protocol       corev1.Protocol
}

// run carries what one trace has resolved so far; each layer reads it and adds its hop.
type run struct {
	m   *model.Cluster
	req Request

	// client side
	client     *corev1.Pod  // nil when the source is outside or a node
	clientNode *corev1.Node // the client's node, or the source node
	outside    bool

	// target side
	name      *resolution // how the target name resolves, when the target is a name
	svc       *corev1.Service
	svcPort   *corev1.ServicePort
	targetPod *corev1.Pod // a pod addressed directly (pod ref, pod IP, per-pod name)
	port      int32       // the port the client connects to
	protocol  corev1.Protocol
	viaNode   *corev1.Node  // the node addressed for NodePort traffic from outside
	ingress   *ingressEntry // the Ingress a request from outside enters through
	backends  []*corev1.Pod // pods behind the Service (selector matches), sorted
	ready     []*corev1.Pod // backends with a ready endpoint for the port
	eps       *endpointView // what the EndpointSlices say
	diags     map[*corev1.Pod]*diagnosis

	hops     []report.Hop
	spans    [][2]int // the findings each hop added
	findings []report.Finding
}

// Trace walks the path and returns the report.
func Trace(m *model.Cluster, req Request) report.Trace {
	r := &run{m: m, req: req, diags: map[*corev1.Pod]*diagnosis{}}
	r.resolveSource()
	r.resolveTarget()

	steps := []func(){r.checkClient, r.checkDNS, r.checkService, r.checkProxy, r.checkEndpoints, r.checkPods, r.checkPort, r.checkPolicy, r.checkNodes}
	if r.outside {
		steps = []func(){r.checkClient, r.checkExposure, r.checkDNS, r.checkService, r.checkProxy, r.checkEndpoints, r.checkPods, r.checkPort, r.checkPolicy, r.checkNodes}
	}
	for _, step := range steps {
		step()
	}
	return r.report()
}

// begin marks where a layer's findings start.
func (r *run) begin() int { return len(r.findings) }

// end appends the hop of one layer, with the findings it added since mark.
func (r *run) end(mark int, layer report.Layer, status report.Status, summary string, details ...string) {
	r.hops = append(r.hops, report.Hop{Layer: layer, Status: status, Summary: summary, Details: details})
	r.spans = append(r.spans, [2]int{mark, len(r.findings)})
}

// endAuto appends a hop whose status follows from its findings.
func (r *run) endAuto(mark int, layer report.Layer, summary string, details ...string) {
	r.end(mark, layer, r.statusOf(mark), summary, details...)
}

// add records a finding and returns it for chaining.
func (r *run) add(f report.Finding) {
	if f.Severity == "" {
		if ch, ok := report.Lookup(f.Code); ok {
			f.Severity = ch.Severity
		}
	}
	if f.Layer == "" {
		if ch, ok := report.Lookup(f.Code); ok {
			f.Layer = ch.Layer
		}
	}
	r.findings = append(r.findings, f)
}

// firstBlocking returns the first blocking finding of a span; callers know there is one.
func firstBlocking(fs []report.Finding) report.Finding {
	for _, f := range fs {
		if blocking(f) {
			return f
		}
	}
	return fs[0]
}

// blocking says whether a finding stops the request (rather than warning or degrading).
func blocking(f report.Finding) bool { return f.Severity == report.SeverityError && !f.Degrades }

// statusOf derives a hop's status from the findings a layer added since mark.
func (r *run) statusOf(mark int) report.Status {
	st := report.StatusPass
	for _, f := range r.findings[mark:] {
		switch {
		case blocking(f):
			return report.StatusFail
		case f.Severity != report.SeverityInfo:
			st = report.StatusWarn
		}
	}
	return st
}

func (r *run) report() report.Trace {
	t := report.Trace{
		SchemaVersion: report.SchemaVersion,
		Source:        r.sourceEndpoint(),
		Target:        r.targetEndpoint(),
		Hops:          r.hops,
		Findings:      r.findings,
	}
	if t.Findings == nil {
		t.Findings = []report.Finding{}
	}
	for i := range t.Findings {
		sortRefs(t.Findings[i].Related)
	}
	t.Verdict, t.RootCause = r.verdict()
	return t
}

// verdict: the first failing hop decides "blocked" and names the root cause; else a finding that
// hits only some requests makes it "degraded"; else any hop that could not be checked makes it "unknown".
func (r *run) verdict() (report.Verdict, *report.RootCause) {
	for i, h := range r.hops {
		if h.Status != report.StatusFail {
			continue
		}
		for _, f := range r.findings[r.spans[i][0]:r.spans[i][1]] {
			if blocking(f) {
				return report.VerdictBlocked, rootCause(f)
			}
		}
		return report.VerdictBlocked, nil
	}
	for _, f := range r.findings {
		if f.Degrades && f.Severity != report.SeverityInfo {
			return report.VerdictDegraded, rootCause(f)
		}
	}
	for _, h := range r.hops {
		if h.Status == report.StatusUnknown {
			return report.VerdictUnknown, nil
		}
	}
	return report.VerdictReachable, nil
}

func rootCause(f report.Finding) *report.RootCause {
	related := f.Related
	if related == nil {
		related = []report.ObjectRef{}
	}
	return &report.RootCause{Code: f.Code, Layer: f.Layer, Object: f.Object, Related: related, Message: f.Message, Fix: f.Fix}
}

func sortRefs(refs []report.ObjectRef) {
	sort.SliceStable(refs, func(i, j int) bool {
		a, b := refs[i], refs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// obj makes an ObjectRef with the file and line the object came from.
func (r *run) obj(kind, ns, name string) report.ObjectRef {
	o := r.m.Origin(kind, ns, name)
	return report.ObjectRef{Kind: kind, Namespace: ns, Name: name, File: o.File, Line: o.Line}
}

func (r *run) podRef(p *corev1.Pod) report.ObjectRef { return r.obj("Pod", p.Namespace, p.Name) }

func (r *run) svcRef() report.ObjectRef { return r.obj("Service", r.svc.Namespace, r.svc.Name) }
