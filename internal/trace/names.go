package trace

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"reach/internal/model"
)

// resolver is how a client looks names up: which server, which search path, which ndots.
type resolver struct {
	cluster bool     // queries go to the cluster DNS
	search  []string // search domains, in order
	ndots   int
	why     string // how the configuration was derived, for evidence
}

// resolverOf derives the resolver of a pod from its dnsPolicy, dnsConfig and hostNetwork, as the kubelet writes resolv.conf.
func resolverOf(p *corev1.Pod, domain string) resolver {
	ns := "default"
	policy := corev1.DNSClusterFirst
	hostNet := false
	var cfg *corev1.PodDNSConfig
	if p != nil {
		ns = p.Namespace
		if p.Spec.DNSPolicy != "" {
			policy = p.Spec.DNSPolicy
		}
		hostNet = p.Spec.HostNetwork
		cfg = p.Spec.DNSConfig
	}
	clusterSearch := []string{ns + ".svc." + domain, "svc." + domain, domain}
	r := resolver{ndots: 5}
	switch {
	case policy == corev1.DNSClusterFirstWithHostNet, policy == corev1.DNSClusterFirst && !hostNet:
		r.cluster, r.search = true, clusterSearch
		r.why = fmt.Sprintf("dnsPolicy %s: cluster DNS, search %s, ndots 5", policy, strings.Join(clusterSearch, " "))
	case policy == corev1.DNSClusterFirst && hostNet:
		r.why = "hostNetwork: true with dnsPolicy ClusterFirst falls back to the node's resolver (dnsPolicy Default)"
		r.ndots = 1
	case policy == corev1.DNSDefault:
		r.why = "dnsPolicy Default: the node's resolver"
		r.ndots = 1
	case policy == corev1.DNSNone:
		r.why = "dnsPolicy None: only spec.dnsConfig"
		r.ndots = 1
	}
	if cfg != nil {
		r.search = append(r.search, cfg.Searches...)
		for _, o := range cfg.Options {
			if o.Name == "ndots" && o.Value != nil {
				if n, err := strconv.Atoi(*o.Value); err == nil {
					r.ndots = n
				}
			}
		}
		if policy == corev1.DNSNone {
			for _, ns := range cfg.Nameservers {
				if ns != "" {
					r.why += ", nameservers " + strings.Join(cfg.Nameservers, " ")
					break
				}
			}
		}
	}
	return r
}

// candidates lists the names a resolver tries, in order.
func (rv resolver) candidates(name string) []string {
	if strings.HasSuffix(name, ".") {
		return []string{strings.TrimSuffix(name, ".")}
	}
	var searched []string
	for _, s := range rv.search {
		searched = append(searched, name+"."+s)
	}
	if strings.Count(name, ".") >= rv.ndots {
		return append([]string{name}, searched...)
	}
	return append(searched, name)
}

// resolution is how one name resolved in the cluster.
type resolution struct {
	query    string
	resolver resolver
	tried    []string
	fqdn     string
	svc      *corev1.Service
	pod      *corev1.Pod // per-pod name (headless hostname or a-b-c-d.ns.pod)
	// external: the name is outside the cluster domain; upstream servers answer it.
	external bool
	// notReady: a headless name that exists only once its pods are ready.
	notReady *corev1.Service
	// noSuchPod: a per-pod name under an existing headless Service that names no pod.
	noSuchPod *corev1.Service
}

// found says whether the name resolved to something in the cluster.
func (res *resolution) found() bool { return res.svc != nil || res.pod != nil }

var podIPName = regexp.MustCompile(`^\d+-\d+-\d+-\d+$`)

// resolveName looks a name up as the resolver would, in the cluster's Services and pods.
func resolveName(m *model.Cluster, rv resolver, name, domain string) *resolution {
	res := &resolution{query: name, resolver: rv}
	for _, fqdn := range rv.candidates(name) {
		res.tried = append(res.tried, fqdn)
		if !strings.HasSuffix(fqdn, "."+domain) {
			if !strings.Contains(fqdn, ".") {
				continue // a bare single label never resolves upstream
			}
			if isSearchDomain(rv, fqdn, domain) {
				continue
			}
			// first candidate outside the cluster domain: the upstream resolvers answer it,
			// unless a search candidate named a headless Service: then the name is that
			// Service's per-pod name, missing or not ready
			if fqdn == strings.TrimSuffix(name, ".") && res.noSuchPod == nil && res.notReady == nil {
				res.external, res.fqdn = true, fqdn
				return res
			}
			continue
		}
		if lookup(m, res, fqdn, domain) {
			res.fqdn = fqdn
			return res
		}
	}
	return res
}

func isSearchDomain(rv resolver, fqdn, domain string) bool {
	for _, s := range rv.search {
		if strings.HasSuffix(fqdn, "."+s) && strings.HasSuffix(s, domain) {
			return true
		}
	}
	return false
}

// lookup answers one fully qualified cluster name the way CoreDNS's kubernetes plugin does.
func lookup(m *model.Cluster, res *resolution, fqdn, domain string) bool {
	labels := strings.Split(strings.TrimSuffix(fqdn, "."+domain), ".")
	n := len(labels)
	switch {
	case n == 3 && labels[2] == "svc":
		svc := m.Service(labels[1], labels[0])
		if svc == nil {
			return false
		}
		if headless(svc) && svc.Spec.Type != corev1.ServiceTypeExternalName && len(readyAddresses(m, svc)) == 0 {
			res.notReady = svc
			return false
		}
		res.svc = svc
		return true
	case n == 4 && labels[3] == "svc":
		svc := m.Service(labels[2], labels[1])
		if svc == nil || !headless(svc) {
			return false
		}
		for _, p := range m.PodsMatching(svc.Namespace, svc.Spec.Selector) {
			if podHostname(p) == labels[0] && p.Spec.Subdomain == svc.Name {
				if !model.PodReady(p) && !svc.Spec.PublishNotReadyAddresses {
					res.notReady = svc
					res.pod = nil
					return false
				}
				res.svc, res.pod = svc, p
				return true
			}
		}
		if res.noSuchPod == nil {
			res.noSuchPod = svc
		}
		return false
	case n == 3 && labels[2] == "pod" && podIPName.MatchString(labels[0]):
		ip := strings.ReplaceAll(labels[0], "-", ".")
		if net.ParseIP(ip) == nil {
			return false
		}
		for _, p := range m.PodsByIP(ip) {
			if p.Namespace == labels[1] {
				res.pod = p
				return true
			}
		}
		return false
	}
	return false
}

func podHostname(p *corev1.Pod) string {
	if p.Spec.Hostname != "" {
		return p.Spec.Hostname
	}
	return p.Name
}

func headless(s *corev1.Service) bool { return s.Spec.ClusterIP == corev1.ClusterIPNone }

// readyAddresses returns the addresses cluster DNS serves for a headless Service.
func readyAddresses(m *model.Cluster, svc *corev1.Service) []string {
	var out []string
	for _, p := range m.PodsMatching(svc.Namespace, svc.Spec.Selector) {
		if (model.PodReady(p) || svc.Spec.PublishNotReadyAddresses) && !model.PodTerminating(p) {
			out = append(out, model.PodIPs(p)...)
		}
	}
	for _, s := range m.SlicesFor(svc.Namespace, svc.Name) {
		if len(svc.Spec.Selector) > 0 {
			break // the selector's pods are the truth already
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				out = append(out, e.Addresses...)
			}
		}
	}
	return out
}

var (
	corefileZone  = regexp.MustCompile(`(?m)^\s*kubernetes\s+([A-Za-z0-9.-]+)`)
	kubeletDomain = regexp.MustCompile(`(?m)^clusterDomain:\s*"?([A-Za-z0-9.-]+)`)
)

// clusterDomain reads the domain from the CoreDNS Corefile or the kubelet config, else cluster.local.
func clusterDomain(m *model.Cluster) string {
	if cm := m.ConfigMaps[model.Key{Namespace: "kube-system", Name: "coredns"}]; cm != nil {
		if z := corefileZone.FindStringSubmatch(cm.Data["Corefile"]); z != nil {
			return strings.TrimSuffix(z[1], ".")
		}
	}
	if cm := m.ConfigMaps[model.Key{Namespace: "kube-system", Name: "kubelet-config"}]; cm != nil {
		for _, v := range cm.Data {
			if mm := kubeletDomain.FindStringSubmatch(v); mm != nil {
				return strings.TrimSuffix(mm[1], ".")
			}
		}
	}
	return "cluster.local"
}
