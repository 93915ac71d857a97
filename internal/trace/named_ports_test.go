package trace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestResolveTargetPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	app := corev1.Container{Name: "app", Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
	}}
	metrics := corev1.Container{Name: "exporter", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9102}}} // protocol unset: TCP
	pod := func(containers []corev1.Container, inits ...corev1.Container) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: containers, InitContainers: inits}}
	}
	svcPort := func(port int32, target intstr.IntOrString, proto corev1.Protocol) *corev1.ServicePort {
		return &corev1.ServicePort{Name: "p", Port: port, TargetPort: target, Protocol: proto}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		port   *corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{"numeric targetPort", pod([]corev1.Container{app}), svcPort(80, intstr.FromInt32(9000), corev1.ProtocolTCP), 9000, true},
		{"numeric targetPort needs no declared port", pod(nil), svcPort(80, intstr.FromInt32(9000), corev1.ProtocolTCP), 9000, true},
		{"targetPort 0 is the Service port", pod([]corev1.Container{app}), svcPort(8443, intstr.IntOrString{}, corev1.ProtocolTCP), 8443, true},
		{"named port in the container", pod([]corev1.Container{app}), svcPort(80, intstr.FromString("http"), corev1.ProtocolTCP), 8080, true},
		{"named port in the second container", pod([]corev1.Container{app, metrics}), svcPort(9102, intstr.FromString("metrics"), corev1.ProtocolTCP), 9102, true},
		{"Service protocol unset means TCP", pod([]corev1.Container{app, metrics}), svcPort(9102, intstr.FromString("metrics"), ""), 9102, true},
		{"named port in a restartable init (sidecar) container", pod([]corev1.Container{app},
			corev1.Container{Name: "proxy", RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001, Protocol: corev1.ProtocolTCP}}}),
			svcPort(80, intstr.FromString("proxy"), corev1.ProtocolTCP), 15001, true},
		{"named port in a plain init container is not served", pod([]corev1.Container{app},
			corev1.Container{Name: "migrate", Ports: []corev1.ContainerPort{{Name: "migrate", ContainerPort: 7000, Protocol: corev1.ProtocolTCP}}}),
			svcPort(80, intstr.FromString("migrate"), corev1.ProtocolTCP), 0, false},
		{"named port with the wrong protocol", pod([]corev1.Container{app}), svcPort(80, intstr.FromString("http"), corev1.ProtocolUDP), 0, false},
		{"name missing", pod([]corev1.Container{app, metrics}), svcPort(80, intstr.FromString("web"), corev1.ProtocolTCP), 0, false},
		{"name missing on a pod without ports", pod([]corev1.Container{{Name: "app"}}), svcPort(80, intstr.FromString("http"), corev1.ProtocolTCP), 0, false},
		{"UDP Service port matches a UDP container port", pod([]corev1.Container{app}), svcPort(53, intstr.FromString("dns"), corev1.ProtocolUDP), 5353, true},
		{"UDP container port does not serve a TCP Service port", pod([]corev1.Container{app}), svcPort(53, intstr.FromString("dns"), corev1.ProtocolTCP), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := resolveTargetPort(tt.pod, tt.port)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("resolveTargetPort = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
