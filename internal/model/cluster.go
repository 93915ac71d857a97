// Package model holds the cluster as the checks see it: typed objects, trimmed of what no check reads,
// and the indexes a trace walks. It is filled by a source and only read after Index.
package model

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// Key names a namespaced object of a known kind.
type Key struct{ Namespace, Name string }

func (k Key) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// ObjKey names any object.
type ObjKey struct{ Kind, Namespace, Name string }

// Origin is where an object was read from: a file and the line its document starts on.
type Origin struct {
	File string
	Line int
}

// Cluster is everything a source could see. Maps are keyed by namespace/name (name for cluster-scoped kinds).
type Cluster struct {
	// Now is the time the data describes: the clock for live data, the newest timestamp for a snapshot.
	Now time.Time

	Namespaces      map[string]*corev1.Namespace
	Nodes           map[string]*corev1.Node
	Pods            map[Key]*corev1.Pod
	Services        map[Key]*corev1.Service
	EndpointSlices  map[Key]*discoveryv1.EndpointSlice
	Endpoints       map[Key]*corev1.Endpoints
	NetworkPolicies map[Key]*networkingv1.NetworkPolicy
	ConfigMaps      map[Key]*corev1.ConfigMap
	Events          []*corev1.Event

	Deployments  map[Key]*appsv1.Deployment
	ReplicaSets  map[Key]*appsv1.ReplicaSet
	StatefulSets map[Key]*appsv1.StatefulSet
	DaemonSets   map[Key]*appsv1.DaemonSet

	Ingresses       map[Key]*networkingv1.Ingress
	IngressClasses  map[string]*networkingv1.IngressClass
	Gateways        map[Key]*gwv1.Gateway
	GatewayClasses  map[string]*gwv1.GatewayClass
	HTTPRoutes      map[Key]*gwv1.HTTPRoute
	ReferenceGrants map[Key]*gwv1beta1.ReferenceGrant

	// ClusterNetworkPolicies holds v1beta1 and v1alpha2 objects, the latter converted.
	ClusterNetworkPolicies       map[string]*cnpv1beta1.ClusterNetworkPolicy
	AdminNetworkPolicies         map[string]*anpv1alpha1.AdminNetworkPolicy
	BaselineAdminNetworkPolicies map[string]*anpv1alpha1.BaselineAdminNetworkPolicy

	// ClusterRoles holds only the RBAC rules of the cluster DNS server, when visible.
	ClusterRoles map[string][]RBACRule

	Origins  map[ObjKey]Origin
	Coverage Coverage

	idx index
}

// RBACRule is one rule of a ClusterRole, trimmed to what the DNS check reads.
type RBACRule struct {
	APIGroups, Resources, Verbs []string
}

// New returns an empty cluster ready to be filled.
func New() *Cluster {
	return &Cluster{
		Namespaces:                   map[string]*corev1.Namespace{},
		Nodes:                        map[string]*corev1.Node{},
		Pods:                         map[Key]*corev1.Pod{},
		Services:                     map[Key]*corev1.Service{},
		EndpointSlices:               map[Key]*discoveryv1.EndpointSlice{},
		Endpoints:                    map[Key]*corev1.Endpoints{},
		NetworkPolicies:              map[Key]*networkingv1.NetworkPolicy{},
		ConfigMaps:                   map[Key]*corev1.ConfigMap{},
		Deployments:                  map[Key]*appsv1.Deployment{},
		ReplicaSets:                  map[Key]*appsv1.ReplicaSet{},
		StatefulSets:                 map[Key]*appsv1.StatefulSet{},
		DaemonSets:                   map[Key]*appsv1.DaemonSet{},
		Ingresses:                    map[Key]*networkingv1.Ingress{},
		IngressClasses:               map[string]*networkingv1.IngressClass{},
		Gateways:                     map[Key]*gwv1.Gateway{},
		GatewayClasses:               map[string]*gwv1.GatewayClass{},
		HTTPRoutes:                   map[Key]*gwv1.HTTPRoute{},
		ReferenceGrants:              map[Key]*gwv1beta1.ReferenceGrant{},
		ClusterNetworkPolicies:       map[string]*cnpv1beta1.ClusterNetworkPolicy{},
		AdminNetworkPolicies:         map[string]*anpv1alpha1.AdminNetworkPolicy{},
		BaselineAdminNetworkPolicies: map[string]*anpv1alpha1.BaselineAdminNetworkPolicy{},
		ClusterRoles:                 map[string][]RBACRule{},
		Origins:                      map[ObjKey]Origin{},
		Coverage:                     Coverage{seen: map[string]bool{}, listed: map[scope]bool{}, denied: map[scope]string{}},
	}
}
