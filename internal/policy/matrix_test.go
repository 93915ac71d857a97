package policy

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestMatrixUpstreamCase runs the matrix on an upstream case and checks it against the table.
func TestMatrixUpstreamCase(t *testing.T) {
	var sc netpolScenario
	if err := loadYAML("../../testdata/policy/netpol/10-podselector-and-namespaceselector.yaml", &sc); err != nil {
		t.Fatal(err)
	}
	objs := xyzTopology()
	if err := objs.apply(sc.Steps[0].op); err != nil {
		t.Fatal(err)
	}
	m, err := objs.cluster()
	if err != nil {
		t.Fatal(err)
	}
	names := xyzNames()
	want, _ := expected(names, sc.Steps[0].Checks[0].Expect)
	res := Matrix(m, MatrixRequest{Port: 80, Protocol: corev1.ProtocolTCP})
	if res.Pods != 9 {
		t.Fatalf("pods = %d, want 9", res.Pods)
	}
	if len(res.Sources) >= 9 || len(res.Destinations) >= 9 {
		t.Errorf("no grouping: %d source and %d destination classes for 9 pods", len(res.Sources), len(res.Destinations))
	}
	for _, f := range names {
		for _, d := range names {
			from := m.Pod(strings.Split(f, "/")[0], strings.Split(f, "/")[1])
			to := m.Pod(strings.Split(d, "/")[0], strings.Split(d, "/")[1])
			c, ok := res.Cell(from, to)
			if !ok || (f != d && c.Allowed != want[f][d]) {
				t.Errorf("%s -> %s: cell %+v, want %v", f, d, c, want[f][d])
			}
		}
	}
	golden(t, "../../testdata/policy/matrix/xyz-and.txt", RenderTable(res))
	golden(t, "../../testdata/policy/matrix/xyz-and.csv", RenderCSV(res))
	golden(t, "../../testdata/policy/matrix/xyz-and.dot", RenderDot(res))
}

func TestMatrixFilters(t *testing.T) {
	m := clusterFrom(t, shopBase, npHead+`metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}}], ports: [{port: http}]}]`)
	from, _ := labels.Parse("app=frontend")
	res := Matrix(m, MatrixRequest{Namespaces: []string{"web", "api"}, Port: 8080, From: from})
	if len(res.Sources) != 2 { // frontend, and the hostNetwork agent
		t.Fatalf("sources = %d classes, want 2: %+v", len(res.Sources), res.Sources)
	}
	c, _ := res.Cell(m.Pod("web", "frontend"), m.Pod("api", "backend"))
	if !c.Allowed || len(c.DecidedBy) != 1 || c.DecidedBy[0] != "NetworkPolicy api/allow-web ingress rule 0" {
		t.Errorf("frontend -> backend = %+v", c)
	}
	c, _ = res.Cell(m.Pod("web", "agent"), m.Pod("api", "backend"))
	if c.Allowed {
		t.Errorf("hostNetwork agent -> backend allowed: %+v", c)
	}
	d := Explain(m, m.Pod("web", "agent"), m.Pod("api", "backend"), 8080, corev1.ProtocolTCP)
	if len(d.Findings) == 0 || d.Findings[0].Code != "POLICY_HOSTNETWORK_PEER" {
		t.Errorf("explain agent -> backend: %v", codes(d))
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(path[:strings.LastIndex(path, "/")], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update):\n%s", path, got)
	}
}
