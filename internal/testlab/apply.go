package testlab

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"
)

// Apply creates a scenario's objects the way a running cluster would hold them:
// owners before dependents with owner references pointing at the new UIDs, statuses
// written through the status subresource, EndpointSlices the controller makes left to
// the controller. Objects the files show as being deleted (metadata.deletionTimestamp
// set) are created with HoldFinalizer added to their own finalizers, given their
// status, and deleted once everything is in place, so they stay terminating. It then
// waits until the controller's slices and the pod statuses have settled.
func (l *Lab) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	a := newApplier(l, objs)
	if err := a.ensureNamespaces(ctx, objs); err != nil {
		return err
	}
	for _, o := range applyOrder(objs) {
		if err := a.apply(ctx, o); err != nil {
			return err
		}
	}
	if len(a.doomed) > 0 {
		// The controller makes no new slice for a Service being deleted or in a
		// terminating namespace: let it make them all first, as it had in the cluster
		// the files come from.
		if err := l.settle(ctx, a.pods); err != nil {
			return err
		}
		if err := a.deleteTerminating(ctx); err != nil {
			return err
		}
	}
	return l.settle(ctx, a.pods)
}

// applier holds what one Apply learns as it goes.
type applier struct {
	l        *Lab
	disc     discovery.CachedDiscoveryInterfaceWithContext
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	newUIDs  map[types.UID]types.UID       // scenario UID -> live UID
	created  map[objKey]types.UID          // live UID by key
	mirrored map[types.NamespacedName]bool // Endpoints the scenario holds
	pods     map[types.NamespacedName]podWant
	doomed   []doomed // to delete once all is created, in creation order
}

func newApplier(l *Lab, objs []*unstructured.Unstructured) *applier {
	disc := memory.NewMemCacheClientWithContext(l.Clientset.Discovery())
	a := &applier{
		l:        l,
		disc:     disc,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapperWithContext(disc),
		newUIDs:  map[types.UID]types.UID{},
		created:  map[objKey]types.UID{},
		mirrored: map[types.NamespacedName]bool{},
		pods:     map[types.NamespacedName]podWant{},
	}
	for _, o := range objs {
		if o.GetKind() == "Endpoints" && o.GroupVersionKind().Group == "" {
			a.mirrored[types.NamespacedName{Namespace: nsOrDefault(o.GetNamespace()), Name: o.GetName()}] = true
		}
	}
	return a
}

func (a *applier) apply(ctx context.Context, src *unstructured.Unstructured) error {
	if a.skip(src) {
		return nil
	}
	gvk := src.GroupVersionKind()
	m, err := a.mapping(ctx, gvk)
	if err != nil {
		return err
	}
	obj := a.prepare(src, m)
	ri := a.resource(m, obj.GetNamespace())
	live, err := ri.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		live, err = a.updateExisting(ctx, ri, obj)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", describe(src), err)
	}
	a.record(src, live)
	switch {
	case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
		if err := a.l.waitEstablished(ctx, live.GetName()); err != nil {
			return err
		}
		a.mapper.ResetWithContext(ctx)
	case gvk.Group == "" && gvk.Kind == "Pod":
		if err := a.addEphemeralContainers(ctx, ri, src, live); err != nil {
			return err
		}
	}
	if err := a.writeStatus(ctx, ri, m, src, live); err != nil {
		return err
	}
	if terminating(src) {
		a.doomed = append(a.doomed, doomed{src: src, live: live, ri: ri})
	}
	return nil
}

// skip leaves out objects the lab must not hold as they are: slices a controller of
// the lab makes from other objects, and aggregated APIs whose backing service does not
// run here (their failing discovery would stall the garbage collector).
func (a *applier) skip(o *unstructured.Unstructured) bool {
	gk := o.GroupVersionKind().GroupKind()
	switch {
	case gk.Group == "apiregistration.k8s.io" && gk.Kind == "APIService":
		svc, _, _ := unstructured.NestedMap(o.Object, "spec", "service")
		return svc != nil
	case gk.Group != "discovery.k8s.io" || gk.Kind != "EndpointSlice":
		return false
	}
	switch o.GetLabels()[managedByLabel] {
	case sliceController:
		return true
	case "endpointslicemirroring-controller.k8s.io":
		svc := types.NamespacedName{Namespace: nsOrDefault(o.GetNamespace()), Name: o.GetLabels()[discoveryv1.LabelServiceName]}
		return a.mirrored[svc]
	}
	return false
}

func (a *applier) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.ResetWithContext(ctx)
		m, err = a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("find the resource for %s: %w", gvk, err)
	}
	return m, nil
}

func (a *applier) resource(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.l.Dynamic.Resource(m.Resource).Namespace(ns)
	}
	return a.l.Dynamic.Resource(m.Resource)
}

// updateExisting handles objects the cluster starts with (namespaces, the kubernetes
// Service, bootstrap RBAC, default service accounts): namespaces get the scenario's
// labels and annotations, the lab's own CRDs stay, anything else takes the
// scenario's content.
func (a *applier) updateExisting(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	cur, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	switch obj.GetKind() {
	case "CustomResourceDefinition":
		return cur, nil
	case "Namespace":
		cur.SetLabels(merged(cur.GetLabels(), obj.GetLabels()))
		cur.SetAnnotations(merged(cur.GetAnnotations(), obj.GetAnnotations()))
		if fs := obj.GetFinalizers(); len(fs) > 0 {
			cur.SetFinalizers(slices.Compact(slices.Sorted(slices.Values(append(cur.GetFinalizers(), fs...)))))
		}
		return ri.Update(ctx, cur, metav1.UpdateOptions{})
	}
	obj = obj.DeepCopy()
	obj.SetResourceVersion(cur.GetResourceVersion())
	return ri.Update(ctx, obj, metav1.UpdateOptions{})
}

func (a *applier) record(src, live *unstructured.Unstructured) {
	if uid := src.GetUID(); uid != "" {
		a.newUIDs[uid] = live.GetUID()
	}
	a.created[keyOf(live)] = live.GetUID()
}

// writeStatus writes the scenario's status over what the server set at create,
// keeping server fields the scenario leaves out (a pod's qosClass is immutable).
func (a *applier) writeStatus(ctx context.Context, ri dynamic.ResourceInterface, m *meta.RESTMapping, src, live *unstructured.Unstructured) error {
	status, ok := src.Object["status"].(map[string]any)
	// A namespace's phase and a CRD's conditions belong to the lab's own apiserver.
	if !ok || len(status) == 0 || src.GetKind() == "Namespace" || src.GetKind() == "CustomResourceDefinition" {
		return nil
	}
	has, err := a.hasStatus(ctx, m.Resource)
	if err != nil || !has {
		return err
	}
	cur := live
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			var err error
			if cur, err = ri.Get(ctx, live.GetName(), metav1.GetOptions{}); err != nil {
				return err
			}
		}
		next, _ := cur.Object["status"].(map[string]any)
		next = merged(next, status)
		cur.Object["status"] = next
		_, err := ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		cur = nil
		return err
	})
	if err != nil {
		return fmt.Errorf("write status of %s: %w", describe(src), err)
	}
	if m.Resource.Group == "" && m.Resource.Resource == "pods" {
		ip, _, _ := unstructured.NestedString(status, "podIP")
		phase, _, _ := unstructured.NestedString(status, "phase")
		if phase == "" {
			phase = "Pending"
		}
		a.pods[types.NamespacedName{Namespace: live.GetNamespace(), Name: live.GetName()}] = podWant{podIP: ip, phase: corev1.PodPhase(phase)}
	}
	return nil
}

// hasStatus reports whether the resource has a status subresource.
func (a *applier) hasStatus(ctx context.Context, gvr schema.GroupVersionResource) (bool, error) {
	list, err := a.disc.ServerResourcesForGroupVersionWithContext(ctx, gvr.GroupVersion().String())
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", gvr.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource+"/status" {
			return true, nil
		}
	}
	return false, nil
}

// addEphemeralContainers sets what prepare took off the pod: they cannot be set at
// create, only through their subresource.
func (a *applier) addEphemeralContainers(ctx context.Context, ri dynamic.ResourceInterface, src, live *unstructured.Unstructured) error {
	ecs, ok, _ := unstructured.NestedSlice(src.Object, "spec", "ephemeralContainers")
	if !ok || len(ecs) == 0 {
		return nil
	}
	if err := unstructured.SetNestedSlice(live.Object, ecs, "spec", "ephemeralContainers"); err != nil {
		return fmt.Errorf("set ephemeral containers of %s: %w", describe(src), err)
	}
	upd, err := ri.Update(ctx, live, metav1.UpdateOptions{}, "ephemeralcontainers")
	if err != nil {
		return fmt.Errorf("add ephemeral containers to %s: %w", describe(src), err)
	}
	live.Object = upd.Object
	return nil
}

func merged[V any](base, over map[string]V) map[string]V {
	out := make(map[string]V, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func describe(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), ns, o.GetName())
	}
	return fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}
