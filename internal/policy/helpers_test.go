package policy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"reach/internal/model"
)

// shopBase is a small cluster: namespace web (frontend, hostNetwork agent) and namespace api
// (backend serving http=8080/TCP, behind Service backend 10.96.4.7), on node n1 (10.0.0.5).
const shopBase = `
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: webteam}}
---
apiVersion: v1
kind: Namespace
metadata: {name: api}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/os: linux}}
status: {addresses: [{type: InternalIP, address: 10.0.0.5}]}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: web, labels: {app: frontend}}
spec: {nodeName: n1, containers: [{name: c}]}
status: {hostIP: 10.0.0.5, podIP: 10.244.1.10, podIPs: [{ip: 10.244.1.10}, {ip: "fd00::10"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: web, labels: {app: frontend}}
spec: {nodeName: n1, hostNetwork: true, containers: [{name: c}]}
status: {hostIP: 10.0.0.5, podIP: 10.0.0.5, podIPs: [{ip: 10.0.0.5}]}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: api, labels: {app: backend}}
spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {hostIP: 10.0.0.5, podIP: 10.244.2.20, podIPs: [{ip: 10.244.2.20}, {ip: "fd00::20"}]}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: api}
spec: {clusterIP: 10.96.4.7, clusterIPs: [10.96.4.7], selector: {app: backend}, ports: [{port: 80, targetPort: http}]}
`

// clusterFrom builds an indexed cluster from multi-document YAML.
func clusterFrom(t *testing.T, docs ...string) *model.Cluster {
	t.Helper()
	o := objects{}
	for _, d := range docs {
		for _, part := range strings.Split("\n"+d, "\n---") {
			j, err := yaml.YAMLToJSON([]byte(part))
			if err != nil {
				t.Fatal(err)
			}
			if string(j) == "null" {
				continue
			}
			if err := o.put(j); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := o.cluster()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func codes(d Decision) []string {
	var out []string
	for _, f := range d.Findings {
		out = append(out, string(f.Code))
	}
	return out
}

func flow(m *model.Cluster, from, to string, port int32, proto string) Flow {
	get := func(ref string) Peer {
		parts := strings.SplitN(ref, "/", 2)
		if len(parts) == 2 {
			return Peer{Pod: m.Pod(parts[0], parts[1])}
		}
		return Peer{IP: ref}
	}
	if proto == "" {
		proto = "TCP"
	}
	return Flow{From: get(from), To: get(to), Port: port, Protocol: corev1.Protocol(proto)}
}
