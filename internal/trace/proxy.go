package trace

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// checkProxy: what programs the Service's virtual IP on the client's node, and traffic-policy coverage.
func (r *run) checkProxy() {
	mark := r.begin()
	if why := r.proxySkip(); why != "" {
		r.end(mark, report.LayerProxy, report.StatusSkip, why)
		return
	}
	summary, decided, details := "", false, []string(nil)
	dp, why := r.visiblePlane()
	if dp != nil {
		summary, decided = r.checkAgent(dp)
		details = dp.details()
		r.checkBoth(dp)
		r.checkStrictARP(dp)
	} else {
		summary = "cannot see the Service data plane in kube-system: " + why
	}
	details = append(details, r.checkTrafficPolicies()...)
	r.checkHairpin(dp)
	st := r.statusOf(mark)
	switch {
	case st == report.StatusFail:
		summary = firstBlocking(r.findings[mark:]).Message
	case !decided:
		st = report.StatusUnknown
	}
	r.end(mark, report.LayerProxy, st, summary, details...)
}

// visiblePlane detects the data plane, or says why kube-system cannot be seen.
func (r *run) visiblePlane() (*dataPlane, string) {
	for _, kind := range []string{"DaemonSet", "Pod"} {
		if ok, why := r.m.Coverage.Covered(kind, "kube-system"); !ok {
			return nil, why
		}
	}
	return r.dataPlane(), ""
}

// proxySkip says why no Service virtual IP is on the path, "" when one is.
func (r *run) proxySkip() string {
	switch {
	case r.svc == nil && r.targetPod != nil:
		return fmt.Sprintf("direct to pod %s: no Service virtual IP on the path", r.targetPod.Name)
	case r.svc == nil:
		return "no Service on the path"
	case r.svc.Spec.Type == corev1.ServiceTypeExternalName:
		return "ExternalName Service: a DNS alias, no proxy rules, by design"
	case headless(r.svc):
		return "headless Service: clients connect to pod IPs, no proxy rules, by design"
	case r.svcPort == nil:
		return "no Service port to program; see the service layer"
	case r.ingress != nil:
		return fmt.Sprintf("Ingress %s: the ingress controller sends to the endpoints directly", r.ingress.ing.Name)
	case r.outside && r.svc.Spec.Type == corev1.ServiceTypeClusterIP:
		return "ClusterIP Service from outside: any route in goes through an ingress or gateway proxy, which sends to the endpoints directly"
	}
	return ""
}

// proxyNode is the node whose rules the request meets first: the client's node, or the node an outside client addresses.
func (r *run) proxyNode() *corev1.Node {
	if r.outside {
		return r.viaNode
	}
	return r.clientNode
}

// checkAgent: something programs Services, and it runs on the node the request enters. It returns the summary
// and whether the data plane could be decided.
func (r *run) checkAgent(dp *dataPlane) (string, bool) {
	a := dp.active()
	switch {
	case a == nil && dp.embedded != "":
		return "kube-proxy embedded in k3s", true
	case a == nil && len(dp.undecided) > 0:
		return "no kube-proxy; whether a replacement serves Services is not visible", false
	case a == nil:
		r.proxyMissing()
		return "nothing programs Service virtual IPs", true
	}
	if n := r.proxyNode(); n != nil {
		if r.agentMissingOn(a, n) {
			return fmt.Sprintf("%s has no running pod on %s", a.label, n.Name), true
		}
		return fmt.Sprintf("%s on %s", a.label, n.Name), true
	}
	return r.agentCoverage(a), true
}

// proxyMissing: no kube-proxy and no replacement anywhere.
func (r *run) proxyMissing() {
	var names []string
	for _, k := range sortedKeys(r.m.DaemonSets) {
		if k.Namespace == "kube-system" {
			names = append(names, k.Name)
		}
	}
	r.add(report.Finding{Code: "PROXY_MISSING", Object: r.obj("DaemonSet", "kube-system", "kube-proxy"), Related: []report.ObjectRef{r.svcRef()},
		Message: fmt.Sprintf("nothing programs Service rules: no kube-proxy and no kube-proxy replacement, so connections to %s time out while pod IPs work", r.serviceAddrText()),
		Evidence: []string{
			"no DaemonSet kube-system/kube-proxy and no pod labelled k8s-app=kube-proxy or component=kube-proxy in kube-system",
			"DaemonSets in kube-system: " + orNone(strings.Join(names, ", ")),
			"no replacement: no Cilium with kube-proxy-replacement true, kube-router with --run-service-proxy, ovn-kubernetes, GKE Dataplane V2 or Calico eBPF",
		},
		Fix: "install kube-proxy (kubeadm: kubeadm init phase addon kube-proxy) or turn on a replacement (Cilium: kube-proxy-replacement: \"true\" in ConfigMap kube-system/cilium-config)"})
}

// agentMissingOn: the agent has no running, ready pod on the node; adds PROXY_MISSING with the node as object.
func (r *run) agentMissingOn(a *proxyAgent, n *corev1.Node) bool {
	healthy, pods := agentPodsOn(a, n.Name)
	if healthy != nil {
		return false
	}
	if model.NodeNotReady(n) {
		// the node itself is down: its agent's state is a symptom, and the node layer names the cause
		r.add(report.Finding{Code: "PROXY_MISSING", Severity: report.SeverityWarning, Object: r.obj("Node", "", n.Name),
			Message:  fmt.Sprintf("%s does not run on node %s, which is not Ready; see the node layer", a.name, n.Name),
			Evidence: []string{nodeReadyEvidence(n)}})
		return true
	}
	related := []report.ObjectRef{r.svcRef()}
	if a.ds != nil {
		related = append(related, r.obj("DaemonSet", a.ds.Namespace, a.ds.Name))
	}
	ev := []string{agentEvidence(a)}
	fix := fmt.Sprintf("find why %s does not run on node %s: kubectl -n %s describe ds %s (nodeSelector, tolerations against the node's labels and taints)", a.name, n.Name, dsNamespace(a), dsName(a))
	for _, p := range pods {
		related = append(related, r.podRef(p))
		ev = append(ev, fmt.Sprintf("pod %s on %s: %s", p.Name, n.Name, podState(p)))
		fix = fmt.Sprintf("see why it fails: kubectl -n %s logs %s --previous; then restart it: kubectl -n %s delete pod %s", p.Namespace, p.Name, p.Namespace, p.Name)
	}
	if len(pods) == 0 {
		ev = append(ev, fmt.Sprintf("no %s pod is scheduled on node %s", a.name, n.Name))
		for _, t := range n.Spec.Taints {
			ev = append(ev, fmt.Sprintf("node %s taint %s=%s:%s", n.Name, t.Key, t.Value, t.Effect))
		}
	}
	r.add(report.Finding{Code: "PROXY_MISSING", Object: r.obj("Node", "", n.Name), Related: related,
		Message:  fmt.Sprintf("%s has no running pod on node %s, %s: Service rules are not programmed there, so %s times out there while pod IPs work", a.name, n.Name, r.entryText(), r.serviceAddrText()),
		Evidence: ev, Fix: fix})
	return true
}

// entryText says why the proxy node is on the path.
func (r *run) entryText() string {
	switch {
	case r.client != nil:
		return "where client pod " + r.client.Name + " runs"
	case r.outside:
		return "where the outside client enters"
	}
	return "the source node"
}

// serviceAddrText is the address the request is sent to: the ClusterIP and port, or the NodePort from outside.
func (r *run) serviceAddrText() string {
	if r.outside {
		return fmt.Sprintf("NodePort %d", r.svcPort.NodePort)
	}
	return fmt.Sprintf("%s:%d", r.svc.Spec.ClusterIP, r.svcPort.Port)
}

func dsNamespace(a *proxyAgent) string {
	if a.ds == nil {
		return "kube-system"
	}
	return a.ds.Namespace
}

func dsName(a *proxyAgent) string {
	if a.ds == nil {
		return a.dsDefault
	}
	return a.ds.Name
}

// agentCoverage: with no one node to look at, the agent must run somewhere; an outside client may hit any Ready node.
func (r *run) agentCoverage(a *proxyAgent) string {
	var with, without []string
	healthy := map[string]bool{}
	for _, p := range a.pods {
		healthy[p.Spec.NodeName] = healthy[p.Spec.NodeName] || agentPodHealthy(p)
	}
	for _, name := range r.m.NodeNames() {
		if model.NodeNotReady(r.m.Nodes[name]) {
			continue
		}
		if healthy[name] {
			with = append(with, name)
		} else {
			without = append(without, name)
		}
	}
	switch {
	case !anyHealthy(a.pods):
		obj := r.obj("DaemonSet", dsNamespace(a), dsName(a))
		r.add(report.Finding{Code: "PROXY_MISSING", Object: obj, Related: []report.ObjectRef{r.svcRef()},
			Message:  fmt.Sprintf("no %s pod is running and ready on any node: Service virtual IPs are not programmed", a.name),
			Evidence: []string{agentEvidence(a)},
			Fix:      fmt.Sprintf("kubectl -n %s describe ds %s; kubectl -n %s logs ds/%s", dsNamespace(a), dsName(a), dsNamespace(a), dsName(a))})
	case len(without) > 0 && len(with) > 0 && r.outside:
		r.add(report.Finding{Code: "PROXY_MISSING", Severity: report.SeverityError, Degrades: true, Object: r.obj("DaemonSet", dsNamespace(a), dsName(a)), Related: []report.ObjectRef{r.svcRef()},
			Message:  fmt.Sprintf("%s does not run on %s: traffic entering there is dropped", a.name, plural(len(without), "Ready node", "Ready nodes")),
			Evidence: []string{"running on: " + nodeList(with, 20), "not running on: " + nodeList(without, 20)},
			Fix:      fmt.Sprintf("kubectl -n %s get pods -o wide | grep %s; kubectl -n %s describe ds %s", dsNamespace(a), a.name, dsNamespace(a), dsName(a))})
	}
	if len(with)+len(without) == 0 {
		return a.label
	}
	return fmt.Sprintf("%s on %d of %d Ready nodes", a.label, len(with), len(with)+len(without))
}

func anyHealthy(pods []*corev1.Pod) bool {
	for _, p := range pods {
		if agentPodHealthy(p) {
			return true
		}
	}
	return false
}

func nodeReadyStatus(n *corev1.Node) corev1.ConditionStatus {
	if c := nodeCondition(n, corev1.NodeReady); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}

// checkBoth: a replacement and kube-proxy both program Services.
func (r *run) checkBoth(dp *dataPlane) {
	if dp.replacement == nil || dp.kubeProxy == nil || !anyHealthy(dp.kubeProxy.pods) {
		return
	}
	kp := dp.kubeProxy
	obj := r.obj("DaemonSet", "kube-system", dsName(kp))
	r.add(report.Finding{Code: "PROXY_BOTH", Object: obj, Related: []report.ObjectRef{r.svcRef()},
		Message:  fmt.Sprintf("kube-proxy still runs beside the %s: both program Service rules, which can disagree after changes and leave stale NAT entries", dp.replacement.label),
		Evidence: append(append([]string{}, dp.replacement.evidence...), agentEvidence(kp)),
		Fix:      "remove kube-proxy: kubectl -n kube-system delete ds kube-proxy && kubectl -n kube-system delete cm kube-proxy, then on each node iptables-save | grep -v KUBE | iptables-restore; or turn the replacement off"})
}
