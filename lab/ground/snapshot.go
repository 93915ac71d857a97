package ground

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// snapshot reads every object of the kinds reach reads, as the API lists them, and
// returns one typed list (PodList, ...) per kind as YAML documents: an empty typed list
// still says there are none of its kind. Managed fields are left out and items are
// sorted.
func snapshot(ctx context.Context, cs kubernetes.Interface) ([]byte, error) {
	all := metav1.ListOptions{}
	type kind struct {
		apiVersion, kind string
		list             func() (runtime.Object, error)
	}
	core, apps, net, disc := cs.CoreV1(), cs.AppsV1(), cs.NetworkingV1(), cs.DiscoveryV1()
	kinds := []kind{
		{"v1", "Namespace", func() (runtime.Object, error) { return core.Namespaces().List(ctx, all) }},
		{"v1", "Node", func() (runtime.Object, error) { return core.Nodes().List(ctx, all) }},
		{"v1", "Pod", func() (runtime.Object, error) { return core.Pods("").List(ctx, all) }},
		{"v1", "Service", func() (runtime.Object, error) { return core.Services("").List(ctx, all) }},
		{"v1", "Endpoints", func() (runtime.Object, error) { return core.Endpoints("").List(ctx, all) }},
		{"v1", "ConfigMap", func() (runtime.Object, error) { return core.ConfigMaps("kube-system").List(ctx, all) }},
		{"v1", "Event", func() (runtime.Object, error) { return core.Events("").List(ctx, all) }},
		{"discovery.k8s.io/v1", "EndpointSlice", func() (runtime.Object, error) { return disc.EndpointSlices("").List(ctx, all) }},
		{"apps/v1", "Deployment", func() (runtime.Object, error) { return apps.Deployments("").List(ctx, all) }},
		{"apps/v1", "ReplicaSet", func() (runtime.Object, error) { return apps.ReplicaSets("").List(ctx, all) }},
		{"apps/v1", "StatefulSet", func() (runtime.Object, error) { return apps.StatefulSets("").List(ctx, all) }},
		{"apps/v1", "DaemonSet", func() (runtime.Object, error) { return apps.DaemonSets("").List(ctx, all) }},
		{"networking.k8s.io/v1", "NetworkPolicy", func() (runtime.Object, error) { return net.NetworkPolicies("").List(ctx, all) }},
		{"networking.k8s.io/v1", "Ingress", func() (runtime.Object, error) { return net.Ingresses("").List(ctx, all) }},
		{"networking.k8s.io/v1", "IngressClass", func() (runtime.Object, error) { return net.IngressClasses().List(ctx, all) }},
	}
	var out []byte
	for _, k := range kinds {
		list, err := k.list()
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", k.kind, err)
		}
		objs, err := meta.ExtractList(list)
		if err != nil {
			return nil, fmt.Errorf("read %s list: %w", k.kind, err)
		}
		var group []map[string]any
		for _, o := range objs {
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				return nil, fmt.Errorf("convert %s: %w", k.kind, err)
			}
			u["apiVersion"], u["kind"] = k.apiVersion, k.kind
			if md, ok := u["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
			group = append(group, u)
		}
		sort.Slice(group, func(i, j int) bool { return objKey(group[i]) < objKey(group[j]) })
		if group == nil {
			group = []map[string]any{}
		}
		doc, err := yaml.Marshal(map[string]any{"apiVersion": k.apiVersion, "kind": k.kind + "List", "items": group})
		if err != nil {
			return nil, fmt.Errorf("write %s list: %w", k.kind, err)
		}
		out = append(append(out, "---\n"...), doc...)
	}
	return out, nil
}

func objKey(u map[string]any) string {
	md, _ := u["metadata"].(map[string]any)
	ns, _ := md["namespace"].(string)
	name, _ := md["name"].(string)
	return ns + "/" + name
}
