package policy

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"reach/internal/model"
	"reach/internal/report"
)

// MatrixRequest asks who may talk to whom on one port.
type MatrixRequest struct {
	// Namespaces limits the pods to these namespaces; empty means every namespace.
	Namespaces []string
	Port       int32
	Protocol   corev1.Protocol
	// From and To select the source and destination pods by label; nil selects every pod.
	From, To labels.Selector
}

// Class is a group of pods every policy treats alike.
type Class struct {
	ID string `json:"id"`
	// Namespaces of the members, sorted.
	Namespaces []string `json:"namespaces"`
	// Labels are the members' pod labels that some policy reads; "*" stands for a value no
	// selector names.
	Labels map[string]string `json:"labels,omitempty"`
	// NamespaceLabels are the namespace labels that some policy reads.
	NamespaceLabels map[string]string  `json:"namespaceLabels,omitempty"`
	HostNetwork     bool               `json:"hostNetwork,omitempty"`
	Members         []report.ObjectRef `json:"members"`
	pods            []*corev1.Pod
}

// Pods returns the members of the class, sorted by namespace and name.
func (c Class) Pods() []*corev1.Pod { return c.pods }

// Name describes the class in a few words: its namespaces and the labels policies read.
func (c Class) Name() string {
	ns := strings.Join(c.Namespaces, ",")
	if len(c.Namespaces) > 3 {
		ns = fmt.Sprintf("%s,... (%d namespaces)", strings.Join(c.Namespaces[:3], ","), len(c.Namespaces))
	}
	parts := []string{ns}
	if l := model.LabelString(c.Labels); l != "" {
		parts = append(parts, l)
	}
	if c.HostNetwork {
		parts = append(parts, "hostNetwork")
	}
	return strings.Join(parts, " ")
}

// Cell is the answer for one source class and one destination class.
type Cell struct {
	Allowed bool `json:"allowed"`
	// Egress and Ingress name the tiers that decided each side.
	Egress  Tier `json:"egress"`
	Ingress Tier `json:"ingress"`
	// DecidedBy names the deciding policies, e.g. "NetworkPolicy api/allow-web rule 0".
	DecidedBy []string `json:"decidedBy,omitempty"`
}

// MatrixResult holds the classes of sources and destinations and a cell per pair:
// Cells[i][j] is Sources[i] to Destinations[j].
type MatrixResult struct {
	Port         int32           `json:"port"`
	Protocol     corev1.Protocol `json:"protocol"`
	Sources      []Class         `json:"sources"`
	Destinations []Class         `json:"destinations"`
	Cells        [][]Cell        `json:"cells"`
	// Pods counts the pods behind the classes (sources and destinations, each once).
	Pods int `json:"pods"`
}

// Matrix answers who may talk to whom: pods are grouped into classes so the work grows with
// the number of classes, not of pods; one representative pair is evaluated per pair of classes.
func Matrix(m *model.Cluster, r MatrixRequest) MatrixResult {
	e := newEngine(m, false)
	cl := newClassifier(m, e)
	proto := r.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	pods := matrixPods(m, r.Namespaces)
	res := MatrixResult{Port: r.Port, Protocol: proto}
	seen := map[*corev1.Pod]bool{}
	res.Sources = classesOf(cl, pick(pods, r.From, seen), "s")
	res.Destinations = classesOf(cl, pick(pods, r.To, seen), "d")
	res.Pods = len(seen)
	res.Cells = make([][]Cell, len(res.Sources))
	for i, s := range res.Sources {
		res.Cells[i] = make([]Cell, len(res.Destinations))
		for j, d := range res.Destinations {
			res.Cells[i][j] = e.decide(Flow{From: Peer{Pod: s.pods[0]}, To: Peer{Pod: d.pods[0]}, Port: r.Port, Protocol: proto})
		}
	}
	return res
}

// Cell returns the answer for two pods of the matrix, false when either is not in it.
func (r MatrixResult) Cell(from, to *corev1.Pod) (Cell, bool) {
	i, j := classIndex(r.Sources, from), classIndex(r.Destinations, to)
	if i < 0 || j < 0 {
		return Cell{}, false
	}
	return r.Cells[i][j], true
}

func classIndex(list []Class, p *corev1.Pod) int {
	for i, c := range list {
		for _, q := range c.pods {
			if q == p {
				return i
			}
		}
	}
	return -1
}

// cellOf summarises a full decision as a cell, as decide does without the explanation.
func cellOf(d Decision) Cell {
	c := Cell{Allowed: d.Allowed, Egress: d.Egress.Tier, Ingress: d.Ingress.Tier}
	for _, v := range d.Deciding() {
		s := fmt.Sprintf("%s %s", v.Policy.Kind, strings.TrimPrefix(v.Policy.Namespace+"/"+v.Policy.Name, "/"))
		if v.Rule >= 0 {
			s += fmt.Sprintf(" %s rule %d", v.Direction, v.Rule)
		} else {
			s += " isolates " + string(v.Direction)
		}
		c.DecidedBy = append(c.DecidedBy, s)
	}
	return c
}

// matrixPods lists the pods that can take part in traffic: with an address and not finished.
func matrixPods(m *model.Cluster, namespaces []string) []*corev1.Pod {
	if len(namespaces) == 0 {
		namespaces = m.PodNamespaces()
	}
	namespaces = append([]string(nil), namespaces...)
	sort.Strings(namespaces)
	var out []*corev1.Pod
	for _, ns := range namespaces {
		for _, p := range m.PodsIn(ns) {
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if len(model.PodIPs(p)) == 0 && !(isHostNetwork(p) && hostIP(m, p) != "") {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

func pick(pods []*corev1.Pod, sel labels.Selector, seen map[*corev1.Pod]bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if sel == nil || sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
			seen[p] = true
		}
	}
	return out
}

// classesOf groups pods by class key; classes are ordered by their first member.
func classesOf(cl *classifier, pods []*corev1.Pod, prefix string) []Class {
	byKey := map[string]*Class{}
	var order []string
	for _, p := range pods {
		k := cl.key(p)
		c, ok := byKey[k]
		if !ok {
			c = &Class{Labels: shown(p.Labels, cl.podKeys), NamespaceLabels: shown(cl.m.NamespaceLabels(p.Namespace), cl.nsKeys),
				HostNetwork: isHostNetwork(p)}
			byKey[k] = c
			order = append(order, k)
		}
		c.pods = append(c.pods, p)
		c.Members = append(c.Members, podRef(p))
		if n := len(c.Namespaces); n == 0 || c.Namespaces[n-1] != p.Namespace {
			c.Namespaces = append(c.Namespaces, p.Namespace)
		}
	}
	out := make([]Class, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
		out[i].ID = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}
