package source

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"reach/internal/model"
)

// pageSize is the Limit of every list; large namespaces and cluster-wide lists come in pages.
const pageSize = 500

// fetcher makes the requests of one load and keeps what they return until build files it
// into a model. Its methods are safe to call from concurrent tasks.
type fetcher struct {
	cs  kubernetes.Interface
	dyn dynamic.Interface

	mu    sync.Mutex
	objs  map[model.ObjKey]runtime.Object
	marks map[mark]bool
}

func newFetcher(cs kubernetes.Interface, dyn dynamic.Interface) *fetcher {
	return &fetcher{cs: cs, dyn: dyn, objs: map[model.ObjKey]runtime.Object{}, marks: map[mark]bool{}}
}

// list reads every page of one list and files the result.
// A list with a label or field selector files its objects but does not cover the kind.
func (f *fetcher) list(ctx context.Context, s kindSpec, ns string, o metav1.ListOptions) error {
	items, err := collect(ctx, s, ns, o)
	return f.file(s, ns, o, items, err)
}

// listServed lists the first of specs (versions of one kind) the server serves.
func (f *fetcher) listServed(ctx context.Context, ns string, specs ...kindSpec) error {
	for i, s := range specs {
		items, err := collect(ctx, s, ns, metav1.ListOptions{})
		if apierrors.IsNotFound(err) && i < len(specs)-1 {
			continue
		}
		return f.file(s, ns, metav1.ListOptions{}, items, err)
	}
	return nil
}

// file records what a list returned. Forbidden and undecodable lists leave the kind uncovered
// with the reason; a resource the server does not serve (a CRD not installed) has no objects.
func (f *fetcher) file(s kindSpec, ns string, o metav1.ListOptions, items []runtime.Object, err error) error {
	var bad *decodeError
	switch {
	case err == nil:
	case apierrors.IsForbidden(err):
		f.note(mark{opDenied, s.kind, ns, forbidden("list", s.resource, ns)})
		return nil
	case errors.As(err, &bad):
		f.note(mark{opDenied, s.kind, ns, fmt.Sprintf("list %s %s: %v", s.resource, scopeText(ns), bad.err)})
		return nil
	case apierrors.IsNotFound(err):
		items = nil
	default:
		return fmt.Errorf("list %s %s: %w", s.resource, scopeQuoted(ns), err)
	}
	f.keep(s.kind, items)
	if o.LabelSelector == "" && o.FieldSelector == "" {
		f.note(mark{opListed, s.kind, ns, ""})
	}
	return nil
}

// get reads one object by name.
func (f *fetcher) get(ctx context.Context, s kindSpec, ns, name string) error {
	if s.get == nil {
		return errNoCall("get", s)
	}
	obj, err := s.get(ctx, ns, name)
	switch {
	case err == nil:
		f.keep(s.kind, []runtime.Object{obj})
	case apierrors.IsForbidden(err):
		f.note(mark{opDenied, s.kind, ns, forbidden("get", s.resource+"/"+name, ns)})
	case apierrors.IsNotFound(err):
		f.note(mark{opAbsent, s.kind, ns, name})
	default:
		return fmt.Errorf("get %s/%s %s: %w", s.resource, name, scopeQuoted(ns), err)
	}
	return nil
}

// collect pages through one list and returns its items as the typed objects the model keeps.
func collect(ctx context.Context, s kindSpec, ns string, o metav1.ListOptions) ([]runtime.Object, error) {
	if s.list == nil {
		return nil, errNoCall("list", s)
	}
	o.Limit = pageSize
	var out []runtime.Object
	for {
		list, err := s.list(ctx, ns, o)
		if apierrors.IsResourceExpired(err) && o.Continue != "" {
			// The pages so far came from a snapshot the server no longer keeps; one unpaged
			// list gives a consistent view instead of a mix of two.
			out, o.Limit, o.Continue = nil, 0, ""
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := meta.EachListItem(list, func(item runtime.Object) error {
			obj, err := typedItem(item)
			if obj != nil {
				out = append(out, obj)
			}
			return err
		}); err != nil {
			return nil, err
		}
		acc, err := meta.ListAccessor(list)
		if err != nil {
			return nil, err
		}
		if o.Continue = acc.GetContinue(); o.Continue == "" {
			return out, nil
		}
	}
}

// decodeError is an object the server returned that does not fit the type reach keeps for it.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func typedItem(item runtime.Object) (runtime.Object, error) {
	u, ok := item.(*unstructured.Unstructured)
	if !ok {
		return item, nil
	}
	obj, err := Typed(u)
	if err != nil {
		return nil, &decodeError{err}
	}
	return obj, nil
}
