package policy

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reach/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden tables from the scenario expectations")

// netpolScenario is one case of the upstream NetworkPolicy e2e suite
// (k8s.io/kubernetes test/e2e/network/netpol/network_policy.go) on the full topology: namespaces
// x, y, z with pods a, b, c each, serving 80 and 81 over TCP, UDP and SCTP.
type netpolScenario struct {
	Name   string       `json:"name"`
	Source string       `json:"source"`
	Steps  []netpolStep `json:"steps"`
}

type netpolStep struct {
	op
	Checks []netpolCheck `json:"checks"`
}

// netpolCheck is one ValidateOrFail call: the port, the protocol and the Reachability built by
// the upstream test, written as its Expect/ExpectPeer/ExpectAllIngress/ExpectAllEgress calls in
// order over a table that starts all allowed. FROM -> TO: allow|deny, where an end is *, a
// namespace or namespace/pod.
type netpolCheck struct {
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Expect   []string        `json:"expect"`
}

var (
	xyzNamespaces = []string{"x", "y", "z"}
	xyzPods       = []string{"a", "b", "c"}
)

// xyzIP is the address of pod p in namespace ns: 10.244.<ns>.<10+pod>, all inside 0.0.0.0/4 as the
// upstream except-clause tests assume of a pod network.
func xyzIP(ns, p string) string {
	return fmt.Sprintf("10.244.%d.%d", strings.Index("xyz", ns)+1, 10+strings.Index("abc", p))
}

func xyzTopology() objects {
	o := objects{}
	for _, ns := range xyzNamespaces {
		_ = o.put(mustJSON(corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}}))
		for _, p := range xyzPods {
			var ports []corev1.ContainerPort
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
				for _, port := range []int32{80, 81} {
					ports = append(ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto})
				}
			}
			ip := xyzIP(ns, p)
			_ = o.put(mustJSON(corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns, Labels: map[string]string{"pod": p}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agnhost", Ports: ports}}},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}))
		}
	}
	return o
}

func xyzNames() []string {
	var out []string
	for _, ns := range xyzNamespaces {
		for _, p := range xyzPods {
			out = append(out, ns+"/"+p)
		}
	}
	return out
}

// truth is a reachability table: from -> to -> allowed.
type truth map[string]map[string]bool

func newTruth(names []string, v bool) truth {
	t := truth{}
	for _, f := range names {
		t[f] = map[string]bool{}
		for _, to := range names {
			t[f][to] = v
		}
	}
	return t
}

func endMatches(pattern, pod string) bool {
	if pattern == "*" {
		return true
	}
	if strings.Contains(pattern, "/") {
		return pattern == pod
	}
	return strings.HasPrefix(pod, pattern+"/")
}

// expected plays the upstream expectation calls over a table that starts all allowed.
func expected(names []string, lines []string) (truth, error) {
	t := newTruth(names, true)
	for _, l := range lines {
		arrow := strings.Split(l, "->")
		if len(arrow) != 2 {
			return nil, fmt.Errorf("bad expectation %q", l)
		}
		rest := strings.Split(arrow[1], ":")
		if len(rest) != 2 {
			return nil, fmt.Errorf("bad expectation %q", l)
		}
		from, to, v := strings.TrimSpace(arrow[0]), strings.TrimSpace(rest[0]), strings.TrimSpace(rest[1])
		if v != "allow" && v != "deny" {
			return nil, fmt.Errorf("bad verdict in %q", l)
		}
		for _, f := range names {
			for _, d := range names {
				if endMatches(from, f) && endMatches(to, d) {
					t[f][d] = v == "allow"
				}
			}
		}
	}
	return t, nil
}

// render prints a table the way the upstream suite does: rows are sources, "." reachable, "X" not.
func (t truth) render(names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-4s", "-")
	for _, n := range names {
		fmt.Fprintf(&b, " %-3s", n)
	}
	trimLine(&b)
	for _, f := range names {
		fmt.Fprintf(&b, "%-4s", f)
		for _, d := range names {
			c := "X"
			if t[f][d] {
				c = "."
			}
			fmt.Fprintf(&b, " %-3s", c)
		}
		trimLine(&b)
	}
	return b.String()
}

// observed evaluates every pair of pods.
func observed(m *model.Cluster, names []string, port int32, proto corev1.Protocol) truth {
	t := newTruth(names, false)
	for _, f := range names {
		for _, d := range names {
			from := m.Pod(strings.Split(f, "/")[0], strings.Split(f, "/")[1])
			to := m.Pod(strings.Split(d, "/")[0], strings.Split(d, "/")[1])
			t[f][d] = Evaluate(m, Flow{From: Peer{Pod: from}, To: Peer{Pod: to}, Port: port, Protocol: proto}).Allowed
		}
	}
	return t
}

// diff lists the pairs that differ, loopback excluded as upstream ignores it.
func diff(names []string, want, got truth) []string {
	var out []string
	for _, f := range names {
		for _, d := range names {
			if f != d && want[f][d] != got[f][d] {
				out = append(out, fmt.Sprintf("%s -> %s: want %v, got %v", f, d, want[f][d], got[f][d]))
			}
		}
	}
	return out
}

func TestNetpolConformance(t *testing.T) {
	files, err := filepath.Glob("../../testdata/policy/netpol/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	sort.Strings(files)
	names := xyzNames()
	tables, cases := 0, 0
	for _, file := range files {
		file := file
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			var sc netpolScenario
			if err := loadYAML(file, &sc); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".tables"
			var text strings.Builder
			objs := xyzTopology()
			for si, step := range sc.Steps {
				if err := objs.apply(step.op); err != nil {
					t.Fatalf("step %d: %v", si+1, err)
				}
				m, err := objs.cluster()
				if err != nil {
					t.Fatalf("step %d: %v", si+1, err)
				}
				for _, c := range step.Checks {
					want, err := expected(names, c.Expect)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&text, "# step %d: %d/%s\n%s\n", si+1, c.Port, c.Protocol, want.render(names))
					got := observed(m, names, c.Port, c.Protocol)
					if d := diff(names, want, got); len(d) > 0 {
						t.Errorf("%s: step %d %d/%s:\n%s\nwant:\n%sgot:\n%s", sc.Name, si+1, c.Port, c.Protocol,
							strings.Join(d, "\n"), want.render(names), got.render(names))
					} else {
						tables++
					}
				}
			}
			checkGolden(t, golden, text.String())
			cases++
		})
	}
	t.Logf("netpol conformance: %d cases, %d tables reproduced", cases, tables)
}

// checkGolden compares the expected tables with the file beside the scenario, rewriting it with -update.
func checkGolden(t *testing.T, path, text string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(b) != text {
		t.Errorf("%s differs from the scenario's expectations (run with -update)", path)
	}
}

// trimLine ends the current line without trailing blanks.
func trimLine(b *strings.Builder) {
	s := strings.TrimRight(b.String(), " ")
	b.Reset()
	b.WriteString(s)
	b.WriteString("\n")
}
