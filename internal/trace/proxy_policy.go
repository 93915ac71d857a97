package trace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/report"
)

// pathEndpoints returns the Service's backends and endpoint view as the endpoints layer computes them.
// The proxy layer runs first, so it computes them itself and leaves r.backends for that layer to fill.
func (r *run) pathEndpoints() (*endpointView, []*corev1.Pod) {
	if r.eps != nil {
		return r.eps, r.backends
	}
	var pods []*corev1.Pod
	if len(r.svc.Spec.Selector) > 0 {
		if ok, _ := r.m.Coverage.Covered("Pod", r.svc.Namespace); !ok {
			return nil, nil
		}
		pods = unfinishedPods(r.m.PodsMatching(r.svc.Namespace, r.svc.Spec.Selector))
		if len(pods) == 0 {
			return nil, nil
		}
	}
	return r.buildView(pods), pods
}

// readyNodes lists the nodes hosting a ready endpoint, sorted, and whether every ready endpoint names its node.
func readyNodes(v *endpointView) ([]string, bool) {
	set := map[string]bool{}
	complete := true
	for _, a := range v.addrs {
		if !a.ready {
			continue
		}
		if a.node == "" {
			complete = false
			continue
		}
		set[a.node] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, complete
}

func inNames(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkTrafficPolicies: internalTrafficPolicy Local for clients inside, externalTrafficPolicy Local for clients outside.
func (r *run) checkTrafficPolicies() []string {
	itp := r.svc.Spec.InternalTrafficPolicy != nil && *r.svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	etp := r.svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && r.svc.Spec.Type != corev1.ServiceTypeClusterIP
	if r.outside && !etp || !r.outside && !itp {
		return nil
	}
	v, _ := r.pathEndpoints()
	if v == nil {
		return []string{"traffic policy Local: cannot see the Service's endpoints to check which nodes host one"}
	}
	nodes, complete := readyNodes(v)
	switch {
	case len(nodes) == 0 && complete:
		return []string{"traffic policy Local: no ready endpoint on any node; see the endpoints layer"}
	case !complete:
		return []string{"traffic policy Local: some ready endpoints do not name their node; cannot check node coverage"}
	case r.outside:
		return r.externalLocal(nodes)
	}
	return r.internalLocal(nodes)
}

// internalLocal: with internalTrafficPolicy Local the proxy only uses endpoints on the client's own node.
func (r *run) internalLocal(nodes []string) []string {
	n := r.clientNode
	if n == nil {
		return []string{"internalTrafficPolicy Local: the client's node is not known; endpoints are on " + nodeList(nodes, 20)}
	}
	if inNames(nodes, n.Name) {
		return []string{fmt.Sprintf("internalTrafficPolicy Local: node %s hosts a ready endpoint", n.Name)}
	}
	related := []report.ObjectRef{r.obj("Node", "", n.Name)}
	if r.client != nil {
		related = append(related, r.podRef(r.client))
	}
	r.add(report.Finding{Code: "PROXY_INTERNAL_LOCAL_NO_ENDPOINT", Object: r.svcRef(), Related: related, Field: "spec.internalTrafficPolicy",
		Message: fmt.Sprintf("Service %s has internalTrafficPolicy Local and no ready endpoint on node %s, where the client runs: the proxy drops the connection (timeout); clients on %s get through",
			r.svc.Name, n.Name, nodeList(nodes, 5)),
		Evidence: []string{"spec.internalTrafficPolicy: Local", "client node: " + n.Name, "nodes with a ready endpoint: " + nodeList(nodes, 20)},
		Fix: fmt.Sprintf("kubectl -n %s patch service %s -p '{\"spec\":{\"internalTrafficPolicy\":\"Cluster\"}}', or run a backend on every node (a DaemonSet is the usual pair of Local)",
			r.svc.Namespace, r.svc.Name)})
	return nil
}

// externalLocal: with externalTrafficPolicy Local, nodes without a ready endpoint drop outside traffic.
func (r *run) externalLocal(nodes []string) []string {
	svc := r.svc
	lbAddr := svc.Spec.Type == corev1.ServiceTypeLoadBalancer && len(svc.Status.LoadBalancer.Ingress) > 0
	switch {
	case r.viaNode != nil && !inNames(nodes, r.viaNode.Name):
		r.externalLocalFinding(nodes, []string{r.viaNode.Name}, false)
		return nil
	case r.viaNode != nil:
		return []string{fmt.Sprintf("externalTrafficPolicy Local: node %s hosts a ready endpoint", r.viaNode.Name)}
	case lbAddr:
		return []string{fmt.Sprintf("externalTrafficPolicy Local: the load balancer's health check on healthCheckNodePort %d steers traffic to the nodes with a ready endpoint: %s",
			svc.Spec.HealthCheckNodePort, nodeList(nodes, 20))}
	}
	var dropping []string
	for _, n := range r.m.NodeNames() {
		if !inNames(nodes, n) {
			dropping = append(dropping, n)
		}
	}
	if len(dropping) == 0 {
		return []string{"externalTrafficPolicy Local: every node hosts a ready endpoint"}
	}
	r.externalLocalFinding(nodes, dropping, true)
	return nil
}

func (r *run) externalLocalFinding(working, dropping []string, degrades bool) {
	svc := r.svc
	nodePort := r.svcPort.NodePort
	msg := fmt.Sprintf("Service %s has externalTrafficPolicy Local and node %s hosts no ready endpoint: NodePort %d traffic to it is dropped (timeout)", svc.Name, dropping[0], nodePort)
	if degrades {
		verb := "drops"
		if len(dropping) > 1 {
			verb = "drop"
		}
		msg = fmt.Sprintf("Service %s has externalTrafficPolicy Local: NodePort %d works only on %s; %s %s the traffic (timeout)", svc.Name, nodePort, nodeList(working, 5), nodeList(dropping, 5), verb)
	}
	related := []report.ObjectRef{}
	for _, n := range dropping[:min(len(dropping), 10)] {
		related = append(related, r.obj("Node", "", n))
	}
	r.add(report.Finding{Code: "PROXY_EXTERNAL_LOCAL_NO_ENDPOINT", Object: r.svcRef(), Related: related, Field: "spec.externalTrafficPolicy", Degrades: degrades,
		Message:  msg,
		Evidence: []string{"spec.externalTrafficPolicy: Local", "nodes with a ready endpoint: " + nodeList(working, 20), "nodes without: " + nodeList(dropping, 20)},
		Fix: fmt.Sprintf("send NodePort traffic to %s (or put a load balancer with health checks in front), or kubectl -n %s patch service %s -p '{\"spec\":{\"externalTrafficPolicy\":\"Cluster\"}}' (client source IPs are then SNATed)",
			nodeList(working, 3), svc.Namespace, svc.Name)})
}

// checkHairpin: a pod that calls its own Service gets its own endpoint back 1 in N times.
func (r *run) checkHairpin(dp *dataPlane) {
	if r.client == nil || dp != nil && dp.replacement != nil && dp.replacement.ebpf {
		return
	}
	v, backends := r.pathEndpoints()
	if !containsPod(backends, r.client) {
		return
	}
	n := len(backends)
	if v != nil {
		n = len(v.readyPods())
	}
	odds := fmt.Sprintf("about 1 in %d calls", max(n, 1))
	if n <= 1 {
		odds = "every call"
	}
	r.add(report.Finding{Code: "PROXY_HAIRPIN", Object: r.svcRef(), Related: []report.ObjectRef{r.podRef(r.client)},
		Message: fmt.Sprintf("pod %s calls Service %s, which it backs itself: when the proxy picks its own endpoint (%s) the packet must hairpin back into the pod, and is dropped where hairpin mode is off", r.client.Name, r.svc.Name, odds),
		Evidence: []string{fmt.Sprintf("pod %s matches the selector %s of Service %s", r.client.Name, labelsOrNone(r.svc.Spec.Selector), r.svc.Name),
			"hairpin mode is a kubelet/CNI setting, not visible in API objects"},
		Fix: "make sure hairpin is on: kubelet --hairpin-mode=hairpin-veth (or promiscuous-bridge), or \"hairpinMode\": true in the CNI bridge config; or have the pod call itself on localhost"})
}

func labelsOrNone(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k+"="+sel[k])
	}
	sort.Strings(keys)
	return orNone(strings.Join(keys, ","))
}

// checkStrictARP: kube-proxy IPVS answers ARP for every LoadBalancer IP on every node unless strictARP is on,
// which confuses an L2 load balancer such as MetalLB.
func (r *run) checkStrictARP(dp *dataPlane) {
	if dp.active() != dp.kubeProxy || dp.kubeProxy == nil || dp.mode != "ipvs" || dp.strictARP == "true" || r.svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return
	}
	speaker := r.metalLBSpeaker()
	if speaker == "" {
		return
	}
	r.add(report.Finding{Code: "PROXY_IPVS_STRICTARP", Object: r.obj("ConfigMap", "kube-system", "kube-proxy"), Related: []report.ObjectRef{r.svcRef()}, Field: "data[config.conf].ipvs.strictARP",
		Message:  "kube-proxy runs in IPVS mode without strictARP beside MetalLB: every node answers ARP for LoadBalancer IPs bound to kube-ipvs0, so L2 announcements and failover go wrong",
		Evidence: []string{"kube-proxy mode: ipvs", "ipvs.strictARP: " + orDefault(dp.strictARP, "unset (false)"), speaker},
		Fix:      "kubectl -n kube-system edit configmap kube-proxy: set ipvs.strictARP: true; then kubectl -n kube-system rollout restart ds kube-proxy"})
}

// metalLBSpeaker describes a visible MetalLB speaker DaemonSet, "" when none.
func (r *run) metalLBSpeaker() string {
	for _, k := range sortedKeys(r.m.DaemonSets) {
		ds := r.m.DaemonSets[k]
		metallb := strings.Contains(ds.Namespace, "metallb") || ds.Labels["app"] == "metallb" || ds.Labels["app.kubernetes.io/name"] == "metallb"
		if metallb && strings.Contains(ds.Name, "speaker") {
			return fmt.Sprintf("MetalLB speaker DaemonSet %s/%s", ds.Namespace, ds.Name)
		}
	}
	return ""
}
