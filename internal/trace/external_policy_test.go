package trace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// An external name: an egress-isolated client cannot be judged (the address is unknown); an
// open egress, or a rule allowing every address, passes.
func TestExternalNameEgress(t *testing.T) {
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.5", Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	denyAll := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "deny-egress"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
	allowAll := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "allow-internet"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}}}}}}}
	other := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "monitoring", Name: "noise"}}
	tests := []struct {
		name string
		objs []runtime.Object
		want report.Status
	}{
		{"no egress isolation", []runtime.Object{client, other}, report.StatusPass},
		{"egress isolated", []runtime.Object{client, denyAll}, report.StatusUnknown},
		{"egress allowed to every address", []runtime.Object{client, denyAll, allowAll}, report.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := model.New()
			m.Coverage.Snapshot = true
			for _, o := range tt.objs {
				if _, err := m.Add(o.DeepCopyObject(), model.Origin{}); err != nil {
					t.Fatal(err)
				}
			}
			m.Index()
			src, _ := ref.Parse("pod/web", "shop")
			dst, _ := ref.Parse("api.stripe.com:443", "shop")
			tr := Trace(m, Request{Source: src, Target: dst})
			for _, h := range tr.Hops {
				if h.Layer == report.LayerPolicy && h.Status != tt.want {
					t.Errorf("policy hop %s (%s), want %s", h.Status, h.Summary, tt.want)
				}
			}
		})
	}
}
