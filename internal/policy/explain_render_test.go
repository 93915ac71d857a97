package policy

import (
	"strings"
	"testing"
)

// TestRenderExplainPass: a Pass in the Admin tier is shown, and the NetworkPolicy that then decides.
func TestRenderExplainPass(t *testing.T) {
	m := clusterFrom(t, shopBase, `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: delegate}
spec:
  tier: Admin
  priority: 3
  subject: {namespaces: {}}
  ingress: [{name: pass-web, action: Pass, from: [{namespaces: {matchLabels: {team: webteam}}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: lockdown}
spec:
  tier: Admin
  priority: 4
  subject: {namespaces: {}}
  ingress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]
---
`+npHead+`metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: webteam}}}], ports: [{port: http}]}]`)
	d := Evaluate(m, flow(m, "web/frontend", "api/backend", 8080, ""))
	out := RenderExplain(d)
	for _, want := range []string{
		"ingress of the destination: allowed (decided by the networkpolicy tier, isolated)\n",
		`  ClusterNetworkPolicy delegate (priority 3) ingress rule 0 "pass-web": passes to the next tier: namespace "web" matches namespaces team=webteam; ports: every port; then NetworkPolicy api/allow-web allows the ingress of pod api/backend (rule 0)` + "\n",
		`    ClusterNetworkPolicy delegate [admin, priority 3]: passes to the next tier by rule 0 "pass-web"` + "\n",
		"  * NetworkPolicy api/allow-web [networkpolicy]: allows by rule 0\n",
		"        ports: 8080/TCP matches named port http/TCP\n",
		"verdict: allowed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "lockdown") {
		t.Errorf("the Admin policy after the Pass was evaluated:\n%s", out)
	}
	if strings.Contains(out, "smallest fix") {
		t.Errorf("an allowed flow has a fix:\n%s", out)
	}
}
