package testlab

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	corev1 "k8s.io/api/core/v1"
)

// prepare returns a copy of src ready to create: metadata the server sets removed,
// finalizers as createFinalizers has them, the namespace settled by the resource's
// scope, and UIDs pointing at live objects.
func (a *applier) prepare(src *unstructured.Unstructured, m *meta.RESTMapping) *unstructured.Unstructured {
	obj := src.DeepCopy()
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation",
		"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	createFinalizers(obj, terminating(src))
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		obj.SetNamespace(nsOrDefault(obj.GetNamespace()))
	} else {
		obj.SetNamespace("")
	}
	a.rewriteOwners(obj)
	gk := m.GroupVersionKind.GroupKind()
	switch {
	case gk.Group == "" && gk.Kind == "Pod":
		unstructured.RemoveNestedField(obj.Object, "spec", "ephemeralContainers")
	case gk.Group == "" && gk.Kind == "Event":
		a.rewriteRefs(obj.Object, "involvedObject")
		a.rewriteRefs(obj.Object, "related")
	case gk.Group == "events.k8s.io" && gk.Kind == "Event":
		a.rewriteRefs(obj.Object, "regarding")
		a.rewriteRefs(obj.Object, "related")
	case gk.Group == "discovery.k8s.io" && gk.Kind == "EndpointSlice":
		a.rewriteRefs(obj.Object, "endpoints", "*", "targetRef")
	case gk.Group == "" && gk.Kind == "Endpoints":
		a.rewriteRefs(obj.Object, "subsets", "*", "addresses", "*", "targetRef")
		a.rewriteRefs(obj.Object, "subsets", "*", "notReadyAddresses", "*", "targetRef")
	}
	return obj
}

// liveUID finds the live UID of a scenario object by its old UID, else by its name.
func (a *applier) liveUID(old types.UID, apiVersion, kind, namespace, name string) (types.UID, bool) {
	if uid, ok := a.newUIDs[old]; ok && old != "" {
		return uid, true
	}
	for _, k := range ownerKeys(apiVersion, kind, name, namespace) {
		if uid, ok := a.created[k]; ok {
			return uid, true
		}
	}
	return "", false
}

// rewriteOwners points owner references at the live owners and drops those whose
// owner is not in the scenario, which the garbage collector would otherwise act on by
// deleting the dependent.
func (a *applier) rewriteOwners(obj *unstructured.Unstructured) {
	refs := obj.GetOwnerReferences()
	if len(refs) == 0 {
		return
	}
	kept := refs[:0]
	for _, r := range refs {
		if uid, ok := a.liveUID(r.UID, r.APIVersion, r.Kind, obj.GetNamespace(), r.Name); ok {
			r.UID = uid
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "ownerReferences")
		return
	}
	obj.SetOwnerReferences(kept)
}

// rewriteRefs rewrites the uid of every object reference at path; "*" steps into
// each element of a list. References to objects outside the scenario keep their UID.
func (a *applier) rewriteRefs(obj map[string]any, path ...string) {
	if len(path) == 0 {
		ns, _ := obj["namespace"].(string)
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		name, _ := obj["name"].(string)
		old, _ := obj["uid"].(string)
		if uid, ok := a.liveUID(types.UID(old), apiVersion, kind, ns, name); ok {
			obj["uid"] = string(uid)
		}
		return
	}
	switch next := obj[path[0]].(type) {
	case map[string]any:
		a.rewriteRefs(next, path[1:]...)
	case []any:
		if len(path) < 2 || path[1] != "*" {
			return
		}
		for _, el := range next {
			if m, ok := el.(map[string]any); ok {
				a.rewriteRefs(m, path[2:]...)
			}
		}
	}
}

// ensureNamespaces creates the namespaces objects live in that the scenario does
// not itself define (those are created in order, with their labels).
func (a *applier) ensureNamespaces(ctx context.Context, objs []*unstructured.Unstructured) error {
	defined := map[string]bool{}
	var needed []string
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "" {
			defined[o.GetName()] = true
		} else if ns := o.GetNamespace(); ns != "" {
			needed = append(needed, ns)
		}
	}
	slices.Sort(needed)
	for _, ns := range slices.Compact(needed) {
		if defined[ns] {
			continue
		}
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		_, err := a.l.Clientset.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	return nil
}
