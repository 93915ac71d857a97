package scenario

import (
	"fmt"
	"strings"
)

// Dataplane is one directory under testdata/dataplane: a scenario realised as real
// workloads on the dataplane lab (reach/lab/ground), whose cases are checked against
// real traffic. objects.yaml holds the workloads; snapshot.yaml is what the lab
// cluster held once they had settled, so the cases also run from files without a lab.
type Dataplane struct {
	Name        string `json:"-"`
	Dir         string `json:"-"`
	Description string `json:"description"`
	// Dataplane marks the scenario as realised in the lab; it must be true.
	Dataplane bool `json:"dataplane"`
	// Namespaces the scenario owns: created before its objects, deleted after.
	Namespaces []string `json:"namespaces"`
	Setup      Setup    `json:"setup"`
	Cases      []Case   `json:"cases"`
}

// Setup is a change to the cluster itself, made before the objects are applied and
// undone after the scenario.
type Setup struct {
	// CoreDNSReplicas scales kube-system/coredns.
	CoreDNSReplicas *int32 `json:"corednsReplicas"`
	// StopProxyOn keeps the kube-proxy DaemonSet off this node.
	StopProxyOn string `json:"stopProxyOn"`
}

// Case is one trace and the packets that check it.
type Case struct {
	Name string `json:"name"`
	// Args are the kubectl-reach arguments, without input flags or -o.
	Args   []string `json:"args"`
	Expect Expect   `json:"expect"`
	// From is where the probe runs: pod/NAME or deploy/NAME in Namespace, node/NAME
	// (the node's network namespace) or outside (a machine on the node network).
	From string `json:"from"`
	// Namespace of From; defaults to the scenario's first namespace.
	Namespace string `json:"namespace"`
	// Probe lists the steps, each "dns NAME", "tcp HOST:PORT", "udp HOST:PORT" or
	// "http URL"; the first step that fails gives the outcome.
	Probe []string `json:"probe"`
	// Observe is the outcome the packets must have, written by hand: ok, refused,
	// timeout, unreachable, nxdomain, dns-failed or failed.
	Observe string `json:"observe"`
}

// Outcomes are the values Observe may take.
var Outcomes = []string{"ok", "refused", "timeout", "unreachable", "nxdomain", "dns-failed", "failed"}

// SnapshotFile is the name of a dataplane scenario's captured cluster.
const SnapshotFile = "snapshot.yaml"

// LoadDataplane reads every dataplane scenario under root, sorted by name.
func LoadDataplane(root string) ([]*Dataplane, error) {
	return loadDirs(root, func(name, dir string) *Dataplane { return &Dataplane{Name: name, Dir: dir} }, (*Dataplane).validate)
}

func (s *Dataplane) validate() error {
	switch {
	case !s.Dataplane:
		return fmt.Errorf("dataplane: true is missing")
	case len(s.Namespaces) == 0:
		return fmt.Errorf("no namespaces")
	case len(s.Cases) == 0:
		return fmt.Errorf("no cases")
	}
	seen := map[string]bool{}
	for i, c := range s.Cases {
		switch {
		case c.Name == "":
			return fmt.Errorf("case %d has no name", i+1)
		case seen[c.Name]:
			return fmt.Errorf("case %q appears twice", c.Name)
		case len(c.Args) == 0:
			return fmt.Errorf("case %q has no args", c.Name)
		case len(c.Probe) == 0:
			return fmt.Errorf("case %q has no probe", c.Name)
		case !contains(Outcomes, c.Observe):
			return fmt.Errorf("case %q: observe %q is not one of %s", c.Name, c.Observe, strings.Join(Outcomes, ", "))
		}
		seen[c.Name] = true
		if _, _, err := ParseFrom(c.From); err != nil {
			return fmt.Errorf("case %q: %w", c.Name, err)
		}
	}
	return nil
}

// SourceNamespace is the namespace the case's source lives in.
func (s *Dataplane) SourceNamespace(c Case) string {
	if c.Namespace != "" {
		return c.Namespace
	}
	return s.Namespaces[0]
}

// ParseFrom splits a Case's From into its kind (pod, deploy, node, outside) and name.
func ParseFrom(from string) (kind, name string, err error) {
	if from == "outside" {
		return "outside", "", nil
	}
	kind, name, ok := strings.Cut(from, "/")
	if !ok || name == "" {
		return "", "", fmt.Errorf("from %q: want pod/NAME, deploy/NAME, node/NAME or outside", from)
	}
	switch kind {
	case "pod", "deploy", "node":
		return kind, name, nil
	}
	return "", "", fmt.Errorf("from %q: unknown kind %q", from, kind)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
