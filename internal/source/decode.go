// Package source loads cluster objects, from files or from an API server, into the model.
package source

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// newTyped returns an empty typed object for the kinds reach models, nil for the rest.
// Secrets and other kinds reach never reads return nil and are skipped.
func newTyped(gvk schema.GroupVersionKind) runtime.Object {
	switch gvk.GroupKind() {
	case schema.GroupKind{Kind: "Namespace"}:
		return &corev1.Namespace{}
	case schema.GroupKind{Kind: "Node"}:
		return &corev1.Node{}
	case schema.GroupKind{Kind: "Pod"}:
		return &corev1.Pod{}
	case schema.GroupKind{Kind: "Service"}:
		return &corev1.Service{}
	case schema.GroupKind{Kind: "Endpoints"}:
		return &corev1.Endpoints{}
	case schema.GroupKind{Kind: "ConfigMap"}:
		return &corev1.ConfigMap{}
	case schema.GroupKind{Kind: "Event"}, schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}:
		if gvk.Group == "events.k8s.io" {
			return nil // the core/v1 Event is what kubectl and the dump print
		}
		return &corev1.Event{}
	case schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:
		return &discoveryv1.EndpointSlice{}
	case schema.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:
		return &networkingv1.NetworkPolicy{}
	case schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}:
		return &networkingv1.Ingress{}
	case schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"}:
		return &networkingv1.IngressClass{}
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		return &appsv1.Deployment{}
	case schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}:
		return &appsv1.ReplicaSet{}
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}:
		return &appsv1.StatefulSet{}
	case schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
		return &appsv1.DaemonSet{}
	case schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:
		return &rbacv1.ClusterRole{}
	case schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "Gateway"}:
		return &gwv1.Gateway{}
	case schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "GatewayClass"}:
		return &gwv1.GatewayClass{}
	case schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}:
		return &gwv1.HTTPRoute{}
	case schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "ReferenceGrant"}:
		return &gwv1beta1.ReferenceGrant{}
	case schema.GroupKind{Group: "policy.networking.k8s.io", Kind: "AdminNetworkPolicy"}:
		return &anpv1alpha1.AdminNetworkPolicy{}
	case schema.GroupKind{Group: "policy.networking.k8s.io", Kind: "BaselineAdminNetworkPolicy"}:
		return &anpv1alpha1.BaselineAdminNetworkPolicy{}
	case schema.GroupKind{Group: "policy.networking.k8s.io", Kind: "ClusterNetworkPolicy"}:
		if gvk.Version == "v1alpha2" {
			return &cnpv1alpha2.ClusterNetworkPolicy{}
		}
		return &cnpv1beta1.ClusterNetworkPolicy{}
	}
	return nil
}

// Typed converts an unstructured object into the typed object the model keeps.
// It returns nil, nil for kinds reach does not read.
func Typed(u *unstructured.Unstructured) (runtime.Object, error) {
	obj := newTyped(u.GroupVersionKind())
	if obj == nil {
		return nil, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	if old, ok := obj.(*cnpv1alpha2.ClusterNetworkPolicy); ok {
		return upgradeCNP(old)
	}
	return obj, nil
}

// upgradeCNP carries a v1alpha2 ClusterNetworkPolicy over to v1beta1; the two share their field layout.
func upgradeCNP(old *cnpv1alpha2.ClusterNetworkPolicy) (runtime.Object, error) {
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	if err != nil {
		return nil, fmt.Errorf("convert ClusterNetworkPolicy %s: %w", old.Name, err)
	}
	out := &cnpv1beta1.ClusterNetworkPolicy{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, out); err != nil {
		return nil, fmt.Errorf("convert ClusterNetworkPolicy %s to v1beta1: %w", old.Name, err)
	}
	out.APIVersion, out.Kind = "policy.networking.k8s.io/v1beta1", "ClusterNetworkPolicy"
	return out, nil
}
