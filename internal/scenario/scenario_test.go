package scenario

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reach/internal/cli"
	"reach/internal/testlab"
)

var (
	update       = flag.Bool("update", false, "rewrite the golden reports from the runs from files")
	updateSlices = flag.Bool("update-slices", false, "rewrite endpointslices.yaml of each scenario from the real EndpointSlice controller")
	liveOnly     = flag.Bool("live-only", false, "skip the runs from files")
)

const (
	scenarioRoot = "../../testdata/scenarios"
	baseRoot     = "../../testdata/base"
)

// run calls the CLI in-process and returns stdout, stderr and the exit code.
func run(ctx context.Context, args []string) ([]byte, string, int) {
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.Bytes(), errb.String(), code
}

func fileArgs(s *Scenario) []string {
	args := append([]string(nil), s.Args...)
	for _, in := range s.Inputs(baseRoot) {
		args = append(args, "-f", in)
	}
	return append(args, "-o", "json")
}

// TestScenariosFromFiles runs every scenario from its files and checks the golden report and the expectations.
func TestScenariosFromFiles(t *testing.T) {
	if *liveOnly {
		t.Skip("-live-only")
	}
	scenarios, err := Load(scenarioRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			out, stderr, code := run(context.Background(), fileArgs(s))
			if code == cli.ExitError {
				t.Fatalf("tool error: %s", stderr)
			}
			for _, d := range Check(out, code, s.Expect) {
				t.Error(d)
			}
			golden(t, filepath.Join(s.Dir, "report.json"), out, true)
		})
	}
}

// golden compares a report with its golden file, or rewrites it under -update.
func golden(t *testing.T, path string, out []byte, mayUpdate bool) {
	t.Helper()
	got, err := Normalize(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if *update && mayUpdate {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (run with -update to accept):\n%s", path, diff(string(want), string(got)))
	}
}

// TestScenariosLive applies every scenario to a real control plane and checks that the live
// report equals the golden report of the run from files.
func TestScenariosLive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no control plane")
	}
	scenarios, err := Load(scenarioRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			if s.Live.Skip != "" {
				t.Skip(s.Live.Skip)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			lab := testlab.Start(ctx, t)
			objs, err := testlab.LoadObjects(s.Inputs(baseRoot)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Apply(ctx, objs); err != nil {
				t.Fatal(err)
			}
			if err := lab.WaitForEndpointSlices(ctx); err != nil {
				t.Fatal(err)
			}
			if *updateSlices {
				writeSlices(ctx, t, lab, s)
				return
			}
			user := s.Live.User
			if user == "" {
				user = "admin"
			}
			args := append(append([]string(nil), s.Args...), "--kubeconfig", lab.Kubeconfig(user), "-o", "json")
			out, stderr, code := run(ctx, args)
			if code == cli.ExitError {
				t.Fatalf("tool error: %s", stderr)
			}
			expect, goldenName := s.Expect, "report.json"
			if s.Live.Expect != nil {
				expect, goldenName = *s.Live.Expect, "report-live.json"
			}
			for _, d := range Check(out, code, expect) {
				t.Error(d)
			}
			golden(t, filepath.Join(s.Dir, goldenName), out, goldenName != "report.json")
		})
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + a + "\n+ " + c + "\n")
			if b.Len() > 4000 {
				b.WriteString("...\n")
				break
			}
		}
	}
	return b.String()
}
