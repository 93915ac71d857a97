package scenario

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reach/internal/cli"
)

const dataplaneRoot = "../../testdata/dataplane"

// TestDataplaneSnapshots runs every case of the dataplane scenarios from the snapshot
// the lab cluster gave once its workloads had settled, and checks the expectations
// that real traffic confirmed there (reach/lab/ground).
func TestDataplaneSnapshots(t *testing.T) {
	scenarios, err := LoadDataplane(dataplaneRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("no dataplane scenarios")
	}
	for _, s := range scenarios {
		for _, c := range s.Cases {
			t.Run(s.Name+"/"+strings.ReplaceAll(c.Name, " ", "_"), func(t *testing.T) {
				args := append(append([]string(nil), c.Args...), "-f", filepath.Join(s.Dir, SnapshotFile), "-o", "json")
				out, stderr, code := run(context.Background(), args)
				if code == cli.ExitError {
					t.Fatalf("tool error: %s", stderr)
				}
				for _, d := range Check(out, code, c.Expect) {
					t.Error(d)
				}
			})
		}
	}
}

func TestLoadDataplaneRejects(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"namespaces: [a]\ncases: [{name: x, args: [trace], probe: [tcp a:1], observe: ok, from: outside}]\n", "dataplane: true is missing"},
		{"dataplane: true\ncases: [{name: x, args: [trace], probe: [tcp a:1], observe: ok, from: outside}]\n", "no namespaces"},
		{"dataplane: true\nnamespaces: [a]\ncases: [{name: x, args: [trace], probe: [tcp a:1], observe: fine, from: outside}]\n", `observe "fine"`},
		{"dataplane: true\nnamespaces: [a]\ncases: [{name: x, args: [trace], probe: [tcp a:1], observe: ok, from: svc/a}]\n", `unknown kind "svc"`},
		{"dataplane: true\nnamespaces: [a]\ncases: [{name: x, args: [trace], observe: ok, from: outside}]\n", "no probe"},
	} {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "s", "scenario.yaml"), tc.yaml)
		_, err := LoadDataplane(root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
