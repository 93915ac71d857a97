package trace

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"reach/internal/model"
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
	if why, st := r.exposureSkip(); why != "" {
		r.end(mark, report.LayerExposure, st, why)
		return
	}
	if r.ingress != nil {
		r.endEntries(mark, []entryCheck{r.checkIngressEntry(r.ingress.ing, r.ingress.backend, r.ingress.host, r.ingress.path)})
		return
	}
	switch r.svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		r.exposeLoadBalancer(mark)
	case corev1.ServiceTypeNodePort:
		r.exposeNodePort(mark)
	default:
		r.exposeClusterIP(mark)
	}
}

// exposureSkip says why there is nothing to check at this layer, with the hop status, "" when there is.
func (r *run) exposureSkip() (string, report.Status) {
	t := r.req.Target
	switch {
	case r.ingress != nil:
		return "", ""
	case t.Kind == ref.Ingress:
		if ok, why := r.m.Coverage.Covered("Ingress", t.Namespace); !ok {
			return "cannot see Ingress " + t.Name + ": " + why, report.StatusUnknown
		}
		return fmt.Sprintf("Ingress %s not found; see the service layer", t.Name), report.StatusSkip
	case r.svc == nil && r.targetPod != nil:
		return fmt.Sprintf("the outside client addresses pod %s directly: that works only where pod IPs are routed from outside the cluster", r.targetPod.Name), report.StatusSkip
	case r.svc == nil:
		return "no Service on the path; see the service layer", report.StatusSkip
	case r.svc.Spec.Type == corev1.ServiceTypeExternalName:
		return "ExternalName Service: an alias in cluster DNS, nothing to expose", report.StatusSkip
	case r.svcPort == nil:
		return "no Service port to expose; see the service layer", report.StatusSkip
	}
	return "", ""
}

// exposeLoadBalancer: the LoadBalancer has an address, else the NodePort still works.
func (r *run) exposeLoadBalancer(mark int) {
	svc := r.svc
	r.checkNodePortRange()
	details := sourceRangeDetails(svc)
	if r.viaNode != nil {
		r.endExposure(mark, fmt.Sprintf("NodePort %d on node %s (%s)", r.svcPort.NodePort, r.viaNode.Name, orNone(nodeAddress(r.viaNode))), details...)
		return
	}
	if addrs := lbAddresses(svc.Status.LoadBalancer.Ingress); len(addrs) > 0 {
		r.endExposure(mark, fmt.Sprintf("LoadBalancer %s port %d -> Service %s", strings.Join(addrs, ", "), r.svcPort.Port, svc.Name), details...)
		return
	}
	f := report.Finding{Code: "EXPOSURE_LB_PENDING", Object: r.svcRef(), Field: "status.loadBalancer.ingress",
		Message:  fmt.Sprintf("LoadBalancer Service %s has no external address: no cloud controller or MetalLB assigned one; it is still reachable on NodePort %d of every node", svc.Name, r.svcPort.NodePort),
		Evidence: []string{"spec.type: LoadBalancer", "status.loadBalancer.ingress: empty", fmt.Sprintf("port %d nodePort %d", r.svcPort.Port, r.svcPort.NodePort)},
		Fix: fmt.Sprintf("check the load-balancer controller (cloud-controller-manager, or MetalLB with an IPAddressPool): kubectl -n %s describe service %s shows its events; meanwhile use NODE_IP:%d",
			svc.Namespace, svc.Name, r.svcPort.NodePort)}
	if svc.Spec.LoadBalancerClass != nil {
		f.Evidence = append(f.Evidence, "spec.loadBalancerClass: "+*svc.Spec.LoadBalancerClass+" (only the controller of that class assigns the address)")
	}
	if r.svcPort.NodePort == 0 {
		f.Severity = report.SeverityError
		f.Message = fmt.Sprintf("LoadBalancer Service %s has no external address and no nodePort (allocateLoadBalancerNodePorts: false): nothing outside can reach it", svc.Name)
	}
	r.add(f)
	r.endExposure(mark, fmt.Sprintf("LoadBalancer pending: reachable on NodePort %d of every node", r.svcPort.NodePort), details...)
}

func lbAddresses(in []corev1.LoadBalancerIngress) []string {
	var out []string
	for _, i := range in {
		if i.IP != "" {
			out = append(out, i.IP)
		} else if i.Hostname != "" {
			out = append(out, i.Hostname)
		}
	}
	return out
}

func sourceRangeDetails(svc *corev1.Service) []string {
	if len(svc.Spec.LoadBalancerSourceRanges) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("spec.loadBalancerSourceRanges: %s: only clients from these ranges get in", strings.Join(svc.Spec.LoadBalancerSourceRanges, ", "))}
}

// exposeNodePort: the NodePort on the addressed node, or on every node.
func (r *run) exposeNodePort(mark int) {
	r.checkNodePortRange()
	if r.viaNode != nil {
		r.endExposure(mark, fmt.Sprintf("NodePort %d on node %s (%s)", r.svcPort.NodePort, r.viaNode.Name, orNone(nodeAddress(r.viaNode))))
		return
	}
	summary := fmt.Sprintf("NodePort %d on every node", r.svcPort.NodePort)
	if names := r.m.NodeNames(); len(names) > 0 {
		summary += fmt.Sprintf(" (e.g. %s:%d on %s)", orNone(nodeAddress(r.m.Nodes[names[0]])), r.svcPort.NodePort, names[0])
	}
	r.endExposure(mark, summary)
}

// endExposure ends the hop of a NodePort or LoadBalancer Service; when a finding blocks (a nodePort
// the API server refuses), the summary says that rather than how the Service would be reached.
func (r *run) endExposure(mark int, summary string, details ...string) {
	if r.statusOf(mark) == report.StatusFail {
		summary = firstBlocking(r.findings[mark:]).Message
	}
	r.endAuto(mark, report.LayerExposure, summary, details...)
}

// nodeAddress is the address an outside client uses: the ExternalIP, else the InternalIP.
func nodeAddress(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeExternalIP {
			return a.Address
		}
	}
	return model.NodeInternalIP(n)
}

var nodePortRangeArg = regexp.MustCompile(`service-node-port-range["']?\s*(?::|\n\s*value:)\s*["']?(\d+)-(\d+)`)

// checkNodePortRange: a nodePort outside the API server's range is rejected (a manifest that never applied).
func (r *run) checkNodePortRange() {
	np := r.svcPort.NodePort
	if np == 0 {
		return
	}
	lo, hi, from := int32(30000), int32(32767), "the default --service-node-port-range"
	configured := false
	if cm := r.configMapNamed("kubeadm-config"); cm != nil {
		if m := nodePortRangeArg.FindStringSubmatch(cm.Data["ClusterConfiguration"]); m != nil {
			a, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			lo, hi, from, configured = int32(a), int32(b), "ConfigMap kube-system/kubeadm-config apiServer service-node-port-range", true
		}
	}
	if np >= lo && np <= hi {
		return
	}
	if accepted := r.svc.UID != "" || !r.svc.CreationTimestamp.IsZero(); accepted && !configured {
		return // the API server took it, so its range is not the default
	}
	r.add(report.Finding{Code: "EXPOSURE_NODEPORT_RANGE", Object: r.svcRef(), Field: "spec.ports[].nodePort",
		Message:  fmt.Sprintf("nodePort %d of Service %s is outside the node port range %d-%d: the API server rejects it", np, r.svc.Name, lo, hi),
		Evidence: []string{fmt.Sprintf("port %d nodePort %d", r.svcPort.Port, np), fmt.Sprintf("range %d-%d (%s)", lo, hi, from)},
		Fix:      fmt.Sprintf("set spec.ports[].nodePort between %d and %d, or drop it and let the API server choose", lo, hi)})
}

// exposeClusterIP: a ClusterIP Service is reachable from outside only through an Ingress or a Gateway route.
func (r *run) exposeClusterIP(mark int) {
	entries := r.ingressEntriesFor(r.svc)
	for _, rt := range r.routesTo(r.svc) {
		entries = append(entries, r.checkRoute(rt))
	}
	if len(entries) > 0 {
		r.endEntries(mark, entries)
		return
	}
	var details []string
	for _, kind := range []string{"Ingress", "HTTPRoute"} {
		if ok, why := r.m.Coverage.Covered(kind, r.svc.Namespace); !ok {
			details = append(details, kind+": "+why)
		}
	}
	r.end(mark, report.LayerExposure, report.StatusWarn, "nothing exposes it outside the cluster", details...)
}
