package testlab

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func crdResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
}

// crdSpec is a CustomResourceDefinition reduced to what the lab needs: the names,
// the scope and the served versions, the last of which is stored.
type crdSpec struct {
	group, kind, plural string
	short               []string
	namespaced          bool
	versions            []string
	approval            string
}

// labCRDs are the custom resources reach reads. Schemas accept anything: the lab holds
// what scenarios say, and validation is the job of reach's own loaders.
func labCRDs() []crdSpec {
	const pol, gw = "policy.networking.k8s.io", "gateway.networking.k8s.io"
	const polPR, gwPR = "https://github.com/kubernetes-sigs/network-policy-api/pull/30", "https://github.com/kubernetes-sigs/gateway-api/pull/2466"
	return []crdSpec{
		{pol, "ClusterNetworkPolicy", "clusternetworkpolicies", []string{"cnp"}, false, []string{"v1alpha2", "v1beta1"}, polPR},
		{pol, "AdminNetworkPolicy", "adminnetworkpolicies", []string{"anp"}, false, []string{"v1alpha1"}, polPR},
		{pol, "BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", []string{"banp"}, false, []string{"v1alpha1"}, polPR},
		{gw, "GatewayClass", "gatewayclasses", []string{"gc"}, false, []string{"v1beta1", "v1"}, gwPR},
		{gw, "Gateway", "gateways", []string{"gtw"}, true, []string{"v1beta1", "v1"}, gwPR},
		{gw, "HTTPRoute", "httproutes", nil, true, []string{"v1beta1", "v1"}, gwPR},
		{gw, "ReferenceGrant", "referencegrants", []string{"refgrant"}, true, []string{"v1beta1", "v1"}, gwPR},
	}
}

func (c crdSpec) object() *unstructured.Unstructured {
	scope := "Cluster"
	if c.namespaced {
		scope = "Namespaced"
	}
	var versions []any
	for i, v := range c.versions {
		versions = append(versions, map[string]any{
			"name":    v,
			"served":  true,
			"storage": i == len(c.versions)-1,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{
				"type":                                 "object",
				"x-kubernetes-preserve-unknown-fields": true,
			}},
			"subresources": map[string]any{"status": map[string]any{}},
		})
	}
	names := map[string]any{
		"kind":     c.kind,
		"listKind": c.kind + "List",
		"plural":   c.plural,
		"singular": strings.ToLower(c.kind),
	}
	if len(c.short) > 0 {
		short := make([]any, len(c.short))
		for i, s := range c.short {
			short[i] = s
		}
		names["shortNames"] = short
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata": map[string]any{
			"name": c.plural + "." + c.group,
			// Groups under k8s.io are protected; the real CRDs carry their approval link.
			"annotations": map[string]any{"api-approved.kubernetes.io": c.approval},
		},
		"spec": map[string]any{
			"group":    c.group,
			"scope":    scope,
			"names":    names,
			"versions": versions,
		},
	}}
}

// installCRDs creates the lab's CRDs and waits until each is established.
func (l *Lab) installCRDs(ctx context.Context) error {
	var names []string
	for _, c := range labCRDs() {
		obj := c.object()
		_, err := l.Dynamic.Resource(crdResource()).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", obj.GetName(), err)
		}
		names = append(names, obj.GetName())
	}
	for _, n := range names {
		if err := l.waitEstablished(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) waitEstablished(ctx context.Context, name string) error {
	return l.waitUntil(ctx, "CRD "+name+" established", startTimeout, func(ctx context.Context) (string, error) {
		crd, err := l.Dynamic.Resource(crdResource()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return "", nil
			}
		}
		return "not established yet", nil
	})
}
