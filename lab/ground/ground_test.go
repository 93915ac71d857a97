package ground

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reach/internal/cli"
	"reach/internal/report"
	"reach/internal/scenario"
	"reach/internal/testlab"
	"reach/lab/cluster"
)

var update = flag.Bool("update", false, "rewrite each scenario's snapshot.yaml from the lab cluster")

const root = "../../testdata/dataplane"

// settleWait bounds how long packets may disagree with the trace after the cluster
// settled: kube-proxy and kube-router program their rules a moment after the objects
// they follow change.
const settleWait = 15 * time.Second

// policyDelay is how long kube-router is given to apply the policies once the cluster
// settled, before the first packet: it applies a change within about a second.
const policyDelay = 2 * time.Second

// row is one line of the agreement table.
type row struct {
	scenario, name      string
	predicted, observed string
	agree               bool
}

// TestGroundTruth realises every dataplane scenario on the lab cluster and checks each
// case's trace against real packets. It needs what TestDataplane in reach/lab/cluster
// needs, and runs only with REACH_DATAPLANE=1. REACH_GROUND_TABLE names a file to
// write the agreement table to.
func TestGroundTruth(t *testing.T) {
	if os.Getenv("REACH_DATAPLANE") != "1" {
		t.Skip("set REACH_DATAPLANE=1 to run the dataplane lab (root; lab/deps.sh; lab/build.sh dataplane)")
	}
	scenarios, err := scenario.LoadDataplane(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	bin, err := cluster.FindBinaries(ctx, "", testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	c, err := cluster.Up(ctx, cluster.Options{BinDir: bin, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up in %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	var rows []row
	for _, s := range scenarios {
		t.Run(s.Name, func(t *testing.T) {
			rows = append(rows, realise(t, c, s)...)
		})
	}
	table := render(rows)
	t.Logf("agreement table, %d cases in %v:\n%s", len(rows), time.Since(began).Round(time.Second), table)
	if path := os.Getenv("REACH_GROUND_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// realise runs one scenario on the cluster and returns a row for each case it checked.
func realise(t *testing.T, c *cluster.Cluster, s *scenario.Dataplane) []row {
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	cs := c.Clientset
	for _, ns := range s.Namespaces {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}
	t.Cleanup(func() {
		// the next scenario starts from a cluster without this one's objects
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		for _, ns := range s.Namespaces {
			if err := cs.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete namespace %s: %v", ns, err)
			}
		}
		err := poll(dctx, "namespaces "+strings.Join(s.Namespaces, ", ")+" to go", 2*time.Minute, func(ctx context.Context) (string, error) {
			for _, ns := range s.Namespaces {
				if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					return "namespace " + ns + " still there", nil
				}
			}
			return "", nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	undo, err := applySetup(ctx, cs, s.Setup)
	t.Cleanup(func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if err := undo(uctx); err != nil {
			t.Errorf("undo setup: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	objs, err := testlab.LoadObjects(filepath.Join(s.Dir, "objects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Lab.Apply(ctx, objs); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := waitSteady(ctx, cs, s.Namespaces); err != nil {
		t.Fatal(err)
	}
	if err := c.Lab.WaitForEndpointSlices(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitKubeProxySynced(ctx, s.Setup.StopProxyOn); err != nil {
		t.Fatal(err)
	}
	// kube-router has no such signal: it applies policies a moment after they change
	time.Sleep(policyDelay)
	snap, err := snapshot(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	snapFile := filepath.Join(t.TempDir(), scenario.SnapshotFile)
	if *update {
		snapFile = filepath.Join(s.Dir, scenario.SnapshotFile)
	}
	if err := os.WriteFile(snapFile, snap, 0o644); err != nil {
		t.Fatal(err)
	}
	var rows []row
	for _, k := range s.Cases {
		t.Run(strings.ReplaceAll(k.Name, " ", "_"), func(t *testing.T) {
			rows = append(rows, check(ctx, t, c, s, k, snapFile))
		})
	}
	return rows
}

// check traces one case live and from the snapshot, requires both reports to be the
// same and to meet the expectations, then probes until the packets agree with the
// verdict or settleWait passes.
func check(ctx context.Context, t *testing.T, c *cluster.Cluster, s *scenario.Dataplane, k scenario.Case, snapFile string) row {
	r := row{scenario: s.Name, name: k.Name}
	live, code := trace(ctx, t, append(append([]string(nil), k.Args...), "--kubeconfig", c.Kubeconfig, "-o", "json"))
	files, fcode := trace(ctx, t, append(append([]string(nil), k.Args...), "-f", snapFile, "-o", "json"))
	ln, err := scenario.Normalize(live)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := scenario.Normalize(files)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ln, fn) || code != fcode {
		t.Errorf("live and snapshot reports differ (exit %d and %d):\nlive:\n%s\nfiles:\n%s", code, fcode, ln, fn)
	}
	for _, d := range scenario.Check(live, code, k.Expect) {
		t.Error(d)
	}
	var tr report.Trace
	if err := json.Unmarshal(live, &tr); err != nil {
		t.Fatal(err)
	}
	verdict := string(tr.Verdict)
	r.predicted = verdict
	if tr.RootCause != nil {
		r.predicted += " " + string(tr.RootCause.Code)
	}

	run, bin, err := source(ctx, c, s, k)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(settleWait)
	var res Result
	for {
		res, err = probe(ctx, run, bin, k.Probe)
		if err != nil {
			t.Fatal(err)
		}
		if agrees(verdict, res.Outcome) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	r.observed = string(res.Outcome)
	r.agree = agrees(verdict, res.Outcome)
	if !r.agree {
		t.Errorf("trace says %s, packets say %s (%s: %s)\n%s", r.predicted, res.Outcome, res.Step, res.Output, text(ctx, t, k.Args, snapFile))
	}
	if string(res.Outcome) != k.Observe {
		t.Errorf("packets: %s (%s: %s), scenario says %s", res.Outcome, res.Step, res.Output, k.Observe)
	}
	if tr.RootCause != nil && res.Outcome != OK {
		cause := string(tr.RootCause.Layer) == "dns" || strings.Contains(string(tr.RootCause.Code), "DNS")
		if cause != res.Outcome.dnsLike() {
			t.Errorf("root cause %s %s, but the packets failed with %s", tr.RootCause.Layer, tr.RootCause.Code, res.Outcome)
		}
	}
	return r
}

// agrees says whether one connection's outcome confirms the verdict: reachable means it
// works, blocked that it fails. A degraded or unknown verdict is never confirmed.
func agrees(verdict string, o Outcome) bool {
	switch verdict {
	case "reachable":
		return o == OK
	case "blocked":
		return o != OK
	}
	return false
}

// source returns how to run a program where the case's probe starts, and the path of
// the lab's client program there.
func source(ctx context.Context, c *cluster.Cluster, s *scenario.Dataplane, k scenario.Case) (runner, string, error) {
	kind, name, err := scenario.ParseFrom(k.From)
	if err != nil {
		return nil, "", err
	}
	ns := s.SourceNamespace(k)
	switch kind {
	case "outside":
		return c.OutsideExec, c.ProbePath(), nil
	case "node":
		return func(ctx context.Context, argv ...string) (string, error) { return c.NodeExec(ctx, name, argv...) }, c.ProbePath(), nil
	case "deploy":
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, "", err
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return nil, "", err
		}
		pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, "", err
		}
		var names []string
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				names = append(names, p.Name)
			}
		}
		if len(names) == 0 {
			return nil, "", fmt.Errorf("deployment %s/%s has no running pod", ns, name)
		}
		sort.Strings(names)
		name = names[0]
	}
	return func(ctx context.Context, argv ...string) (string, error) {
		return c.NsenterExec(ctx, ns, name, "", argv...)
	}, cluster.ProbeBinary, nil
}

// trace runs kubectl-reach in-process and returns its output and exit code.
func trace(ctx context.Context, t *testing.T, args []string) ([]byte, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code == cli.ExitError {
		t.Fatalf("kubectl-reach %s: %s", strings.Join(args, " "), errb.String())
	}
	return out.Bytes(), code
}

// text is the trace in text form, for a failure message.
func text(ctx context.Context, t *testing.T, args []string, snapFile string) string {
	var out, errb bytes.Buffer
	cli.Run(ctx, append(append([]string(nil), args...), "-f", snapFile), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String() + errb.String()
}

// render is the agreement table in Markdown.
func render(rows []row) string {
	var b strings.Builder
	b.WriteString("| scenario | case | predicted | observed | agree |\n|---|---|---|---|---|\n")
	agreed := 0
	for _, r := range rows {
		mark := "no"
		if r.agree {
			mark = "yes"
			agreed++
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.scenario, r.name, r.predicted, r.observed, mark)
	}
	fmt.Fprintf(&b, "\n%d of %d cases agree with real traffic.\n", agreed, len(rows))
	return b.String()
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
