// Package scenario reads the test scenarios under testdata/scenarios: the cluster objects, the
// command line, and what the report must say.
package scenario

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Scenario is one directory under testdata/scenarios.
type Scenario struct {
	Name        string   `json:"-"`
	Dir         string   `json:"-"`
	Description string   `json:"description"`
	Base        string   `json:"base"`
	Args        []string `json:"args"`
	Expect      Expect   `json:"expect"`
	Live        Live     `json:"live"`
}

// Expect is what the report must say, written by hand, independent of the golden file.
type Expect struct {
	Verdict   string     `json:"verdict"`
	ExitCode  *int       `json:"exitCode"`
	RootCause *RootCause `json:"rootCause"`
	Findings  []string   `json:"findings"`
	Absent    []string   `json:"absent"`
	// Unknown lists layers that must be unknown (for permission scenarios).
	Unknown []string `json:"unknown"`
	// Mentions are texts some hop summary or finding message must contain.
	Mentions []string `json:"mentions"`
}

// RootCause is the expected root cause; empty fields are not checked.
type RootCause struct {
	Layer  string `json:"layer"`
	Code   string `json:"code"`
	Object struct {
		Kind      string `json:"kind"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"object"`
}

// Live says how the scenario runs against the control plane.
type Live struct {
	// User runs the live trace as this lab user instead of the admin.
	User string `json:"user"`
	// Expect replaces the expectations for the live run, when permissions make it differ.
	Expect *Expect `json:"expect"`
	// Skip names why a scenario cannot run live; empty means it runs.
	Skip string `json:"skip"`
}

// Load reads every scenario under root, sorted by name.
func Load(root string) ([]*Scenario, error) {
	return loadDirs(root, func(name, dir string) *Scenario { return &Scenario{Name: name, Dir: dir} }, nil)
}

// loadDirs reads the scenario.yaml of every directory under root into a new T, strictly,
// and checks it with validate when given; sorted by directory name, as os.ReadDir gives them.
func loadDirs[T any](root string, newT func(name, dir string) *T, validate func(*T) error) ([]*T, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read scenarios: %w", err)
	}
	var out []*T
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
		if err != nil {
			return nil, fmt.Errorf("read scenario %s: %w", e.Name(), err)
		}
		s := newT(e.Name(), dir)
		if err := yaml.UnmarshalStrict(data, s); err != nil {
			return nil, fmt.Errorf("parse %s/scenario.yaml: %w", e.Name(), err)
		}
		if validate != nil {
			if err := validate(s); err != nil {
				return nil, fmt.Errorf("%s/scenario.yaml: %w", e.Name(), err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Inputs are the directories the scenario's cluster is read from: the base, then its own.
func (s *Scenario) Inputs(baseRoot string) []string {
	if s.Base == "" || s.Base == "none" {
		return []string{s.Dir}
	}
	return []string{filepath.Join(baseRoot, s.Base), s.Dir}
}
