package source

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

type listFunc func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error)
type getFunc func(ctx context.Context, ns, name string) (runtime.Object, error)

// kindSpec is how to read one kind: the model's kind name, the resource as RBAC names it, and the calls.
// get is nil for kinds only ever listed.
type kindSpec struct {
	kind     string
	resource string
	list     listFunc
	get      getFunc
}

// typedSpec returns the typed-client calls for a built-in kind.
func typedSpec(cs kubernetes.Interface, kind string) kindSpec {
	switch kind {
	case "Namespace":
		return kindSpec{kind, "namespaces", func(ctx context.Context, _ string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Namespaces().List(ctx, o)
		}, nil}
	case "Node":
		return kindSpec{kind, "nodes", func(ctx context.Context, _ string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Nodes().List(ctx, o)
		}, nil}
	case "Pod":
		return kindSpec{kind, "pods", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Pods(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "Service":
		return kindSpec{kind, "services", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Services(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "EndpointSlice":
		return kindSpec{kind, "endpointslices", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.DiscoveryV1().EndpointSlices(ns).List(ctx, o)
		}, nil}
	case "NetworkPolicy":
		return kindSpec{kind, "networkpolicies", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.NetworkingV1().NetworkPolicies(ns).List(ctx, o)
		}, nil}
	case "Event":
		return kindSpec{kind, "events", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.CoreV1().Events(ns).List(ctx, o)
		}, nil}
	case "ConfigMap":
		// ConfigMaps are read by name only; a list would carry every application's configuration.
		return kindSpec{kind, "configmaps", nil, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "ClusterRole":
		return kindSpec{kind, "clusterroles", nil, func(ctx context.Context, _, name string) (runtime.Object, error) {
			return cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		}}
	}
	return workloadSpec(cs, kind)
}

func workloadSpec(cs kubernetes.Interface, kind string) kindSpec {
	switch kind {
	case "ReplicaSet":
		return kindSpec{kind, "replicasets", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().ReplicaSets(ns).List(ctx, o)
		}, nil}
	case "Deployment":
		return kindSpec{kind, "deployments", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().Deployments(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "StatefulSet":
		return kindSpec{kind, "statefulsets", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().StatefulSets(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "DaemonSet":
		return kindSpec{kind, "daemonsets", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.AppsV1().DaemonSets(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "Ingress":
		return kindSpec{kind, "ingresses", func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.NetworkingV1().Ingresses(ns).List(ctx, o)
		}, func(ctx context.Context, ns, name string) (runtime.Object, error) {
			return cs.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
		}}
	case "IngressClass":
		return kindSpec{kind, "ingressclasses", func(ctx context.Context, _ string, o metav1.ListOptions) (runtime.Object, error) {
			return cs.NetworkingV1().IngressClasses().List(ctx, o)
		}, nil}
	}
	return kindSpec{kind: kind, resource: kind}
}

// dynamicSpec lists a kind the typed client does not know (network-policy-api, Gateway API).
// Items come back unstructured and are converted with Typed.
func dynamicSpec(dyn dynamic.Interface, kind, resource string, gv schema.GroupVersion) kindSpec {
	gvr := gv.WithResource(resource)
	return kindSpec{kind, resource, func(ctx context.Context, ns string, o metav1.ListOptions) (runtime.Object, error) {
		list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, o)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			if list.Items[i].GetKind() == "" {
				list.Items[i].SetGroupVersionKind(gv.WithKind(kind))
			}
		}
		return list, nil
	}, nil}
}

// errNoCall is returned for a kind or verb this source never asks for.
func errNoCall(verb string, s kindSpec) error {
	return fmt.Errorf("%s %s: not a request reach makes", verb, s.resource)
}
