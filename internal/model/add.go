package model

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// ConfigMapNames are the only ConfigMaps reach keeps (by name, in any namespace).
var configMapNames = map[string]bool{
	"kube-proxy": true, "coredns": true, "cilium-config": true, "kubelet-config": true, "kubeadm-config": true,
}

// WantConfigMap says whether a ConfigMap of this name is one reach reads.
func WantConfigMap(name string) bool { return configMapNames[name] }

// Add puts one typed object into the cluster and records where it came from.
// It returns the kind it was filed under, or an error for a kind reach does not model.
func (c *Cluster) Add(obj runtime.Object, from Origin) (string, error) {
	kind, meta := c.put(obj)
	if kind == "" {
		return "", fmt.Errorf("unsupported object %T", obj)
	}
	if kind == "-" {
		return "", nil
	}
	slim(meta)
	c.Origins[ObjKey{kind, meta.Namespace, meta.Name}] = from
	if c.Coverage.Snapshot {
		c.Coverage.MarkSeen(kind, meta.Namespace)
	}
	return kind, nil
}

// slim drops what no check reads, so large clusters fit in memory.
func slim(m *v1.ObjectMeta) {
	m.ManagedFields = nil
	delete(m.Annotations, "kubectl.kubernetes.io/last-applied-configuration")
}

func (c *Cluster) put(obj runtime.Object) (string, *v1.ObjectMeta) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		c.Namespaces[o.Name] = o
		return "Namespace", &o.ObjectMeta
	case *corev1.Node:
		o.Status.Images = nil
		c.Nodes[o.Name] = o
		return "Node", &o.ObjectMeta
	case *corev1.Pod:
		o.Spec.Volumes = nil
		c.Pods[Key{o.Namespace, o.Name}] = o
		return "Pod", &o.ObjectMeta
	case *corev1.Service:
		c.Services[Key{o.Namespace, o.Name}] = o
		return "Service", &o.ObjectMeta
	case *discoveryv1.EndpointSlice:
		c.EndpointSlices[Key{o.Namespace, o.Name}] = o
		return "EndpointSlice", &o.ObjectMeta
	case *corev1.Endpoints:
		c.Endpoints[Key{o.Namespace, o.Name}] = o
		return "Endpoints", &o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		c.NetworkPolicies[Key{o.Namespace, o.Name}] = o
		return "NetworkPolicy", &o.ObjectMeta
	case *corev1.ConfigMap:
		if !configMapNames[o.Name] {
			return "-", &o.ObjectMeta
		}
		c.ConfigMaps[Key{o.Namespace, o.Name}] = o
		return "ConfigMap", &o.ObjectMeta
	case *corev1.Event:
		c.Events = append(c.Events, o)
		return "Event", &o.ObjectMeta
	case *appsv1.Deployment:
		c.Deployments[Key{o.Namespace, o.Name}] = o
		return "Deployment", &o.ObjectMeta
	case *appsv1.ReplicaSet:
		c.ReplicaSets[Key{o.Namespace, o.Name}] = o
		return "ReplicaSet", &o.ObjectMeta
	case *appsv1.StatefulSet:
		c.StatefulSets[Key{o.Namespace, o.Name}] = o
		return "StatefulSet", &o.ObjectMeta
	case *appsv1.DaemonSet:
		c.DaemonSets[Key{o.Namespace, o.Name}] = o
		return "DaemonSet", &o.ObjectMeta
	case *networkingv1.Ingress:
		c.Ingresses[Key{o.Namespace, o.Name}] = o
		return "Ingress", &o.ObjectMeta
	case *networkingv1.IngressClass:
		c.IngressClasses[o.Name] = o
		return "IngressClass", &o.ObjectMeta
	case *gwv1.Gateway:
		c.Gateways[Key{o.Namespace, o.Name}] = o
		return "Gateway", &o.ObjectMeta
	case *gwv1.GatewayClass:
		c.GatewayClasses[o.Name] = o
		return "GatewayClass", &o.ObjectMeta
	case *gwv1.HTTPRoute:
		c.HTTPRoutes[Key{o.Namespace, o.Name}] = o
		return "HTTPRoute", &o.ObjectMeta
	case *gwv1beta1.ReferenceGrant:
		c.ReferenceGrants[Key{o.Namespace, o.Name}] = o
		return "ReferenceGrant", &o.ObjectMeta
	case *cnpv1beta1.ClusterNetworkPolicy:
		c.ClusterNetworkPolicies[o.Name] = o
		return "ClusterNetworkPolicy", &o.ObjectMeta
	case *anpv1alpha1.AdminNetworkPolicy:
		c.AdminNetworkPolicies[o.Name] = o
		return "AdminNetworkPolicy", &o.ObjectMeta
	case *anpv1alpha1.BaselineAdminNetworkPolicy:
		c.BaselineAdminNetworkPolicies[o.Name] = o
		return "BaselineAdminNetworkPolicy", &o.ObjectMeta
	case *rbacv1.ClusterRole:
		rules := make([]RBACRule, 0, len(o.Rules))
		for _, r := range o.Rules {
			rules = append(rules, RBACRule{APIGroups: r.APIGroups, Resources: r.Resources, Verbs: r.Verbs})
		}
		c.ClusterRoles[o.Name] = rules
		return "ClusterRole", &o.ObjectMeta
	}
	return "", nil
}
