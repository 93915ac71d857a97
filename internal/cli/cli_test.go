package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"reach/internal/report"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Streams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestTraceExitCodesAndFormats(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{name: "blocked text", args: []string{"trace", "-f", "testdata/small.yaml", "-n", "shop", "pod/frontend-1", "cart:8080"}, code: ExitFailed, contains: "root cause: SELECTOR_MISMATCH"},
		{name: "direct to pod reachable but policies unknown", args: []string{"trace", "-f", "testdata/small.yaml", "-n", "shop", "pod/frontend-1", "pod/cart-1:8080"}, code: ExitUnknown, contains: "UNKNOWN"},
		{name: "bad reference", args: []string{"trace", "-f", "testdata/small.yaml", "pod/frontend-1", "widget/x"}, code: ExitError},
		{name: "bad output", args: []string{"trace", "-f", "testdata/small.yaml", "-o", "xml", "pod/a", "svc/b"}, code: ExitError},
		{name: "missing file", args: []string{"trace", "-f", "testdata/none.yaml", "pod/a", "svc/b"}, code: ExitError},
		{name: "one argument", args: []string{"trace", "pod/a"}, code: ExitError},
		{name: "checks", args: []string{"checks"}, code: ExitOK, contains: "SELECTOR_MISMATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			if tt.contains != "" && !strings.Contains(out, tt.contains) {
				t.Errorf("output lacks %q:\n%s", tt.contains, out)
			}
		})
	}
}

func TestTraceJSONSchema(t *testing.T) {
	out, _, code := runCLI(t, "", "trace", "-f", "testdata/small.yaml", "-n", "shop", "pod/frontend-1", "svc/cart:8080", "-o", "json")
	if code != ExitFailed {
		t.Fatalf("exit %d", code)
	}
	var tr report.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.SchemaVersion != "reach/v1" || tr.Verdict != report.VerdictBlocked || tr.RootCause == nil || tr.RootCause.Code != "SELECTOR_MISMATCH" {
		t.Fatalf("unexpected report: %+v", tr)
	}
	if tr.RootCause.Object.File == "" || tr.RootCause.Object.Line != 21 {
		t.Errorf("root cause object lacks file and line: %+v", tr.RootCause.Object)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"schemaVersion", "source", "target", "verdict", "hops", "findings", "rootCause"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("json lacks %q", k)
		}
	}
}

func TestTraceMalformedInputStillTraces(t *testing.T) {
	good, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {a: [\n"
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(bad+"---\n"+string(good)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, "", "trace", "-f", dir, "-n", "shop", "pod/frontend-1", "svc/cart:8080")
	if code != ExitFailed || !strings.Contains(out, "SELECTOR_MISMATCH") {
		t.Fatalf("exit %d, want the trace of the good documents:\n%s", code, out)
	}
	if !strings.Contains(errOut, filepath.Join(dir, "a.yaml")+":5: document 1") {
		t.Errorf("stderr does not name file and line: %q", errOut)
	}
}

func TestTraceStdin(t *testing.T) {
	good, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, code := runCLI(t, string(good), "trace", "-f", "-", "-n", "shop", "pod/frontend-1", "svc/cart:8080")
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
}
