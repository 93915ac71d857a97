package policy

import (
	"strings"
	"testing"
)

const npHead = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
`

// TestExplainFailureModes checks that each failure mode of the catalogue yields its own code,
// the object to change and a concrete fix.
func TestExplainFailureModes(t *testing.T) {
	cases := []struct {
		name     string
		policies string
		from, to string
		port     int32
		proto    string
		allowed  bool
		codes    []string
		object   string // Kind/namespace/name of the first finding
		field    string // of the first finding
		fix      []string
	}{
		{
			name: "namespace label missing",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {tier: web}}, podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 8080}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_NAMESPACE_LABEL", "POLICY_INGRESS_DENY"},
			object: "Namespace//web", field: "metadata.labels",
			fix: []string{"add label tier=web to namespace web", "kubernetes.io/metadata.name: web"},
		},
		{
			name: "and vs or: bare podSelector selects the policy's namespace",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: web}}
    - podSelector: {matchLabels: {app: frontend}}`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_AND_VS_OR", "POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-web", field: "spec.ingress[0].from[1]",
			fix: []string{"namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}", "same element"},
		},
		{
			name: "policyTypes omitted on an egress-only policy isolates ingress",
			policies: npHead + `metadata: {name: backend-egress, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_TYPES_DEFAULT", "POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/backend-egress", field: "spec.policyTypes",
			fix: []string{"policyTypes: [Egress]"},
		},
		{
			name: "policyTypes omitted: egress rules make the policy isolate egress",
			policies: npHead + `metadata: {name: frontend, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  egress: [{ports: [{port: 9090}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_EGRESS_DENY"},
			object: "NetworkPolicy/web/frontend", field: "spec.egress[0].ports",
			fix: []string{"add to NetworkPolicy web/frontend egress rule 0 a port 8080/TCP"},
		},
		{
			name: "policyTypes [Ingress, Egress] as the API server stores an omitted field",
			policies: npHead + `metadata: {name: backend-egress, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  policyTypes: [Ingress, Egress]
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_TYPES_DEFAULT", "POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/backend-egress", field: "spec.policyTypes",
			fix: []string{"policyTypes: [Egress]"},
		},
		{
			name: "Egress listed without egress rules denies all egress",
			policies: npHead + `metadata: {name: frontend, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_TYPES_DEFAULT", "POLICY_EGRESS_DENY"},
			object: "NetworkPolicy/web/frontend", field: "spec.policyTypes",
			fix: []string{"remove Egress from spec.policyTypes"},
		},
		{
			name: "named port the destination does not declare",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{ports: [{port: web}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_NAMED_PORT", "POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-web", field: "spec.ingress[0].ports",
			fix: []string{"use `port: 8080` instead of \"web\""},
		},
		{
			name: "named port resolved on the destination pod",
			policies: npHead + `metadata: {name: allow-http, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{ports: [{port: http}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080, allowed: true,
		},
		{
			name: "endPort range allows with a warning",
			policies: npHead + `metadata: {name: range, namespace: api}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 8000, endPort: 9000}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080, allowed: true,
			codes:  []string{"POLICY_ENDPORT"},
			object: "NetworkPolicy/api/range", field: "spec.ingress[0].ports",
			fix: []string{"list port 8080/TCP explicitly"},
		},
		{
			name: "ipBlock on the ClusterIP never matches after DNAT",
			policies: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.96.4.7/32}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_IPBLOCK_CLUSTER", "POLICY_EGRESS_DENY"},
			object: "NetworkPolicy/web/egress", field: "spec.egress[0].to[0].ipBlock",
			fix: []string{"podSelector: {matchLabels: {app: backend}}"},
		},
		{
			name: "ipBlock except removes the pod IP",
			policies: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.2.0/24]}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_IPBLOCK_CLUSTER", "POLICY_EGRESS_DENY"},
			object: "NetworkPolicy/web/egress", field: "spec.egress[0].to[0].ipBlock.except",
			fix: []string{"remove 10.244.2.0/24"},
		},
		{
			name: "hostNetwork peer is its node IP",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}, podSelector: {matchLabels: {app: frontend}}}]}]`,
			from: "web/agent", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_HOSTNETWORK_PEER", "POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-web", field: "spec.ingress[0].from",
			fix: []string{"ipBlock: {cidr: 10.0.0.5/32}"},
		},
		{
			name: "missing pod label",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: client}}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-web", field: "",
			fix: []string{"add label role=client to pod web/frontend"},
		},
		{
			name: "element for another workload gets a sibling, not the client relabelled",
			policies: npHead + `metadata: {name: allow-gateway, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}, podSelector: {matchLabels: {app: gateway}}}]
    ports: [{port: 8080}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-gateway", field: "spec.ingress[0].from",
			fix: []string{"add an element `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}, podSelector: {matchLabels: {app: frontend}}` to spec.ingress[0].from of NetworkPolicy api/allow-gateway"},
		},
		{
			name: "bare podSelector for another workload gets a sibling",
			policies: npHead + `metadata: {name: egress, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: catalog}}}], ports: [{port: 8080}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_EGRESS_DENY"},
			object: "NetworkPolicy/web/egress", field: "spec.egress[0].to",
			fix: []string{"add an element `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: api}}, podSelector: {matchLabels: {app: backend}}` to spec.egress[0].to"},
		},
		{
			name: "missing port",
			policies: npHead + `metadata: {name: allow-web, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{ports: [{port: 80}, {port: 443}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/allow-web", field: "spec.ingress[0].ports",
			fix: []string{"add to NetworkPolicy api/allow-web ingress rule 0 a port 8080/TCP"},
		},
		{
			name: "default deny gets a new rule",
			policies: npHead + `metadata: {name: deny, namespace: api}
spec: {podSelector: {}, policyTypes: [Ingress]}`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_INGRESS_DENY"},
			object: "NetworkPolicy/api/deny", field: "spec.ingress",
			fix: []string{"add an ingress rule to NetworkPolicy api/deny from `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: web}}, podSelector: {matchLabels: {app: frontend}}` on port 8080/TCP"},
		},
		{
			name: "policy in another namespace has no effect",
			policies: npHead + `metadata: {name: deny, namespace: web}
spec: {podSelector: {matchLabels: {app: backend}}, policyTypes: [Ingress]}`,
			from: "web/frontend", to: "api/backend", port: 8080, allowed: true,
		},
		{
			name: "IPv6 ipBlock",
			policies: npHead + `metadata: {name: v6, namespace: api}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: "fd00::/64", except: ["fd00::20/128"]}}]}]`,
			from: "fd00::10", to: "fd00::20", port: 8080, allowed: true,
		},
		{
			name: "Admin tier deny",
			policies: `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: lockdown}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: api}}}
  ingress:
  - {name: no-web, action: Deny, from: [{namespaces: {matchLabels: {team: webteam}}}]}
---
` + npHead + `metadata: {name: allow-all, namespace: api}
spec: {podSelector: {}, ingress: [{}]}`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_ADMIN_DENY"},
			object: "ClusterNetworkPolicy//lockdown", field: "spec.ingress[0]",
			fix: []string{"add an Accept (or Pass) rule"},
		},
		{
			name: "Baseline tier deny",
			policies: `apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress:
  - {name: deny-all, action: Deny, to: [{networks: [0.0.0.0/0]}]}`,
			from: "web/frontend", to: "api/backend", port: 8080,
			codes:  []string{"POLICY_BASELINE_DENY"},
			object: "BaselineAdminNetworkPolicy//default", field: "spec.egress[0]",
			fix: []string{"add a NetworkPolicy in namespace web"},
		},
		{
			name: "Admin pass hands down to the NetworkPolicy",
			policies: `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass}
spec:
  priority: 3
  subject: {namespaces: {}}
  ingress: [{name: pass-web, action: Pass, from: [{namespaces: {matchLabels: {team: webteam}}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny}
spec:
  priority: 4
  subject: {namespaces: {}}
  ingress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]`,
			from: "web/frontend", to: "api/backend", port: 8080, allowed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterFrom(t, shopBase, tc.policies)
			d := Evaluate(m, flow(m, tc.from, tc.to, tc.port, tc.proto))
			if d.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v\n%s", d.Allowed, tc.allowed, describeDecision(d))
			}
			if got := strings.Join(codes(d), ","); got != strings.Join(tc.codes, ",") {
				t.Fatalf("codes = %s, want %s\n%s", got, strings.Join(tc.codes, ","), dumpFindings(d))
			}
			if len(tc.codes) == 0 {
				return
			}
			f := d.Findings[0]
			if got := f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name; got != tc.object {
				t.Errorf("object = %s, want %s", got, tc.object)
			}
			if f.Field != tc.field {
				t.Errorf("field = %q, want %q", f.Field, tc.field)
			}
			for _, want := range tc.fix {
				if !strings.Contains(f.Fix, want) {
					t.Errorf("fix %q lacks %q", f.Fix, want)
				}
			}
			if f.Message == "" || len(f.Related) == 0 {
				t.Errorf("finding without message or related pods: %+v", f)
			}
		})
	}
}

func dumpFindings(d Decision) string {
	var b strings.Builder
	for _, f := range d.Findings {
		b.WriteString(string(f.Code) + " " + f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name + " " + f.Field + "\n  " + f.Message + "\n  fix: " + f.Fix + "\n")
		for _, e := range f.Evidence {
			b.WriteString("  - " + e + "\n")
		}
	}
	return b.String()
}

func TestClusterPolicyWarnings(t *testing.T) {
	cases := []struct {
		name    string
		docs    string
		allowed bool
		codes   []string
		unknown bool
	}{
		{
			name: "same priority, different actions",
			docs: `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: a-allow}
spec:
  tier: Admin
  priority: 7
  subject: {namespaces: {}}
  ingress: [{action: Accept, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: b-deny}
spec:
  tier: Admin
  priority: 7
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`,
			allowed: true,
			codes:   []string{"POLICY_SAME_PRIORITY"},
		},
		{
			name: "domain names cannot be evaluated",
			docs: `apiVersion: policy.networking.k8s.io/v1beta1
kind: ClusterNetworkPolicy
metadata: {name: egress}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: web}}}
  egress:
  - {name: allow-api, action: Accept, to: [{domainNames: ["api.example.com"]}]}
  - {name: deny-rest, action: Deny, to: [{networks: [0.0.0.0/0]}]}`,
			codes:   []string{"POLICY_ADMIN_DENY", "POLICY_DOMAIN_UNKNOWN"},
			unknown: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clusterFrom(t, shopBase, tc.docs)
			d := Evaluate(m, flow(m, "web/frontend", "api/backend", 8080, ""))
			if d.Allowed != tc.allowed || strings.Join(codes(d), ",") != strings.Join(tc.codes, ",") || (len(d.Unknown) > 0) != tc.unknown {
				t.Errorf("allowed %v codes %v unknown %v\n%s", d.Allowed, codes(d), d.Unknown, dumpFindings(d))
			}
		})
	}
}

// TestPeers covers the ends that are not plain pods: outside addresses and hostNetwork pods.
func TestPeers(t *testing.T) {
	policies := npHead + `metadata: {name: backend, namespace: api}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 203.0.113.0/24}}, {ipBlock: {cidr: 10.0.0.5/32}}]}]
---
` + npHead + `metadata: {name: frontend, namespace: web}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {}, namespaceSelector: {}}]}]`
	cases := []struct {
		name     string
		from, to string
		allowed  bool
		first    string
	}{
		{name: "outside address in the ipBlock", from: "203.0.113.9", to: "api/backend", allowed: true},
		{name: "outside address not in it", from: "198.51.100.1", to: "api/backend", first: "POLICY_INGRESS_DENY"},
		{name: "hostNetwork source is its node IP", from: "web/agent", to: "api/backend", allowed: true},
		{name: "hostNetwork destination is never isolated", from: "api/backend", to: "web/agent", allowed: true},
		{name: "egress by selector misses a hostNetwork destination", from: "web/frontend", to: "web/agent", first: "POLICY_HOSTNETWORK_PEER"},
		{name: "a bare pod IP is the pod", from: "10.244.1.10", to: "10.244.2.20", first: "POLICY_INGRESS_DENY"},
	}
	m := clusterFrom(t, shopBase, policies)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(m, flow(m, tc.from, tc.to, 8080, ""))
			if d.Allowed != tc.allowed {
				t.Fatalf("allowed = %v\n%s", d.Allowed, describeDecision(d))
			}
			if tc.first != "" && (len(d.Findings) == 0 || string(d.Findings[0].Code) != tc.first) {
				t.Errorf("codes = %v, want %s first", codes(d), tc.first)
			}
		})
	}
}

// TestDenyNamesEveryIsolatingPolicy: the deny names each policy that isolates the pod.
func TestDenyNamesEveryIsolatingPolicy(t *testing.T) {
	m := clusterFrom(t, shopBase, npHead+`metadata: {name: deny, namespace: api}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
`+npHead+`metadata: {name: allow-gateway, namespace: api}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}}]}]`)
	d := Evaluate(m, flow(m, "web/frontend", "api/backend", 8080, ""))
	f := d.Findings[len(d.Findings)-1]
	if want := "2 NetworkPolicies of namespace api (allow-gateway, deny) select pod api/backend"; f.Code != "POLICY_INGRESS_DENY" || !strings.Contains(f.Message, want) {
		t.Errorf("%s: %q lacks %q", f.Code, f.Message, want)
	}
}
