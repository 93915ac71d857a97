package trace

import (
	"reflect"
	"testing"

	"reach/internal/report"
)

// TestFlowFindingsFold: the same policy failing for every backend pod is one finding naming all of
// them; different codes, objects or fields stay apart.
func TestFlowFindingsFold(t *testing.T) {
	pol := report.ObjectRef{Kind: "NetworkPolicy", Namespace: "api", Name: "deny"}
	client := report.ObjectRef{Kind: "Pod", Namespace: "web", Name: "client"}
	pod := func(name string) report.ObjectRef { return report.ObjectRef{Kind: "Pod", Namespace: "api", Name: name} }
	deny := func(backend string) report.Finding {
		return report.Finding{Code: "POLICY_INGRESS_DENY", Object: pol, Field: "spec.ingress",
			Message: "ingress to pod api/" + backend + " is denied", Related: []report.ObjectRef{client, pod(backend)}}
	}
	note := report.Finding{Code: "POLICY_NOT_ENFORCED", Object: report.ObjectRef{Kind: "Namespace", Name: "kube-system"}, Message: "not enforced"}
	var ff flowFindings
	ff.add([]report.Finding{deny("b-1"), note})
	ff.add([]report.Finding{deny("b-2"), note})
	ff.add([]report.Finding{deny("b-3"), note})
	other := deny("b-4")
	other.Field = "spec.ingress[0].ports"
	ff.add([]report.Finding{other})
	got := ff.result()
	if len(got) != 3 {
		t.Fatalf("%d findings, want 3: %+v", len(got), got)
	}
	if want := "ingress to pod api/b-1 is denied (likewise for 2 more backend pods)"; got[0].Message != want {
		t.Errorf("message %q, want %q", got[0].Message, want)
	}
	if want := []report.ObjectRef{client, pod("b-1"), pod("b-2"), pod("b-3")}; !reflect.DeepEqual(got[0].Related, want) {
		t.Errorf("related %v, want %v", got[0].Related, want)
	}
	if got[1].Message != "not enforced" {
		t.Errorf("identical messages are annotated: %q", got[1].Message)
	}
	if got[2].Field != "spec.ingress[0].ports" || len(got[2].Related) != 2 {
		t.Errorf("a finding on another field was folded: %+v", got[2])
	}
}
