// Package conformance replays the upstream Kubernetes NetworkPolicy e2e cases
// (testdata/policy/netpol) on the dataplane lab (reach/lab/cluster) and compares the
// traffic kube-router lets through with what reach's policy engine predicts from the
// same live objects. This file reads the cases; the test drives the lab.
package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Case is one file of testdata/policy/netpol: one It of the upstream suite, as steps
// of mutations each followed by its checks.
type Case struct {
	// ID is the file's name without .yaml, e.g. "36-egress-cidr-except".
	ID     string `json:"-"`
	Name   string `json:"name"`
	Source string `json:"source"`
	Steps  []Step `json:"steps"`
}

// Step is one mutation of the cluster and the reachability checks that follow it.
type Step struct {
	Op
	Checks []Check `json:"checks"`
}

// Op is one mutation, in the format the engine's own conformance test reads
// (internal/policy/scenario_test.go). Objects are named KIND/NAMESPACE/NAME, with an
// empty namespace for cluster-scoped kinds ("Namespace//y").
type Op struct {
	// Create adds objects, replacing one of the same name (UpdatePolicy upstream).
	Create []json.RawMessage `json:"create,omitempty"`
	// Delete removes objects; "NetworkPolicy/*" removes every NetworkPolicy.
	Delete []string `json:"delete,omitempty"`
	// Label merges labels into objects.
	Label map[string]map[string]string `json:"label,omitempty"`
	// Unlabel removes label keys from objects.
	Unlabel map[string][]string `json:"unlabel,omitempty"`
	// Set writes a value at a dotted path (numbers index lists) of an object.
	Set []SetOp `json:"set,omitempty"`
	// Swap and Insert exist in the format but no netpol case uses them; the lab
	// refuses a case that does rather than skip its mutation.
	Swap   []json.RawMessage `json:"swap,omitempty"`
	Insert []json.RawMessage `json:"insert,omitempty"`
}

// SetOp writes Value at Path of Object.
type SetOp struct {
	Object string          `json:"object"`
	Path   string          `json:"path"`
	Value  json.RawMessage `json:"value"`
}

// Check is one ValidateOrFail of the upstream test: a port, a protocol and the
// expectation calls over a table that starts all allowed ("FROM -> TO: allow|deny",
// an end being *, a namespace or namespace/pod).
type Check struct {
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Expect   []string        `json:"expect"`
}

// LoadCases reads every *.yaml case of dir, sorted by file name.
func LoadCases(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no cases in %s", dir)
	}
	sort.Strings(files)
	var out []Case
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var c Case
		if err := yaml.UnmarshalStrict(b, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		c.ID = strings.TrimSuffix(filepath.Base(f), ".yaml")
		for i, s := range c.Steps {
			if len(s.Swap) > 0 || len(s.Insert) > 0 {
				return nil, fmt.Errorf("%s: step %d uses swap or insert, which the lab does not apply", f, i+1)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// The topology every case runs on.
var (
	Namespaces = []string{"x", "y", "z"}
	PodNames   = []string{"a", "b", "c"}
	Ports      = []int32{80, 81}
)

// Names are the pods as namespace/name, in table order.
func Names() []string {
	var out []string
	for _, ns := range Namespaces {
		for _, p := range PodNames {
			out = append(out, ns+"/"+p)
		}
	}
	return out
}

// PlaceholderIP is the address the cases assume for a pod (10.244.<1..3>.<10..12>,
// README of testdata/policy/netpol); the lab rewrites it to the pod's real address in
// ipBlocks.
func PlaceholderIP(ns, pod string) string {
	return fmt.Sprintf("10.244.%d.%d", strings.Index("xyz", ns)+1, 10+strings.Index("abc", pod))
}

// Table is a reachability table over Names(): T[from][to].
type Table [][]bool

// NewTable is a table with every cell v.
func NewTable(v bool) Table {
	n := len(Names())
	t := make(Table, n)
	for i := range t {
		t[i] = make([]bool, n)
		for j := range t[i] {
			t[i][j] = v
		}
	}
	return t
}

// Clone copies t.
func (t Table) Clone() Table {
	out := make(Table, len(t))
	for i := range t {
		out[i] = append([]bool(nil), t[i]...)
	}
	return out
}

// Pair is one cell of a table, "x/a -> y/b".
type Pair struct{ From, To string }

func (p Pair) String() string { return p.From + " -> " + p.To }

// Diff lists the cells where a and b differ, loopback excluded as upstream ignores it.
func Diff(a, b Table) []Pair {
	names := Names()
	var out []Pair
	for i := range names {
		for j := range names {
			if i != j && a[i][j] != b[i][j] {
				out = append(out, Pair{names[i], names[j]})
			}
		}
	}
	return out
}

// Index is the position of namespace/pod in Names(), or -1.
func Index(name string) int {
	for i, n := range Names() {
		if n == name {
			return i
		}
	}
	return -1
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

// Expected plays a check's expectation calls over a table that starts all allowed.
func Expected(lines []string) (Table, error) {
	names := Names()
	t := NewTable(true)
	for _, l := range lines {
		from, rest, ok := strings.Cut(l, "->")
		if !ok {
			return nil, fmt.Errorf("bad expectation %q", l)
		}
		to, v, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("bad expectation %q", l)
		}
		from, to, v = strings.TrimSpace(from), strings.TrimSpace(to), strings.TrimSpace(v)
		if v != "allow" && v != "deny" {
			return nil, fmt.Errorf("bad verdict in %q", l)
		}
		for i, f := range names {
			for j, d := range names {
				if endMatches(from, f) && endMatches(to, d) {
					t[i][j] = v == "allow"
				}
			}
		}
	}
	return t, nil
}

// Render prints t as the upstream suite does: rows are sources, "." reachable, "X"
// not, "-" loopback (not probed).
func (t Table) Render() string {
	names := Names()
	var b strings.Builder
	b.WriteString("-   ")
	for _, n := range names {
		fmt.Fprintf(&b, " %-3s", n)
	}
	b.WriteString("\n")
	for i, f := range names {
		fmt.Fprintf(&b, "%-4s", f)
		for j := range names {
			c := "X"
			switch {
			case i == j:
				c = "-"
			case t[i][j]:
				c = "."
			}
			fmt.Fprintf(&b, " %-3s", c)
		}
		b.WriteString("\n")
	}
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}
