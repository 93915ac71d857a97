package trace

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/report"
)

// targetPortOn resolves the Service port's targetPort on one pod, as the EndpointSlice controller does:
// a number as is, a name by the container port of that name and the Service port's protocol.
func (r *run) targetPortOn(p *corev1.Pod) (int32, bool) {
	if r.svcPort == nil {
		return r.port, r.port != 0
	}
	return resolveTargetPort(p, r.svcPort)
}

func resolveTargetPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.String && tp.StrVal != "" {
		for _, c := range allContainers(p) {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal && protocolOr(cp.Protocol) == protocolOf(sp) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if tp.IntVal == 0 {
		return sp.Port, true
	}
	return tp.IntVal, true
}

func protocolOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// portLayerExplains says whether a named targetPort is missing on every backend, which leaves the Service without endpoints.
func (r *run) portLayerExplains() bool {
	if r.svcPort == nil || r.svcPort.TargetPort.Type != intstr.String {
		return false
	}
	for _, p := range r.backends {
		if _, ok := r.targetPortOn(p); ok {
			return false
		}
	}
	return len(r.backends) > 0
}

// portPods are the pods whose ports the layer checks: the backends, or the pod addressed directly.
func (r *run) portPods() []*corev1.Pod {
	if r.targetPod != nil {
		return []*corev1.Pod{r.targetPod}
	}
	return r.backends
}

// checkPort: the targetPort resolved on every backend pod, compared with what the containers declare,
// what their probes use, and where the app binds.
func (r *run) checkPort() {
	mark := r.begin()
	pods := r.portPods()
	switch {
	case r.svc != nil && r.svc.Spec.Type == corev1.ServiceTypeExternalName:
		r.end(mark, report.LayerPort, report.StatusSkip, "ExternalName Service: the port is the external host's")
		return
	case len(pods) == 0:
		r.end(mark, report.LayerPort, report.StatusSkip, "no backend pod to check")
		return
	case r.svc != nil && r.svcPort == nil:
		r.end(mark, report.LayerPort, report.StatusSkip, "no Service port matched; see the service layer")
		return
	}
	if r.svcPort != nil && r.svcPort.TargetPort.Type == intstr.String {
		r.namedPort(pods)
	} else {
		r.numericPort(pods)
	}
	r.localhostBind(pods)
	summary := r.portSummary(pods)
	r.endAuto(mark, report.LayerPort, summary)
}

func (r *run) portSummary(pods []*corev1.Pod) string {
	var ports []string
	seen := map[string]bool{}
	for _, p := range pods {
		if n, ok := r.targetPortOn(p); ok {
			s := fmt.Sprintf("%d/%s", n, r.protocol)
			if !seen[s] {
				seen[s] = true
				ports = append(ports, s)
			}
		}
	}
	sort.Strings(ports)
	what := "port"
	if r.svcPort != nil {
		what = "targetPort " + r.svcPort.TargetPort.String()
		if r.svcPort.TargetPort.IntVal == 0 && r.svcPort.TargetPort.Type == intstr.Int {
			what = fmt.Sprintf("targetPort %d (the Service port)", r.svcPort.Port)
		}
	}
	if len(ports) == 0 {
		return what + " resolves on no pod"
	}
	return fmt.Sprintf("%s -> %s on %s", what, strings.Join(ports, ","), plural(len(pods), "pod", "pods"))
}

// namedPort: every pod must declare the name, with the Service port's protocol.
func (r *run) namedPort(pods []*corev1.Pod) {
	name := r.svcPort.TargetPort.StrVal
	var missing, wrongProto []*corev1.Pod
	var ev []string
	for _, p := range pods {
		if _, ok := resolveTargetPort(p, r.svcPort); ok {
			continue
		}
		if cp := portByName(p, name); cp != nil {
			wrongProto = append(wrongProto, p)
			ev = append(ev, fmt.Sprintf("pod %s: port %s is %d/%s, the Service port is %s", p.Name, name, cp.ContainerPort, protocolOr(cp.Protocol), protocolOf(r.svcPort)))
			continue
		}
		missing = append(missing, p)
		ev = append(ev, fmt.Sprintf("pod %s declares %s", p.Name, describePorts(p)))
	}
	if len(wrongProto) > 0 {
		r.add(report.Finding{Code: "PORT_PROTOCOL_MISMATCH", Object: r.svcRef(), Related: r.podRefs(wrongProto), Field: "spec.ports[].protocol",
			Severity: severityFor(len(wrongProto)+len(missing) == len(pods)),
			Message:  fmt.Sprintf("container port %s has another protocol than Service port %s (%s), so it does not resolve", name, r.portLabel(), protocolOf(r.svcPort)),
			Evidence: ev, Fix: "make the Service port's protocol match the container port's, or add a container port of that protocol"})
		return
	}
	if len(missing) == 0 {
		return
	}
	all := len(missing) == len(pods)
	msg := fmt.Sprintf("targetPort %q is not declared by %d of %d backend pods", name, len(missing), len(pods))
	if all {
		msg += ": the Service has no endpoints for this port"
	} else {
		msg += ": those pods are left out of the endpoints (capacity lost)"
	}
	fix := fmt.Sprintf("add a containerPort named %s to the pod template, or set the Service targetPort to the port number", name)
	if !all {
		fix = fmt.Sprintf("finish the rollout so every pod declares port %s, or roll back: kubectl -n %s rollout status", name, r.svc.Namespace)
	}
	object := r.svcRef()
	if o := r.m.Owner(missing[0]); o.Kind != "" {
		object = r.obj(o.Kind, o.Namespace, o.Name)
	}
	if all {
		object = r.svcRef()
	}
	r.add(report.Finding{Code: "PORT_NAMED_MISSING", Severity: severityFor(all), Object: object, Related: r.podRefs(missing), Field: "spec.ports[].targetPort",
		Message: msg, Evidence: ev, Fix: fix})
}

func severityFor(blocking bool) report.Severity {
	if blocking {
		return report.SeverityError
	}
	return report.SeverityWarning
}

func portByName(p *corev1.Pod, name string) *corev1.ContainerPort {
	for _, c := range allContainers(p) {
		for i := range c.Ports {
			if c.Ports[i].Name == name {
				return &c.Ports[i]
			}
		}
	}
	return nil
}

func describePorts(p *corev1.Pod) string {
	var out []string
	for _, c := range allContainers(p) {
		for _, cp := range c.Ports {
			s := fmt.Sprintf("%d/%s", cp.ContainerPort, protocolOr(cp.Protocol))
			if cp.Name != "" {
				s = cp.Name + "=" + s
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "no ports"
	}
	return "ports " + strings.Join(out, ", ")
}

var sidecars = map[string]bool{"istio-proxy": true, "linkerd-proxy": true, "envoy": true, "envoy-sidecar": true, "cloud-sql-proxy": true, "vault-agent": true}

// appContainers are the containers that may serve the port: sidecars of meshes and agents excluded.
func appContainers(p *corev1.Pod) []corev1.Container {
	var out []corev1.Container
	for _, c := range allContainers(p) {
		if !sidecars[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// numericPort: a number no container declares, while they declare others or their probes use others.
func (r *run) numericPort(pods []*corev1.Pod) {
	var bad, wrongProto []*corev1.Pod
	var ev, protoEv []string
	var hint int32
	weak := false
	for _, p := range pods {
		n, _ := r.targetPortOn(p)
		if n == 0 {
			continue
		}
		if other := otherProtocol(p, n, r.protocol); other != "" {
			wrongProto = append(wrongProto, p)
			protoEv = append(protoEv, fmt.Sprintf("pod %s declares port %d/%s only; the Service port is %s", p.Name, n, other, r.protocol))
			continue
		}
		declared, probed := portsOf(p)
		if declared[n] || probed[n] || len(declared) == 0 && len(probed) == 0 {
			continue
		}
		if len(declared) == 0 {
			weak = true // only a probe on another port: the app may serve health there and traffic here
		}
		{
			bad = append(bad, p)
			line := fmt.Sprintf("pod %s: port %d; containers declare %s", p.Name, n, describePorts(p))
			if ps := probeList(p); ps != "" {
				line += "; probes use " + ps
			}
			ev = append(ev, line)
			if hint == 0 {
				hint = likelyPort(declared, probed)
			}
		}
	}
	if len(wrongProto) > 0 {
		object := report.ObjectRef{}
		if r.svc != nil {
			object = r.svcRef()
		} else {
			object = r.podRef(pods[0])
		}
		r.add(report.Finding{Code: "PORT_PROTOCOL_MISMATCH", Severity: severityFor(len(wrongProto) == len(pods)), Object: object, Related: r.podRefs(wrongProto), Field: "spec.ports[].protocol",
			Message:  fmt.Sprintf("traffic arrives as %s on port %d, but the container listens there on another protocol", r.protocol, firstPort(r, wrongProto[0])),
			Evidence: protoEv,
			Fix:      fmt.Sprintf("set the Service port's protocol to the container's (%s)", otherProtocol(wrongProto[0], firstPort(r, wrongProto[0]), r.protocol))})
	}
	if len(bad) == 0 {
		return
	}
	all := len(bad) == len(pods) && !weak
	object, field := report.ObjectRef{}, "spec.ports[].targetPort"
	fix := ""
	if r.svc != nil {
		object = r.svcRef()
		fix = fmt.Sprintf("set targetPort of Service port %s to %d, the port the app declares", r.portLabel(), hint)
		if hint == 0 {
			fix = "set the Service targetPort to the port the app listens on"
		}
	} else {
		object, field = r.podRef(pods[0]), "spec.containers[].ports"
		fix = fmt.Sprintf("call port %d, which the pod declares", hint)
	}
	r.add(report.Finding{Code: "PORT_NUMBER_MISMATCH", Severity: severityFor(all), Object: object, Related: r.podRefs(bad), Field: field,
		Message:  fmt.Sprintf("traffic goes to port %d, which no container of %s declares or probes: connections are refused", firstPort(r, bad[0]), plural(len(bad), "backend pod", "backend pods")),
		Evidence: ev, Fix: fix})
}

func firstPort(r *run, p *corev1.Pod) int32 {
	n, _ := r.targetPortOn(p)
	return n
}

// otherProtocol returns the protocol a container declares for port n when it declares n only with
// protocols other than proto, "" otherwise.
func otherProtocol(p *corev1.Pod, n int32, proto corev1.Protocol) corev1.Protocol {
	var other corev1.Protocol
	for _, c := range appContainers(p) {
		for _, cp := range c.Ports {
			if cp.ContainerPort != n {
				continue
			}
			if protocolOr(cp.Protocol) == protocolOr(proto) {
				return ""
			}
			other = protocolOr(cp.Protocol)
		}
	}
	return other
}

// portsOf returns the ports the app containers declare and the ports their probes use.
func portsOf(p *corev1.Pod) (declared, probed map[int32]bool) {
	declared, probed = map[int32]bool{}, map[int32]bool{}
	for _, c := range appContainers(p) {
		for _, cp := range c.Ports {
			declared[cp.ContainerPort] = true
		}
		for _, pr := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if n := probePort(c, pr); n != 0 {
				probed[n] = true
			}
		}
	}
	return declared, probed
}

func probePort(c corev1.Container, pr *corev1.Probe) int32 {
	if pr == nil {
		return 0
	}
	var port intstr.IntOrString
	switch {
	case pr.HTTPGet != nil:
		port = pr.HTTPGet.Port
	case pr.TCPSocket != nil:
		port = pr.TCPSocket.Port
	case pr.GRPC != nil:
		return pr.GRPC.Port
	default:
		return 0
	}
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

func probeList(p *corev1.Pod) string {
	var out []string
	for _, c := range appContainers(p) {
		for kind, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if n := probePort(c, pr); n != 0 {
				out = append(out, fmt.Sprintf("%s %d", kind, n))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func likelyPort(declared, probed map[int32]bool) int32 {
	for _, m := range []map[int32]bool{probed, declared} {
		var ports []int32
		for p := range m {
			ports = append(ports, p)
		}
		sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
		if len(ports) > 0 {
			return ports[0]
		}
	}
	return 0
}

var (
	bindFlag = regexp.MustCompile(`(?i)^-{1,2}(listen|bind|host|address|addr|listen-address|bind-address|http-address|web\.listen-address|server\.address)(=|$)`)
	loopback = regexp.MustCompile(`^(127\.0\.0\.1|localhost|\[::1\]|::1)(:\d+)?$`)
	bindEnv  = regexp.MustCompile(`(?i)(^|_)(BIND|LISTEN|HOST|ADDR|ADDRESS)($|_)`)
	notBind  = regexp.MustCompile(`(?i)(UPSTREAM|BACKEND|DB|DATABASE|REDIS|POSTGRES|MYSQL|MONGO|PROXY|TARGET|REMOTE|SERVER_URL|API_URL|OTEL|JAEGER|STATSD|AGENT|KAFKA|AMQP|SMTP)`)
)

// localhostBind: an app told to listen on 127.0.0.1 is unreachable from other pods while exec and port-forward work.
func (r *run) localhostBind(pods []*corev1.Pod) {
	var hit []*corev1.Pod
	var ev []string
	for _, p := range pods {
		if what := bindsLoopback(p); what != "" {
			hit = append(hit, p)
			if len(ev) < 3 {
				ev = append(ev, fmt.Sprintf("pod %s: %s", p.Name, what))
			}
		}
	}
	if len(hit) == 0 {
		return
	}
	object := r.podRef(hit[0])
	if o := r.m.Owner(hit[0]); o.Kind != "" && o.Kind != "ReplicaSet" {
		object = r.obj(o.Kind, o.Namespace, o.Name)
	}
	r.add(report.Finding{Code: "PORT_APP_LOCALHOST", Severity: severityFor(len(hit) == len(pods)), Object: object, Related: r.podRefs(hit), Field: "spec.containers[].args",
		Message:  fmt.Sprintf("the app in %s listens on localhost only: connections from other pods are refused", plural(len(hit), "backend pod", "backend pods")),
		Evidence: ev, Fix: "make the app listen on 0.0.0.0 (or the pod IP) instead of 127.0.0.1/localhost"})
}

func bindsLoopback(p *corev1.Pod) string {
	for _, c := range appContainers(p) {
		args := append(append([]string(nil), c.Command...), c.Args...)
		for i, a := range args {
			flag, val := a, ""
			if j := strings.IndexByte(a, '='); j > 0 {
				flag, val = a[:j+1], a[j+1:]
			} else if i+1 < len(args) {
				val = args[i+1]
			}
			if bindFlag.MatchString(flag) && loopback.MatchString(val) {
				return fmt.Sprintf("container %s arg %s", c.Name, strings.TrimSpace(flag+" "+val))
			}
		}
		for _, e := range c.Env {
			if bindEnv.MatchString(e.Name) && !notBind.MatchString(e.Name) && loopback.MatchString(e.Value) {
				return fmt.Sprintf("container %s env %s=%s", c.Name, e.Name, e.Value)
			}
		}
	}
	return ""
}
