package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodAndBad = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Service
metadata:
  name: cart
  namespace: shop
spec:
  selector: {app: cart}
  ports:
  - port: 8080
    targetPort: http
---
apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: shop
  labels: [not, a, map
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: shop
data:
  password: c2VjcmV0
---
apiVersion: v1
items:
- apiVersion: v1
  kind: Pod
  metadata:
    name: cart-1
    namespace: shop
    labels: {app: cart}
  status:
    podIP: 10.244.0.5
- kind: Pod
  metadata:
    namespace: shop
kind: List
`

func TestFilesKeepsGoodDocumentsAndNamesBadOnes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snap.yaml")
	if err := os.WriteFile(path, []byte(goodAndBad), 0o644); err != nil {
		t.Fatal(err)
	}
	m, bad, err := Files([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Service("shop", "cart") == nil || m.Pod("shop", "cart-1") == nil || m.Namespaces["shop"] == nil {
		t.Fatalf("good documents not loaded: services %d pods %d", len(m.Services), len(m.Pods))
	}
	if len(bad) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(bad), bad)
	}
	if bad[0].File != path || bad[0].Line != 21 || bad[0].Doc != 3 {
		t.Errorf("first error at %s:%d doc %d, want %s:21 doc 3: %v", bad[0].File, bad[0].Line, bad[0].Doc, path, bad[0])
	}
	if !strings.Contains(bad[1].Error(), "item 1") || bad[1].Line != 42 {
		t.Errorf("second error %q at line %d, want item 1 at line 42", bad[1], bad[1].Line)
	}
	if o := m.Origin("Pod", "shop", "cart-1"); o.Line != 34 {
		t.Errorf("cart-1 origin line %d, want 34", o.Line)
	}
	for _, k := range m.Coverage.Kinds() {
		if k == "Secret" {
			t.Error("a Secret was kept")
		}
	}
}

func TestFilesJSONStreamAndTypedList(t *testing.T) {
	dir := t.TempDir()
	// the layout of kubectl cluster-info dump: typed lists whose items carry no kind
	pods := `{
  "kind": "PodList",
  "apiVersion": "v1",
  "items": [
    {"metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}}, "status": {"phase": "Running"}}
  ]
}
{"kind": "ServiceList", "apiVersion": "v1", "items": [{"metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}}]}
`
	if err := os.MkdirAll(filepath.Join(dir, "shop"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shop", "pods.json"), []byte(pods), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shop", "logs.txt"), []byte("not an object"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{\n  \"kind\": \"Pod\",\n  \"apiVersion\": \"v1\"\n  oops\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, bad, err := Files([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pod("shop", "web-1") == nil || m.Service("shop", "web") == nil {
		t.Fatalf("typed lists not loaded: pods %d services %d", len(m.Pods), len(m.Services))
	}
	if len(bad) != 1 || bad[0].Line != 4 || !strings.HasSuffix(bad[0].File, "bad.json") {
		t.Fatalf("want one error at bad.json:4, got %v", bad)
	}
}

func TestFilesStdin(t *testing.T) {
	m, bad, err := Files([]string{"-"}, strings.NewReader(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}`))
	if err != nil || len(bad) != 0 || m.Namespaces["a"] == nil {
		t.Fatalf("stdin: err %v bad %v namespaces %d", err, bad, len(m.Namespaces))
	}
}

func TestFilesMissingPath(t *testing.T) {
	if _, _, err := Files([]string{"/nonexistent/snap.yaml"}, nil); err == nil {
		t.Fatal("want an error for a missing path")
	}
}

// An empty typed list says the snapshot holds every object of its kind, and there are
// none; an empty kind: List says nothing about any kind.
func TestFilesEmptyTypedListCoversItsKind(t *testing.T) {
	dir := t.TempDir()
	data := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems: []\n---\napiVersion: v1\nkind: List\nitems: []\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\n"
	if err := os.WriteFile(filepath.Join(dir, "snap.yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	m, bad, err := Files([]string{dir}, nil)
	if err != nil || len(bad) != 0 {
		t.Fatalf("err %v bad %v", err, bad)
	}
	if ok, why := m.Coverage.Covered("NetworkPolicy", "shop"); !ok {
		t.Errorf("NetworkPolicy in shop not covered: %s", why)
	}
	if ok, _ := m.Coverage.Covered("Service", "shop"); ok {
		t.Error("Service covered by an empty kind: List")
	}
}
