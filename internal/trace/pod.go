package trace

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
	"reach/internal/report"
)

// diagnosis is why one pod cannot serve.
type diagnosis struct {
	code     report.Code
	object   report.ObjectRef
	field    string
	message  string
	evidence []string
	fix      string
	// weak: the pod's state alone does not say why (a readiness failure with no Unhealthy event).
	weak bool
}

var cniMessage = regexp.MustCompile(`(?i)(NetworkReady=false|network plugin|cni plugin|cni config|NetworkPluginNotReady|failed to (set ?up|setup) network|network for sandbox)`)

// diagnose says why a pod is not ready to serve, nil when it is. The endpoints and pod layers
// both ask, so the answer is kept per pod.
func (r *run) diagnose(p *corev1.Pod) *diagnosis {
	if d, ok := r.diags[p]; ok {
		return d
	}
	d := r.diagnosePod(p)
	r.diags[p] = d
	return d
}

func (r *run) diagnosePod(p *corev1.Pod) *diagnosis {
	if model.PodTerminating(p) {
		return nil
	}
	if n := r.m.Nodes[p.Spec.NodeName]; n != nil && model.NodeNotReady(n) {
		return r.nodeDiagnosis(p, n)
	}
	switch p.Status.Phase {
	case corev1.PodPending, "":
		return r.pendingDiagnosis(p)
	case corev1.PodFailed, corev1.PodSucceeded:
		return &diagnosis{code: "POD_CRASHLOOP", object: r.podRef(p), field: "status.phase",
			message:  fmt.Sprintf("pod %s has %s (%s) and will not run again", p.Name, p.Status.Phase, orNone(p.Status.Reason)),
			evidence: []string{fmt.Sprintf("status.phase: %s, reason %s: %s", p.Status.Phase, orNone(p.Status.Reason), p.Status.Message)},
			fix:      fmt.Sprintf("delete pod %s so its controller replaces it, and find why it stopped: kubectl describe pod -n %s %s", p.Name, p.Namespace, p.Name)}
	}
	if d := r.containerDiagnosis(p); d != nil {
		return d
	}
	if model.PodLikelyReady(p) {
		return nil
	}
	if d := r.gateDiagnosis(p); d != nil {
		return d
	}
	return r.readinessDiagnosis(p)
}

func (r *run) nodeDiagnosis(p *corev1.Pod, n *corev1.Node) *diagnosis {
	ev := []string{nodeReadyEvidence(n), fmt.Sprintf("pod %s runs on node %s", p.Name, n.Name)}
	if cond := nodeCondition(n, corev1.NodeReady); cond != nil && cniMessage.MatchString(cond.Message) {
		return &diagnosis{code: "NODE_CNI_NOT_READY", object: r.obj("Node", "", n.Name), field: "status.conditions[Ready]",
			message: fmt.Sprintf("node %s has no working network plugin, so pod %s cannot get traffic", n.Name, p.Name), evidence: ev,
			fix: fmt.Sprintf("install or repair the CNI plugin on node %s (check /etc/cni/net.d and the CNI DaemonSet's pod on that node)", n.Name)}
	}
	return &diagnosis{code: "POD_NODE_NOTREADY", object: r.obj("Node", "", n.Name), field: "status.conditions[Ready]",
		message: fmt.Sprintf("pod %s runs on node %s, which is not Ready: its endpoints are dropped", p.Name, n.Name), evidence: ev,
		fix: fmt.Sprintf("bring node %s back (kubectl describe node %s; check its kubelet), or drain it so the pods move: kubectl drain %s --ignore-daemonsets", n.Name, n.Name, n.Name)}
}

func (r *run) pendingDiagnosis(p *corev1.Pod) *diagnosis {
	if p.Spec.NodeName == "" {
		ev := []string{"status.phase: Pending, no node assigned"}
		if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
			ev = append(ev, fmt.Sprintf("PodScheduled=False %s: %s", c.Reason, c.Message))
		}
		if e := r.newestEvent(p, "FailedScheduling"); e != "" {
			ev = append(ev, "event FailedScheduling: "+e)
		}
		return &diagnosis{code: "POD_PENDING", object: r.podRef(p), field: "status.conditions[PodScheduled]",
			message: fmt.Sprintf("pod %s is Pending: the scheduler found no node for it", p.Name), evidence: ev,
			fix: "free or add capacity, or relax the pod's requests, nodeSelector, affinity or tolerations (see the FailedScheduling message)"}
	}
	if d := r.containerDiagnosis(p); d != nil {
		return d
	}
	reason := "ContainerCreating"
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			reason = cs.State.Waiting.Reason
		}
	}
	if e := r.newestEvent(p, "FailedCreatePodSandBox"); e != "" && cniMessage.MatchString(e) {
		return &diagnosis{code: "NODE_CNI_NOT_READY", object: r.obj("Node", "", p.Spec.NodeName), field: "status.conditions[Ready]",
			message:  fmt.Sprintf("pod %s is stuck in %s: the network plugin on node %s cannot set up its sandbox", p.Name, reason, p.Spec.NodeName),
			evidence: []string{"event FailedCreatePodSandBox: " + e},
			fix:      fmt.Sprintf("repair the CNI plugin on node %s (its DaemonSet pod, /etc/cni/net.d, /opt/cni/bin)", p.Spec.NodeName)}
	}
	ev := []string{fmt.Sprintf("status.phase: Pending on node %s, containers waiting: %s", p.Spec.NodeName, reason)}
	for _, e := range r.m.EventsFor("Pod", p.Namespace, p.Name) {
		if e.Type == corev1.EventTypeWarning {
			ev = append(ev, fmt.Sprintf("event %s: %s", e.Reason, e.Message))
			break
		}
	}
	return &diagnosis{code: "POD_PENDING", object: r.podRef(p), field: "status.phase",
		message: fmt.Sprintf("pod %s is Pending (%s) on node %s", p.Name, reason, p.Spec.NodeName), evidence: ev,
		fix: fmt.Sprintf("kubectl describe pod -n %s %s", p.Namespace, p.Name)}
}

var notStarting = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true, "ErrImageNeverPull": true,
}

// containerDiagnosis: a container crash-looping, killed, or unable to start.
func (r *run) containerDiagnosis(p *corev1.Pod) *diagnosis {
	for _, cs := range p.Status.ContainerStatuses {
		w := cs.State.Waiting
		last := cs.LastTerminationState.Terminated
		term := cs.State.Terminated
		switch {
		case w != nil && notStarting[w.Reason]:
		case term != nil && term.Reason != "Completed":
		case last != nil && last.Reason == "OOMKilled" && !cs.Ready:
		default:
			continue
		}
		ev := []string{containerState(cs)}
		if e := r.newestEvent(p, "BackOff"); e != "" {
			ev = append(ev, "event BackOff: "+e)
		}
		if e := r.newestEvent(p, "Failed"); e != "" {
			ev = append(ev, "event Failed: "+e)
		}
		what, fix := crashText(p, cs)
		return &diagnosis{code: "POD_CRASHLOOP", object: r.podRef(p), field: fmt.Sprintf("status.containerStatuses[%s]", cs.Name),
			message: fmt.Sprintf("pod %s: container %s %s", p.Name, cs.Name, what), evidence: ev, fix: fix}
	}
	return nil
}

func crashText(p *corev1.Pod, cs corev1.ContainerStatus) (string, string) {
	logs := fmt.Sprintf("kubectl logs -n %s %s -c %s --previous", p.Namespace, p.Name, cs.Name)
	reason := ""
	if cs.State.Waiting != nil {
		reason = cs.State.Waiting.Reason
	}
	last := cs.LastTerminationState.Terminated
	switch {
	case reason == "ImagePullBackOff" || reason == "ErrImagePull" || reason == "InvalidImageName" || reason == "ErrImageNeverPull":
		return fmt.Sprintf("cannot pull image %s (%s)", cs.Image, reason), "fix the image name or tag, or the registry credentials (imagePullSecrets)"
	case reason == "CreateContainerConfigError":
		return "cannot be created: " + cs.State.Waiting.Message, "create the ConfigMap or Secret it refers to, or fix the reference"
	case last != nil && last.Reason == "OOMKilled":
		return fmt.Sprintf("is OOMKilled and restarting (%d restarts)", cs.RestartCount), "raise the container's memory limit or fix the leak: " + logs
	case last != nil:
		return fmt.Sprintf("is crash-looping: exits with code %d (%s), %d restarts", last.ExitCode, orNone(last.Reason), cs.RestartCount), "find the crash in the previous logs: " + logs
	}
	return fmt.Sprintf("is not running (%s), %d restarts", orNone(reason), cs.RestartCount), logs
}

func containerState(cs corev1.ContainerStatus) string {
	s := fmt.Sprintf("container %s: ready %v, restartCount %d", cs.Name, cs.Ready, cs.RestartCount)
	if w := cs.State.Waiting; w != nil {
		s += fmt.Sprintf(", waiting %s", w.Reason)
		if w.Message != "" {
			s += ": " + firstLine(w.Message)
		}
	}
	if t := cs.State.Terminated; t != nil {
		s += fmt.Sprintf(", terminated %s exit code %d", t.Reason, t.ExitCode)
	}
	if t := cs.LastTerminationState.Terminated; t != nil {
		s += fmt.Sprintf(", last terminated %s exit code %d", t.Reason, t.ExitCode)
	}
	return s
}

func (r *run) gateDiagnosis(p *corev1.Pod) *diagnosis {
	for _, g := range p.Spec.ReadinessGates {
		st := model.PodCondition(p, g.ConditionType)
		if st == corev1.ConditionTrue {
			continue
		}
		state := "is missing"
		if st != "" {
			state = "is " + string(st)
		}
		return &diagnosis{code: "POD_READINESS_GATE", object: r.podRef(p), field: "spec.readinessGates",
			message:  fmt.Sprintf("pod %s is not ready: readiness gate %s %s", p.Name, g.ConditionType, state),
			evidence: []string{fmt.Sprintf("spec.readinessGates: %s; status condition %s %s", g.ConditionType, g.ConditionType, state), fmt.Sprintf("ContainersReady=%s", model.PodCondition(p, corev1.ContainersReady))},
			fix:      fmt.Sprintf("the controller that owns condition %s (often a load balancer controller) has not set it True: check that controller, or remove the gate", g.ConditionType)}
	}
	return nil
}

func (r *run) readinessDiagnosis(p *corev1.Pod) *diagnosis {
	var ev []string
	probe := ""
	for _, c := range p.Spec.Containers {
		if c.ReadinessProbe != nil {
			probe = fmt.Sprintf("container %s readinessProbe %s", c.Name, describeProbe(c.ReadinessProbe))
			ev = append(ev, probe)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			ev = append(ev, containerState(cs))
		}
	}
	event := r.newestEvent(p, "Unhealthy")
	if event != "" {
		ev = append(ev, "event Unhealthy: "+event)
	}
	msg := fmt.Sprintf("pod %s is Running but not Ready", p.Name)
	if event != "" {
		msg += ": " + firstLine(event)
	} else if probe != "" {
		msg += ": its readiness probe is failing"
	}
	fix := fmt.Sprintf("make the readiness probe pass (check the endpoint it calls and the app's logs: kubectl logs -n %s %s), or fix the probe if it checks the wrong port or path", p.Namespace, p.Name)
	return &diagnosis{code: "POD_READINESS_FAILING", object: r.podRef(p), field: "spec.containers[].readinessProbe", message: msg, evidence: ev, fix: fix, weak: event == ""}
}

func describeProbe(pr *corev1.Probe) string {
	switch {
	case pr.HTTPGet != nil:
		return fmt.Sprintf("httpGet %s port %s", orDefault(pr.HTTPGet.Path, "/"), pr.HTTPGet.Port.String())
	case pr.TCPSocket != nil:
		return "tcpSocket port " + pr.TCPSocket.Port.String()
	case pr.GRPC != nil:
		return fmt.Sprintf("grpc port %d", pr.GRPC.Port)
	case pr.Exec != nil:
		return "exec " + strings.Join(pr.Exec.Command, " ")
	}
	return "(no handler)"
}

// newestEvent returns the newest message of an event with that reason about the pod.
func (r *run) newestEvent(p *corev1.Pod, reason string) string {
	for _, e := range r.m.EventsFor("Pod", p.Namespace, p.Name) {
		if e.Reason == reason {
			return strings.TrimSpace(e.Message)
		}
	}
	return ""
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func waitingReason(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil {
			return cs.State.Waiting.Reason
		}
	}
	return ""
}

func lastTerminationMessage(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.LastTerminationState.Terminated; t != nil {
			return t.Message
		}
	}
	return ""
}

// podState is a one-line account of a pod's state for evidence.
func podState(p *corev1.Pod) string {
	s := fmt.Sprintf("phase %s, Ready=%s", orNone(string(p.Status.Phase)), orDefault(string(model.PodCondition(p, corev1.PodReady)), "unknown"))
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			s += "; " + containerState(cs)
		}
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// unfinishedPods drops pods that have Succeeded or Failed: the controller gives them no endpoints.
func unfinishedPods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}
