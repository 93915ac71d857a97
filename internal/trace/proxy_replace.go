package trace

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// replacementAgent makes the agent of a kube-proxy replacement from its DaemonSet.
func (r *run) replacementAgent(name, label string, ds *appsv1.DaemonSet, why ...string) *proxyAgent {
	a := &proxyAgent{name: name, label: label, ds: ds, dsDefault: strings.ToLower(name), pods: r.daemonPods(ds)}
	state := agentEvidence(a)
	if ds == nil {
		state = name + ": no DaemonSet of it in the input"
	}
	a.evidence = append(append([]string{}, why...), state)
	return a
}

// detectCilium: Cilium replaces kube-proxy when cilium-config says kube-proxy-replacement "true" or "strict".
func (r *run) detectCilium(dp *dataPlane) {
	ds := r.findDaemonSet([]string{"cilium"}, "k8s-app", "cilium")
	cm := r.configMapNamed("cilium-config")
	switch {
	case ds == nil && cm == nil:
		return
	case cm == nil:
		dp.undecided = append(dp.undecided, fmt.Sprintf("Cilium runs (DaemonSet %s/%s) but ConfigMap cilium-config is not in the input: cannot tell whether it replaces kube-proxy", ds.Namespace, ds.Name))
		return
	}
	kpr := strings.ToLower(strings.Trim(cm.Data["kube-proxy-replacement"], "\"' "))
	why := fmt.Sprintf("ConfigMap %s/cilium-config kube-proxy-replacement: %q", cm.Namespace, kpr)
	switch kpr {
	case "true", "strict":
		dp.replacement = r.replacementAgent("Cilium", "Cilium kube-proxy replacement", ds, why)
		dp.replacement.ebpf = true
	case "partial", "probe":
		dp.undecided = append(dp.undecided, why+": Cilium serves only some Service types itself")
	}
}

// detectKubeRouter: kube-router serves Services with IPVS when --run-service-proxy is on (its default).
func (r *run) detectKubeRouter(dp *dataPlane) {
	ds := r.findDaemonSet([]string{"kube-router"}, "k8s-app", "kube-router")
	if ds == nil {
		return
	}
	why := "DaemonSet kube-router flag --run-service-proxy=true"
	switch v, set := flagValue(daemonArgs(ds), "--run-service-proxy"); {
	case set && v == "false":
		return
	case !set:
		why = "DaemonSet kube-router does not set --run-service-proxy (default true)"
	}
	dp.replacement = r.replacementAgent("kube-router", "kube-router service proxy (IPVS)", ds, why)
}

// detectOVN: ovn-kubernetes programs Services in OVN itself.
func (r *run) detectOVN(dp *dataPlane) {
	ds := r.findDaemonSet([]string{"ovnkube-node"}, "app", "ovnkube-node")
	if ds != nil {
		dp.replacement = r.replacementAgent("ovn-kubernetes", "ovn-kubernetes (OVN load balancers)", ds,
			fmt.Sprintf("DaemonSet %s/ovnkube-node: ovn-kubernetes serves Services without kube-proxy", ds.Namespace))
	}
}

// detectOthers: GKE Dataplane V2 and Calico eBPF replace kube-proxy; Calico and Antrea may, by config reach does not read.
func (r *run) detectOthers(dp *dataPlane) {
	if ds := r.findDaemonSet([]string{"anetd"}, "", ""); ds != nil {
		dp.replacement = r.replacementAgent("anetd", "GKE Dataplane V2 (anetd)", ds, "DaemonSet anetd: GKE Dataplane V2 serves Services with eBPF")
		dp.replacement.ebpf = true
		return
	}
	if ds := r.findDaemonSet([]string{"calico-node"}, "k8s-app", "calico-node"); ds != nil {
		if envValue(ds, "FELIX_BPFENABLED") == "true" {
			dp.replacement = r.replacementAgent("calico-node", "Calico eBPF data plane", ds, "DaemonSet calico-node env FELIX_BPFENABLED=true")
			dp.replacement.ebpf = true
			return
		}
		dp.undecided = append(dp.undecided, fmt.Sprintf("Calico runs (DaemonSet %s/calico-node); its eBPF data plane, which replaces kube-proxy, is set in FelixConfiguration, which reach does not read", ds.Namespace))
	}
	if ds := r.findDaemonSet([]string{"antrea-agent"}, "component", "antrea-agent"); ds != nil {
		dp.undecided = append(dp.undecided, fmt.Sprintf("Antrea runs (DaemonSet %s/antrea-agent); its proxyAll option, which replaces kube-proxy, is in ConfigMap antrea-config, which reach does not read", ds.Namespace))
	}
}

// embeddedProxy: k3s runs kube-proxy inside its own process, unless started with --disable-kube-proxy.
func (r *run) embeddedProxy() string {
	for _, name := range r.m.NodeNames() {
		n := r.m.Nodes[name]
		if !strings.Contains(n.Status.NodeInfo.KubeletVersion, "+k3s") || strings.Contains(n.Annotations["k3s.io/node-args"], "--disable-kube-proxy") {
			continue
		}
		return fmt.Sprintf("node %s runs k3s (kubelet %s), which embeds kube-proxy in its own process: it is not visible as a pod", n.Name, n.Status.NodeInfo.KubeletVersion)
	}
	return ""
}

// flagValue finds a flag among command-line words (also inside one shell string): its value, and whether it is set.
func flagValue(args []string, flag string) (string, bool) {
	for _, a := range args {
		for _, w := range strings.Fields(a) {
			if w == flag {
				return "true", true
			}
			if v, ok := strings.CutPrefix(w, flag+"="); ok {
				return strings.ToLower(strings.Trim(v, "\"'")), true
			}
		}
	}
	return "", false
}

func envValue(ds *appsv1.DaemonSet, name string) string {
	for _, c := range ds.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return strings.ToLower(e.Value)
			}
		}
	}
	return ""
}

// agentPodsOn lists an agent's pods on one node, and the first healthy one.
func agentPodsOn(a *proxyAgent, node string) (healthy *corev1.Pod, all []*corev1.Pod) {
	for _, p := range a.pods {
		if p.Spec.NodeName != node {
			continue
		}
		all = append(all, p)
		if healthy == nil && agentPodHealthy(p) {
			healthy = p
		}
	}
	return healthy, all
}
