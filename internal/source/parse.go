package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"reach/internal/model"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML splits on "---" lines so one bad document costs only itself, and keeps each document's first line.
func parseYAML(name string, data []byte) ([]doc, []*LoadError) {
	var docs []doc
	var bad []*LoadError
	lines := bytes.SplitAfter(data, []byte("\n"))
	start, n := 0, 0
	flush := func(end int) {
		chunk := bytes.Join(lines[start:end], nil)
		first := start + 1
		start = end + 1
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			return
		}
		n++
		var node yaml.Node
		if err := yaml.Unmarshal(chunk, &node); err != nil {
			line := first
			msg := err.Error()
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				off, _ := strconv.Atoi(m[1])
				line = first + off - 1
				msg = strings.TrimPrefix(msg, m[0])
			}
			bad = append(bad, &LoadError{File: name, Line: line, Doc: n, Err: errors.New(strings.TrimPrefix(msg, "yaml: "))})
			return
		}
		d, errs := fromNode(name, n, first, &node)
		docs = append(docs, d...)
		bad = append(bad, errs...)
	}
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("---")) && len(bytes.TrimSpace(l[3:])) == 0 {
			flush(i)
		}
	}
	if start < len(lines) {
		flush(len(lines))
	}
	return docs, bad
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// fromNode turns a YAML document into objects, expanding lists; lines are the file's.
func fromNode(name string, n, first int, node *yaml.Node) ([]doc, []*LoadError) {
	root := node
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	value, err := nodeValue(root)
	if err != nil {
		return nil, []*LoadError{{File: name, Line: first + root.Line - 1, Doc: n, Err: err}}
	}
	m, ok := value.(map[string]interface{})
	if !ok {
		return nil, []*LoadError{{File: name, Line: first + root.Line - 1, Doc: n, Err: fmt.Errorf("not an object")}}
	}
	lineOf := func(i int) int {
		if items := mapValue(root, "items"); items != nil && i < len(items.Content) {
			return first + items.Content[i].Line - 1
		}
		return first + root.Line - 1
	}
	return objects(name, n, first+root.Line-1, m, lineOf)
}

// parseJSON reads a stream of JSON values (one object, a List, or several concatenated).
func parseJSON(name string, data []byte) ([]doc, []*LoadError) {
	var docs []doc
	var bad []*LoadError
	dec := json.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		offset := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		line := lineAt(data, offset)
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = lineAt(data, int(se.Offset))
			}
			bad = append(bad, &LoadError{File: name, Line: line, Doc: n, Err: err})
			break
		}
		line = lineAt(data, offset+leadingSpace(raw))
		var value interface{}
		if err := utiljson.Unmarshal(raw, &value); err != nil {
			bad = append(bad, &LoadError{File: name, Line: line, Doc: n, Err: err})
			continue
		}
		if arr, ok := value.([]interface{}); ok {
			value = map[string]interface{}{"kind": "List", "apiVersion": "v1", "items": arr}
		}
		m, ok := value.(map[string]interface{})
		if !ok {
			bad = append(bad, &LoadError{File: name, Line: line, Doc: n, Err: fmt.Errorf("not an object")})
			continue
		}
		d, errs := objects(name, n, line, m, func(int) int { return line })
		docs = append(docs, d...)
		bad = append(bad, errs...)
	}
	return docs, bad
}

func leadingSpace(b []byte) int { return len(b) - len(bytes.TrimLeft(b, " \t\r\n")) }

func lineAt(data []byte, offset int) int {
	if offset > len(data) {
		offset = len(data)
	}
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

// objects expands a List (kubectl's `kind: List` or a typed XList) into its items.
func objects(name string, n, line int, m map[string]interface{}, lineOf func(int) int) ([]doc, []*LoadError) {
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	items, isList := m["items"].([]interface{})
	if !isList && !strings.HasSuffix(kind, "List") {
		u := &unstructured.Unstructured{Object: m}
		if err := checkObject(u); err != nil {
			return nil, []*LoadError{{File: name, Line: line, Doc: n, Err: err}}
		}
		return []doc{{obj: u, from: model.Origin{File: name, Line: line}}}, nil
	}
	var docs []doc
	var bad []*LoadError
	if kind != "List" && strings.HasSuffix(kind, "List") {
		docs = append(docs, doc{listed: strings.TrimSuffix(kind, "List"), from: model.Origin{File: name, Line: line}})
	}
	for i, it := range items {
		im, ok := it.(map[string]interface{})
		if !ok {
			bad = append(bad, &LoadError{File: name, Line: lineOf(i), Doc: n, Err: fmt.Errorf("item %d is not an object", i)})
			continue
		}
		u := &unstructured.Unstructured{Object: im}
		if u.GetKind() == "" && kind != "List" {
			u.SetKind(strings.TrimSuffix(kind, "List"))
		}
		if u.GetAPIVersion() == "" && kind != "List" {
			u.SetAPIVersion(apiVersion)
		}
		if err := checkObject(u); err != nil {
			bad = append(bad, &LoadError{File: name, Line: lineOf(i), Doc: n, Err: fmt.Errorf("item %d: %w", i, err)})
			continue
		}
		docs = append(docs, doc{obj: u, from: model.Origin{File: name, Line: lineOf(i)}})
	}
	return docs, bad
}

func checkObject(u *unstructured.Unstructured) error {
	switch {
	case u.GetKind() == "":
		return fmt.Errorf("object has no kind")
	case u.GetAPIVersion() == "":
		return fmt.Errorf("%s has no apiVersion", u.GetKind())
	case u.GetName() == "":
		return fmt.Errorf("%s has no metadata.name", u.GetKind())
	}
	return nil
}
