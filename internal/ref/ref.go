// Package ref parses the SOURCE and TARGET references of the command line.
package ref

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Kinds a reference can name, plus the pseudo kinds for names and addresses.
const (
	Pod         = "Pod"
	Deployment  = "Deployment"
	StatefulSet = "StatefulSet"
	DaemonSet   = "DaemonSet"
	Service     = "Service"
	Ingress     = "Ingress"
	Node        = "Node"
	Outside     = "Outside"
	DNSName     = "DNSName"
	Address     = "Address"
)

var kindNames = map[string]string{
	"pod": Pod, "pods": Pod, "po": Pod,
	"deploy": Deployment, "deployment": Deployment, "deployments": Deployment,
	"sts": StatefulSet, "statefulset": StatefulSet, "statefulsets": StatefulSet,
	"ds": DaemonSet, "daemonset": DaemonSet, "daemonsets": DaemonSet,
	"svc": Service, "service": Service, "services": Service,
	"ing": Ingress, "ingress": Ingress, "ingresses": Ingress,
	"node": Node, "nodes": Node, "no": Node,
}

// Ref is one end of a trace as the user wrote it.
type Ref struct {
	Kind      string
	Namespace string
	// NamespaceSet is true when the reference itself named the namespace.
	NamespaceSet bool
	Name         string
	Port         int32
	PortName     string
	Scheme       string
	Path         string
	Raw          string
}

// IsWorkload says whether the reference names an object that stands for its pods.
func (r Ref) IsWorkload() bool {
	return r.Kind == Deployment || r.Kind == StatefulSet || r.Kind == DaemonSet
}

// Parse reads one reference; defaultNS fills the namespace when the reference has none.
func Parse(s, defaultNS string) (Ref, error) {
	r := Ref{Raw: s, Namespace: defaultNS}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return r, fmt.Errorf("empty reference")
	case s == "outside":
		r.Kind = Outside
		return r, nil
	case strings.Contains(s, "://"):
		return parseURL(r, s)
	}
	if parts := strings.Split(s, "/"); len(parts) == 2 || len(parts) == 3 {
		kindIdx := len(parts) - 2
		if kind, ok := kindNames[strings.ToLower(parts[kindIdx])]; ok {
			return parseObject(r, kind, parts)
		}
		return r, fmt.Errorf("reference %q: unknown kind %q (want pod, deploy, sts, ds, svc, ingress or node)", s, parts[kindIdx])
	} else if len(parts) > 3 {
		return r, fmt.Errorf("reference %q: want [NAMESPACE/]KIND/NAME[:PORT]", s)
	}
	host, port, err := splitHostPort(s)
	if err != nil {
		return r, fmt.Errorf("reference %q: %w", s, err)
	}
	r.Port = port
	if ip := net.ParseIP(host); ip != nil {
		r.Kind, r.Name = Address, ip.String()
		if port == 0 {
			return r, fmt.Errorf("reference %q: an address needs a port (IP:PORT)", s)
		}
		return r, nil
	}
	if err := validDNSName(host); err != nil {
		return r, fmt.Errorf("reference %q: %w", s, err)
	}
	r.Kind, r.Name = DNSName, host
	return r, nil
}

func parseObject(r Ref, kind string, parts []string) (Ref, error) {
	r.Kind = kind
	if len(parts) == 3 {
		if parts[0] == "" {
			return r, fmt.Errorf("reference %q: empty namespace", r.Raw)
		}
		r.Namespace, r.NamespaceSet = parts[0], true
	}
	name := parts[len(parts)-1]
	if i := strings.LastIndex(name, ":"); i >= 0 {
		p := name[i+1:]
		name = name[:i]
		if n, err := strconv.ParseUint(p, 10, 16); err == nil && n > 0 {
			r.Port = int32(n)
		} else if p != "" && validPortName(p) {
			r.PortName = p
		} else {
			return r, fmt.Errorf("reference %q: bad port %q", r.Raw, p)
		}
	}
	if name == "" {
		return r, fmt.Errorf("reference %q: empty name", r.Raw)
	}
	r.Name = name
	if kind == Node {
		r.Namespace, r.NamespaceSet = "", false
	}
	return r, nil
}

func parseURL(r Ref, s string) (Ref, error) {
	u, err := url.Parse(s)
	if err != nil {
		return r, fmt.Errorf("reference %q: %w", s, err)
	}
	r.Scheme, r.Path = u.Scheme, u.Path
	host := u.Hostname()
	switch p := u.Port(); {
	case p != "":
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return r, fmt.Errorf("reference %q: bad port %q", s, p)
		}
		r.Port = int32(n)
	case u.Scheme == "http" || u.Scheme == "ws":
		r.Port = 80
	case u.Scheme == "https" || u.Scheme == "wss":
		r.Port = 443
	default:
		return r, fmt.Errorf("reference %q: no port and no known default for scheme %q", s, u.Scheme)
	}
	if ip := net.ParseIP(host); ip != nil {
		r.Kind, r.Name = Address, ip.String()
		return r, nil
	}
	if err := validDNSName(host); err != nil {
		return r, fmt.Errorf("reference %q: %w", s, err)
	}
	r.Kind, r.Name = DNSName, host
	return r, nil
}

// splitHostPort accepts host, host:port, IPv6 and [IPv6]:port.
func splitHostPort(s string) (string, int32, error) {
	if net.ParseIP(s) != nil {
		return s, 0, nil
	}
	if !strings.Contains(s, ":") {
		return s, 0, nil
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, int32(n), nil
}

func validDNSName(h string) error {
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("bad name %q", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("bad name %q", h)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("bad name %q: character %q", h, c)
			}
		}
	}
	return nil
}

func validPortName(p string) bool {
	if len(p) > 15 {
		return false
	}
	letter := false
	for _, c := range p {
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}
