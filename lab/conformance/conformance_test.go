package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"reach/internal/model"
	"reach/internal/policy"
	"reach/internal/source"
	"reach/lab/cluster"
)

// Tuning, all overridable from the environment (REACH_CONF_*), see settings.
var (
	probeTimeout  = 1500 * time.Millisecond // one connection attempt; REJECTs answer at once
	probeParallel = 12                      // probes in flight
	pollTimeout   = 15 * time.Second        // how long a table may take to match after its step
	minSettle     = 3 * time.Second         // a table the step should not change is accepted only this long after it
	confirmDelay  = 500 * time.Millisecond  // a matching table is probed again after this, and must not move
	cleanTimeout  = 30 * time.Second        // how long kube-router may take to lift a case's rules
)

// kubeRouterDifference is a documented way kube-router v2.1.0 enforces a case
// differently from the NetworkPolicy API (as the engine and the upstream e2e
// expectation read it): on port/protocol after step Step of case Case, the pairs
// (FROM -> TO, an end being *, a namespace or namespace/pod; loopback never counts)
// are Observed where the engine predicts !Observed. The test fails when such a
// difference stops occurring, so the list stays true.
type kubeRouterDifference struct {
	Case     string // file name under testdata/policy/netpol without .yaml
	Step     int    // 1-based
	Port     int32
	Protocol corev1.Protocol
	Pairs    []string
	Observed bool
	Reason   string
}

// kubeRouterDifferences are the disagreements of kube-router v2.1.0 with the API
// that the lab reproduces. There are none: every TCP and UDP table of the 46 cases
// that have one (63 tables) matched both the engine and the upstream expectation on
// the lab, both when it ran kube-router as host processes and as a DaemonSet.
// That fits kube-router's v2.0.0 work to pass the upstream sig-network e2e suite
// (https://github.com/cloudnativelabs/kube-router/issues/1596). An entry reads, e.g.:
//
//	{Case: "36-egress-cidr-except", Step: 1, Port: 80, Protocol: corev1.ProtocolTCP,
//	 Pairs: []string{"x/a -> x/b"}, Observed: true,
//	 Reason: "kube-router ignores except (link to its issue)"},
var kubeRouterDifferences = []kubeRouterDifference{}

// TestKubeRouterConformance replays the upstream NetworkPolicy e2e cases
// (testdata/policy/netpol) on the dataplane lab, whose NetworkPolicies kube-router
// v2.1.0 enforces, and compares what real traffic does with what reach's engine
// (policy.Evaluate) predicts from the live objects read as the product reads them
// (source.LiveNamespaces), and that prediction with the upstream expectation.
//
// It brings the lab up once, creates namespaces x, y, z with pods a, b, c each
// serving 80 and 81 over TCP and UDP, then for each case applies its steps to the
// cluster and after each step probes the 72 pairs of pods (loopback excluded, as
// upstream) of every TCP or UDP check until the table matches the prediction (or
// the documented difference) or pollTimeout passes. SCTP checks are skipped: the
// echo server has no SCTP listener. Each case ends by deleting its policies and
// reverting its labels, and the next starts once traffic is all allowed again.
//
// All cases take about 4 minutes (lab up ~20 s, pods ~10 s, cases ~3m40s). Run a
// subset with -test.run 'TestKubeRouterConformance/(36|37)-'. REACH_CONF_PROBE_TIMEOUT,
// REACH_CONF_POLL_TIMEOUT, REACH_CONF_MIN_SETTLE, REACH_CONF_CONFIRM_DELAY (durations)
// and REACH_CONF_PARALLEL override the tuning below.
func TestKubeRouterConformance(t *testing.T) {
	if os.Getenv("REACH_DATAPLANE") != "1" {
		t.Skip("set REACH_DATAPLANE=1 to run the dataplane lab (root; lab/deps.sh; lab/build.sh dataplane)")
	}
	settings(t)
	began := time.Now()
	cases, err := LoadCases("../../testdata/policy/netpol")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range kubeRouterDifferences {
		if !slices.ContainsFunc(cases, func(c Case) bool { return c.ID == d.Case }) {
			t.Errorf("documented difference for unknown case %q", d.Case)
		}
	}
	ctx := t.Context()
	bin, err := cluster.FindBinaries(ctx, "", logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Up(ctx, cluster.Options{BinDir: bin, Log: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	upTime := time.Since(began)
	t.Cleanup(func() {
		if t.Failed() {
			for name, path := range c.Logs() {
				if strings.Contains(name, "kube-router") {
					t.Logf("kube-router log %s: %s", name, path)
				}
			}
		}
		began := time.Now()
		if err := c.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
		t.Logf("cluster down in %v", time.Since(began).Round(time.Millisecond))
	})

	r := &run{c: c, cs: c.Clientset}
	step := time.Now()
	r.setup(t)
	defer r.p.close()
	setupTime := time.Since(step)

	step = time.Now()
	for _, cs := range cases {
		t.Run(cs.ID, func(t *testing.T) {
			if r.dirty != "" {
				t.Fatalf("not run: the lab was left unclean by %s", r.dirty)
			}
			r.runCase(t, cs)
		})
	}
	s := r.stats
	t.Logf("summary: %d cases run (%d skipped: SCTP only), %d tables compared, %d SCTP checks skipped; %d probes sent (%d ok, %d refused, %d timed out, %d other errors)",
		s.cases, s.sctpCases, s.tables, s.sctpChecks, r.p.sent.Load(), r.p.outcomes[connected].Load(), r.p.outcomes[refused].Load(),
		r.p.outcomes[timedOut].Load(), r.p.outcomes[failed].Load())
	t.Logf("summary: %d tables agree with the engine, %d show a documented kube-router difference, %d disagree (undocumented); engine vs upstream expectation: %d of %d tables agree",
		s.agree, s.documented, s.disagree, s.upstreamAgree, s.tables)
	t.Logf("summary: time %v in all: lab up %v, pods %v, cases %v (probing %v, settling after changes %v, cleaning up %v)",
		time.Since(began).Round(time.Second), upTime.Round(time.Second), setupTime.Round(time.Second), time.Since(step).Round(time.Second),
		s.probing.Round(time.Second), s.settling.Round(time.Second), s.cleaning.Round(time.Second))
}

// settings reads the REACH_CONF_* overrides of the tuning.
func settings(t *testing.T) {
	dur := func(env string, v *time.Duration) {
		if s := os.Getenv(env); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				t.Fatalf("%s: %v", env, err)
			}
			*v = d
		}
	}
	dur("REACH_CONF_PROBE_TIMEOUT", &probeTimeout)
	dur("REACH_CONF_POLL_TIMEOUT", &pollTimeout)
	dur("REACH_CONF_MIN_SETTLE", &minSettle)
	dur("REACH_CONF_CONFIRM_DELAY", &confirmDelay)
	if s := os.Getenv("REACH_CONF_PARALLEL"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("REACH_CONF_PARALLEL: %q", s)
		}
		probeParallel = n
	}
}

type run struct {
	c         *cluster.Cluster
	cs        kubernetes.Interface
	p         *prober
	nsLabels  map[string]map[string]string // the labels of x, y, z after setup
	podLabels map[string]map[string]string // of their pods, by namespace/name
	dirty     string                       // the case that could not clean up
	stats     stats
}

type stats struct {
	cases, sctpCases, sctpChecks, tables int
	agree, documented, disagree          int
	upstreamAgree                        int
	probing, settling, cleaning          time.Duration
}

// setup creates the topology and waits until every pod serves and reaches every other.
func (r *run) setup(t *testing.T) {
	ctx := t.Context()
	nodes := r.c.Nodes
	for ni, ns := range Namespaces {
		nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"kubernetes.io/metadata.name": ns}}}
		if _, err := r.cs.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for pi, p := range PodNames {
			var ports []corev1.ContainerPort
			for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
				for _, port := range Ports {
					ports = append(ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto})
				}
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns, Labels: map[string]string{"pod": p}},
				Spec: corev1.PodSpec{
					// Every node holds one pod of each namespace, so pairs within a
					// namespace cross nodes and some across namespaces do not.
					NodeName:                      nodes[(ni+pi)%len(nodes)].Name,
					TerminationGracePeriodSeconds: new(int64(1)),
					Containers: []corev1.Container{{
						Name: "echo", Image: cluster.EchoImage, ImagePullPolicy: corev1.PullNever,
						Args:  []string{"80", "81", "80/udp", "81/udp"},
						Ports: ports,
					}},
				},
			}
			if _, err := r.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var pods []corev1.Pod
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pods = nil
		waiting := ""
		for _, ns := range Namespaces {
			l, err := r.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range l.Items {
				if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || !model.PodReady(&p) {
					waiting += fmt.Sprintf(" %s/%s:%s", ns, p.Name, p.Status.Phase)
				}
			}
			pods = append(pods, l.Items...)
		}
		if waiting == "" && len(pods) == len(Names()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods not running after 2m:%s", waiting)
		}
		time.Sleep(500 * time.Millisecond)
	}
	p, err := newProber(probeTimeout, probeParallel)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	r.podLabels = map[string]map[string]string{}
	for _, pod := range pods {
		name := pod.Namespace + "/" + pod.Name
		nsPath, err := r.c.PodNetns(ctx, pod.Namespace, pod.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.addPod(name, pod.Status.PodIP, nsPath); err != nil {
			t.Fatal(err)
		}
		r.podLabels[name] = pod.Labels
		t.Logf("pod %s on %s at %s", name, pod.Spec.NodeName, pod.Status.PodIP)
	}
	r.nsLabels = map[string]map[string]string{}
	for _, ns := range Namespaces {
		n, err := r.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.nsLabels[ns] = n.Labels
	}
	began := time.Now()
	if err := r.waitAllAllowed(ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("every pod reaches every other on 80 and 81 over TCP and UDP after %v", time.Since(began).Round(time.Millisecond))
}

// key names a table within a case.
type key struct {
	port  int32
	proto corev1.Protocol
}

func (k key) String() string { return fmt.Sprintf("%d/%s", k.port, k.proto) }

var probedKeys = []key{{80, corev1.ProtocolTCP}, {81, corev1.ProtocolTCP}, {80, corev1.ProtocolUDP}, {81, corev1.ProtocolUDP}}

// waitAllAllowed probes until every pair connects on every port and protocol.
func (r *run) waitAllAllowed(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	all := NewTable(true)
	for {
		var bad []string
		for _, k := range probedKeys {
			got, cells := r.p.table(k.port, k.proto)
			if d := Diff(all, got); len(d) > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d pairs blocked (%s), e.g. %s: %s", k, len(d), outcomeSummary(cells), d[0], cells[Index(d[0].From)][Index(d[0].To)].msg))
			}
		}
		if len(bad) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("traffic not all allowed after %v: %s", timeout, strings.Join(bad, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (r *run) runCase(t *testing.T, c Case) {
	ctx := t.Context()
	var checks int
	for _, s := range c.Steps {
		for _, ch := range s.Checks {
			if ch.Protocol == corev1.ProtocolTCP || ch.Protocol == corev1.ProtocolUDP {
				checks++
			}
		}
	}
	if checks == 0 {
		r.stats.sctpCases++
		for _, s := range c.Steps {
			r.stats.sctpChecks += len(s.Checks)
		}
		t.Skipf("%s: SCTP checks only; the echo server has no SCTP listener", c.Name)
	}
	r.stats.cases++
	t.Logf("%s (%s)", c.ID, c.Name)
	defer r.clean(t, c.ID)

	seen := map[int]bool{} // documented differences that occurred, by index
	before := map[key]Table{}
	for _, k := range probedKeys {
		before[k] = NewTable(true)
	}
	for si, s := range c.Steps {
		mutated := time.Now()
		if err := r.apply(ctx, s.Op); err != nil {
			t.Fatalf("step %d: %v", si+1, err)
		}
		synced := false // a table of this step moved: kube-router has seen the step
		for _, ch := range s.Checks {
			if ch.Protocol != corev1.ProtocolTCP && ch.Protocol != corev1.ProtocolUDP {
				r.stats.sctpChecks++
				t.Logf("step %d %d/%s: skipped (the echo server has no SCTP listener)", si+1, ch.Port, ch.Protocol)
				continue
			}
			k := key{ch.Port, ch.Protocol}
			where := fmt.Sprintf("step %d %s", si+1, k)
			predicted, err := r.predict(ctx, ch.Port, ch.Protocol)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			upstream, err := Expected(ch.Expect)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			r.stats.tables++
			if d := Diff(upstream, predicted); len(d) > 0 {
				t.Errorf("%s: the engine disagrees with the upstream expectation on %d pairs: %v\nupstream:\n%sengine:\n%s", where, len(d), d, upstream.Render(), predicted.Render())
			} else {
				r.stats.upstreamAgree++
			}

			target := predicted.Clone()
			var docs []int
			for i, d := range kubeRouterDifferences {
				if d.Case != c.ID || d.Step != si+1 || d.Port != ch.Port || d.Protocol != ch.Protocol {
					continue
				}
				docs = append(docs, i)
				for _, pr := range expandPairs(d.Pairs) {
					fi, ti := Index(pr.From), Index(pr.To)
					if predicted[fi][ti] == d.Observed {
						t.Errorf("%s: documented difference %s is no difference: the engine predicts %v as well", where, pr, d.Observed)
					}
					target[fi][ti] = d.Observed
				}
			}

			observed, cells, took, settled := r.poll(ctx, predicted, target, before[k], k, mutated, &synced)
			r.stats.probing += took
			r.stats.settling += settled
			before[k] = observed
			diff := Diff(predicted, observed)
			switch {
			case len(diff) == 0 && len(docs) == 0:
				r.stats.agree++
				t.Logf("%s: agrees with the engine (%s) after %v", where, outcomeSummary(cells), took.Round(time.Millisecond))
			case len(diff) == 0:
				r.stats.agree++
				t.Errorf("%s: documented kube-router difference no longer occurs: observed equals the engine's prediction\n%s", where, observed.Render())
			case len(Diff(target, observed)) == 0:
				r.stats.documented++
				for _, i := range docs {
					seen[i] = true
				}
				t.Logf("%s: documented kube-router difference on %d pairs (%s) after %v: %v", where, len(diff), outcomeSummary(cells), took.Round(time.Millisecond), diff)
			default:
				r.stats.disagree++
				var lines []string
				for _, pr := range diff {
					c := cells[Index(pr.From)][Index(pr.To)]
					lines = append(lines, fmt.Sprintf("  %s: engine %v, kube-router %v (%s)", pr, predicted[Index(pr.From)][Index(pr.To)], observed[Index(pr.From)][Index(pr.To)], strings.TrimSpace(c.o.String()+" "+c.msg)))
				}
				doc := ""
				if len(docs) > 0 {
					doc = fmt.Sprintf("\ndocumented for this table (expected kube-router):\n%s", target.Render())
				}
				t.Errorf("%s: kube-router disagrees with the engine on %d pairs after polling %v:\n%s\nengine (policy.Evaluate):\n%skube-router (observed):\n%s%s",
					where, len(diff), took.Round(time.Millisecond), strings.Join(lines, "\n"), predicted.Render(), observed.Render(), doc)
			}
		}
	}
	for i, d := range kubeRouterDifferences {
		if d.Case == c.ID && !seen[i] && !t.Failed() {
			t.Errorf("documented difference (step %d %d/%s %v) did not occur", d.Step, d.Port, d.Protocol, d.Pairs)
		}
	}
}

// expandPairs turns FROM -> TO patterns into the pairs they cover, loopback excluded.
func expandPairs(patterns []string) []Pair {
	names := Names()
	var out []Pair
	for _, p := range patterns {
		from, to, _ := strings.Cut(p, "->")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		for _, f := range names {
			for _, d := range names {
				if f != d && endMatches(from, f) && endMatches(to, d) {
					out = append(out, Pair{f, d})
				}
			}
		}
	}
	return out
}

// poll probes port/proto until the table equals the prediction or the documented
// difference (target), and holds after confirmDelay, or pollTimeout passes; it
// returns the last table. A table equal to the one before the step proves nothing
// about kube-router having seen the step: it is accepted only once another table of
// the step has moved (synced) or minSettle has passed since the mutation.
func (r *run) poll(ctx context.Context, predicted, target, before Table, k key, mutated time.Time, synced *bool) (Table, [][]cell, time.Duration, time.Duration) {
	began := time.Now()
	deadline := began.Add(pollTimeout)
	var settled time.Duration
	for {
		got, cells := r.p.table(k.port, k.proto)
		moved := len(Diff(before, got)) > 0
		if moved {
			*synced = true
		}
		if len(Diff(got, predicted)) == 0 || len(Diff(got, target)) == 0 {
			if !moved && !*synced {
				if wait := minSettle - time.Since(mutated); wait > 0 {
					settled += wait
					sleep(ctx, wait)
					continue
				}
			}
			sleep(ctx, confirmDelay)
			again, cells2 := r.p.table(k.port, k.proto)
			if len(Diff(got, again)) == 0 {
				return again, cells2, time.Since(began), settled
			}
			got, cells = again, cells2
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return got, cells, time.Since(began), settled
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// predict is the engine's table: policy.Evaluate for every pair on a model read from
// the live cluster the way the product reads it.
func (r *run) predict(ctx context.Context, port int32, proto corev1.Protocol) (Table, error) {
	m, err := source.LiveNamespaces(ctx, r.c.Admin, Namespaces)
	if err != nil {
		return nil, fmt.Errorf("read the cluster: %w", err)
	}
	names := Names()
	pods := make([]*corev1.Pod, len(names))
	for i, n := range names {
		ns, name, _ := strings.Cut(n, "/")
		pods[i] = m.Pod(ns, name)
		if pods[i] == nil {
			return nil, fmt.Errorf("pod %s not in the model", n)
		}
		if pods[i].Status.PodIP != r.p.ip[n] {
			return nil, fmt.Errorf("pod %s has IP %s in the model, %s when set up", n, pods[i].Status.PodIP, r.p.ip[n])
		}
	}
	t := NewTable(false)
	for i := range names {
		for j := range names {
			if i == j {
				continue
			}
			d := policy.Evaluate(m, policy.Flow{From: policy.Peer{Pod: pods[i]}, To: policy.Peer{Pod: pods[j]}, Port: port, Protocol: proto})
			if len(d.Unknown) > 0 {
				return nil, fmt.Errorf("%s -> %s: the engine could not evaluate: %v", names[i], names[j], d.Unknown)
			}
			t[i][j] = d.Allowed
		}
	}
	return t, nil
}

// apply makes one step's mutations on the live cluster, in the order the engine's
// test applies them to its objects.
func (r *run) apply(ctx context.Context, op Op) error {
	for _, raw := range op.Create {
		var np networkingv1.NetworkPolicy
		if err := r.decodePolicy(raw, &np); err != nil {
			return err
		}
		np.Namespace = orDefault(np.Namespace)
		api := r.cs.NetworkingV1().NetworkPolicies(np.Namespace)
		_, err := api.Create(ctx, &np, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			old, gerr := api.Get(ctx, np.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			np.ResourceVersion = old.ResourceVersion
			_, err = api.Update(ctx, &np, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("create NetworkPolicy %s/%s: %w", np.Namespace, np.Name, err)
		}
	}
	for _, d := range op.Delete {
		if d == "NetworkPolicy/*" {
			if err := r.deletePolicies(ctx); err != nil {
				return err
			}
			continue
		}
		kind, ns, name, err := objectName(d)
		if err != nil {
			return err
		}
		if kind != "NetworkPolicy" {
			return fmt.Errorf("delete %s: only NetworkPolicies are deleted", d)
		}
		if err := r.cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("delete %s: %w", d, err)
		}
	}
	for obj, labels := range op.Label {
		set := map[string]any{}
		for k, v := range labels {
			set[k] = v
		}
		if err := r.patchLabels(ctx, obj, set); err != nil {
			return err
		}
	}
	for obj, keys := range op.Unlabel {
		set := map[string]any{}
		for _, k := range keys {
			set[k] = nil
		}
		if err := r.patchLabels(ctx, obj, set); err != nil {
			return err
		}
	}
	for _, s := range op.Set {
		if err := r.set(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func orDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// objectName splits KIND/NAMESPACE/NAME.
func objectName(s string) (kind, ns, name string, err error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("bad object name %q (want KIND/NAMESPACE/NAME)", s)
	}
	return parts[0], parts[1], parts[2], nil
}

// decodePolicy reads a NetworkPolicy of a case, with the pod addresses the case
// assumes in its ipBlocks replaced by the real ones.
func (r *run) decodePolicy(raw json.RawMessage, np *networkingv1.NetworkPolicy) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	if doc["kind"] != "NetworkPolicy" {
		return fmt.Errorf("create %v: only NetworkPolicies are created by the cases", doc["kind"])
	}
	if err := r.realIPs(doc); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(np)
}

// realIPs rewrites, in every ipBlock under v, addresses the cases assume for a pod
// (PlaceholderIP) to that pod's real address, keeping the prefix length. Any other
// address inside the lab's pod range is refused: the case would mean a pod the lab
// cannot name.
func (r *run) realIPs(v any) error {
	real := map[string]string{}
	for _, n := range Names() {
		ns, p, _ := strings.Cut(n, "/")
		real[PlaceholderIP(ns, p)] = r.p.ip[n]
	}
	_, podRange, _ := net.ParseCIDR(cluster.ClusterCIDR)
	rewrite := func(s string) (string, error) {
		ip, bits, ok := strings.Cut(s, "/")
		if !ok {
			return s, nil
		}
		if to, ok := real[ip]; ok {
			if bits != "32" {
				return "", fmt.Errorf("ipBlock %s: a pod's placeholder address with a prefix other than /32", s)
			}
			return to + "/" + bits, nil
		}
		if a := net.ParseIP(ip); a != nil && podRange.Contains(a) {
			return "", fmt.Errorf("ipBlock %s: inside the lab's pod range %s but no pod's placeholder address", s, cluster.ClusterCIDR)
		}
		return s, nil
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if b, ok := x["ipBlock"].(map[string]any); ok {
				if s, ok := b["cidr"].(string); ok {
					to, err := rewrite(s)
					if err != nil {
						return err
					}
					b["cidr"] = to
				}
				if ex, ok := b["except"].([]any); ok {
					for i, e := range ex {
						if s, ok := e.(string); ok {
							to, err := rewrite(s)
							if err != nil {
								return err
							}
							ex[i] = to
						}
					}
				}
			}
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}

// patchLabels merges labels (nil removes) into a Namespace or a Pod.
func (r *run) patchLabels(ctx context.Context, obj string, labels map[string]any) error {
	kind, ns, name, err := objectName(obj)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	if err != nil {
		return err
	}
	switch kind {
	case "Namespace":
		_, err = r.cs.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	case "Pod":
		_, err = r.cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	default:
		return fmt.Errorf("label %s: only Namespaces and Pods are labelled", obj)
	}
	if err != nil {
		return fmt.Errorf("label %s: %w", obj, err)
	}
	return nil
}

// set writes a value at a dotted path of a live NetworkPolicy.
func (r *run) set(ctx context.Context, s SetOp) error {
	kind, ns, name, err := objectName(s.Object)
	if err != nil {
		return err
	}
	if kind != "NetworkPolicy" {
		return fmt.Errorf("set %s: only NetworkPolicies are changed", s.Object)
	}
	api := r.cs.NetworkingV1().NetworkPolicies(ns)
	live, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	b, err := json.Marshal(live)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(s.Value, &v); err != nil {
		return err
	}
	if err := r.realIPs(map[string]any{"value": v}); err != nil {
		return err
	}
	if err := setPath(doc, strings.Split(s.Path, "."), v); err != nil {
		return fmt.Errorf("set %s %s: %w", s.Object, s.Path, err)
	}
	b, err = json.Marshal(doc)
	if err != nil {
		return err
	}
	var np networkingv1.NetworkPolicy
	if err := json.Unmarshal(b, &np); err != nil {
		return err
	}
	if _, err := api.Update(ctx, &np, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set %s %s: %w", s.Object, s.Path, err)
	}
	return nil
}

func setPath(doc any, path []string, v any) error {
	for i, p := range path {
		last := i == len(path)-1
		switch x := doc.(type) {
		case map[string]any:
			if last {
				x[p] = v
				return nil
			}
			doc = x[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(x) {
				return fmt.Errorf("bad index %q", p)
			}
			if last {
				x[n] = v
				return nil
			}
			doc = x[n]
		default:
			return fmt.Errorf("cannot walk into %q", p)
		}
	}
	return fmt.Errorf("empty path")
}

func (r *run) deletePolicies(ctx context.Context) error {
	for _, ns := range Namespaces {
		if err := r.cs.NetworkingV1().NetworkPolicies(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("delete the NetworkPolicies of %s: %w", ns, err)
		}
	}
	return nil
}

// clean deletes the case's policies, reverts its label changes and waits until
// kube-router has lifted its rules. If it cannot, the remaining cases do not run.
func (r *run) clean(t *testing.T, id string) {
	ctx := context.WithoutCancel(t.Context())
	began := time.Now()
	defer func() { r.stats.cleaning += time.Since(began) }()
	fail := func(format string, args ...any) {
		r.dirty = id
		t.Errorf("clean up: "+format, args...)
	}
	if err := r.deletePolicies(ctx); err != nil {
		fail("%v", err)
		return
	}
	for _, ns := range Namespaces {
		n, err := r.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			fail("%v", err)
			return
		}
		if !sameLabels(n.Labels, r.nsLabels[ns]) {
			n.Labels = r.nsLabels[ns]
			if _, err := r.cs.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
				fail("restore the labels of namespace %s: %v", ns, err)
				return
			}
		}
		for _, name := range PodNames {
			p, err := r.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				fail("%v", err)
				return
			}
			if !sameLabels(p.Labels, r.podLabels[ns+"/"+name]) {
				p.Labels = r.podLabels[ns+"/"+name]
				if _, err := r.cs.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
					fail("restore the labels of pod %s/%s: %v", ns, name, err)
					return
				}
			}
		}
	}
	if err := r.waitAllAllowed(ctx, cleanTimeout); err != nil {
		fail("%v", err)
		return
	}
	t.Logf("clean again after %v", time.Since(began).Round(time.Millisecond))
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// logWriter sends the lab's progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
