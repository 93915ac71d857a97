package source

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"reach/internal/model"
)

// LoadError is one document that could not be read. The rest of the snapshot still loads.
type LoadError struct {
	File string
	Line int
	Doc  int
	Err  error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("%s:%d: document %d: %v", e.File, e.Line, e.Doc, e.Err)
}

// doc is one object as read from a file, before it is typed.
type doc struct {
	obj  *unstructured.Unstructured
	from model.Origin
	// listed names the kind of a typed list (a PodList, ...), which says the snapshot
	// holds every object of that kind, even when it holds none; obj is nil then.
	listed string
}

// Files reads snapshots: files, directories (recursively, including the layout of
// `kubectl cluster-info dump --output-directory`) and "-" for stdin.
// It returns the cluster and every document it could not read; an error only when an input cannot be opened.
func Files(paths []string, stdin io.Reader) (*model.Cluster, []*LoadError, error) {
	c := model.New()
	c.Coverage.Snapshot = true
	var bad []*LoadError
	var docs []doc
	for _, p := range paths {
		names, err := expand(p)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range names {
			data, err := readInput(name, stdin)
			if err != nil {
				return nil, nil, err
			}
			d, errs := parseFile(name, data)
			docs = append(docs, d...)
			bad = append(bad, errs...)
		}
	}
	for _, d := range docs {
		if d.obj == nil {
			c.Coverage.MarkSeen(d.listed, "")
			continue
		}
		obj, err := Typed(d.obj)
		if err != nil {
			bad = append(bad, &LoadError{File: d.from.File, Line: d.from.Line, Err: err})
			continue
		}
		if obj == nil {
			continue
		}
		if _, err := c.Add(obj, d.from); err != nil {
			bad = append(bad, &LoadError{File: d.from.File, Line: d.from.Line, Err: err})
		}
	}
	c.Now = newest(c)
	c.Index()
	return c, bad, nil
}

func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "-" {
		if stdin == nil {
			return nil, fmt.Errorf("read stdin: no standard input")
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return data, nil
}

// expand turns a path into the files to read, sorted, skipping logs and non-object files.
func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var out []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if objectFile(d.Name()) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read snapshot directory %s: %w", p, err)
	}
	sort.Strings(out)
	return out, nil
}

// objectFile says whether a file in a snapshot directory holds objects. Scenario
// descriptions and saved reports that live beside test snapshots are not objects.
func objectFile(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return false
	}
	return name != "scenario.yaml" && !strings.HasPrefix(name, "report")
}

// parseFile splits a file into documents, YAML or JSON.
func parseFile(name string, data []byte) ([]doc, []*LoadError) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return parseJSON(name, data)
	}
	return parseYAML(name, data)
}

// newest is the latest timestamp in the snapshot: the time the snapshot describes.
func newest(c *model.Cluster) time.Time {
	var t time.Time
	later := func(x time.Time) {
		if x.After(t) {
			t = x
		}
	}
	for _, p := range c.Pods {
		later(p.CreationTimestamp.Time)
		for _, cond := range p.Status.Conditions {
			later(cond.LastTransitionTime.Time)
		}
	}
	for _, e := range c.Events {
		later(model.EventTime(e))
	}
	for _, n := range c.Nodes {
		for _, cond := range n.Status.Conditions {
			later(cond.LastHeartbeatTime.Time)
		}
	}
	return t
}
