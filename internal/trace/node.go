package trace

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// pathNode is one node the request crosses, and why.
type pathNode struct {
	name    string
	entry   bool     // the client's node, or the node an outside client addresses
	backend []string // backend pods on it
}

// checkNodes: the nodes the path crosses are Ready and their network plugin is ready.
func (r *run) checkNodes() {
	mark := r.begin()
	nodes := r.pathNodes()
	if len(nodes) == 0 {
		r.end(mark, report.LayerNode, report.StatusSkip, "no node on the path is known")
		return
	}
	if ok, why := r.m.Coverage.Covered("Node", ""); !ok {
		r.end(mark, report.LayerNode, report.StatusUnknown, "cannot see the nodes: "+why)
		return
	}
	t := r.tallyNodes(nodes)
	for _, pn := range nodes {
		if n := r.m.Nodes[pn.name]; n != nil && !nodeHealthy(n) {
			r.nodeFinding(n, pn, t.blocking())
		}
	}
	r.endAuto(mark, report.LayerNode, r.nodeSummary(mark, t.good, t.bad), t.details...)
}

// nodeTally counts the nodes on the path that are not ready, by role.
type nodeTally struct {
	details, good, bad   []string
	entryBad             bool
	backends, backendBad int
}

// blocking: the client's node is down, or every backend node is.
func (t nodeTally) blocking() bool {
	return t.entryBad || t.backends > 0 && t.backendBad == t.backends
}

func (r *run) tallyNodes(nodes []pathNode) nodeTally {
	var t nodeTally
	for _, pn := range nodes {
		n := r.m.Nodes[pn.name]
		if n == nil {
			t.details = append(t.details, fmt.Sprintf("%s (%s): not in the input", pn.name, pn.role()))
			continue
		}
		t.details = append(t.details, fmt.Sprintf("%s (%s): %s", pn.name, pn.role(), nodeState(n)))
		if len(pn.backend) > 0 {
			t.backends++
		}
		if nodeHealthy(n) {
			t.good = append(t.good, pn.name)
			continue
		}
		t.bad = append(t.bad, pn.name)
		t.entryBad = t.entryBad || pn.entry
		if len(pn.backend) > 0 {
			t.backendBad++
		}
	}
	return t
}

func (pn pathNode) role() string {
	var parts []string
	if pn.entry {
		parts = append(parts, "client")
	}
	if len(pn.backend) > 0 {
		parts = append(parts, "backend "+strings.Join(pn.backend, ", "))
	}
	return strings.Join(parts, "; ")
}

func (r *run) nodeSummary(mark int, good, bad []string) string {
	switch {
	case len(bad) == 0:
		return fmt.Sprintf("%s Ready: %s", plural(len(good), "node", "nodes"), nodeList(good, 5))
	case r.statusOf(mark) == report.StatusFail:
		return r.findings[mark].Message
	}
	return fmt.Sprintf("%d of %d nodes not Ready: %s", len(bad), len(bad)+len(good), strings.Join(bad, ", "))
}

func nodeList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", and %d more", len(names)-n)
}

// pathNodes lists the entry node first, then the backends' nodes by name.
func (r *run) pathNodes() []pathNode {
	byName := map[string]*pathNode{}
	get := func(name string) *pathNode {
		if byName[name] == nil {
			byName[name] = &pathNode{name: name}
		}
		return byName[name]
	}
	switch {
	case r.outside && r.viaNode != nil:
		get(r.viaNode.Name).entry = true
	case !r.outside && r.clientNode != nil:
		get(r.clientNode.Name).entry = true
	case !r.outside && r.client != nil && r.client.Spec.NodeName != "":
		get(r.client.Spec.NodeName).entry = true
	}
	for _, p := range r.pathBackends() {
		if p.Spec.NodeName != "" {
			pn := get(p.Spec.NodeName)
			pn.backend = append(pn.backend, p.Name)
		}
	}
	if r.eps != nil {
		for _, a := range r.eps.addrs {
			if a.pod == nil && a.node != "" {
				pn := get(a.node)
				pn.backend = append(pn.backend, a.addr)
			}
		}
	}
	out := make([]pathNode, 0, len(byName))
	for _, pn := range byName {
		sort.Strings(pn.backend)
		pn.backend = uniqueSorted(pn.backend)
		out = append(out, *pn)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].entry != out[j].entry {
			return out[i].entry
		}
		return out[i].name < out[j].name
	})
	return out
}

// pathBackends: the pod addressed directly, or the Service's backends and ready endpoints' pods.
func (r *run) pathBackends() []*corev1.Pod {
	if r.targetPod != nil {
		return []*corev1.Pod{r.targetPod}
	}
	out := append([]*corev1.Pod(nil), r.backends...)
	for _, p := range r.ready {
		if !containsPod(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func uniqueSorted(sorted []string) []string {
	var out []string
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// nodeHealthy: Ready=True and the network is not marked unavailable.
func nodeHealthy(n *corev1.Node) bool {
	return !model.NodeDown(n)
}

func nodeState(n *corev1.Node) string {
	s := "Ready=" + string(nodeReadyStatus(n))
	if c := nodeCondition(n, corev1.NodeNetworkUnavailable); c != nil && c.Status == corev1.ConditionTrue {
		s += ", NetworkUnavailable=True"
	}
	return s
}

// cniBroken says whether the node's trouble is its network plugin.
func cniBroken(n *corev1.Node) bool {
	if c := nodeCondition(n, corev1.NodeNetworkUnavailable); c != nil && c.Status == corev1.ConditionTrue {
		return true
	}
	c := nodeCondition(n, corev1.NodeReady)
	return c != nil && c.Status != corev1.ConditionTrue && cniMessage.MatchString(c.Message)
}

// nodeFinding reports one node that is not ready, with its conditions and taints.
func (r *run) nodeFinding(n *corev1.Node, pn pathNode, blocking bool) {
	f := report.Finding{Code: "NODE_NOT_READY", Object: r.obj("Node", "", n.Name), Field: "status.conditions[Ready]", Evidence: nodeEvidence(n)}
	on := "on the path"
	switch {
	case pn.entry && r.outside:
		on = "addressed by the outside client"
	case pn.entry:
		on = "where the client runs"
	case len(pn.backend) > 0:
		on = "hosting backend " + strings.Join(pn.backend, ", ")
	}
	if cniBroken(n) {
		f.Code, f.Field = "NODE_CNI_NOT_READY", "status.conditions"
		f.Message = fmt.Sprintf("node %s (%s) has no working network plugin: pods there get no traffic", n.Name, on)
		f.Fix = fmt.Sprintf("repair the CNI plugin on node %s: check its network plugin pod there (kubectl get pods -A -o wide --field-selector spec.nodeName=%s) and /etc/cni/net.d on the node", n.Name, n.Name)
	} else {
		f.Message = fmt.Sprintf("node %s (%s) is not Ready (Ready=%s): traffic through it fails", n.Name, on, nodeReadyStatus(n))
		f.Fix = fmt.Sprintf("kubectl describe node %s; check the kubelet there (systemctl status kubelet, journalctl -u kubelet), or move the pods off it: kubectl drain %s --ignore-daemonsets --delete-emptydir-data", n.Name, n.Name)
	}
	if !blocking {
		f.Severity = report.SeverityWarning
	}
	r.add(f)
}

func nodeEvidence(n *corev1.Node) []string {
	var ev []string
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeNetworkUnavailable} {
		c := nodeCondition(n, t)
		if c == nil {
			continue
		}
		if t == corev1.NodeNetworkUnavailable && c.Status != corev1.ConditionTrue {
			continue
		}
		ev = append(ev, fmt.Sprintf("condition %s=%s reason %s: %s (lastHeartbeatTime %s)", c.Type, c.Status, orNone(c.Reason), orNone(c.Message), condHeartbeat(c)))
	}
	if nodeCondition(n, corev1.NodeReady) == nil {
		ev = append(ev, "no Ready condition: the kubelet never reported")
	}
	for _, t := range n.Spec.Taints {
		ev = append(ev, fmt.Sprintf("taint %s:%s", t.Key, t.Effect))
	}
	return ev
}

func condHeartbeat(c *corev1.NodeCondition) string {
	if c.LastHeartbeatTime.IsZero() {
		return "unset"
	}
	return c.LastHeartbeatTime.UTC().Format("2006-01-02T15:04:05Z")
}
