package trace

import (
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"reach/internal/report"
)

// pnPodCIDRs gives node-a, node-b and node-c the pod CIDRs 10.244.0.0/24, 10.244.1.0/24 and 10.244.2.0/24.
func pnPodCIDRs(n *pathNet) {
	for i, name := range []string{"node-a", "node-b", "node-c"} {
		cidr := "10.244." + string(rune('0'+i)) + ".0/24"
		n.node(name).Spec.PodCIDR, n.node(name).Spec.PodCIDRs = cidr, []string{cidr}
	}
}

// pnManual adds Service shop/ext without a selector and its hand-made EndpointSlice ext-abc12 with these addresses.
func pnManual(n *pathNet, addrs map[string]bool) {
	pnPodCIDRs(n)
	n.add(pnService("shop", "ext", "10.96.1.50", nil, 80))
	var eps []discoveryv1.Endpoint
	for _, ip := range sortedStrings(addrs) {
		ready := addrs[ip]
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	n.add(pnSlice("shop", "ext", eps...))
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestManualOrphans(t *testing.T) {
	cases := []struct {
		name  string
		addrs map[string]bool // address -> ready
		want  pnCase
		sev   report.Severity // of ENDPOINTS_MANUAL_ORPHAN, "" when absent
	}{
		{"every ready address orphaned", map[string]bool{"10.244.1.99": true, "10.244.2.99": true},
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "ENDPOINTS_MANUAL_ORPHAN", code: "ENDPOINTS_MANUAL_ORPHAN", object: "EndpointSlice/shop/ext-abc12", summary: "every ready address"},
			report.SeverityError},
		{"one of two ready addresses orphaned", map[string]bool{"10.244.1.10": true, "10.244.2.99": true},
			pnCase{status: report.StatusWarn, verdict: report.VerdictDegraded, root: "ENDPOINTS_MANUAL_ORPHAN", code: "ENDPOINTS_MANUAL_ORPHAN", object: "EndpointSlice/shop/ext-abc12"},
			report.SeverityError},
		{"orphan not ready beside a live ready pod", map[string]bool{"10.244.1.10": true, "10.244.2.99": false},
			pnCase{status: report.StatusWarn, verdict: report.VerdictReachable, code: "ENDPOINTS_MANUAL_ORPHAN", object: "EndpointSlice/shop/ext-abc12"},
			report.SeverityWarning},
		{"orphan the only ready address, live pod not ready", map[string]bool{"10.244.1.10": false, "10.244.2.99": true},
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "ENDPOINTS_MANUAL_ORPHAN", code: "ENDPOINTS_MANUAL_ORPHAN", summary: "10.244.2.99"},
			report.SeverityError},
		{"nothing ready, one orphan: none ready is the cause", map[string]bool{"10.244.1.10": false, "10.244.2.99": false},
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "ENDPOINTS_NONE_READY", code: "ENDPOINTS_NONE_READY"},
			report.SeverityWarning},
		{"addresses outside the pod network are not orphans", map[string]bool{"10.40.12.7": true},
			pnCase{status: report.StatusPass, verdict: report.VerdictReachable},
			""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newPathNet()
			pnManual(n, c.addrs)
			tr := n.trace(t, "pod/client", "svc/ext:80")
			c.want.check(t, tr, report.LayerEndpoints)
			f := pnFinding(tr, "ENDPOINTS_MANUAL_ORPHAN")
			switch {
			case c.sev == "" && f != nil:
				t.Errorf("unexpected ENDPOINTS_MANUAL_ORPHAN: %s", f.Message)
			case c.sev != "" && f == nil:
				t.Errorf("no ENDPOINTS_MANUAL_ORPHAN; findings %+v", tr.Findings)
			case f != nil && f.Severity != c.sev:
				t.Errorf("ENDPOINTS_MANUAL_ORPHAN severity %s, want %s", f.Severity, c.sev)
			}
		})
	}
}

// A Service from a manifest never applied has no EndpointSlices; its endpoints come from the pods,
// not "none ready" from the absent slices.
func TestUnappliedServiceEndpointsFromPods(t *testing.T) {
	setup := func(applied bool) *pathNet {
		n := newPathNet()
		n.without("EndpointSlice/shop/web-abc12")
		n.add(pnSlice("shop", "other")) // other Services have slices: the namespace's slices are visible
		if applied {
			s := n.svc("shop", "web")
			s.UID, s.CreationTimestamp = "0b7e1c2a-1111-4c3d-9e8f-000000000001", metav1.Unix(1700000000, 0)
		}
		return n
	}
	tr := setup(false).trace(t, "pod/client", "svc/web:80")
	pnCase{status: report.StatusPass, verdict: report.VerdictReachable, summary: "not applied yet"}.check(t, tr, report.LayerEndpoints)

	// once the API server holds the Service, missing slices are what the cluster has
	tr = setup(true).trace(t, "pod/client", "svc/web:80")
	if h := pnHop(t, tr, report.LayerEndpoints); h.Status == report.StatusPass || strings.Contains(h.Summary, "not applied") {
		t.Errorf("applied Service without slices: endpoints hop %s %q", h.Status, h.Summary)
	}
}

func TestNDotsExternal(t *testing.T) {
	search := func(domains ...string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: domains} }
	}
	ndots := func(v string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &v}}}
		}
	}
	cases := []struct {
		name, target string
		mut          func(*corev1.Pod)
		want         string // substring of the message, "" for no finding
	}{
		{"three cluster search domains before the name", "api.example.com:443", nil, "the resolver tries 3 search-list names"},
		{"a search domain of the pod's own adds one", "api.example.com:443", search("corp.example.net"), "the resolver tries 4 search-list names"},
		{"trailing dot", "api.example.com.:443", nil, ""},
		{"enough dots for ndots 2", "api.example.com:443", ndots("2"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newPathNet()
			if c.mut != nil {
				c.mut(n.pod("shop", "client"))
			}
			tr := n.trace(t, "pod/client", c.target)
			f := pnFinding(tr, "DNS_NDOTS_EXTERNAL")
			switch {
			case c.want == "" && f != nil:
				t.Errorf("unexpected DNS_NDOTS_EXTERNAL: %s", f.Message)
			case c.want != "" && f == nil:
				t.Fatalf("no DNS_NDOTS_EXTERNAL; hops %+v", tr.Hops)
			case c.want != "" && !strings.Contains(f.Message, c.want):
				t.Errorf("message %q, want it to contain %q", f.Message, c.want)
			}
			if tr.Verdict == report.VerdictBlocked {
				t.Errorf("an external name is a warning, not a block: %+v", tr.RootCause)
			}
		})
	}
}

// The exposure hop of a Service the API server refuses must say so, not how it would be reached.
func TestNodePortRangeSummary(t *testing.T) {
	for _, typ := range []corev1.ServiceType{corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer} {
		t.Run(string(typ), func(t *testing.T) {
			n := newPathNet()
			pnNodePort(n, typ, corev1.ServiceExternalTrafficPolicyCluster, "")
			n.svc("shop", "web").Spec.Ports[0].NodePort = 8080
			tr := n.trace(t, "outside", "svc/web")
			pnCase{status: report.StatusFail, verdict: report.VerdictBlocked, root: "EXPOSURE_NODEPORT_RANGE", code: "EXPOSURE_NODEPORT_RANGE", summary: "outside the node port range"}.check(t, tr, report.LayerExposure)
		})
	}
}
