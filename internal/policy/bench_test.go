package policy

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"reach/internal/model"
)

// bigCluster has the shape of a shared cluster: namespaces of a few apps with a default deny and
// allow rules between tiers, plus pods enough to make per-pod work visible.
func bigCluster(namespaces, podsPerNS int) *model.Cluster {
	m := model.New()
	tcp := corev1.ProtocolTCP
	port := intstr.FromString("http")
	for n := 0; n < namespaces; n++ {
		ns := fmt.Sprintf("team-%d", n)
		_, _ = m.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"team": ns, "env": []string{"prod", "dev"}[n%2]}}}, model.Origin{})
		for i := 0; i < podsPerNS; i++ {
			tier := []string{"web", "api", "db"}[i%3]
			ip := fmt.Sprintf("10.%d.%d.%d", 100+n/250, n%250, 10+i%240)
			_, _ = m.Add(&corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", tier, i), Namespace: ns,
					Labels: map[string]string{"app": tier, "pod-template-hash": fmt.Sprintf("h%d", i)}},
				Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
			}, model.Origin{})
		}
		_, _ = m.Add(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}, model.Origin{})
		for _, pair := range [][2]string{{"web", "api"}, {"api", "db"}} {
			_, _ = m.Add(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow-" + pair[0] + "-to-" + pair[1], Namespace: ns},
				Spec: networkingv1.NetworkPolicySpec{
					PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": pair[1]}},
					Ingress: []networkingv1.NetworkPolicyIngressRule{{
						From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": pair[0]}}}},
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
					}},
				}}, model.Origin{})
		}
	}
	m.Index()
	return m
}

func BenchmarkEvaluate(b *testing.B) {
	m := bigCluster(200, 50)
	from, to := m.Pod("team-7", "web-0"), m.Pod("team-7", "api-1")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Evaluate(m, Flow{From: Peer{Pod: from}, To: Peer{Pod: to}, Port: 8080, Protocol: corev1.ProtocolTCP})
	}
}

func BenchmarkMatrix(b *testing.B) {
	m := bigCluster(200, 50)
	b.ResetTimer()
	var res MatrixResult
	for i := 0; i < b.N; i++ {
		res = Matrix(m, MatrixRequest{Port: 8080})
	}
	b.ReportMetric(float64(res.Pods), "pods")
	b.ReportMetric(float64(len(res.Sources)), "classes")
}
