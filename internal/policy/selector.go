package policy

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// requirement is one term of a label selector checked against a label set, with the smallest
// label change that would satisfy it.
type requirement struct {
	text string // as written: team=web, env in (a,b), !legacy
	key  string
	ok   bool
	have string
	has  bool
	// The change that satisfies it: set key=value, or remove key.
	setValue string
	remove   bool
	// anyValue: Exists wants the key with any value.
	anyValue bool
}

// matches reports whether a non-nil selector selects the labels. Invalid operators select nothing,
// as the API server would have refused them.
func matches(sel *metav1.LabelSelector, lbls map[string]string) bool {
	for k, v := range sel.MatchLabels {
		if have, ok := lbls[k]; !ok || have != v {
			return false
		}
	}
	for _, e := range sel.MatchExpressions {
		if !exprMatches(e, lbls) {
			return false
		}
	}
	return true
}

func exprMatches(e metav1.LabelSelectorRequirement, lbls map[string]string) bool {
	have, has := lbls[e.Key]
	switch e.Operator {
	case metav1.LabelSelectorOpIn:
		return has && contains(e.Values, have)
	case metav1.LabelSelectorOpNotIn:
		return !has || !contains(e.Values, have)
	case metav1.LabelSelectorOpExists:
		return has
	case metav1.LabelSelectorOpDoesNotExist:
		return !has
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// requirements checks every term of a selector, matchLabels first (sorted by key), then
// matchExpressions in the order written.
func requirements(sel *metav1.LabelSelector, lbls map[string]string) []requirement {
	var out []requirement
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := sel.MatchLabels[k]
		have, has := lbls[k]
		out = append(out, requirement{text: k + "=" + v, key: k, ok: has && have == v, have: have, has: has, setValue: v})
	}
	for _, e := range sel.MatchExpressions {
		have, has := lbls[e.Key]
		r := requirement{text: exprString(e), key: e.Key, ok: exprMatches(e, lbls), have: have, has: has}
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			if len(e.Values) > 0 {
				r.setValue = e.Values[0]
			}
		case metav1.LabelSelectorOpExists:
			r.anyValue = true
		default:
			r.remove = true
		}
		out = append(out, r)
	}
	return out
}

// failing returns the terms of a selector the labels do not satisfy.
func failing(sel *metav1.LabelSelector, lbls map[string]string) []requirement {
	var out []requirement
	for _, r := range requirements(sel, lbls) {
		if !r.ok {
			out = append(out, r)
		}
	}
	return out
}

func exprString(e metav1.LabelSelectorRequirement) string {
	switch e.Operator {
	case metav1.LabelSelectorOpIn:
		return fmt.Sprintf("%s in (%s)", e.Key, strings.Join(e.Values, ","))
	case metav1.LabelSelectorOpNotIn:
		return fmt.Sprintf("%s notin (%s)", e.Key, strings.Join(e.Values, ","))
	case metav1.LabelSelectorOpExists:
		return e.Key
	case metav1.LabelSelectorOpDoesNotExist:
		return "!" + e.Key
	}
	return fmt.Sprintf("%s %s (%s)", e.Key, e.Operator, strings.Join(e.Values, ","))
}

// selectorString renders a selector the way kubectl writes one; {} selects everything.
func selectorString(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	var parts []string
	for _, r := range requirements(sel, nil) {
		parts = append(parts, r.text)
	}
	if len(parts) == 0 {
		return "{}"
	}
	return strings.Join(parts, ",")
}

// emptySelector says whether a selector selects everything.
func emptySelector(sel *metav1.LabelSelector) bool {
	return sel != nil && len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0
}

// describeFailure says in words why the labels of what (e.g. `namespace "web"`) miss a term.
func (r requirement) describeFailure(what string) string {
	switch {
	case r.remove && r.has:
		return fmt.Sprintf("%s has %s=%s (selector wants %s)", what, r.key, r.have, r.text)
	case !r.has:
		return fmt.Sprintf("%s lacks label %s (selector wants %s)", what, r.key, r.text)
	}
	return fmt.Sprintf("%s has %s=%s (selector wants %s)", what, r.key, r.have, r.text)
}

// change is the label edit that satisfies the term, in words without the object.
func (r requirement) change() string {
	switch {
	case r.remove:
		return fmt.Sprintf("remove label %s", r.key)
	case r.anyValue:
		return fmt.Sprintf("add label %s", r.key)
	case r.has:
		return fmt.Sprintf("change label %s=%s to %s=%s", r.key, r.have, r.key, r.setValue)
	}
	return fmt.Sprintf("add label %s=%s", r.key, r.setValue)
}

// labelFix joins the changes that satisfy every failing term, for one object.
func labelFix(reqs []requirement, object string) string {
	var parts []string
	for _, r := range reqs {
		c := r.change()
		switch {
		case strings.HasPrefix(c, "remove"):
			parts = append(parts, c+" from "+object)
		case strings.HasPrefix(c, "change"):
			parts = append(parts, c+" on "+object)
		default:
			parts = append(parts, c+" to "+object)
		}
	}
	return strings.Join(parts, " and ")
}

// describeAll explains every failing term.
func describeAll(reqs []requirement, what string) string {
	parts := make([]string, len(reqs))
	for i, r := range reqs {
		parts[i] = r.describeFailure(what)
	}
	return strings.Join(parts, "; ")
}
