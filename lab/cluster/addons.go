package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serviceEndpoint gives default/kubernetes its endpoint, the host's forwarder to the
// apiserver (the lab's apiserver runs with --endpoint-reconciler-type none), as
// Endpoints the mirroring controller skips and an EndpointSlice, as an apiserver
// writes them.
func (c *Cluster) serviceEndpoint(ctx context.Context, port int) error {
	var svc *corev1.Service
	err := c.waitUntil(ctx, "service default/kubernetes", time.Minute, func(ctx context.Context) (string, error) {
		s, err := c.Clientset.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		svc = s
		return "", nil
	})
	if err != nil {
		return err
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.IntValue() != port {
		return fmt.Errorf("service default/kubernetes has ports %v, want one with targetPort %d", svc.Spec.Ports, port)
	}
	portName := svc.Spec.Ports[0].Name
	// Endpoints are deprecated, and a client says so on every write: not news here.
	quiet := rest.CopyConfig(c.Admin)
	quiet.WarningHandler = rest.NoWarnings{}
	core, err := kubernetes.NewForConfig(quiet)
	if err != nil {
		return err
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: hostIP}},
			Ports:     []corev1.EndpointPort{{Name: portName, Port: int32(port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	if _, err := core.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create endpoints default/kubernetes: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kubernetes",
			discoveryv1.LabelManagedBy:   "lab.reach",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{hostIP},
			Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: new(int32(port)), Protocol: new(corev1.ProtocolTCP)}},
	}
	if _, err := c.Clientset.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create endpointslice default/kubernetes: %w", err)
	}
	return nil
}

// The node agents run as DaemonSets in kube-system, labelled k8s-app=NAME, as in
// real clusters (where reach finds them): one pod on every node, in the node's network
// namespace, running the host's binary (KubeProxyImage, KubeRouterImage).
const (
	KubeProxyDaemonSet  = "kube-proxy"
	KubeRouterDaemonSet = "kube-router" // firewall only: NetworkPolicy, no Service proxy
)

// nodeAgent is a DaemonSet of privileged host-network pods that run a host program
// (hostexec chroots into the host's /), with NODE_NAME for $(NODE_NAME) in args.
func (c *Cluster) nodeAgent(name, image, program string, args []string, ready *corev1.Probe) *appsv1.DaemonSet {
	labels := map[string]string{"k8s-app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork:                   true,
					DNSPolicy:                     corev1.DNSDefault,
					PriorityClassName:             "system-node-critical",
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: new(int64(5)),
					Containers: []corev1.Container{{
						Name:            name,
						Image:           image,
						ImagePullPolicy: corev1.PullNever,
						Command:         []string{ImageBinary, program},
						Args:            args,
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
						SecurityContext: &corev1.SecurityContext{Privileged: new(true)},
						ReadinessProbe:  ready,
						VolumeMounts:    []corev1.VolumeMount{{Name: "host", MountPath: "/host"}},
					}},
					Volumes: []corev1.Volume{{Name: "host", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/", Type: new(corev1.HostPathDirectory)}}}},
				},
			},
		},
	}
}

// deployKubeProxy creates the kube-proxy DaemonSet; each node's mode is in its
// DIR/nodes/NODE/kube-proxy.yaml.
func (c *Cluster) deployKubeProxy(ctx context.Context) error {
	return c.createDaemonSet(ctx, c.nodeAgent(KubeProxyDaemonSet, KubeProxyImage, c.labBin("kube-proxy"), []string{
		"--config=" + filepath.Join(c.Dir, "nodes", "$(NODE_NAME)", "kube-proxy.yaml"),
		"--v=1",
	}, &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Host: "127.0.0.1", Path: "/healthz", Port: intstr.FromInt32(10256)}},
		PeriodSeconds: 1, FailureThreshold: 3,
	}))
}

// deployKubeRouter creates the kube-router DaemonSet: NetworkPolicy only.
func (c *Cluster) deployKubeRouter(ctx context.Context) error {
	return c.createDaemonSet(ctx, c.nodeAgent(KubeRouterDaemonSet, KubeRouterImage, c.labBin("kube-router"), []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--hostname-override=$(NODE_NAME)",
		"--run-firewall=true",
		"--run-router=false",
		"--run-service-proxy=false",
		"--enable-cni=false",
		"--health-port=0",
		"--metrics-port=0",
		"--v=1",
	}, nil))
}

func (c *Cluster) createDaemonSet(ctx context.Context, ds *appsv1.DaemonSet) error {
	if _, err := c.Clientset.AppsV1().DaemonSets(ds.Namespace).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

// kube-proxy's gauges: when it last applied its rules, and when it was last told of a
// change.
const (
	kubeProxySynced = `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}`
	kubeProxyQueued = `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv4"}`
)

// WaitKubeProxySynced waits until the kube-proxy of every node but skip has applied
// every change it was told of, read from its metrics: settled EndpointSlices are not
// yet rules on the nodes. At bring-up it also orders kube-router after kube-proxy:
// a filter-table rewrite of kube-router that lands between kube-proxy's creating its
// chains and jumping to them fails kube-proxy's first sync, which it does not retry
// until a Service or EndpointSlice changes.
func (c *Cluster) WaitKubeProxySynced(ctx context.Context, skip string) error {
	for _, n := range c.Nodes {
		if n.Name == skip {
			continue
		}
		err := c.waitUntil(ctx, "kube-proxy on "+n.Name+" to apply every change", time.Minute, func(ctx context.Context) (string, error) {
			out, err := c.NodeExec(ctx, n.Name, c.ProbePath(), "http", "http://127.0.0.1:10249/metrics", "2s")
			if err != nil {
				first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
				return "metrics: " + first, nil
			}
			synced, queued := gauge(out, kubeProxySynced), gauge(out, kubeProxyQueued)
			if synced == 0 || synced < queued {
				return fmt.Sprintf("last sync %.3f, last change %.3f", synced, queued), nil
			}
			return "", nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// gauge reads the value of one series from Prometheus text, 0 when it is absent.
func gauge(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return 0
}

// WaitDaemonSetReady waits until the DaemonSet has an updated, ready pod on every
// lab node.
func (c *Cluster) WaitDaemonSetReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	return c.waitUntil(ctx, "daemonset "+ns+"/"+name, timeout, func(ctx context.Context) (string, error) {
		ds, err := c.Clientset.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		want := int32(len(c.Nodes))
		s := ds.Status
		if s.ObservedGeneration < ds.Generation || s.DesiredNumberScheduled != want || s.UpdatedNumberScheduled != want || s.NumberReady != want {
			return fmt.Sprintf("desired %d updated %d ready %d of %d nodes", s.DesiredNumberScheduled, s.UpdatedNumberScheduled, s.NumberReady, want), nil
		}
		return "", nil
	})
}

// corefile serves the cluster's names; every other name gets NXDOMAIN, as the
// upstream resolvers of a real cluster answer for a name that does not exist (the lab
// has no upstream: nothing outside it exists).
const corefile = `cluster.local in-addr.arpa ip6.arpa {
    errors
    log
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig /etc/coredns/kubeconfig/kubeconfig lab
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
. {
    errors
    log
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`

// podKubeconfig is a kubeconfig for a pod: the apiserver through the kubernetes
// Service, its certificate checked for the name it has (localhost).
func (c *Cluster) podKubeconfig() ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{
		Server:                   "https://10.96.0.1:443",
		CertificateAuthorityData: c.Admin.TLSClientConfig.CAData,
		TLSServerName:            "localhost",
	}
	cfg.AuthInfos["lab"] = &clientcmdapi.AuthInfo{Token: c.Admin.BearerToken}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "lab"}
	cfg.CurrentContext = "lab"
	return clientcmd.Write(*cfg)
}

// deployCoreDNS runs CoreDNS as a Deployment behind kube-system/kube-dns.
func (c *Cluster) deployCoreDNS(ctx context.Context) error {
	kc, err := c.podKubeconfig()
	if err != nil {
		return err
	}
	ns := "kube-system"
	labels := map[string]string{"k8s-app": "kube-dns"}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: ns},
		Data:       map[string]string{"Corefile": corefile},
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-kubeconfig", Namespace: ns},
		Data:       map[string][]byte{"kubeconfig": kc},
	}
	probe := func(path string, port int) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(int32(port))}},
			PeriodSeconds: 2, FailureThreshold: 5,
		}
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					DNSPolicy: corev1.DNSDefault,
					Containers: []corev1.Container{{
						Name:            "coredns",
						Image:           CoreDNSImage,
						ImagePullPolicy: corev1.PullNever,
						Args:            []string{"-conf", "/etc/coredns/Corefile"},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: probe("/ready", 8181),
						LivenessProbe:  probe("/health", 8080),
						VolumeMounts: []corev1.VolumeMount{
							{Name: "config", MountPath: "/etc/coredns", ReadOnly: true},
							{Name: "kubeconfig", MountPath: "/etc/coredns/kubeconfig", ReadOnly: true},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"}}}},
						{Name: "kubeconfig", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
							SecretName: "coredns-kubeconfig"}}},
					},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: DNSServiceIP,
			Selector:  labels,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	core := c.Clientset.CoreV1()
	if _, err := core.ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create configmap coredns: %w", err)
	}
	if _, err := core.Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create secret coredns-kubeconfig: %w", err)
	}
	if _, err := core.Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create service kube-dns: %w", err)
	}
	if _, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create deployment coredns: %w", err)
	}
	return nil
}
