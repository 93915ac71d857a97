package model

import (
	"fmt"
	"sort"
)

type scope struct{ kind, ns string }

// optionalKinds come from APIs many clusters do not install (Gateway API, the cluster-scoped
// policy API). A snapshot with none of them is read as a cluster without them.
var optionalKinds = map[string]bool{
	"HTTPRoute": true, "Gateway": true, "GatewayClass": true, "ReferenceGrant": true,
	"ClusterNetworkPolicy": true, "AdminNetworkPolicy": true, "BaselineAdminNetworkPolicy": true,
}

// Coverage records what a source could see, so a check can tell "absent" from "not looked at".
// A snapshot covers a kind once any object of it was read; a live source covers what it listed.
type Coverage struct {
	Snapshot bool
	seen     map[string]bool
	nsSeen   map[string]bool
	listed   map[scope]bool
	denied   map[scope]string
	absent   map[ObjKey]bool
}

// MarkAbsent records that the source asked for one object by name and it does not exist.
func (c *Coverage) MarkAbsent(kind, ns, name string) {
	if c.absent == nil {
		c.absent = map[ObjKey]bool{}
	}
	c.absent[ObjKey{kind, ns, name}] = true
}

// Absent says whether one object is known not to exist, by a get by name or a covered list.
func (c *Coverage) Absent(kind, ns, name string) bool {
	if c.absent[ObjKey{kind, ns, name}] {
		return true
	}
	ok, _ := c.Covered(kind, ns)
	return ok
}

// MarkSeen records an object of kind in namespace ns read from a snapshot.
func (c *Coverage) MarkSeen(kind, ns string) {
	c.seen[kind] = true
	if ns != "" {
		if c.nsSeen == nil {
			c.nsSeen = map[string]bool{}
		}
		c.nsSeen[ns] = true
	}
}

// MarkListed records a successful list of kind in ns ("" for all namespaces or cluster-scoped kinds).
func (c *Coverage) MarkListed(kind, ns string) { c.listed[scope{kind, ns}] = true }

// MarkDenied records a list the source was not allowed to make, with the permission it lacked.
func (c *Coverage) MarkDenied(kind, ns, why string) { c.denied[scope{kind, ns}] = why }

// Covered says whether the objects of kind in ns are all known; when not, why.
func (c *Coverage) Covered(kind, ns string) (bool, string) {
	if why, ok := c.denied[scope{kind, ns}]; ok {
		return false, why
	}
	if why, ok := c.denied[scope{kind, ""}]; ok && (ns == "" || !c.listed[scope{kind, ns}]) {
		return false, why
	}
	if c.Snapshot {
		if !c.seen[kind] && optionalKinds[kind] {
			return true, "" // many clusters have no such API: a snapshot without any reads as none
		}
		if !c.seen[kind] {
			return false, fmt.Sprintf("the snapshot holds no %s objects", kind)
		}
		if ns != "" && !c.nsSeen[ns] {
			return false, fmt.Sprintf("the snapshot holds nothing from namespace %q", ns)
		}
		return true, ""
	}
	if c.listed[scope{kind, ns}] || c.listed[scope{kind, ""}] {
		return true, ""
	}
	if ns == "" {
		return false, fmt.Sprintf("%s objects were not read", kind)
	}
	return false, fmt.Sprintf("%s objects in %q were not read", kind, ns)
}

// Kinds lists the kinds the source saw, sorted.
func (c *Coverage) Kinds() []string {
	set := map[string]bool{}
	for k := range c.seen {
		set[k] = true
	}
	for s := range c.listed {
		set[s.kind] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Denied lists the permissions the source lacked, sorted.
func (c *Coverage) Denied() []string {
	out := make([]string, 0, len(c.denied))
	for _, why := range c.denied {
		out = append(out, why)
	}
	sort.Strings(out)
	return out
}
