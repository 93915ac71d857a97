package testlab

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// HoldFinalizer keeps an object the scenario shows as being deleted in the lab: Apply
// creates the object with it, then deletes it, so the apiserver sets
// metadata.deletionTimestamp and nothing in the lab ever removes the object.
const HoldFinalizer = "reach.test/hold"

// defaultPodGracePeriod is what kubectl delete and a pod spec default to.
const defaultPodGracePeriod int64 = 30

// terminating reports whether Apply makes src terminating: it has a deletionTimestamp
// and is not a CustomResourceDefinition (deleting one would delete every custom
// resource of its kind, and the lab's own CRDs serve every scenario).
func terminating(src *unstructured.Unstructured) bool {
	if src.GetDeletionTimestamp() == nil {
		return false
	}
	gk := src.GroupVersionKind().GroupKind()
	return gk.Group != "apiextensions.k8s.io" || gk.Kind != "CustomResourceDefinition"
}

// createFinalizers is what obj is created with: its own finalizers without those of
// the garbage collector (which would orphan or delete the scenario's dependents once
// the object is deleted), plus HoldFinalizer when the object is to be terminating.
func createFinalizers(obj *unstructured.Unstructured, hold bool) {
	fs := slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), func(f string) bool {
		return f == metav1.FinalizerOrphanDependents || f == metav1.FinalizerDeleteDependents || f == HoldFinalizer
	})
	if hold {
		fs = append(fs, HoldFinalizer)
	}
	if len(fs) == 0 {
		unstructured.RemoveNestedField(obj.Object, "metadata", "finalizers")
		return
	}
	obj.SetFinalizers(fs)
}

// doomed is an object Apply created and deletes once everything is in place.
type doomed struct {
	src  *unstructured.Unstructured
	live *unstructured.Unstructured
	ri   dynamic.ResourceInterface
}

// deleteTerminating deletes what the scenario shows as being deleted, in reverse
// order of creation: dependents before owners, namespaces last (nothing can be
// created in a terminating namespace).
func (a *applier) deleteTerminating(ctx context.Context) error {
	for _, d := range slices.Backward(a.doomed) {
		if err := a.deleteHeld(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) deleteHeld(ctx context.Context, d doomed) error {
	gk := d.src.GroupVersionKind().GroupKind()
	opts := metav1.DeleteOptions{
		// Background adds no garbage-collector finalizer: dependents stay as the
		// scenario has them, since their owner is held and so never goes away.
		PropagationPolicy: new(metav1.DeletePropagationBackground),
		Preconditions:     &metav1.Preconditions{UID: new(d.live.GetUID())},
	}
	switch {
	case gk.Group == "" && gk.Kind == "Pod":
		grace := defaultPodGracePeriod
		if g := d.src.GetDeletionGracePeriodSeconds(); g != nil {
			grace = *g
		}
		opts.GracePeriodSeconds = &grace
	case gk.Group == "" && gk.Kind == "Namespace":
		if err := a.finalizeNamespace(ctx, d.live.GetName()); err != nil {
			return fmt.Errorf("finalize %s: %w", describe(d.src), err)
		}
	}
	if err := d.ri.Delete(ctx, d.live.GetName(), opts); err != nil {
		return fmt.Errorf("delete %s: %w", describe(d.src), err)
	}
	return nil
}

// finalizeNamespace takes the namespace controller's finalizer off a namespace, so
// that once deleted it only turns Terminating: the controller deletes the content of
// a namespace only while that finalizer is there, and the scenario's content stays.
func (a *applier) finalizeNamespace(ctx context.Context, name string) error {
	nsc := a.l.Clientset.CoreV1().Namespaces()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ns, err := nsc.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(ns.Spec.Finalizers), func(f corev1.FinalizerName) bool {
			return f == corev1.FinalizerKubernetes
		})
		if len(kept) == len(ns.Spec.Finalizers) {
			return nil
		}
		ns.Spec.Finalizers = kept
		_, err = nsc.Finalize(ctx, ns, metav1.UpdateOptions{})
		return err
	})
}
