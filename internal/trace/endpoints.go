package trace

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// epAddr is one endpoint of the Service port.
type epAddr struct {
	addr                        string
	pod                         *corev1.Pod
	node                        string
	ready, serving, terminating bool
	port                        int32
	slice                       string // the EndpointSlice that lists it, "" for other sources
}

// endpointView is what the Service's endpoints say, from EndpointSlices when the source has them.
type endpointView struct {
	source string
	addrs  []epAddr
}

func (v *endpointView) readyPods() []*corev1.Pod {
	seen := map[string]bool{}
	var out []*corev1.Pod
	for _, a := range v.addrs {
		if a.ready && a.pod != nil && !seen[a.pod.Name] {
			seen[a.pod.Name] = true
			out = append(out, a.pod)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (v *endpointView) count() (ready, serving, terminating int) {
	for _, a := range v.addrs {
		if a.ready {
			ready++
		}
		if a.serving {
			serving++
		}
		if a.terminating {
			terminating++
		}
	}
	return
}

// unapplied says whether a Service comes from a manifest the API server has not taken (no uid, no
// creationTimestamp): the EndpointSlice controller has never seen it, so no slice for it can exist.
func unapplied(svc *corev1.Service) bool {
	return svc.UID == "" && svc.CreationTimestamp.IsZero()
}

// buildView reads the endpoints of the chosen Service port: slices, else legacy Endpoints, else derived from pods.
func (r *run) buildView(backends []*corev1.Pod) *endpointView {
	svc := r.svc
	slices := r.m.SlicesFor(svc.Namespace, svc.Name)
	if ok, _ := r.m.Coverage.Covered("EndpointSlice", svc.Namespace); ok && (len(slices) > 0 || !unapplied(svc)) {
		return r.sliceView(slices)
	}
	if ok, _ := r.m.Coverage.Covered("Endpoints", svc.Namespace); ok {
		if ep := r.m.Endpoints[keyOf(svc.Namespace, svc.Name)]; ep != nil {
			return r.legacyView(ep)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	v := &endpointView{source: "derived from pods (no EndpointSlices in the input)"}
	if unapplied(svc) {
		v.source = "derived from pods: a Service not applied yet has no EndpointSlices"
	}
	for _, p := range backends {
		if len(model.PodIPs(p)) == 0 {
			continue
		}
		port, ok := r.targetPortOn(p)
		if !ok {
			continue
		}
		ready := model.PodLikelyReady(p) || svc.Spec.PublishNotReadyAddresses
		term := model.PodTerminating(p)
		v.addrs = append(v.addrs, epAddr{addr: model.PodIPs(p)[0], pod: p, node: p.Spec.NodeName, ready: ready && !term, serving: ready, terminating: term, port: port})
	}
	return v
}

func (r *run) sliceView(slices []*discoveryv1.EndpointSlice) *endpointView {
	v := &endpointView{source: "EndpointSlices"}
	for _, s := range slices {
		port, ok := slicePort(s, r.svcPort)
		if !ok {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			term := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			node := ""
			if e.NodeName != nil {
				node = *e.NodeName
			}
			for _, a := range e.Addresses {
				v.addrs = append(v.addrs, epAddr{addr: a, pod: r.endpointPod(e.TargetRef, a), node: node, ready: ready, serving: serving, terminating: term, port: port, slice: s.Name})
			}
		}
	}
	return v
}

// slicePort finds the slice port that carries the Service port: same name, same protocol.
func slicePort(s *discoveryv1.EndpointSlice, sp *corev1.ServicePort) (int32, bool) {
	if sp == nil {
		return 0, true
	}
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == protocolOf(sp) {
			if p.Port != nil {
				return *p.Port, true
			}
			return 0, true
		}
	}
	return 0, false
}

func (r *run) legacyView(ep *corev1.Endpoints) *endpointView {
	v := &endpointView{source: "Endpoints (no EndpointSlices in the input)"}
	for _, ss := range ep.Subsets {
		var port int32
		found := r.svcPort == nil
		for _, p := range ss.Ports {
			if r.svcPort != nil && p.Name == r.svcPort.Name {
				port, found = p.Port, true
			}
		}
		if !found {
			continue
		}
		for _, a := range ss.Addresses {
			v.addrs = append(v.addrs, epAddr{addr: a.IP, pod: r.endpointPod(a.TargetRef, a.IP), node: deref(a.NodeName), ready: true, serving: true, port: port})
		}
		for _, a := range ss.NotReadyAddresses {
			v.addrs = append(v.addrs, epAddr{addr: a.IP, pod: r.endpointPod(a.TargetRef, a.IP), node: deref(a.NodeName), port: port})
		}
	}
	return v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (r *run) endpointPod(ref *corev1.ObjectReference, addr string) *corev1.Pod {
	if ref != nil && ref.Kind == "Pod" {
		if p := r.m.Pod(ref.Namespace, ref.Name); p != nil {
			return p
		}
	}
	for _, p := range r.m.PodsByIP(addr) {
		if !p.Spec.HostNetwork {
			return p
		}
	}
	return nil
}

// checkEndpoints: which pods back the Service port, and whether any is ready.
func (r *run) checkEndpoints() {
	mark := r.begin()
	switch {
	case r.svc == nil:
		r.end(mark, report.LayerEndpoints, report.StatusSkip, "no Service on the path")
		return
	case r.svc.Spec.Type == corev1.ServiceTypeExternalName:
		r.end(mark, report.LayerEndpoints, report.StatusSkip, "ExternalName Service: no endpoints, by design")
		return
	}
	if len(r.svc.Spec.Selector) == 0 {
		r.manualEndpoints(mark)
		return
	}
	if ok, why := r.m.Coverage.Covered("Pod", r.svc.Namespace); !ok {
		r.end(mark, report.LayerEndpoints, report.StatusUnknown, "cannot see the pods behind the Service: "+why)
		return
	}
	r.backends = unfinishedPods(r.m.PodsMatching(r.svc.Namespace, r.svc.Spec.Selector))
	if len(r.backends) == 0 {
		r.selectorMismatch()
		r.endAuto(mark, report.LayerEndpoints, fmt.Sprintf("no pod matches selector %s", model.LabelString(r.svc.Spec.Selector)))
		return
	}
	r.checkOwners()
	r.eps = r.buildView(r.backends)
	r.ready = r.eps.readyPods()
	r.checkStale()
	ready, serving, term := r.eps.count()
	summary := fmt.Sprintf("%d of %d pods ready for port %s (%s)", len(r.ready), len(r.backends), r.portLabel(), r.eps.source)
	details := r.endpointDetails()
	switch {
	case len(r.ready) > 0 && len(r.ready) < len(r.backends):
		r.partiallyReady()
	case len(r.ready) > 0:
	case term > 0 && serving > 0 && ready == 0 && term == len(r.eps.addrs):
		r.add(report.Finding{Code: "ENDPOINTS_TERMINATING_ONLY", Object: r.svcRef(), Related: r.podRefs(r.backends),
			Message:  fmt.Sprintf("only terminating endpoints remain for Service %s (%d terminating, none ready)", r.svc.Name, term),
			Evidence: details,
			Fix:      fmt.Sprintf("wait for the rollout to bring new pods up, or check why they are not coming: kubectl -n %s rollout status deploy", r.svc.Namespace)})
	case r.podLayerExplains():
		r.end(mark, report.LayerEndpoints, report.StatusWarn, summary+": the pod layer says why", details...)
		return
	case r.portLayerExplains():
		r.end(mark, report.LayerEndpoints, report.StatusWarn, fmt.Sprintf("%d pods match, but none has an endpoint for port %s: the port layer says why", len(r.backends), r.portLabel()), details...)
		return
	default:
		r.add(report.Finding{Code: "ENDPOINTS_NONE_READY", Object: r.svcRef(), Related: r.podRefs(r.backends), Field: "spec.selector",
			Message:  fmt.Sprintf("%s match Service %s but none is ready: connections are refused", plural(len(r.backends), "pod", "pods"), r.svc.Name),
			Evidence: details,
			Fix:      fmt.Sprintf("find why the pods are not ready: kubectl -n %s describe pods -l %s", r.svc.Namespace, model.LabelString(r.svc.Spec.Selector))})
	}
	r.endAuto(mark, report.LayerEndpoints, summary, details...)
}

func (r *run) portLabel() string {
	if r.svcPort == nil {
		return fmt.Sprintf("%d", r.port)
	}
	if r.svcPort.Name != "" {
		return fmt.Sprintf("%s (%d)", r.svcPort.Name, r.svcPort.Port)
	}
	return fmt.Sprintf("%d", r.svcPort.Port)
}

func (r *run) endpointDetails() []string {
	var out []string
	for _, a := range r.eps.addrs {
		name := "<no pod>"
		if a.pod != nil {
			name = a.pod.Name
		}
		out = append(out, fmt.Sprintf("%s:%d %s on %s ready=%v serving=%v terminating=%v", a.addr, a.port, name, orNone(a.node), a.ready, a.serving, a.terminating))
	}
	sort.Strings(out)
	return out
}

// podLayerExplains says whether the pods not ready share one cause the pod layer can show with
// evidence; then that cause is the root. Mixed or unexplained states stay an endpoints finding.
func (r *run) podLayerExplains() bool {
	code := report.Code("")
	for _, p := range r.backends {
		if model.PodTerminating(p) {
			continue
		}
		d := r.diagnose(p)
		if d == nil || d.weak || code != "" && d.code != code {
			return false
		}
		code = d.code
	}
	return code != ""
}

func (r *run) partiallyReady() {
	var notReady []*corev1.Pod
	for _, p := range r.backends {
		if !containsPod(r.ready, p) {
			notReady = append(notReady, p)
		}
	}
	r.add(report.Finding{Code: "ENDPOINTS_PARTIALLY_READY", Object: r.svcRef(), Related: r.podRefs(notReady),
		Message:  fmt.Sprintf("only %d of %d pods behind Service %s are ready: traffic goes to the ready ones, with less capacity than expected", len(r.ready), len(r.backends), r.svc.Name),
		Evidence: []string{"not ready: " + strings.Join(podNames(notReady), ", ")},
		Fix:      fmt.Sprintf("see the pod layer; kubectl -n %s describe pod %s", r.svc.Namespace, notReady[0].Name)})
}

func containsPod(list []*corev1.Pod, p *corev1.Pod) bool {
	for _, q := range list {
		if q.Namespace == p.Namespace && q.Name == p.Name {
			return true
		}
	}
	return false
}

func (r *run) podRefs(pods []*corev1.Pod) []report.ObjectRef {
	out := []report.ObjectRef{}
	for _, p := range pods {
		out = append(out, r.podRef(p))
	}
	return out
}

// checkOwners: a selector that matches pods of two workloads sends some requests to the wrong app.
func (r *run) checkOwners() {
	owners := map[model.ObjKey][]*corev1.Pod{}
	for _, p := range r.backends {
		o := r.m.Owner(p)
		if o.Kind == "" {
			o = model.ObjKey{Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
		}
		owners[o] = append(owners[o], p)
	}
	if len(owners) < 2 {
		return
	}
	keys := make([]model.ObjKey, 0, len(owners))
	for k := range owners {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Kind+keys[i].Name < keys[j].Kind+keys[j].Name })
	var ev []string
	related := []report.ObjectRef{}
	for _, k := range keys {
		ev = append(ev, fmt.Sprintf("%s %s: %s (labels %s)", k.Kind, k.Name, strings.Join(podNames(owners[k]), ", "), model.LabelString(owners[k][0].Labels)))
		related = append(related, r.obj(k.Kind, k.Namespace, k.Name))
	}
	r.add(report.Finding{Code: "SELECTOR_TOO_BROAD", Object: r.svcRef(), Related: related, Field: "spec.selector", Degrades: true,
		Message:  fmt.Sprintf("selector %s of Service %s matches pods of %d workloads: requests are spread across all of them", model.LabelString(r.svc.Spec.Selector), r.svc.Name, len(owners)),
		Evidence: ev,
		Fix:      "add a label that only the intended workload's pods carry (e.g. app.kubernetes.io/name) to the Service selector"})
}

// selectorMismatch: no pod matches; show the pods that miss by one label, and pods with the labels in other namespaces.
func (r *run) selectorMismatch() {
	sel := r.svc.Spec.Selector
	type miss struct {
		pod             *corev1.Pod
		key, want, have string
	}
	var misses []miss
	for _, p := range r.m.PodsIn(r.svc.Namespace) {
		var diff []string
		for k, v := range sel {
			if p.Labels[k] != v {
				diff = append(diff, k)
			}
		}
		if len(diff) == 1 && len(sel) > 1 || len(diff) == 1 && len(sel) == 1 && p.Labels[diff[0]] != "" {
			k := diff[0]
			have, ok := p.Labels[k]
			if !ok {
				have = "<missing>"
			}
			misses = append(misses, miss{p, k, sel[k], have})
		}
	}
	misses = dropOtherApps(misses, func(m miss) string { return m.key })
	ev := []string{fmt.Sprintf("Service %s/%s selector: %s", r.svc.Namespace, r.svc.Name, model.LabelString(sel))}
	related := []report.ObjectRef{}
	fix := fmt.Sprintf("make the selector match the pods' labels (kubectl -n %s get pods --show-labels), or label the pods", r.svc.Namespace)
	groups := map[string][]string{}
	var order []string
	for _, m := range misses {
		o := r.m.Owner(m.pod)
		owner := "pod " + m.pod.Name
		if o.Kind != "" {
			owner = o.Kind + " " + o.Name
		}
		g := fmt.Sprintf("%s: %s=%s (selector wants %s=%s)", owner, m.key, m.have, m.key, m.want)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], m.pod.Name)
		related = append(related, r.podRef(m.pod))
	}
	for _, g := range order {
		ev = append(ev, fmt.Sprintf("near miss, %s: pods %s", g, strings.Join(groups[g], ", ")))
	}
	msg := fmt.Sprintf("no pod in namespace %s matches the selector %s of Service %s: it has no endpoints", r.svc.Namespace, model.LabelString(sel), r.svc.Name)
	if len(misses) > 0 {
		m := misses[0]
		msg += fmt.Sprintf("; %s miss by one label (%s=%s, selector wants %s)", plural(len(misses), "pod", "pods"), m.key, m.have, m.want)
		if m.have != "<missing>" {
			fix = fmt.Sprintf("set the selector's %s to %q to match the pods: kubectl -n %s patch service %s -p '{\"spec\":{\"selector\":{\"%s\":\"%s\"}}}' (or relabel the pods' template to %s=%s)",
				m.key, m.have, r.svc.Namespace, r.svc.Name, m.key, m.have, m.key, m.want)
		} else {
			fix = fmt.Sprintf("add label %s=%s to the pods' template, or drop %s from the Service selector", m.key, m.want, m.key)
		}
	} else if other := r.elsewhere(sel); other != "" {
		ev = append(ev, other)
		fix = "a Service selects pods in its own namespace only: run the pods in namespace " + r.svc.Namespace + " or create the Service where the pods are"
	}
	r.add(report.Finding{Code: "SELECTOR_MISMATCH", Object: r.svcRef(), Related: related, Field: "spec.selector", Message: msg, Evidence: ev, Fix: fix})
}

// identityKeys name the application a pod belongs to; a pod that differs there is another app, not a near miss,
// unless nothing else comes close.
var identityKeys = map[string]bool{"app": true, "app.kubernetes.io/name": true, "name": true, "k8s-app": true, "component": true, "app.kubernetes.io/component": true}

func dropOtherApps[T any](misses []T, key func(T) string) []T {
	var keep []T
	for _, m := range misses {
		if !identityKeys[key(m)] {
			keep = append(keep, m)
		}
	}
	if len(keep) == 0 {
		return misses
	}
	return keep
}

// elsewhere reports pods matching the selector in other namespaces of the model.
func (r *run) elsewhere(sel map[string]string) string {
	for _, ns := range r.m.PodNamespaces() {
		if ns == r.svc.Namespace {
			continue
		}
		if pods := r.m.PodsMatching(ns, sel); len(pods) > 0 {
			return fmt.Sprintf("pods matching the selector exist in namespace %s: %s", ns, strings.Join(podNames(pods), ", "))
		}
	}
	return ""
}

// manualEndpoints: a Service without selector relies on hand-made EndpointSlices (or mirrored Endpoints).
func (r *run) manualEndpoints(mark int) {
	svc := r.svc
	if ok, why := r.m.Coverage.Covered("EndpointSlice", svc.Namespace); !ok {
		r.end(mark, report.LayerEndpoints, report.StatusUnknown, "Service without selector; cannot see its EndpointSlices: "+why)
		return
	}
	slices := r.m.SlicesFor(svc.Namespace, svc.Name)
	if len(slices) == 0 {
		r.unlabelledSlices()
		if r.statusOf(mark) == report.StatusPass {
			r.add(report.Finding{Code: "ENDPOINTS_NO_SELECTOR", Object: r.svcRef(), Field: "spec.selector",
				Message: fmt.Sprintf("Service %s has no selector and no EndpointSlice labelled kubernetes.io/service-name=%s: it has no endpoints", svc.Name, svc.Name),
				Fix:     fmt.Sprintf("add a selector for the backend pods, or create an EndpointSlice labelled kubernetes.io/service-name: %s with the backend addresses", svc.Name)})
		}
		r.endAuto(mark, report.LayerEndpoints, "no endpoints: Service without selector and without EndpointSlices")
		return
	}
	r.eps = r.sliceView(slices)
	if len(r.eps.addrs) == 0 && r.svcPort != nil {
		var names []string
		for _, s := range slices {
			for _, p := range s.Ports {
				names = append(names, fmt.Sprintf("%s: port name %q", s.Name, deref(p.Name)))
			}
		}
		r.add(report.Finding{Code: "ENDPOINTS_MANUAL_BROKEN", Object: r.obj("EndpointSlice", svc.Namespace, slices[0].Name), Related: []report.ObjectRef{r.svcRef()}, Field: "ports[].name",
			Message:  fmt.Sprintf("EndpointSlices of Service %s carry no port named %q (protocol %s): the proxy matches slice ports to Service ports by name, so port %d has no endpoints", svc.Name, r.svcPort.Name, protocolOf(r.svcPort), r.svcPort.Port),
			Evidence: names,
			Fix:      fmt.Sprintf("name the EndpointSlice port %q, exactly as the Service port", r.svcPort.Name)})
		r.endAuto(mark, report.LayerEndpoints, "no endpoints for the Service port")
		return
	}
	r.ready = r.eps.readyPods()
	r.orphanAddresses()
	ready, _, _ := r.eps.count()
	if ready == 0 && r.statusOf(mark) != report.StatusFail {
		r.add(report.Finding{Code: "ENDPOINTS_NONE_READY", Object: r.svcRef(), Message: fmt.Sprintf("the EndpointSlices of Service %s list no ready address", svc.Name), Evidence: r.endpointDetails(),
			Fix: "mark the endpoints ready (conditions.ready: true) once the backends serve"})
	}
	summary := fmt.Sprintf("%d ready of %d manual endpoints", ready, len(r.eps.addrs))
	if r.statusOf(mark) == report.StatusFail {
		summary = firstBlocking(r.findings[mark:]).Message
	}
	r.endAuto(mark, report.LayerEndpoints, summary, r.endpointDetails()...)
}

// unlabelledSlices finds hand-made slices meant for the Service that lack its label.
func (r *run) unlabelledSlices() {
	for _, s := range r.m.SlicesIn(r.svc.Namespace) {
		if s.Labels[discoveryv1.LabelServiceName] != "" || !strings.HasPrefix(s.Name, r.svc.Name) {
			continue
		}
		r.add(report.Finding{Code: "ENDPOINTS_MANUAL_BROKEN", Object: r.obj("EndpointSlice", s.Namespace, s.Name), Related: []report.ObjectRef{r.svcRef()}, Field: "metadata.labels",
			Message:  fmt.Sprintf("EndpointSlice %s lacks the label kubernetes.io/service-name=%s, so Service %s does not use it", s.Name, r.svc.Name, r.svc.Name),
			Evidence: []string{fmt.Sprintf("EndpointSlice %s labels: %s", s.Name, orNone(model.LabelString(s.Labels)))},
			Fix:      fmt.Sprintf("kubectl -n %s label endpointslice %s kubernetes.io/service-name=%s", s.Namespace, s.Name, r.svc.Name)})
		return
	}
}

// orphanAddresses: manual addresses inside a node's pod CIDR that no pod (or node) holds any more. The
// proxy still sends connections to a ready one, where they time out: when every ready address is
// orphaned nothing answers; when only some are, that share of connections fails. Orphans that are
// not ready get no traffic and are only stale.
func (r *run) orphanAddresses() {
	var cidrs []*net.IPNet
	for _, name := range r.m.NodeNames() {
		for _, c := range r.m.Nodes[name].Spec.PodCIDRs {
			if _, n, err := net.ParseCIDR(c); err == nil {
				cidrs = append(cidrs, n)
			}
		}
	}
	var names, readyNames []string
	slice := ""
	readyAll := 0
	for _, a := range r.eps.addrs {
		if a.ready {
			readyAll++
		}
		ip := net.ParseIP(a.addr)
		for _, n := range cidrs {
			if ip != nil && n.Contains(ip) {
				if a.pod == nil && r.m.NodeByIP(a.addr) == nil {
					names = append(names, a.addr)
					if a.ready {
						readyNames = append(readyNames, a.addr)
					}
					if slice == "" || a.ready && len(readyNames) == 1 {
						slice = a.slice // the slice to edit: that of the first ready orphan, else the first
					}
				}
				break
			}
		}
	}
	if len(names) == 0 {
		return
	}
	svc := r.svc
	readyOrphans := len(readyNames)
	object := r.svcRef()
	related := []report.ObjectRef{}
	if slice != "" {
		object, related = r.obj("EndpointSlice", svc.Namespace, slice), []report.ObjectRef{r.svcRef()}
	}
	f := report.Finding{Code: "ENDPOINTS_MANUAL_ORPHAN", Object: object, Related: related, Field: "endpoints[].addresses",
		Evidence: []string{"orphaned: " + strings.Join(names, ", "), fmt.Sprintf("%d of %d ready addresses are orphaned", readyOrphans, readyAll)},
		Fix:      fmt.Sprintf("update the hand-made EndpointSlice of Service %s to the current backend addresses, or give the Service a selector so the controller keeps them current", svc.Name)}
	switch {
	case readyOrphans > 0 && readyOrphans == readyAll:
		f.Severity = report.SeverityError
		f.Message = fmt.Sprintf("every ready address in the EndpointSlices of Service %s is a pod-network address no pod holds any more: connections go to %s and time out", svc.Name, strings.Join(readyNames, ", "))
	case readyOrphans > 0:
		f.Severity, f.Degrades = report.SeverityError, true
		f.Message = fmt.Sprintf("%d of %d ready addresses in the EndpointSlices of Service %s are pod-network addresses no pod holds any more: about %d in %d connections go there and time out", readyOrphans, readyAll, svc.Name, readyOrphans, readyAll)
	default:
		f.Severity = report.SeverityWarning
		f.Message = fmt.Sprintf("%s in the EndpointSlices of Service %s (not ready, so without traffic) belong to no pod any more: the slice is stale", plural(len(names), "pod-network address", "pod-network addresses"), svc.Name)
	}
	r.add(f)
}

// staleAfter is how long a slice may lag a pod's readiness before that is more than controller delay.
const staleAfter = 2 * time.Minute

// checkStale: a slice that says ready for a pod that has been not ready for minutes (or the reverse)
// means the EndpointSlice controller is not keeping up; traffic follows the slice, not the pod.
// publishNotReadyAddresses makes every endpoint ready by design.
func (r *run) checkStale() {
	if r.eps == nil || !strings.HasPrefix(r.eps.source, "EndpointSlices") || r.m.Now.IsZero() || r.svc.Spec.PublishNotReadyAddresses {
		return
	}
	var ev []string
	var pods []*corev1.Pod
	for _, a := range r.eps.addrs {
		if a.pod == nil || a.terminating || model.PodTerminating(a.pod) {
			continue
		}
		c := podCondition(a.pod, corev1.PodReady)
		if c == nil || (c.Status == corev1.ConditionTrue) == a.ready || r.m.Now.Sub(c.LastTransitionTime.Time) < staleAfter {
			continue
		}
		pods = append(pods, a.pod)
		ev = append(ev, fmt.Sprintf("pod %s Ready=%s since %s; its endpoint says ready=%v", a.pod.Name, c.Status, c.LastTransitionTime.UTC().Format(time.RFC3339), a.ready))
	}
	if len(pods) == 0 {
		return
	}
	r.add(report.Finding{Code: "ENDPOINTS_STALE", Object: r.svcRef(), Related: r.podRefs(pods),
		Message:  fmt.Sprintf("the EndpointSlices of Service %s disagree with the readiness of %s for more than %s: the EndpointSlice controller is not keeping up", r.svc.Name, plural(len(pods), "pod", "pods"), staleAfter),
		Evidence: ev,
		Fix:      "check kube-controller-manager (its endpointslice controller and its API rate limits): kubectl -n kube-system logs -l component=kube-controller-manager"})
}
