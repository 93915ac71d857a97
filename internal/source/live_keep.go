package source

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"reach/internal/model"
)

type markOp int

const (
	opListed markOp = iota
	opDenied
	opAbsent
)

// mark is one fact for the model's Coverage: a whole list made, a request forbidden
// (text is the permission lacked), or an object asked for by name and not found (text is its name).
type mark struct {
	op       markOp
	kind, ns string
	text     string
}

// keep stores objects of one kind. The same object read by two requests is kept once,
// the newer copy winning, so the model does not depend on which request finished first.
func (f *fetcher) keep(kind string, objs []runtime.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, obj := range objs {
		m, err := meta.Accessor(obj)
		if err != nil {
			continue
		}
		m.SetManagedFields(nil) // the largest part of most objects, read by no check
		k := model.ObjKey{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}
		if old, ok := f.objs[k]; ok && !newer(m, old) {
			continue
		}
		f.objs[k] = obj
	}
}

func (f *fetcher) note(m mark) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks[m] = true
}

// has says whether a mark of op for kind in ns was recorded.
func (f *fetcher) has(op markOp, kind, ns string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for m := range f.marks {
		if m.op == op && m.kind == kind && m.ns == ns {
			return true
		}
	}
	return false
}

// newer says whether m has a later resourceVersion than old.
func newer(m metav1.Object, old runtime.Object) bool {
	o, err := meta.Accessor(old)
	if err != nil {
		return true
	}
	a, errA := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
	b, errB := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	if errA != nil || errB != nil {
		return m.GetResourceVersion() > o.GetResourceVersion()
	}
	return a > b
}

// build files everything kept into a new model, in a fixed order.
func (f *fetcher) build(now time.Time) (*model.Cluster, error) {
	c := model.New()
	c.Coverage.Snapshot = false
	c.Now = now
	keys := make([]model.ObjKey, 0, len(f.objs))
	for k := range f.objs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b model.ObjKey) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, k := range keys {
		if _, err := c.Add(f.objs[k], model.Origin{}); err != nil {
			return nil, fmt.Errorf("add %s %s: %w", k.Kind, model.Key{Namespace: k.Namespace, Name: k.Name}, err)
		}
	}
	for _, m := range f.sortedMarks() {
		switch m.op {
		case opListed:
			c.Coverage.MarkListed(m.kind, m.ns)
		case opDenied:
			c.Coverage.MarkDenied(m.kind, m.ns, m.text)
		case opAbsent:
			c.Coverage.MarkAbsent(m.kind, m.ns, m.text)
		}
	}
	c.Index()
	return c, nil
}

// sortedMarks orders the marks so that, of two denials of one kind in one namespace,
// the list ("list pods in shop") is applied last and is the one the model reports.
func (f *fetcher) sortedMarks() []mark {
	out := make([]mark, 0, len(f.marks))
	for m := range f.marks {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b mark) int {
		return cmp.Or(cmp.Compare(a.op, b.op), cmp.Compare(a.kind, b.kind), cmp.Compare(a.ns, b.ns), cmp.Compare(a.text, b.text))
	})
	return out
}

// forbidden is the permission a forbidden request lacked, as the report names it:
// "list networkpolicies in shop: forbidden", "get configmaps/kube-proxy in kube-system: forbidden".
func forbidden(verb, what, ns string) string {
	return verb + " " + what + " " + scopeText(ns) + ": forbidden"
}

func scopeText(ns string) string {
	if ns == "" {
		return "(cluster-wide)"
	}
	return "in " + ns
}

func scopeQuoted(ns string) string {
	if ns == "" {
		return "(cluster-wide)"
	}
	return fmt.Sprintf("in %q", ns)
}
