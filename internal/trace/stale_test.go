package trace

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
	"reach/internal/ref"
)

// A slice still saying ready for a pod unready for ten minutes is stale; one unready for seconds is controller delay.
func TestStaleEndpoints(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		since time.Duration
		want  bool
	}{{"ten minutes", 10 * time.Minute, true}, {"five seconds", 5 * time.Second, false}} {
		t.Run(tt.name, func(t *testing.T) {
			m := model.New()
			m.Coverage.Snapshot = true
			m.Now = now
			ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
			unready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(now.Add(-tt.since))}
			pod := func(name, ip string, c corev1.PodCondition) *corev1.Pod {
				return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: map[string]string{"app": "cart"}},
					Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
					Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{c}}}
			}
			yes := true
			port, name := int32(8080), ""
			objs := []interface{ GetName() string }{
				pod("client", "10.244.0.2", ready), pod("cart-1", "10.244.0.3", ready), pod("cart-2", "10.244.0.4", unready),
				&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Selector: map[string]string{"app": "cart"},
					Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt(8080)}}}},
				&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-x", Labels: map[string]string{discoveryv1.LabelServiceName: "cart"}},
					Ports: []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
					Endpoints: []discoveryv1.Endpoint{
						{Addresses: []string{"10.244.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "cart-1"}},
						{Addresses: []string{"10.244.0.4"}, Conditions: discoveryv1.EndpointConditions{Ready: &yes}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "cart-2"}}}},
			}
			for _, o := range objs {
				if _, err := m.Add(o.(runtime.Object), model.Origin{}); err != nil {
					t.Fatal(err)
				}
			}
			m.Index()
			src, _ := ref.Parse("pod/client", "shop")
			dst, _ := ref.Parse("svc/cart:8080", "shop")
			tr := Trace(m, Request{Source: src, Target: dst})
			got := false
			for _, f := range tr.Findings {
				if f.Code == "ENDPOINTS_STALE" {
					got = true
				}
			}
			if got != tt.want {
				t.Errorf("ENDPOINTS_STALE %v, want %v", got, tt.want)
			}
		})
	}
}
