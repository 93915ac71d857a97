package testlab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// LoadObjects reads cluster objects from YAML and JSON files (multi-document, and
// kind: List or typed lists with items), or from directories searched recursively
// for *.yaml, *.yml and *.json in lexical order. A scenario's own files
// (scenario.yaml, report*.json) are not cluster objects and are skipped.
func LoadObjects(paths ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, p := range paths {
		files, err := objectFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			objs, err := loadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func objectFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load objects: %w", err)
	}
	if !fi.IsDir() {
		if skipFile(filepath.Base(path)) {
			return nil, nil
		}
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || skipFile(d.Name()) {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	return files, nil // WalkDir visits in lexical order
}

func skipFile(name string) bool {
	return name == "scenario.yaml" || (strings.HasPrefix(name, "report") && strings.HasSuffix(name, ".json"))
}

func loadFile(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load objects: %w", err)
	}
	docs, err := splitDocuments(data, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []*unstructured.Unstructured
	for i, doc := range docs {
		objs, err := decodeDocument(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, i+1, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// splitDocuments returns each document of a file as JSON.
func splitDocuments(data []byte, isJSON bool) ([][]byte, error) {
	var docs [][]byte
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				return docs, nil
			} else if err != nil {
				return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
			}
			docs = append(docs, raw)
		}
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		docs = append(docs, j)
	}
}

// decodeDocument turns one JSON document into objects: none for an empty document,
// the items of a list, or the object itself.
func decodeDocument(doc []byte) ([]*unstructured.Unstructured, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
		return nil, nil
	}
	var m map[string]any
	if err := utiljson.Unmarshal(doc, &m); err != nil { // whole numbers become int64, as unstructured wants
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	items, isList := m["items"].([]any)
	if !isList && strings.HasSuffix(kind, "List") && m["items"] == nil {
		return nil, nil // an empty list prints items: null
	}
	if !isList {
		if kind == "" || apiVersion == "" {
			return nil, fmt.Errorf("object has no kind or apiVersion")
		}
		return []*unstructured.Unstructured{{Object: m}}, nil
	}
	out := make([]*unstructured.Unstructured, 0, len(items))
	for i, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("list item %d is not an object", i)
		}
		// Typed lists (PodList from cluster-info dump) leave kind and apiVersion off items.
		if kind != "List" {
			if _, ok := obj["kind"]; !ok {
				obj["kind"] = strings.TrimSuffix(kind, "List")
			}
			if _, ok := obj["apiVersion"]; !ok {
				obj["apiVersion"] = apiVersion
			}
		}
		if k, _ := obj["kind"].(string); k == "" {
			return nil, fmt.Errorf("list item %d has no kind", i)
		}
		if v, _ := obj["apiVersion"].(string); v == "" {
			return nil, fmt.Errorf("list item %d has no apiVersion", i)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}
