package policy

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// portSpec is one port term of any policy kind, normalised.
type portSpec struct {
	// protocol is empty for a named port of a cluster policy (the container port's protocol).
	protocol corev1.Protocol
	// start == 0: every port of the protocol.
	start, end int32
	named      string
}

func (p portSpec) String() string {
	proto := string(p.protocol)
	switch {
	case p.named != "" && proto == "":
		return "named port " + p.named
	case p.named != "":
		return fmt.Sprintf("named port %s/%s", p.named, proto)
	case p.start == 0:
		return "every " + proto + " port"
	case p.end > p.start:
		return fmt.Sprintf("%d-%d/%s", p.start, p.end, proto)
	}
	return fmt.Sprintf("%d/%s", p.start, proto)
}

// portResult is a rule's port list checked against the flow.
type portResult struct {
	ok bool
	// part is PartProtocol when no term names the flow's protocol, PartPort otherwise.
	part Part
	why  string
	// viaRange: the flow matched through a port range (endPort).
	viaRange bool
	// missingNames are named ports the destination pod does not declare for the protocol.
	missingNames []string
}

// npPorts converts a NetworkPolicy rule's ports; the protocol defaults to TCP.
func npPorts(ports []networkingv1.NetworkPolicyPort) []portSpec {
	out := make([]portSpec, 0, len(ports))
	for _, p := range ports {
		s := portSpec{protocol: corev1.ProtocolTCP}
		if p.Protocol != nil && *p.Protocol != "" {
			s.protocol = *p.Protocol
		}
		if p.Port != nil {
			if p.Port.Type == intstr.String {
				s.named = p.Port.StrVal
			} else {
				s.start, s.end = p.Port.IntVal, p.Port.IntVal
				if p.EndPort != nil && *p.EndPort > s.start {
					s.end = *p.EndPort
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// checkPorts matches the flow against a port list; an empty list allows every port.
func checkPorts(specs []portSpec, dst endpoint, port int32, proto corev1.Protocol) portResult {
	if len(specs) == 0 {
		return portResult{ok: true, why: "every port"}
	}
	res := portResult{part: PartProtocol}
	for _, s := range specs {
		ok, protoOK, missing := matchPort(s, dst, port, proto)
		if protoOK {
			res.part = PartPort
		}
		if missing {
			res.missingNames = append(res.missingNames, s.named)
		}
		if ok {
			return portResult{ok: true, why: fmt.Sprintf("%d/%s matches %s", port, proto, s), viaRange: s.end > s.start}
		}
	}
	res.why = fmt.Sprintf("%d/%s is not among %s", port, proto, portList(specs))
	for _, n := range res.missingNames {
		res.why += fmt.Sprintf("; %s declares no %s port named %q", dstName(dst), proto, n)
	}
	return res
}

// matchPort says whether one term matches, whether its protocol could, and whether it is a named
// port the destination does not declare.
func matchPort(s portSpec, dst endpoint, port int32, proto corev1.Protocol) (ok, protoOK, missing bool) {
	if s.named != "" {
		num, cproto, found := namedPort(dst.owner(), s.named, s.protocol)
		if !found {
			return false, s.protocol == "" || s.protocol == proto, true
		}
		return num == port && cproto == proto, cproto == proto, false
	}
	if s.protocol != proto {
		return false, false, false
	}
	if s.start == 0 {
		return true, true, false
	}
	return port >= s.start && port <= s.end, true, false
}

// namedPort resolves a port name on a pod, as the policy's protocol wants it (any protocol when
// want is empty).
func namedPort(p *corev1.Pod, name string, want corev1.Protocol) (int32, corev1.Protocol, bool) {
	if p == nil {
		return 0, "", false
	}
	for _, list := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range list {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if cp.Name == name && (want == "" || want == proto) {
					return cp.ContainerPort, proto, true
				}
			}
		}
	}
	return 0, "", false
}

func portList(specs []portSpec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func dstName(dst endpoint) string {
	if p := dst.owner(); p != nil {
		return fmt.Sprintf("pod %s/%s", p.Namespace, p.Name)
	}
	return dst.String()
}
