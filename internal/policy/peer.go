package policy

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
)

// endpoint is one end of a flow as the policies see it.
type endpoint struct {
	// pod is set for a pod on the pod network: selectors can pick it and policies can isolate it.
	pod *corev1.Pod
	// hostPod is a hostNetwork pod: it speaks with its node's IP and no policy isolates it.
	hostPod *corev1.Pod
	ip      string
	node    *corev1.Node
}

// owner returns the pod behind the endpoint, on either network.
func (e endpoint) owner() *corev1.Pod {
	if e.pod != nil {
		return e.pod
	}
	return e.hostPod
}

func (e endpoint) String() string {
	switch {
	case e.pod != nil:
		return fmt.Sprintf("pod %s/%s", e.pod.Namespace, e.pod.Name)
	case e.hostPod != nil:
		return fmt.Sprintf("hostNetwork pod %s/%s (node IP %s)", e.hostPod.Namespace, e.hostPod.Name, e.ip)
	case e.node != nil:
		return fmt.Sprintf("node %s (%s)", e.node.Name, e.ip)
	case e.ip == "":
		return "an unknown address"
	}
	return "IP " + e.ip
}

func isHostNetwork(p *corev1.Pod) bool { return p != nil && p.Spec.HostNetwork }

// resolveFlow turns the two peers of a flow into endpoints; the source IP is taken in the
// destination's family when the source pod has several.
func resolveFlow(m *model.Cluster, f Flow) (src, dst endpoint) {
	dst = resolvePeer(m, f.To, "")
	src = resolvePeer(m, f.From, dst.ip)
	return src, dst
}

func resolvePeer(m *model.Cluster, p Peer, familyOf string) endpoint {
	pod := p.Pod
	if pod == nil && p.IP != "" {
		pod = podOwningIP(m, p.IP)
	}
	switch {
	case pod == nil:
		return endpoint{ip: p.IP, node: m.NodeByIP(p.IP)}
	case isHostNetwork(pod):
		ip := p.IP
		if ip == "" {
			ip = hostIP(m, pod)
		}
		e := endpoint{hostPod: pod, ip: ip, node: m.NodeByIP(ip)}
		if e.node == nil {
			e.node = m.Nodes[pod.Spec.NodeName]
		}
		return e
	}
	ip := p.IP
	if ip == "" {
		ip = sameFamily(model.PodIPs(pod), familyOf)
	}
	return endpoint{pod: pod, ip: ip}
}

// podOwningIP returns the pod-network pod holding an IP, nil when none or when only hostNetwork
// pods (sharing a node IP) hold it.
func podOwningIP(m *model.Cluster, ip string) *corev1.Pod {
	var host *corev1.Pod
	for _, p := range m.PodsByIP(ip) {
		if !isHostNetwork(p) {
			return p
		}
		if host == nil {
			host = p
		}
	}
	return host
}

func hostIP(m *model.Cluster, p *corev1.Pod) string {
	if p.Status.HostIP != "" {
		return p.Status.HostIP
	}
	if p.Status.PodIP != "" {
		return p.Status.PodIP
	}
	if n := m.Nodes[p.Spec.NodeName]; n != nil {
		return model.NodeInternalIP(n)
	}
	return ""
}

// sameFamily picks the first address of the family of ref, or the first address.
func sameFamily(ips []string, ref string) string {
	if len(ips) == 0 {
		return ""
	}
	r, err := netip.ParseAddr(ref)
	if err != nil {
		return ips[0]
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() == r.Is4() {
			return ip
		}
	}
	return ips[0]
}
