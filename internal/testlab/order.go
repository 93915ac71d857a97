package testlab

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objKey names an object by group, kind, namespace and name, versions aside.
type objKey struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

func keyOf(o *unstructured.Unstructured) objKey {
	return objKey{o.GroupVersionKind().GroupKind(), o.GetNamespace(), o.GetName()}
}

// ownerKeys are the keys an owner reference of o may name: owners share the
// dependent's namespace or are cluster-scoped.
func ownerKeys(apiVersion, kind, name, namespace string) []objKey {
	gk := schema.FromAPIVersionAndKind(apiVersion, kind).GroupKind()
	return []objKey{{gk, namespace, name}, {gk, "", name}}
}

// rank orders kinds so that what others refer to exists first.
func rank(gk schema.GroupKind) int {
	switch gk.Kind {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case "Node":
		return 2
	case "ClusterRole", "Role":
		return 3
	case "ClusterRoleBinding", "RoleBinding":
		return 4
	case "ConfigMap", "ServiceAccount":
		return 5
	case "Service":
		return 6
	case "Deployment":
		return 7
	case "ReplicaSet":
		return 8
	case "StatefulSet":
		return 9
	case "DaemonSet":
		return 10
	case "CronJob":
		return 11
	case "Job":
		return 12
	case "Pod":
		return 13
	case "EndpointSlice":
		return 14
	case "Event":
		return 17
	}
	if !builtinGroup(gk.Group) {
		return 16
	}
	return 15
}

func builtinGroup(g string) bool {
	switch g {
	case "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "discovery.k8s.io",
		"rbac.authorization.k8s.io", "events.k8s.io", "storage.k8s.io", "scheduling.k8s.io",
		"coordination.k8s.io", "node.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io",
		"apiregistration.k8s.io", "certificates.k8s.io", "flowcontrol.apiserver.k8s.io",
		"resource.k8s.io", "internal.apiserver.k8s.io", "storagemigration.k8s.io":
		return true
	}
	return false
}

// applyOrder sorts objects by kind rank, keeping file order within a rank, and moves
// any object whose owner is in the scenario after that owner (a Pod owned by a Job, a
// ConfigMap owned by a custom resource), so owner references can always be resolved.
func applyOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	byUID := map[types.UID]int{}
	byKey := map[objKey]int{}
	for i, o := range objs {
		if uid := o.GetUID(); uid != "" {
			byUID[uid] = i
		}
		byKey[keyOf(o)] = i
	}
	owners := func(i int) []int {
		var out []int
		o := objs[i]
		for _, ref := range o.GetOwnerReferences() {
			if j, ok := byUID[ref.UID]; ok && ref.UID != "" {
				out = append(out, j)
				continue
			}
			for _, k := range ownerKeys(ref.APIVersion, ref.Kind, ref.Name, o.GetNamespace()) {
				if j, ok := byKey[k]; ok {
					out = append(out, j)
					break
				}
			}
		}
		return out
	}
	type place struct{ rank, depth int }
	memo := make([]*place, len(objs))
	visiting := make([]bool, len(objs))
	var placeOf func(int) place
	placeOf = func(i int) place {
		if memo[i] != nil {
			return *memo[i]
		}
		p := place{rank: rank(objs[i].GroupVersionKind().GroupKind())}
		visiting[i] = true
		for _, j := range owners(i) {
			if visiting[j] { // an ownership cycle: leave it to file order
				continue
			}
			op := placeOf(j)
			p.rank = max(p.rank, op.rank)
			p.depth = max(p.depth, op.depth+1)
		}
		visiting[i] = false
		memo[i] = &p
		return p
	}
	idx := make([]int, len(objs))
	for i := range idx {
		idx[i] = i
		placeOf(i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		pa, pb := *memo[a], *memo[b]
		if pa.rank != pb.rank {
			return pa.rank - pb.rank
		}
		return pa.depth - pb.depth
	})
	out := make([]*unstructured.Unstructured, len(idx))
	for i, j := range idx {
		out[i] = objs[j]
	}
	return out
}
