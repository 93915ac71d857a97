package testlab

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, name, uid string, owners ...[3]string) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "namespace": "ns", "uid": uid}
	var refs []any
	for _, o := range owners {
		refs = append(refs, map[string]any{"apiVersion": o[0], "kind": o[1], "name": o[2], "uid": "old-" + o[2]})
	}
	if refs != nil {
		meta["ownerReferences"] = refs
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}}
}

func TestApplyOrder(t *testing.T) {
	tests := []struct {
		name string
		objs []*unstructured.Unstructured
		want string
	}{
		{
			name: "kinds by rank, file order kept within a rank",
			objs: []*unstructured.Unstructured{
				obj("v1", "Event", "e", ""),
				obj("example.com/v1", "Widget", "w", ""),
				obj("networking.k8s.io/v1", "NetworkPolicy", "np", ""),
				obj("v1", "Pod", "p2", ""),
				obj("v1", "Pod", "p1", ""),
				obj("v1", "Service", "s", ""),
				obj("v1", "Namespace", "ns", ""),
			},
			want: "Namespace/ns Service/s Pod/p2 Pod/p1 NetworkPolicy/np Widget/w Event/e",
		},
		{
			name: "owners first, even of a later rank",
			objs: []*unstructured.Unstructured{
				obj("v1", "Pod", "job-pod", "", [3]string{"batch/v1", "Job", "job"}),
				obj("v1", "ConfigMap", "cm", "", [3]string{"example.com/v1", "Widget", "w"}),
				obj("apps/v1", "ReplicaSet", "rs", "old-rs", [3]string{"apps/v1", "Deployment", "d"}),
				obj("v1", "Pod", "rs-pod", "", [3]string{"apps/v1", "ReplicaSet", "rs"}),
				obj("example.com/v1", "Widget", "w", "old-w"),
				obj("batch/v1", "Job", "job", "old-job"),
				obj("apps/v1", "Deployment", "d", "old-d"),
			},
			want: "Deployment/d ReplicaSet/rs Job/job Pod/job-pod Pod/rs-pod Widget/w ConfigMap/cm",
		},
		{
			name: "ownership cycle does not hang",
			objs: []*unstructured.Unstructured{
				obj("v1", "ConfigMap", "a", "old-a", [3]string{"v1", "ConfigMap", "b"}),
				obj("v1", "ConfigMap", "b", "old-b", [3]string{"v1", "ConfigMap", "a"}),
			},
			want: "ConfigMap/b ConfigMap/a",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range applyOrder(tc.objs) {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("order = %s\nwant    %s", g, tc.want)
			}
		})
	}
}
