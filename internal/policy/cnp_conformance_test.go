package policy

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
)

// cnpScenario is one ConformanceTest of sigs.k8s.io/network-policy-api conformance/tests: its
// manifests on the suite's base cluster, then its t.Run steps in order, each mutating the live
// objects as the test does and probing flows (the mutations accumulate, as on a real cluster).
type cnpScenario struct {
	Name      string    `json:"name"`
	Source    string    `json:"source"`
	Manifests []string  `json:"manifests"`
	Steps     []cnpStep `json:"steps"`
}

type cnpStep struct {
	Name string `json:"name"`
	op
	// Probes: "house/pod -> house/pod PROTO/PORT: allow|deny", houses without the
	// network-policy-conformance- prefix.
	Probes []string `json:"probes"`
}

type probe struct {
	fromNS, from, toNS, to string
	proto                  corev1.Protocol
	port                   int32
	allow                  bool
}

func parseProbe(s string) (probe, error) {
	var p probe
	var from, to, pp, verdict string
	if _, err := fmt.Sscanf(strings.NewReplacer(":", " ").Replace(s), "%s -> %s %s %s", &from, &to, &pp, &verdict); err != nil {
		return p, fmt.Errorf("probe %q: %w", s, err)
	}
	split := func(ref string) (string, string) {
		parts := strings.SplitN(ref, "/", 2)
		return "network-policy-conformance-" + parts[0], parts[1]
	}
	p.fromNS, p.from = split(from)
	p.toNS, p.to = split(to)
	protoPort := strings.SplitN(pp, "/", 2)
	n, err := strconv.Atoi(protoPort[1])
	if err != nil {
		return p, fmt.Errorf("probe %q: %w", s, err)
	}
	p.proto, p.port, p.allow = corev1.Protocol(protoPort[0]), int32(n), verdict == "allow"
	return p, nil
}

func (p probe) run(m *model.Cluster) (Decision, error) {
	from, to := m.Pod(p.fromNS, p.from), m.Pod(p.toNS, p.to)
	if from == nil || to == nil {
		return Decision{}, fmt.Errorf("unknown pod in probe %+v", p)
	}
	return Evaluate(m, Flow{From: Peer{Pod: from}, To: Peer{Pod: to}, Port: p.port, Protocol: p.proto}), nil
}

func loadCNPScenarios(t *testing.T) []string {
	files, err := filepath.Glob("../../testdata/policy/cnp/CNP*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	sort.Strings(files)
	return files
}

// runCNPScenario replays one scenario; convert, when set, rewrites every state before the probes
// (to the older AdminNetworkPolicy API) and may refuse a state it cannot express.
func runCNPScenario(t *testing.T, file string, convert func(objects) (objects, error)) (probes int, skipped string) {
	var sc cnpScenario
	if err := loadYAML(file, &sc); err != nil {
		t.Fatal(err)
	}
	objs := objects{}
	if err := objs.loadDocs("../../testdata/policy/cnp/base.yaml"); err != nil {
		t.Fatal(err)
	}
	for _, m := range sc.Manifests {
		if err := objs.loadDocs(filepath.Join("../../testdata/policy/cnp", m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range sc.Steps {
		if err := objs.apply(step.op); err != nil {
			t.Fatalf("%s: %v", step.Name, err)
		}
		state := objs
		if convert != nil {
			var err error
			if state, err = convert(objs.clone()); err != nil {
				return probes, err.Error()
			}
		}
		m, err := state.cluster()
		if err != nil {
			t.Fatalf("%s: %v", step.Name, err)
		}
		for _, s := range step.Probes {
			p, err := parseProbe(s)
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.run(m)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != p.allow {
				t.Errorf("%s: %s: %s\n%s", sc.Name, step.Name, s, describeDecision(d))
			} else {
				probes++
			}
		}
	}
	return probes, ""
}

func describeDecision(d Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  allowed=%v egress: %s\n  ingress: %s\n", d.Allowed, d.Egress.Summary, d.Ingress.Summary)
	for _, v := range d.Verdicts {
		fmt.Fprintf(&b, "  %s %s %s/%s action=%s deciding=%v: %s\n", v.Direction, v.Tier, v.Policy.Kind, v.Policy.Name, v.Action, v.Deciding, v.Summary)
	}
	return b.String()
}

func TestCNPConformance(t *testing.T) {
	total, cases := 0, 0
	for _, file := range loadCNPScenarios(t) {
		file := file
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			n, _ := runCNPScenario(t, file, nil)
			total += n
			cases++
		})
	}
	t.Logf("ClusterNetworkPolicy conformance: %d tests, %d probes reproduced", cases, total)
}
