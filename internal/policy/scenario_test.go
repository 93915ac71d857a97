package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"reach/internal/model"
)

// objects is the state of a scenario cluster: raw JSON documents by kind/namespace/name, so steps
// can patch them the way the upstream tests mutate live objects.
type objects map[string]map[string]any

func objKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (o objects) put(raw json.RawMessage) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	kind, _ := doc["kind"].(string)
	meta, _ := doc["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	if kind == "" || name == "" {
		return fmt.Errorf("document without kind or name: %s", raw)
	}
	o[objKey(kind, ns, name)] = doc
	return nil
}

func (o objects) clone() objects {
	out := objects{}
	for k, v := range o {
		b, _ := json.Marshal(v)
		var doc map[string]any
		_ = json.Unmarshal(b, &doc)
		out[k] = doc
	}
	return out
}

// cluster decodes every document into its typed object and indexes the model.
func (o objects) cluster() (*model.Cluster, error) {
	c := model.New()
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		obj, err := decode(o[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if _, err := c.Add(obj, model.Origin{}); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	c.Index()
	return c, nil
}

func decode(doc map[string]any) (runtime.Object, error) {
	var obj runtime.Object
	switch doc["kind"] {
	case "Namespace":
		obj = &corev1.Namespace{}
	case "Pod":
		obj = &corev1.Pod{}
	case "Node":
		obj = &corev1.Node{}
	case "Service":
		obj = &corev1.Service{}
	case "DaemonSet":
		obj = &appsv1.DaemonSet{}
	case "NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "ClusterNetworkPolicy":
		obj = &cnpv1beta1.ClusterNetworkPolicy{}
	case "AdminNetworkPolicy":
		obj = &anpv1alpha1.AdminNetworkPolicy{}
	case "BaselineAdminNetworkPolicy":
		obj = &anpv1alpha1.BaselineAdminNetworkPolicy{}
	default:
		return nil, fmt.Errorf("kind %v not supported by the scenarios", doc["kind"])
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// op is one mutation of a scenario step, mirroring what the upstream test did to the live cluster.
type op struct {
	// Create adds or replaces whole objects.
	Create []json.RawMessage `json:"create,omitempty"`
	// Delete removes objects named kind/namespace/name (namespace empty for cluster-scoped);
	// "NetworkPolicy/*" removes them all.
	Delete []string `json:"delete,omitempty"`
	// Label merges labels into objects named kind/namespace/name.
	Label map[string]map[string]string `json:"label,omitempty"`
	// Unlabel removes label keys from objects named kind/namespace/name.
	Unlabel map[string][]string `json:"unlabel,omitempty"`
	// Set writes value at a dotted path (numbers index lists) of an object.
	Set []setOp `json:"set,omitempty"`
	// Swap exchanges two entries of a list.
	Swap []swapOp `json:"swap,omitempty"`
	// Insert puts a value into a list at an index.
	Insert []insertOp `json:"insert,omitempty"`
}

type insertOp struct {
	Object string          `json:"object"`
	Path   string          `json:"path"`
	Index  int             `json:"index"`
	Value  json.RawMessage `json:"value"`
}

type setOp struct {
	Object string          `json:"object"`
	Path   string          `json:"path"`
	Value  json.RawMessage `json:"value"`
}

type swapOp struct {
	Object string `json:"object"`
	Path   string `json:"path"`
	I      int    `json:"i"`
	J      int    `json:"j"`
}

func (o objects) apply(s op) error {
	for _, raw := range s.Create {
		if err := o.put(raw); err != nil {
			return err
		}
	}
	for _, d := range s.Delete {
		if d == "NetworkPolicy/*" {
			for k := range o {
				if strings.HasPrefix(k, "NetworkPolicy/") {
					delete(o, k)
				}
			}
			continue
		}
		if _, ok := o[d]; !ok {
			return fmt.Errorf("delete %s: no such object", d)
		}
		delete(o, d)
	}
	for name, lbls := range s.Label {
		doc, ok := o[name]
		if !ok {
			return fmt.Errorf("label %s: no such object", name)
		}
		meta := doc["metadata"].(map[string]any)
		l, _ := meta["labels"].(map[string]any)
		if l == nil {
			l = map[string]any{}
		}
		for k, v := range lbls {
			l[k] = v
		}
		meta["labels"] = l
	}
	for name, keys := range s.Unlabel {
		doc, ok := o[name]
		if !ok {
			return fmt.Errorf("unlabel %s: no such object", name)
		}
		l, _ := doc["metadata"].(map[string]any)["labels"].(map[string]any)
		for _, k := range keys {
			delete(l, k)
		}
	}
	for _, st := range s.Set {
		if err := o.set(st); err != nil {
			return err
		}
	}
	for _, sw := range s.Swap {
		if err := o.swap(sw); err != nil {
			return err
		}
	}
	for _, in := range s.Insert {
		if err := o.insert(in); err != nil {
			return err
		}
	}
	return nil
}

func (o objects) insert(s insertOp) error {
	doc, ok := o[s.Object]
	if !ok {
		return fmt.Errorf("insert %s: no such object", s.Object)
	}
	var v any
	if err := json.Unmarshal(s.Value, &v); err != nil {
		return err
	}
	parts := strings.Split(s.Path, ".")
	parent, err := walk(doc, parts[:len(parts)-1])
	if err != nil {
		return err
	}
	m, ok := parent.(map[string]any)
	if !ok {
		return fmt.Errorf("insert %s %s: parent is not an object", s.Object, s.Path)
	}
	list, _ := m[parts[len(parts)-1]].([]any)
	if s.Index > len(list) {
		return fmt.Errorf("insert %s %s: bad index", s.Object, s.Path)
	}
	out := append([]any{}, list[:s.Index]...)
	out = append(out, v)
	m[parts[len(parts)-1]] = append(out, list[s.Index:]...)
	return nil
}

// loadDocs reads a multi-document YAML file into objects.
func (o objects) loadDocs(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, doc := range strings.Split("\n"+string(b), "\n---") {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if string(j) == "null" {
			continue
		}
		if err := o.put(j); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

func (o objects) set(s setOp) error {
	doc, ok := o[s.Object]
	if !ok {
		return fmt.Errorf("set %s: no such object", s.Object)
	}
	var v any
	if err := json.Unmarshal(s.Value, &v); err != nil {
		return err
	}
	parts := strings.Split(s.Path, ".")
	parent, err := walk(doc, parts[:len(parts)-1])
	if err != nil {
		return fmt.Errorf("set %s %s: %w", s.Object, s.Path, err)
	}
	last := parts[len(parts)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i >= len(p) {
			return fmt.Errorf("set %s %s: bad index", s.Object, s.Path)
		}
		p[i] = v
	}
	return nil
}

func (o objects) swap(s swapOp) error {
	doc, ok := o[s.Object]
	if !ok {
		return fmt.Errorf("swap %s: no such object", s.Object)
	}
	list, err := walk(doc, strings.Split(s.Path, "."))
	if err != nil {
		return err
	}
	l, ok := list.([]any)
	if !ok || s.I >= len(l) || s.J >= len(l) {
		return fmt.Errorf("swap %s %s: not a list or bad index", s.Object, s.Path)
	}
	l[s.I], l[s.J] = l[s.J], l[s.I]
	return nil
}

func walk(v any, path []string) (any, error) {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil, fmt.Errorf("bad index %q", p)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("cannot walk into %q", p)
		}
	}
	return v, nil
}

// loadYAML reads a scenario file into v.
func loadYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.UnmarshalStrict(b, v)
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// mustJSON builds a raw document from a Go value, for topologies built in code.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
