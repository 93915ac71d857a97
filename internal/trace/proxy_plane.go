package trace

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
)

// proxyAgent is one component that programs Service virtual IPs on the nodes: kube-proxy or a replacement.
type proxyAgent struct {
	name      string            // "kube-proxy", "Cilium", ...
	label     string            // how the summary names it
	ds        *appsv1.DaemonSet // nil when it runs as static pods or is missing
	dsDefault string            // the DaemonSet name it usually has, for fixes when ds is nil
	pods      []*corev1.Pod     // its pods that are not finished
	ebpf      bool              // serves Services with eBPF, which handles a pod calling itself
	evidence  []string
}

// dataPlane is what the cluster shows about the Service data plane.
type dataPlane struct {
	kubeProxy   *proxyAgent // nil when no kube-proxy DaemonSet or pod is visible
	mode        string      // kube-proxy mode: iptables, ipvs, nftables, ...
	modeFrom    string      // where the mode was read
	strictARP   string      // "true", "false", or "" when the config does not say
	replacement *proxyAgent // a component serving Services instead of kube-proxy
	undecided   []string    // components that may replace kube-proxy through config reach does not read
	embedded    string      // kube-proxy built into the node agent (k3s), when that is visible
}

// active is the agent that serves Services: the replacement when configured, else kube-proxy.
func (dp *dataPlane) active() *proxyAgent {
	if dp.replacement != nil {
		return dp.replacement
	}
	return dp.kubeProxy
}

func (dp *dataPlane) details() []string {
	var out []string
	for _, a := range []*proxyAgent{dp.replacement, dp.kubeProxy} {
		if a != nil {
			out = append(out, a.evidence...)
		}
	}
	if dp.kubeProxy != nil && dp.modeFrom != "" {
		out = append(out, fmt.Sprintf("kube-proxy mode %s (%s)", dp.mode, dp.modeFrom))
	}
	if dp.embedded != "" {
		out = append(out, dp.embedded)
	}
	if dp.active() == nil {
		out = append(out, dp.undecided...)
	}
	return out
}

// dataPlane detects kube-proxy and its replacements from kube-system (and the namespaces replacements use).
func (r *run) dataPlane() *dataPlane {
	dp := &dataPlane{}
	dp.kubeProxy = r.kubeProxyAgent()
	if dp.kubeProxy != nil {
		dp.mode, dp.modeFrom, dp.strictARP = r.kubeProxyMode(dp.kubeProxy.ds)
		dp.kubeProxy.label = fmt.Sprintf("kube-proxy (%s)", dp.mode)
	}
	for _, detect := range []func(*dataPlane){r.detectCilium, r.detectKubeRouter, r.detectOVN, r.detectOthers} {
		if dp.replacement == nil {
			detect(dp)
		}
	}
	if dp.kubeProxy == nil && dp.replacement == nil {
		dp.embedded = r.embeddedProxy()
	}
	return dp
}

// findDaemonSet finds a DaemonSet by name or by one label, preferring kube-system, then by namespace and name.
func (r *run) findDaemonSet(names []string, labelKey, labelValue string) *appsv1.DaemonSet {
	var found *appsv1.DaemonSet
	for _, k := range sortedKeys(r.m.DaemonSets) {
		ds := r.m.DaemonSets[k]
		match := labelKey != "" && ds.Labels[labelKey] == labelValue
		for _, n := range names {
			match = match || ds.Name == n
		}
		if !match {
			continue
		}
		if ds.Namespace == "kube-system" {
			return ds
		}
		if found == nil {
			found = ds
		}
	}
	return found
}

// daemonPods lists the unfinished pods a DaemonSet's selector matches in its namespace.
func (r *run) daemonPods(ds *appsv1.DaemonSet) []*corev1.Pod {
	if ds == nil || ds.Spec.Selector == nil {
		return nil
	}
	if len(ds.Spec.Selector.MatchExpressions) == 0 {
		return unfinishedPods(r.m.PodsMatching(ds.Namespace, ds.Spec.Selector.MatchLabels))
	}
	sel, err := metav1LabelSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	return unfinishedPods(r.m.PodsSelected(ds.Namespace, sel))
}

// kubeProxyAgent finds the kube-proxy DaemonSet and its pods, or kube-proxy static pods.
func (r *run) kubeProxyAgent() *proxyAgent {
	ds := r.findDaemonSet([]string{"kube-proxy"}, "k8s-app", "kube-proxy")
	if ds != nil && ds.Namespace != "kube-system" {
		ds = nil
	}
	seen := map[string]bool{}
	var pods []*corev1.Pod
	add := func(list []*corev1.Pod) {
		for _, p := range unfinishedPods(list) {
			if !seen[p.Name] {
				seen[p.Name] = true
				pods = append(pods, p)
			}
		}
	}
	add(r.daemonPods(ds))
	add(r.m.PodsMatching("kube-system", map[string]string{"k8s-app": "kube-proxy"}))
	add(r.m.PodsMatching("kube-system", map[string]string{"component": "kube-proxy"}))
	if ds == nil && len(pods) == 0 {
		return nil
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	a := &proxyAgent{name: "kube-proxy", label: "kube-proxy", ds: ds, dsDefault: "kube-proxy", pods: pods}
	a.evidence = []string{agentEvidence(a)}
	return a
}

func agentEvidence(a *proxyAgent) string {
	running := 0
	for _, p := range a.pods {
		if agentPodHealthy(p) {
			running++
		}
	}
	where := "static pods in kube-system"
	if a.ds != nil {
		where = fmt.Sprintf("DaemonSet %s/%s (desired %d, ready %d)", a.ds.Namespace, a.ds.Name, a.ds.Status.DesiredNumberScheduled, a.ds.Status.NumberReady)
	}
	return fmt.Sprintf("%s: %s, %d of %d pods running and ready", a.name, where, running, len(a.pods))
}

func agentPodHealthy(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && model.PodReady(p) && !model.PodTerminating(p)
}

var (
	proxyModeLine = regexp.MustCompile(`(?m)^mode:[ \t]*["']?([A-Za-z]*)`)
	strictARPLine = regexp.MustCompile(`(?m)^[ \t]+strictARP:[ \t]*["']?(true|false)`)
	proxyModeArg  = regexp.MustCompile(`--proxy-mode[= ]([A-Za-z]+)`)
)

// kubeProxyMode reads the mode from ConfigMap kube-system/kube-proxy, else the DaemonSet's flags; empty means iptables.
func (r *run) kubeProxyMode(ds *appsv1.DaemonSet) (mode, from, strictARP string) {
	if cm := r.m.ConfigMaps[keyOf("kube-system", "kube-proxy")]; cm != nil {
		conf := cm.Data["config.conf"]
		if conf == "" {
			conf = firstValue(cm.Data)
		}
		if m := strictARPLine.FindStringSubmatch(conf); m != nil {
			strictARP = m[1]
		}
		if m := proxyModeLine.FindStringSubmatch(conf); m != nil && m[1] != "" {
			return m[1], fmt.Sprintf("ConfigMap kube-system/kube-proxy config.conf mode: %s", m[1]), strictARP
		}
		return "iptables", "ConfigMap kube-system/kube-proxy config.conf mode is empty: iptables, the Linux default", strictARP
	}
	if m := proxyModeArg.FindStringSubmatch(strings.Join(daemonArgs(ds), " ")); m != nil {
		return m[1], "DaemonSet kube-proxy flag --proxy-mode=" + m[1], ""
	}
	return "iptables", "ConfigMap kube-system/kube-proxy not in the input: assuming iptables, the Linux default", ""
}

func firstValue(data map[string]string) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.Contains(data[k], "mode:") {
			return data[k]
		}
	}
	return ""
}

// daemonArgs lists the command and args of every container of a DaemonSet.
func daemonArgs(ds *appsv1.DaemonSet) []string {
	if ds == nil {
		return nil
	}
	var out []string
	for _, c := range ds.Spec.Template.Spec.Containers {
		out = append(out, c.Command...)
		out = append(out, c.Args...)
	}
	return out
}

// configMapNamed finds a kept ConfigMap by name, preferring kube-system.
func (r *run) configMapNamed(name string) *corev1.ConfigMap {
	if cm := r.m.ConfigMaps[keyOf("kube-system", name)]; cm != nil {
		return cm
	}
	for _, k := range sortedKeys(r.m.ConfigMaps) {
		if k.Name == name {
			return r.m.ConfigMaps[k]
		}
	}
	return nil
}
