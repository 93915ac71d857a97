package cli

import (
	"strings"
	"testing"
)

// cells reads the table `matrix` prints into cells keyed by the legend names of the classes:
// cells["web app=monitor"]["api app=backend"] is "." or "X".
func cells(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	blocks := strings.Split(strings.TrimSpace(out), "\n\n")
	if len(blocks) != 3 {
		t.Fatalf("want heading, table and legend:\n%s", out)
	}
	legend := map[string]string{}
	for _, line := range strings.Split(blocks[2], "\n") {
		id, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		legend[id] = rest[:strings.LastIndex(rest, " (")]
	}
	rows := strings.Split(blocks[1], "\n")
	cols := strings.Fields(rows[0])
	got := map[string]map[string]string{}
	for _, row := range rows[1:] {
		f := strings.Fields(row)
		if len(f) != len(cols)+1 {
			t.Fatalf("row %q has %d cells, want %d", row, len(f)-1, len(cols))
		}
		src := legend[f[0]]
		got[src] = map[string]string{}
		for j, c := range cols {
			got[src][legend[c]] = f[j+1]
		}
	}
	return got
}

func TestMatrixTable(t *testing.T) {
	out, errOut, code := runCLI(t, "", "matrix", "-A", "-f", "testdata/matrix.yaml", "--port", "8080")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "8080/TCP, 3 pods in 3 source and 3 destination classes\n") {
		t.Errorf("heading:\n%s", out)
	}
	const backend, frontend, monitor = "api app=backend", "web app=*", "web app=monitor"
	want := map[string]map[string]string{
		// default-deny isolates backend; allow-web's rule 0 wants a namespace label web lacks.
		backend:  {backend: "X", frontend: ".", monitor: "."},
		frontend: {backend: "X", frontend: ".", monitor: "."},
		// no-monitor denies every egress of monitor in the Admin tier, over allow-web's rule 1.
		monitor: {backend: "X", frontend: "X", monitor: "X"},
	}
	got := cells(t, out)
	for src, row := range want {
		for dst, mark := range row {
			if got[src][dst] != mark {
				t.Errorf("%s -> %s: %q, want %q\n%s", src, dst, got[src][dst], mark, out)
			}
		}
	}
}

func TestMatrixExplainText(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     []string
	}{
		{
			name: "NetworkPolicy deny names every isolating policy and the failing part",
			from: "web/pod/frontend-1", to: "api/pod/backend-1",
			want: []string{
				"pod web/frontend-1 -> pod api/backend-1 on 8080/TCP\n",
				"egress of the source: allowed (no tier decided: allowed by default)\n",
				"ingress of the destination: denied (decided by the networkpolicy tier, isolated)\n",
				"  * NetworkPolicy api/allow-web [networkpolicy]: isolates, no rule matches\n",
				"  * NetworkPolicy api/default-deny [networkpolicy]: isolates, no rule matches\n",
				"      rule 0 spec.ingress[0] (allow): fails on namespace labels\n",
				`        spec.ingress[0].from[0]: fails on namespace labels: namespace "web" lacks label team (selector wants team=web)` + "\n",
				"        ports: 8080/TCP matches named port http/TCP\n",
				"      rule 1 spec.ingress[1] (allow): fails on pod labels\n",
				"verdict: denied (ingress denied by the networkpolicy tier)\n",
				"smallest fix (POLICY_NAMESPACE_LABEL): add label team=web to namespace web, or select it by its automatic label in NetworkPolicy api/allow-web: `kubernetes.io/metadata.name: web`\n",
				"  error POLICY_INGRESS_DENY: ",
			},
		},
		{
			name: "Admin tier deny overrides an allowing NetworkPolicy",
			from: "web/pod/monitor-1", to: "api/pod/backend-1",
			want: []string{
				"egress of the source: denied (decided by the admin tier)\n",
				`  * ClusterNetworkPolicy no-monitor [admin, priority 10]: denies by rule 0 "deny-all"` + "\n",
				`      rule 0 "deny-all" spec.egress[0] (deny): matches` + "\n",
				"ingress of the destination: allowed (decided by the networkpolicy tier, isolated)\n",
				"  * NetworkPolicy api/allow-web [networkpolicy]: allows by rule 1\n",
				"    NetworkPolicy api/default-deny [networkpolicy]: isolates, no rule matches\n",
				"verdict: denied (egress denied by the admin tier)\n",
				"smallest fix (POLICY_ADMIN_DENY): narrow spec.egress[0] of ClusterNetworkPolicy no-monitor",
			},
		},
		{
			name: "allowed",
			from: "web/pod/frontend-1", to: "web/pod/monitor-1",
			want: []string{
				"ingress of the destination: allowed (no tier decided: allowed by default)\n",
				"verdict: allowed\n",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, format := range []string{"table", "text"} {
				out, errOut, code := runCLI(t, "", "matrix", "-A", "-f", "testdata/matrix.yaml", "--port", "8080",
					"--explain", tt.from+","+tt.to, "-o", format)
				if code != ExitOK {
					t.Fatalf("-o %s: exit %d: %s", format, code, errOut)
				}
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("-o %s: output lacks %q:\n%s", format, w, out)
					}
				}
				if strings.HasPrefix(strings.TrimSpace(out), "{") {
					t.Errorf("-o %s printed JSON", format)
				}
			}
		})
	}
}

func TestMatrixExplainJSON(t *testing.T) {
	out, _, code := runCLI(t, "", "matrix", "-A", "-f", "testdata/matrix.yaml", "--port", "8080",
		"--explain", "web/pod/frontend-1,api/pod/backend-1", "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"allowed": false`) || !strings.Contains(out, `"verdicts"`) {
		t.Errorf("exit %d, want the decision as JSON:\n%s", code, out)
	}
}
