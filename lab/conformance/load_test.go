package conformance

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestLoadCases reads every case without a lab: the format, the expectations, and
// the documented differences naming real checks.
func TestLoadCases(t *testing.T) {
	cases, err := LoadCases("../../testdata/policy/netpol")
	if err != nil {
		t.Fatal(err)
	}
	checks, sctp := 0, 0
	type at struct {
		id    string
		step  int
		port  int32
		proto corev1.Protocol
	}
	exists := map[at]bool{}
	for _, c := range cases {
		for si, s := range c.Steps {
			for _, ch := range s.Checks {
				if _, err := Expected(ch.Expect); err != nil {
					t.Errorf("%s: %v", c.ID, err)
				}
				if ch.Protocol == corev1.ProtocolSCTP {
					sctp++
				} else {
					checks++
				}
				exists[at{c.ID, si + 1, ch.Port, ch.Protocol}] = true
			}
		}
	}
	for _, d := range kubeRouterDifferences {
		if !exists[at{d.Case, d.Step, d.Port, d.Protocol}] {
			t.Errorf("documented difference names no check: %s step %d %d/%s", d.Case, d.Step, d.Port, d.Protocol)
		}
		if len(expandPairs(d.Pairs)) == 0 || d.Reason == "" {
			t.Errorf("documented difference %s step %d: no pairs or no reason", d.Case, d.Step)
		}
	}
	t.Logf("%d cases, %d TCP/UDP checks, %d SCTP checks", len(cases), checks, sctp)
}
