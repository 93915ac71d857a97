package trace

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestZZDebug(t *testing.T) {
	if os.Getenv("PNDEBUG") == "" {
		t.Skip()
	}
	dump := func(n *pathNet, s, d string) {
		tr := n.trace(t, s, d)
		b, _ := json.MarshalIndent(struct{ V, R, F any }{tr.Verdict, tr.RootCause, tr.Findings}, "", " ")
		fmt.Println(string(b))
	}
	n := newPathNet()
	n.without("Pod/kube-system/kube-proxy-a")
	dump(n, "pod/client", "svc/web")
	n = newPathNet()
	pnCrashing(n.pod("kube-system", "kube-proxy-a"))
	dump(n, "pod/client", "svc/web")
	n = newPathNet()
	pnNodePort(n, corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyLocal, "")
	dump(n, "outside", "svc/web")
	n = newPathNet()
	dump(n, "pod/web-1", "svc/web")
}
