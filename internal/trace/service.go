package trace

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// checkService: the Service exists and exposes the port and protocol the client uses, in a family the pods have.
func (r *run) checkService() {
	mark := r.begin()
	if r.svc == nil {
		r.noService(mark)
		return
	}
	svc := r.svc
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		r.end(mark, report.LayerService, report.StatusPass, fmt.Sprintf("ExternalName Service %s -> %s", svc.Name, orNone(svc.Spec.ExternalName)))
		return
	}
	if r.svcPort == nil {
		r.portNotExposed()
		r.endAuto(mark, report.LayerService, fmt.Sprintf("Service %s has no port %d", svc.Name, r.port), "ports: "+servicePorts(svc))
		return
	}
	if r.req.Protocol != "" && protocolOf(r.svcPort) != r.req.Protocol {
		r.add(report.Finding{Code: "SERVICE_PROTOCOL_MISMATCH", Object: r.svcRef(), Field: "spec.ports[].protocol",
			Message:  fmt.Sprintf("the client speaks %s to port %d, but Service %s exposes it as %s only", r.req.Protocol, r.svcPort.Port, svc.Name, protocolOf(r.svcPort)),
			Evidence: []string{"ports: " + servicePorts(svc)},
			Fix:      fmt.Sprintf("add a Service port %d with protocol %s (a Service may list the same number for TCP and UDP)", r.svcPort.Port, r.req.Protocol)})
	}
	if r.outside && r.ingress == nil && svc.Spec.Type == corev1.ServiceTypeClusterIP && !r.exposedByRoute() {
		r.add(report.Finding{Code: "SERVICE_CLUSTERIP_FROM_OUTSIDE", Object: r.svcRef(), Field: "spec.type",
			Message:  fmt.Sprintf("Service %s is type ClusterIP: its address %s is reachable only inside the cluster", svc.Name, svc.Spec.ClusterIP),
			Evidence: []string{"spec.type: ClusterIP", "no Ingress or HTTPRoute routes to it"},
			Fix: fmt.Sprintf("for a quick test: kubectl -n %s port-forward svc/%s %d:%d; to expose it: type NodePort or LoadBalancer, or an Ingress/HTTPRoute",
				svc.Namespace, svc.Name, r.svcPort.Port, r.svcPort.Port)})
	}
	r.checkIPFamily()
	r.checkAffinity()
	r.checkMeshProtocol()
	kind := string(orDefault(string(svc.Spec.Type), "ClusterIP"))
	if headless(svc) {
		kind = "headless"
	}
	summary := fmt.Sprintf("%s Service %s port %s -> targetPort %s", kind, svc.Name, portString(r.svcPort), r.svcPort.TargetPort.String())
	if st := r.statusOf(mark); st == report.StatusFail {
		summary = r.findings[mark].Message
	}
	r.endAuto(mark, report.LayerService, summary, "ports: "+servicePorts(svc))
}

func portString(p *corev1.ServicePort) string {
	s := fmt.Sprintf("%d/%s", p.Port, protocolOf(p))
	if p.Name != "" {
		s = p.Name + " " + s
	}
	return s
}

func servicePorts(svc *corev1.Service) string {
	var out []string
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		s := fmt.Sprintf("%d/%s->%s", p.Port, protocolOf(p), p.TargetPort.String())
		if p.Name != "" {
			s = p.Name + " " + s
		}
		if p.NodePort != 0 {
			s += fmt.Sprintf(" (nodePort %d)", p.NodePort)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// noService: the target names no Service. A pod addressed directly has none on its path.
func (r *run) noService(mark int) {
	t := r.req.Target
	switch {
	case r.targetPod != nil:
		r.end(mark, report.LayerService, report.StatusSkip, fmt.Sprintf("direct to pod %s, no Service", r.targetPod.Name))
		return
	case t.Kind == ref.Service:
		if !r.m.Coverage.Absent("Service", t.Namespace, t.Name) {
			_, why := r.m.Coverage.Covered("Service", t.Namespace)
			r.end(mark, report.LayerService, report.StatusUnknown, "cannot see Service "+t.Name+": "+why)
			return
		}
		ev := []string{}
		fix := fmt.Sprintf("check the name and namespace: kubectl -n %s get svc", t.Namespace)
		related := []report.ObjectRef{}
		for _, s := range r.m.ServicesNamed(t.Name) {
			ev = append(ev, fmt.Sprintf("Service %s exists in namespace %s", s.Name, s.Namespace))
			related = append(related, r.obj("Service", s.Namespace, s.Name))
			fix = fmt.Sprintf("the Service is in namespace %s: use %s/svc/%s", s.Namespace, s.Namespace, s.Name)
		}
		r.add(report.Finding{Code: "SERVICE_NOT_FOUND", Object: r.obj("Service", t.Namespace, t.Name), Related: related,
			Message: fmt.Sprintf("Service %s not found in namespace %s", t.Name, t.Namespace), Evidence: ev, Fix: fix})
		r.endAuto(mark, report.LayerService, r.findings[len(r.findings)-1].Message)
		return
	case t.Kind == ref.Address:
		r.noServiceAtAddress(mark)
		return
	case t.Kind == ref.Node:
		r.add(report.Finding{Code: "SERVICE_NOT_FOUND", Object: r.obj("Node", "", t.Name),
			Message: fmt.Sprintf("no Service has nodePort %d", t.Port), Fix: "kubectl get svc -A | grep NodePort"})
		r.endAuto(mark, report.LayerService, r.findings[len(r.findings)-1].Message)
		return
	case t.Kind == ref.Ingress && r.ingress == nil:
		r.add(report.Finding{Code: "SERVICE_NOT_FOUND", Object: r.obj("Ingress", t.Namespace, t.Name),
			Message: fmt.Sprintf("Ingress %s not found in namespace %s", t.Name, t.Namespace), Fix: fmt.Sprintf("kubectl -n %s get ingress", t.Namespace)})
		r.endAuto(mark, report.LayerService, r.findings[len(r.findings)-1].Message)
		return
	case t.Kind == ref.Ingress:
		r.end(mark, report.LayerService, report.StatusFail, "the Ingress backend names no existing Service; see the exposure layer")
		return
	}
	if r.name != nil && r.name.external {
		r.end(mark, report.LayerService, report.StatusSkip, "external name: no Service on the path")
		return
	}
	r.end(mark, report.LayerService, report.StatusSkip, "no Service: the name did not resolve")
}

// noServiceAtAddress: an address that is no ClusterIP, pod IP or node IP the model knows.
func (r *run) noServiceAtAddress(mark int) {
	ip := r.req.Target.Name
	for _, k := range r.m.ServiceNames() {
		if s := r.m.Services[k]; s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone {
			if sameSubnet16(s.Spec.ClusterIP, ip) {
				r.add(report.Finding{Code: "SERVICE_NO_CLUSTERIP_ADDRESS", Object: report.ObjectRef{Kind: "Address", Name: ip},
					Message:  fmt.Sprintf("%s looks like a ClusterIP, but no Service has it (deleted or recreated with another IP?)", ip),
					Evidence: []string{fmt.Sprintf("Service %s/%s has ClusterIP %s in the same range", s.Namespace, s.Name, s.Spec.ClusterIP)},
					Fix:      "call the Service by name rather than by a remembered ClusterIP"})
				r.endAuto(mark, report.LayerService, r.findings[len(r.findings)-1].Message)
				return
			}
		}
	}
	r.end(mark, report.LayerService, report.StatusUnknown, fmt.Sprintf("%s is no Service, pod or node address the input holds", ip))
}

func sameSubnet16(a, b string) bool {
	x, y := net.ParseIP(a).To4(), net.ParseIP(b).To4()
	return x != nil && y != nil && x[0] == y[0] && x[1] == y[1]
}

// portNotExposed: the client calls a port the Service does not list, often the targetPort.
func (r *run) portNotExposed() {
	svc := r.svc
	ev := []string{"ports: " + servicePorts(svc)}
	fix := fmt.Sprintf("call one of the Service's ports (%s), or add port %d to Service %s", servicePorts(svc), r.port, svc.Name)
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == r.port || r.targetPortNamed(p, r.port) {
			ev = append(ev, fmt.Sprintf("%d is the targetPort of Service port %d: clients call the Service port, the Service forwards to the targetPort", r.port, p.Port))
			fix = fmt.Sprintf("call %s:%d (the Service port), not the targetPort %d", svc.Name, p.Port, r.port)
			break
		}
	}
	r.add(report.Finding{Code: "SERVICE_PORT_NOT_EXPOSED", Object: r.svcRef(), Field: "spec.ports",
		Message:  fmt.Sprintf("Service %s does not expose port %d: the connection times out or is refused", svc.Name, r.port),
		Evidence: ev, Fix: fix})
}

// targetPortNamed says whether a named targetPort resolves to port on some pod the Service selects.
func (r *run) targetPortNamed(p *corev1.ServicePort, port int32) bool {
	if p.TargetPort.Type != intstr.String {
		return false
	}
	for _, pod := range r.m.PodsMatching(r.svc.Namespace, r.svc.Spec.Selector) {
		if n, ok := resolveTargetPort(pod, p); ok && n == port {
			return true
		}
	}
	return false
}

// checkIPFamily: a single-stack Service of one family cannot reach pods that only have the other.
func (r *run) checkIPFamily() {
	fams := r.svc.Spec.IPFamilies
	if len(fams) == 0 && r.svc.Spec.ClusterIP != "" && r.svc.Spec.ClusterIP != corev1.ClusterIPNone {
		fams = []corev1.IPFamily{familyOf(r.svc.Spec.ClusterIP)}
	}
	if len(fams) != 1 {
		return
	}
	pods := r.m.PodsMatching(r.svc.Namespace, r.svc.Spec.Selector)
	if len(pods) == 0 {
		return
	}
	for _, p := range pods {
		for _, ip := range model.PodIPs(p) {
			if familyOf(ip) == fams[0] {
				return
			}
		}
		if len(model.PodIPs(p)) == 0 {
			return
		}
	}
	r.add(report.Finding{Code: "SERVICE_IPFAMILY_MISMATCH", Object: r.svcRef(), Related: r.podRefs(pods), Field: "spec.ipFamilies",
		Message:  fmt.Sprintf("Service %s is single-stack %s but its pods have no %s address: it gets no endpoints", r.svc.Name, fams[0], fams[0]),
		Evidence: []string{fmt.Sprintf("spec.ipFamilies: %v, clusterIP %s", fams, r.svc.Spec.ClusterIP), fmt.Sprintf("pod %s IPs: %s", pods[0].Name, strings.Join(model.PodIPs(pods[0]), ","))},
		Fix:      fmt.Sprintf("recreate the Service with ipFamilies [%s] (or ipFamilyPolicy PreferDualStack on a dual-stack cluster)", familyOf(model.PodIPs(pods[0])[0]))})
}

func familyOf(ip string) corev1.IPFamily {
	if p := net.ParseIP(ip); p != nil && p.To4() == nil {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// checkAffinity: ClientIP affinity pins every client behind one source address to one pod.
func (r *run) checkAffinity() {
	if r.svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return
	}
	snat := r.outside && r.svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal
	msg := fmt.Sprintf("Service %s uses sessionAffinity ClientIP: every client behind one source address (SNAT by a NodePort or LoadBalancer with externalTrafficPolicy Cluster, a NAT gateway or an ingress proxy) lands on one pod", r.svc.Name)
	if snat {
		msg = fmt.Sprintf("Service %s uses sessionAffinity ClientIP behind SNAT: outside clients arrive with node addresses, so load piles onto few pods", r.svc.Name)
	}
	r.add(report.Finding{Code: "SERVICE_SESSION_AFFINITY_SNAT", Object: r.svcRef(), Field: "spec.sessionAffinity",
		Message: msg, Evidence: []string{"spec.sessionAffinity: ClientIP", "spec.externalTrafficPolicy: " + orDefault(string(r.svc.Spec.ExternalTrafficPolicy), "Cluster")},
		Fix: "drop sessionAffinity (keep sessions in a shared store) or set externalTrafficPolicy: Local so client addresses are kept"})
}

var (
	meshHTTPName = []string{"http", "http2", "grpc", "grpc-web"}
	tcpAppPorts  = map[int32]string{3306: "MySQL", 5432: "PostgreSQL", 6379: "Redis", 27017: "MongoDB", 9092: "Kafka", 5672: "AMQP", 11211: "memcached", 9042: "Cassandra", 1433: "SQL Server"}
)

// checkMeshProtocol: under a mesh sidecar, a port named or declared HTTP while the app speaks raw TCP hangs.
func (r *run) checkMeshProtocol() {
	pods := r.m.PodsMatching(r.svc.Namespace, r.svc.Spec.Selector)
	meshed := (r.client != nil && hasSidecar(r.client)) || len(pods) > 0 && hasSidecar(pods[0])
	if !meshed {
		return
	}
	p := r.svcPort
	declared := ""
	for _, pre := range meshHTTPName {
		if p.Name == pre || strings.HasPrefix(p.Name, pre+"-") {
			declared = "name " + p.Name
		}
	}
	if p.AppProtocol != nil && (*p.AppProtocol == "http" || *p.AppProtocol == "http2" || *p.AppProtocol == "grpc" || *p.AppProtocol == "kubernetes.io/h2c") {
		declared = "appProtocol " + *p.AppProtocol
	}
	target := p.TargetPort.IntVal
	if len(pods) > 0 {
		target, _ = resolveTargetPort(pods[0], p)
	}
	app, tcp := tcpAppPorts[target]
	if !tcp {
		app, tcp = tcpAppPorts[p.Port]
	}
	if declared == "" || !tcp {
		return
	}
	r.add(report.Finding{Code: "SERVICE_APPPROTOCOL_MESH", Object: r.svcRef(), Field: "spec.ports[].name",
		Message:  fmt.Sprintf("Service port %s declares HTTP (%s) but serves %s, a raw TCP protocol: the mesh sidecar parses it as HTTP and the connection hangs", portString(p), declared, app),
		Evidence: []string{"a mesh sidecar runs beside the pods", fmt.Sprintf("port %d is %s's usual port", target, app)},
		Fix:      fmt.Sprintf("name the port tcp-%s or set appProtocol: tcp", strings.ToLower(app))})
}

func hasSidecar(p *corev1.Pod) bool {
	for _, c := range allContainers(p) {
		if c.Name == "istio-proxy" || c.Name == "linkerd-proxy" {
			return true
		}
	}
	return p.Annotations["sidecar.istio.io/status"] != "" || p.Annotations["linkerd.io/proxy-version"] != ""
}

// exposedByRoute says whether an Ingress or HTTPRoute in the Service's namespace sends traffic to it.
func (r *run) exposedByRoute() bool {
	for _, k := range sortedKeys(r.m.Ingresses) {
		ing := r.m.Ingresses[k]
		if ing.Namespace != r.svc.Namespace {
			continue
		}
		if ing.Spec.DefaultBackend != nil && ing.Spec.DefaultBackend.Service != nil && ing.Spec.DefaultBackend.Service.Name == r.svc.Name {
			return true
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service != nil && p.Backend.Service.Name == r.svc.Name {
					return true
				}
			}
		}
	}
	for _, k := range sortedKeys(r.m.HTTPRoutes) {
		for _, rule := range r.m.HTTPRoutes[k].Spec.Rules {
			for _, b := range rule.BackendRefs {
				ns := k.Namespace
				if b.Namespace != nil {
					ns = string(*b.Namespace)
				}
				if string(b.Name) == r.svc.Name && ns == r.svc.Namespace {
					return true
				}
			}
		}
	}
	return false
}

// checkPods: the backend pods (or the pod addressed) run, are ready, and sit on ready nodes.
func (r *run) checkPods() {
	mark := r.begin()
	pods := r.portPods()
	if len(pods) == 0 {
		r.end(mark, report.LayerPod, report.StatusSkip, "no backend pod on the path")
		return
	}
	type group struct {
		d    *diagnosis
		pods []*corev1.Pod
	}
	var groups []*group
	byKey := map[string]*group{}
	healthy := 0
	for _, p := range pods {
		d := r.diagnose(p)
		if d == nil {
			if !model.PodTerminating(p) {
				healthy++
			}
			continue
		}
		key := string(d.code) + "|" + d.object.Kind + "/" + d.object.Name
		if d.object.Kind == "Pod" {
			key = string(d.code) + "|" + ownerName(r, p)
		}
		g := byKey[key]
		if g == nil {
			g = &group{d: d}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.pods = append(g.pods, p)
	}
	blocking := healthy == 0
	for _, g := range groups {
		f := report.Finding{Code: g.d.code, Object: r.workloadOf(g.d.object, g.pods[0]), Related: r.podRefs(g.pods), Field: g.d.field, Message: g.d.message, Evidence: g.d.evidence, Fix: g.d.fix}
		if len(g.pods) > 1 {
			f.Message += fmt.Sprintf(" (and %s like it)", plural(len(g.pods)-1, "other pod", "other pods"))
			for _, p := range g.pods[1:] {
				if len(f.Evidence) < 8 {
					f.Evidence = append(f.Evidence, fmt.Sprintf("pod %s: %s", p.Name, podState(p)))
				}
			}
		}
		if !blocking {
			f.Severity = report.SeverityWarning
		}
		r.add(f)
	}
	if r.svc != nil && !headless(r.svc) && r.svc.Spec.PublishNotReadyAddresses && len(groups) > 0 {
		r.add(report.Finding{Code: "POD_PUBLISH_NOT_READY", Object: r.svcRef(), Field: "spec.publishNotReadyAddresses",
			Message:  fmt.Sprintf("Service %s publishes not-ready pods (publishNotReadyAddresses: true) on a ClusterIP: requests reach pods that are not ready", r.svc.Name),
			Evidence: []string{"spec.publishNotReadyAddresses: true", "spec.clusterIP: " + r.svc.Spec.ClusterIP},
			Fix:      "set publishNotReadyAddresses: false on ClusterIP Services; keep it for headless peer discovery only"})
	}
	summary := fmt.Sprintf("%d of %d pods Running and Ready", healthy, len(pods))
	if r.targetPod != nil {
		summary = fmt.Sprintf("pod %s: %s", r.targetPod.Name, podState(r.targetPod))
	}
	r.endAuto(mark, report.LayerPod, summary)
}

// workloadOf turns a pod object into the workload that owns it: the pod template is what a fix changes.
func (r *run) workloadOf(o report.ObjectRef, p *corev1.Pod) report.ObjectRef {
	if o.Kind != "Pod" {
		return o
	}
	if w := r.m.Owner(p); w.Kind != "" && w.Kind != "Node" {
		return r.obj(w.Kind, w.Namespace, w.Name)
	}
	return o
}

func ownerName(r *run, p *corev1.Pod) string {
	o := r.m.Owner(p)
	if o.Kind == "" {
		return "Pod/" + p.Name
	}
	return o.Kind + "/" + o.Name
}
