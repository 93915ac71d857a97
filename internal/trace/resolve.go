package trace

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// resolveSource finds the client pod (picking one pod of a workload) or marks the source as outside or a node.
func (r *run) resolveSource() {
	s := r.req.Source
	switch s.Kind {
	case ref.Outside:
		r.outside = true
	case ref.Pod:
		r.client = r.m.Pod(s.Namespace, s.Name)
	case ref.Node:
		r.clientNode = r.m.Nodes[s.Name]
	case ref.Deployment, ref.StatefulSet, ref.DaemonSet:
		r.client = pickPod(r.m.PodsIn(s.Namespace), func(p *corev1.Pod) bool {
			return r.m.Owner(p) == model.ObjKey{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}
		})
	}
	if r.client != nil && r.client.Spec.NodeName != "" {
		r.clientNode = r.m.Nodes[r.client.Spec.NodeName]
	}
}

// pickPod prefers a running, ready pod, then a running one, then any, each by name.
func pickPod(pods []*corev1.Pod, keep func(*corev1.Pod) bool) *corev1.Pod {
	var best *corev1.Pod
	score := func(p *corev1.Pod) int {
		switch {
		case model.PodTerminating(p):
			return 0
		case p.Status.Phase == corev1.PodRunning && model.PodReady(p):
			return 3
		case p.Status.Phase == corev1.PodRunning:
			return 2
		}
		return 1
	}
	for _, p := range pods {
		if keep(p) && (best == nil || score(p) > score(best)) {
			best = p
		}
	}
	return best
}

// resolveTarget turns the target reference into a Service and port, a pod, or a name resolution.
func (r *run) resolveTarget() {
	t := r.req.Target
	r.port, r.protocol = t.Port, r.req.Protocol
	domain := clusterDomain(r.m)
	switch t.Kind {
	case ref.Service:
		r.svc = r.m.Service(t.Namespace, t.Name)
		fqdn := fmt.Sprintf("%s.%s.svc.%s", t.Name, t.Namespace, domain)
		r.name = resolveName(r.m, resolverOf(r.client, domain), fqdn+".", domain)
		r.name.query = fqdn
	case ref.DNSName:
		r.name = resolveName(r.m, resolverOf(r.client, domain), t.Name, domain)
		r.svc, r.targetPod = r.name.svc, r.name.pod
		if r.targetPod != nil && r.svc != nil && headless(r.svc) {
			r.svc = nil // a per-pod name goes straight to the pod
		}
	case ref.Address:
		r.resolveAddress(t.Name)
	case ref.Pod:
		r.targetPod = r.m.Pod(t.Namespace, t.Name)
	case ref.Deployment, ref.StatefulSet, ref.DaemonSet:
		r.targetPod = pickPod(r.m.PodsIn(t.Namespace), func(p *corev1.Pod) bool {
			return r.m.Owner(p) == model.ObjKey{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}
		})
	case ref.Node:
		r.viaNode = r.m.Nodes[t.Name]
		r.svc = r.nodePortService(t.Port)
	case ref.Ingress:
		r.resolveIngress(t)
	}
	if r.svc != nil {
		r.pickServicePort(t)
	}
	if r.targetPod != nil && r.port == 0 && t.PortName != "" {
		r.port = namedContainerPort(r.targetPod, t.PortName)
	}
	if r.targetPod != nil && r.port == 0 {
		if ports := declaredPorts(r.targetPod); len(ports) == 1 {
			r.port, r.protocol = ports[0].ContainerPort, ports[0].Protocol
		}
	}
	if r.protocol == "" {
		r.protocol = corev1.ProtocolTCP
	}
}

func (r *run) resolveAddress(ip string) {
	if svc := r.m.ServiceByIP(ip); svc != nil {
		r.svc = svc
		return
	}
	for _, p := range r.m.PodsByIP(ip) {
		if !p.Spec.HostNetwork {
			r.targetPod = p
			return
		}
	}
	if n := r.m.NodeByIP(ip); n != nil {
		r.viaNode = n
		r.svc = r.nodePortService(r.req.Target.Port)
		return
	}
	for _, k := range r.m.ServiceNames() {
		svc := r.m.Services[k]
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP == ip {
				r.svc = svc
				return
			}
		}
		for _, ext := range svc.Spec.ExternalIPs {
			if ext == ip {
				r.svc = svc
				return
			}
		}
	}
}

// nodePortService finds the Service that owns a node port.
func (r *run) nodePortService(port int32) *corev1.Service {
	for _, k := range r.m.ServiceNames() {
		svc := r.m.Services[k]
		for _, p := range svc.Spec.Ports {
			if p.NodePort == port && port != 0 {
				return svc
			}
		}
	}
	return nil
}

// pickServicePort chooses the Service port the client calls. When the number matches no port,
// svcPort stays nil and the service layer explains.
func (r *run) pickServicePort(t ref.Ref) {
	ports := r.svc.Spec.Ports
	var match []*corev1.ServicePort
	for i := range ports {
		p := &ports[i]
		switch {
		case t.PortName != "" && p.Name == t.PortName,
			t.PortName == "" && r.port != 0 && r.viaNode == nil && p.Port == r.port,
			r.viaNode != nil && p.NodePort == r.port,
			r.ingress != nil && r.ingress.port.matches(p):
			match = append(match, p)
		}
	}
	if t.PortName == "" && r.port == 0 && r.ingress == nil && len(ports) > 0 {
		match = append(match, &ports[0])
	}
	if len(match) == 0 {
		return
	}
	pick := match[0]
	for _, p := range match {
		if r.req.Protocol != "" && p.Protocol == r.req.Protocol || r.req.Protocol == "" && protocolOf(p) == corev1.ProtocolTCP {
			pick = p
			break
		}
	}
	r.svcPort = pick
	if r.viaNode == nil {
		r.port = pick.Port
	}
	if r.req.Protocol == "" {
		r.protocol = protocolOf(pick)
	}
}

func protocolOf(p *corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func declaredPorts(p *corev1.Pod) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, c := range allContainers(p) {
		out = append(out, c.Ports...)
	}
	return out
}

// allContainers lists the containers that can serve traffic: app containers and restartable init (sidecar) containers.
func allContainers(p *corev1.Pod) []corev1.Container {
	out := append([]corev1.Container(nil), p.Spec.Containers...)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	return out
}

func namedContainerPort(p *corev1.Pod, name string) int32 {
	for _, cp := range declaredPorts(p) {
		if cp.Name == name {
			return cp.ContainerPort
		}
	}
	return 0
}

func (r *run) sourceEndpoint() report.Endpoint {
	s := r.req.Source
	e := report.Endpoint{Kind: s.Kind, Namespace: s.Namespace, Name: s.Name, As: s.Raw}
	switch {
	case s.Kind == ref.Outside:
		e = report.Endpoint{Kind: "Outside", As: s.Raw}
	case s.Kind == ref.Node:
		e.Namespace = ""
		if r.clientNode != nil {
			e.Address = model.NodeInternalIP(r.clientNode)
		}
	case r.client != nil:
		if s.IsWorkload() {
			e.Pod = r.client.Name
		}
		if ips := model.PodIPs(r.client); len(ips) > 0 {
			e.Address = ips[0]
		}
	}
	return e
}

func (r *run) targetEndpoint() report.Endpoint {
	t := r.req.Target
	e := report.Endpoint{Kind: t.Kind, Namespace: t.Namespace, Name: t.Name, Port: r.port, Protocol: string(r.protocol), As: t.Raw}
	switch {
	case r.svc != nil && r.viaNode == nil:
		e.Kind, e.Namespace, e.Name = "Service", r.svc.Namespace, r.svc.Name
		if !headless(r.svc) {
			e.Address = r.svc.Spec.ClusterIP
		}
	case r.targetPod != nil:
		if t.IsWorkload() {
			e.Pod = r.targetPod.Name
		} else {
			e.Kind, e.Namespace, e.Name = "Pod", r.targetPod.Namespace, r.targetPod.Name
		}
		if ips := model.PodIPs(r.targetPod); len(ips) > 0 {
			e.Address = ips[0]
		}
	case t.Kind == ref.DNSName, t.Kind == ref.Address:
		e.Kind, e.Namespace, e.Name = t.Kind, "", t.Name
	}
	if t.Kind == ref.Node || t.Kind == ref.Outside {
		e.Namespace = ""
	}
	return e
}

func podNames(pods []*corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	sort.Strings(out)
	return out
}
