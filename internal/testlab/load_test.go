package testlab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadObjects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("b/pods.json", `{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"p1"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":8080}]}]}}]}`)
	write("a.yaml", "---\napiVersion: v1\nkind: Service\nmetadata: {name: s1}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d1}}\n")
	write("scenario.yaml", "command: trace a b\n")
	write("b/report.json", `{"verdict":"blocked"}`)
	write("notes.txt", "not an object")
	bad := write("bad/x.yml", "apiVersion: v1\nkind: ConfigMap\n---\nmetadata: {name: nokind}\n")

	tests := []struct {
		name    string
		paths   []string
		want    []string // kind/name in order
		wantErr string
	}{
		{name: "directory skips scenario files", paths: []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b"), filepath.Join(dir, "scenario.yaml")},
			want: []string{"Service/s1", "Deployment/d1", "Pod/p1"}},
		{name: "missing kind names file and document", paths: []string{bad}, wantErr: "x.yml: document 2"},
		{name: "missing path", paths: []string{filepath.Join(dir, "nope")}, wantErr: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := LoadObjects(tc.paths...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("objects = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("numbers stay integers", func(t *testing.T) {
		objs, err := LoadObjects(filepath.Join(dir, "b"))
		if err != nil {
			t.Fatal(err)
		}
		c := objs[0].Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
		port := c["ports"].([]any)[0].(map[string]any)["containerPort"]
		if _, ok := port.(int64); !ok {
			t.Fatalf("containerPort is %T, want int64", port)
		}
		if objs[0].GetAPIVersion() != "v1" {
			t.Fatalf("typed list item apiVersion = %q", objs[0].GetAPIVersion())
		}
	})
}
