package trace

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"reach/internal/model"
	"reach/internal/ref"
	"reach/internal/report"
)

// checkDNS: the name the client uses resolves to the intended Service or pod, and cluster DNS is healthy.
func (r *run) checkDNS() {
	mark := r.begin()
	t := r.req.Target
	switch {
	case r.outside:
		r.end(mark, report.LayerDNS, report.StatusSkip, "an outside client resolves public names, not cluster names")
		return
	case r.name == nil:
		r.end(mark, report.LayerDNS, report.StatusSkip, "the client uses an address, not a name")
		return
	case t.Kind == ref.Service && r.svc == nil:
		r.end(mark, report.LayerDNS, report.StatusSkip, "no Service to resolve")
		return
	case r.req.Source.Kind == ref.Node:
		r.end(mark, report.LayerDNS, report.StatusUnknown, "a node resolves with its own resolver, which reach cannot see; use the ClusterIP")
		return
	}
	res := r.name
	details := []string{res.resolver.why, "tried " + strings.Join(res.tried, ", ")}
	if !res.resolver.cluster {
		r.nodeResolver(mark, details)
		return
	}
	healthy := r.checkClusterDNS()
	switch {
	case res.external:
		r.externalName(res)
	case res.notReady != nil:
		r.headlessNotReady(res)
	case res.noSuchPod != nil && !res.found():
		r.podNameNotFound(res)
	case !res.found():
		r.nameNotFound(res)
	case res.svc != nil && res.svc.Spec.Type == corev1.ServiceTypeExternalName:
		r.checkExternalName(res.svc)
	}
	summary := r.dnsSummary(res)
	st := r.statusOf(mark)
	if st == report.StatusPass && !healthy {
		st = report.StatusUnknown
		summary += "; cluster DNS health not visible"
	}
	r.end(mark, report.LayerDNS, st, summary, details...)
}

func (r *run) dnsSummary(res *resolution) string {
	switch {
	case res.external:
		return fmt.Sprintf("%s is outside the cluster domain: answered by upstream servers", res.query)
	case res.pod != nil:
		return fmt.Sprintf("%s -> %s (pod %s)", res.fqdn, strings.Join(model.PodIPs(res.pod), ","), res.pod.Name)
	case res.svc != nil && res.svc.Spec.Type == corev1.ServiceTypeExternalName:
		return fmt.Sprintf("%s -> CNAME %s", res.fqdn, orNone(res.svc.Spec.ExternalName))
	case res.svc != nil && headless(res.svc):
		return fmt.Sprintf("%s -> %s (headless: pod IPs)", res.fqdn, strings.Join(readyAddresses(r.m, res.svc), ","))
	case res.svc != nil:
		return fmt.Sprintf("%s -> %s", res.fqdn, res.svc.Spec.ClusterIP)
	case len(r.findings) > 0:
		return r.findings[len(r.findings)-1].Message
	}
	return fmt.Sprintf("%s does not resolve", res.query)
}

// nodeResolver: a pod that does not use cluster DNS cannot resolve cluster names.
func (r *run) nodeResolver(mark int, details []string) {
	res := r.name
	if res.external {
		r.end(mark, report.LayerDNS, report.StatusPass, fmt.Sprintf("%s resolves with the node's resolver", res.query), details...)
		return
	}
	if r.client.Spec.HostNetwork && (r.client.Spec.DNSPolicy == "" || r.client.Spec.DNSPolicy == corev1.DNSClusterFirst) {
		// the client layer names the cause; this hop shows the effect
		r.end(mark, report.LayerDNS, report.StatusFail, fmt.Sprintf("%s: NXDOMAIN from the node's resolver", res.query), details...)
		return
	}
	r.add(report.Finding{Code: "DNS_NAME_NOT_FOUND", Object: r.podRef(r.client), Field: "spec.dnsPolicy",
		Message:  fmt.Sprintf("pod %s does not use cluster DNS (dnsPolicy %s), so %s does not resolve", r.client.Name, r.client.Spec.DNSPolicy, res.query),
		Evidence: []string{res.resolver.why},
		Fix:      "set spec.dnsPolicy: ClusterFirst (or add the cluster DNS server to spec.dnsConfig), or call the ClusterIP"})
	r.endAuto(mark, report.LayerDNS, r.findings[len(r.findings)-1].Message, details...)
}

func (r *run) externalName(res *resolution) {
	name := res.query
	if strings.HasSuffix(name, ".") || strings.Count(name, ".") >= res.resolver.ndots {
		return
	}
	// tried ends with the name itself: everything before it is a search-list name that fails
	n := len(res.tried) - 1
	if n <= 0 {
		return
	}
	r.add(report.Finding{Code: "DNS_NDOTS_EXTERNAL", Object: r.podRef(r.client),
		Message:  fmt.Sprintf("%s has fewer than %d dots: the resolver tries %s (each A and AAAA) before the real one", name, res.resolver.ndots, plural(n, "search-list name", "search-list names")),
		Evidence: []string{"tried " + strings.Join(res.tried, ", ")},
		Fix:      fmt.Sprintf("write the name with a trailing dot (%s.) or set dnsConfig.options ndots: 1 on the client", name)})
}

// headlessNotReady: the per-pod and Service names of a headless Service exist only for ready pods.
func (r *run) headlessNotReady(res *resolution) {
	svc := res.notReady
	pods := r.m.PodsMatching(svc.Namespace, svc.Spec.Selector)
	var ev []string
	var related []report.ObjectRef
	for _, p := range pods {
		ev = append(ev, fmt.Sprintf("pod %s Ready=%s", p.Name, orDefault(string(model.PodCondition(p, corev1.PodReady)), "unknown")))
		related = append(related, r.podRef(p))
	}
	ev = append(ev, fmt.Sprintf("Service %s: clusterIP None, publishNotReadyAddresses %v", svc.Name, svc.Spec.PublishNotReadyAddresses))
	r.add(report.Finding{Code: "DNS_HEADLESS_NOT_READY", Object: r.obj("Service", svc.Namespace, svc.Name), Related: related,
		Field:    "spec.publishNotReadyAddresses",
		Message:  fmt.Sprintf("%s does not exist: headless Service %s publishes records only for ready pods, and %s", res.query, svc.Name, notReadyCount(pods)),
		Evidence: ev,
		Fix:      fmt.Sprintf("make the pods ready, or for peer discovery before readiness (StatefulSet bootstrap) set spec.publishNotReadyAddresses: true on Service %s/%s", svc.Namespace, svc.Name)})
}

// podNameNotFound: the headless Service exists, but no pod behind it has that hostname.
func (r *run) podNameNotFound(res *resolution) {
	svc := res.noSuchPod
	pods := r.m.PodsMatching(svc.Namespace, svc.Spec.Selector)
	var names []string
	related := []report.ObjectRef{r.obj("Service", svc.Namespace, svc.Name)}
	for _, p := range pods {
		if p.Spec.Subdomain == svc.Name {
			names = append(names, fmt.Sprintf("%s.%s.%s", podHostname(p), svc.Name, svc.Namespace))
			related = append(related, r.podRef(p))
		}
	}
	ev := []string{"tried " + strings.Join(res.tried, ", ") + ": NXDOMAIN"}
	fix := fmt.Sprintf("use a name of an existing pod of headless Service %s, or scale the workload up", svc.Name)
	if len(names) > 0 {
		ev = append(ev, "existing per-pod names: "+strings.Join(names, ", "))
		fix = fmt.Sprintf("use an existing per-pod name (%s), or scale the StatefulSet so the pod exists", names[0])
	} else {
		ev = append(ev, fmt.Sprintf("no pod behind Service %s sets hostname/subdomain %s", svc.Name, svc.Name))
	}
	r.add(report.Finding{Code: "DNS_POD_NAME_NOT_FOUND", Object: r.podRef(r.client), Related: related,
		Message:  fmt.Sprintf("%q does not resolve: headless Service %s/%s has no pod with that hostname", res.query, svc.Namespace, svc.Name),
		Evidence: ev, Fix: fix})
}

func notReadyCount(pods []*corev1.Pod) string {
	ready := 0
	for _, p := range pods {
		if model.PodReady(p) {
			ready++
		}
	}
	if len(pods) == 0 {
		return "no pod matches its selector"
	}
	return fmt.Sprintf("%d of %d pods are ready", ready, len(pods))
}

// nameNotFound: NXDOMAIN; say whether the Service lives in another namespace, or what the nearest names are.
func (r *run) nameNotFound(res *resolution) {
	first := strings.SplitN(strings.TrimSuffix(res.query, "."), ".", 2)[0]
	for _, ns := range r.candidateNamespaces(res) {
		if ok, why := r.m.Coverage.Covered("Service", ns); !ok {
			r.add(report.Finding{Code: "DNS_NAME_NOT_FOUND", Severity: report.SeverityInfo, Object: r.podRef(r.client),
				Message: fmt.Sprintf("%s: cannot tell whether it resolves: %s", res.query, why)})
			return
		}
	}
	var elsewhere []*corev1.Service
	for _, s := range r.m.ServicesNamed(first) {
		if s.Namespace != r.client.Namespace {
			elsewhere = append(elsewhere, s)
		}
	}
	port := ""
	if r.port != 0 {
		port = fmt.Sprintf(":%d", r.port)
	}
	if len(elsewhere) > 0 {
		s := elsewhere[0]
		var where []string
		related := []report.ObjectRef{}
		for _, e := range elsewhere {
			where = append(where, e.Namespace)
			related = append(related, r.obj("Service", e.Namespace, e.Name))
		}
		r.add(report.Finding{Code: "DNS_WRONG_NAMESPACE", Object: r.podRef(r.client), Related: related,
			Message: fmt.Sprintf("%q resolves in the client's namespace %s, where no Service %s exists; it lives in namespace %s", res.query, r.client.Namespace, first, strings.Join(where, ", ")),
			Evidence: []string{"tried " + strings.Join(res.tried, ", ") + ": NXDOMAIN",
				fmt.Sprintf("Service %s/%s exists (ClusterIP %s)", s.Namespace, s.Name, orNone(s.Spec.ClusterIP))},
			Fix: fmt.Sprintf("call %s.%s%s (or %s.%s.svc.%s%s) from the client", first, s.Namespace, port, first, s.Namespace, clusterDomain(r.m), port)})
		r.svc = nil
		return
	}
	near := r.nearestServices(first)
	ev := []string{"tried " + strings.Join(res.tried, ", ") + ": NXDOMAIN"}
	fix := "check the name the client uses: kubectl get svc -A"
	related := []report.ObjectRef{}
	if len(near) > 0 {
		var names []string
		for _, s := range near {
			name := s.Name
			if s.Namespace != r.client.Namespace {
				name += "." + s.Namespace
			}
			names = append(names, name)
			related = append(related, r.obj("Service", s.Namespace, s.Name))
		}
		ev = append(ev, "nearest Service names: "+strings.Join(names, ", "))
		fix = fmt.Sprintf("did you mean %s%s? fix the name the client uses", names[0], port)
	}
	r.add(report.Finding{Code: "DNS_NAME_NOT_FOUND", Object: r.podRef(r.client), Related: related,
		Message:  fmt.Sprintf("%q does not resolve: no Service of that name", res.query),
		Evidence: ev, Fix: fix})
}

func (r *run) candidateNamespaces(res *resolution) []string {
	set := map[string]bool{r.client.Namespace: true}
	parts := strings.Split(strings.TrimSuffix(res.query, "."), ".")
	if len(parts) > 1 && r.m.HasNamespace(parts[1]) {
		set[parts[1]] = true
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// nearestServices returns up to three Services whose names are closest to name, the client's namespace first.
func (r *run) nearestServices(name string) []*corev1.Service {
	type cand struct {
		svc  *corev1.Service
		dist int
	}
	var cands []cand
	for _, k := range r.m.ServiceNames() {
		s := r.m.Services[k]
		d := levenshtein(name, s.Name)
		if strings.HasPrefix(s.Name, name) || strings.HasPrefix(name, s.Name) {
			d = min(d, 2)
		}
		if d <= max(2, len(name)/3) {
			if s.Namespace != r.client.Namespace {
				d++
			}
			cands = append(cands, cand{s, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].dist < cands[j].dist })
	var out []*corev1.Service
	for i := 0; i < len(cands) && i < 3; i++ {
		out = append(out, cands[i].svc)
	}
	return out
}

var hostname = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.?$`)

// checkExternalName: CoreDNS answers an ExternalName with a CNAME, which needs a host name.
func (r *run) checkExternalName(svc *corev1.Service) {
	ext := svc.Spec.ExternalName
	var problem string
	switch {
	case ext == "":
		problem = "spec.externalName is empty"
	case net.ParseIP(ext) != nil:
		problem = fmt.Sprintf("spec.externalName %q is an IP address: cluster DNS answers a CNAME to it, which no resolver follows to an A record", ext)
	case !hostname.MatchString(ext):
		problem = fmt.Sprintf("spec.externalName %q is not a valid DNS name", ext)
	default:
		return
	}
	fix := "set spec.externalName to a DNS name"
	if net.ParseIP(ext) != nil {
		fix = fmt.Sprintf("for a fixed IP use a Service without selector and an EndpointSlice with address %s (or a DNS name for it)", ext)
	}
	r.add(report.Finding{Code: "DNS_EXTERNALNAME_BAD", Object: r.obj("Service", svc.Namespace, svc.Name), Field: "spec.externalName",
		Message: fmt.Sprintf("ExternalName Service %s does not resolve: %s", svc.Name, problem), Evidence: []string{"spec.type: ExternalName", "spec.externalName: " + orNone(ext)}, Fix: fix})
}

// checkClusterDNS: the kube-dns Service exists, has ready endpoints, and its ClusterIP is what the kubelet hands out.
// It returns false when kube-system is not visible.
func (r *run) checkClusterDNS() bool {
	ok, why := r.m.Coverage.Covered("Service", "kube-system")
	if !ok {
		r.add(report.Finding{Code: "DNS_SERVICE_MISSING", Severity: report.SeverityInfo, Object: r.obj("Service", "kube-system", "kube-dns"),
			Message: "cluster DNS health unknown: " + why})
		return false
	}
	dns := r.dnsService()
	if dns == nil {
		r.add(report.Finding{Code: "DNS_SERVICE_MISSING", Object: r.obj("Service", "kube-system", "kube-dns"),
			Message:  "no cluster DNS Service in kube-system (kube-dns, or one labelled k8s-app=kube-dns): every name lookup times out",
			Evidence: []string{"Services in kube-system: " + strings.Join(serviceNames(r.m.ServicesIn("kube-system")), ", ")},
			Fix:      "restore Service kube-system/kube-dns with ClusterIP equal to the kubelet's clusterDNS, selecting the CoreDNS pods on UDP and TCP 53"})
		return true
	}
	r.checkKubeletClusterDNS(dns)
	pods := r.m.PodsMatching("kube-system", dns.Spec.Selector)
	ready := 0
	for _, p := range pods {
		if model.PodReady(p) && !model.PodTerminating(p) {
			ready++
		}
	}
	if ok, _ := r.m.Coverage.Covered("Pod", "kube-system"); !ok {
		return false
	}
	if ready > 0 {
		return true
	}
	r.coreDNSDown(dns, pods)
	return true
}

func (r *run) dnsService() *corev1.Service {
	if s := r.m.Service("kube-system", "kube-dns"); s != nil {
		return s
	}
	for _, s := range r.m.ServicesIn("kube-system") {
		if s.Labels["k8s-app"] == "kube-dns" {
			return s
		}
	}
	return nil
}

var kubeletClusterDNS = regexp.MustCompile(`(?m)^clusterDNS:\s*\n\s*-\s*"?([0-9a-fA-F.:]+)`)

func (r *run) checkKubeletClusterDNS(dns *corev1.Service) {
	cm := r.m.ConfigMaps[model.Key{Namespace: "kube-system", Name: "kubelet-config"}]
	if cm == nil {
		return
	}
	for _, v := range cm.Data {
		m := kubeletClusterDNS.FindStringSubmatch(v)
		if m == nil || m[1] == dns.Spec.ClusterIP {
			continue
		}
		r.add(report.Finding{Code: "DNS_CLUSTERIP_MISMATCH", Object: r.obj("Service", dns.Namespace, dns.Name), Field: "spec.clusterIP",
			Related:  []report.ObjectRef{r.obj("ConfigMap", "kube-system", "kubelet-config")},
			Message:  fmt.Sprintf("pods are told to use DNS server %s (kubelet clusterDNS) but Service %s has ClusterIP %s: every lookup times out", m[1], dns.Name, dns.Spec.ClusterIP),
			Evidence: []string{"kubelet-config clusterDNS: " + m[1], "Service kube-dns clusterIP: " + dns.Spec.ClusterIP},
			Fix:      fmt.Sprintf("recreate Service kube-system/%s with spec.clusterIP %s", dns.Name, m[1])})
		return
	}
}

// coreDNSDown explains why cluster DNS has no ready endpoints: RBAC, a forwarding loop, or the pods' own state.
func (r *run) coreDNSDown(dns *corev1.Service, pods []*corev1.Pod) {
	deploy := r.coreDNSDeployment(dns)
	object := r.obj("Service", dns.Namespace, dns.Name)
	var ev []string
	related := []report.ObjectRef{r.obj("Service", dns.Namespace, dns.Name)}
	if deploy != nil {
		object = r.obj("Deployment", deploy.Namespace, deploy.Name)
		replicas := int32(1)
		if deploy.Spec.Replicas != nil {
			replicas = *deploy.Spec.Replicas
		}
		ev = append(ev, fmt.Sprintf("Deployment %s: replicas %d, ready %d", deploy.Name, replicas, deploy.Status.ReadyReplicas))
	}
	for _, p := range pods {
		ev = append(ev, fmt.Sprintf("pod %s: %s", p.Name, podState(p)))
		related = append(related, r.podRef(p))
	}
	if len(pods) == 0 {
		ev = append(ev, fmt.Sprintf("no pod matches the kube-dns selector %s", model.LabelString(dns.Spec.Selector)))
	}
	r.coreDNSCause(pods)
	fix := "get CoreDNS running: kubectl -n kube-system describe pods -l " + model.LabelString(dns.Spec.Selector)
	if deploy != nil && deploy.Spec.Replicas != nil && *deploy.Spec.Replicas == 0 {
		fix = fmt.Sprintf("kubectl -n kube-system scale deployment %s --replicas=2", deploy.Name)
	}
	r.add(report.Finding{Code: "DNS_COREDNS_UNAVAILABLE", Object: object, Related: related,
		Message:  fmt.Sprintf("cluster DNS Service %s has no ready endpoints: every name lookup times out", dns.Name),
		Evidence: ev, Fix: fix})
}

func (r *run) coreDNSDeployment(dns *corev1.Service) *appsv1.Deployment {
	for _, k := range sortedKeys(r.m.Deployments) {
		d := r.m.Deployments[k]
		if d.Namespace != "kube-system" || d.Spec.Selector == nil {
			continue
		}
		sel, err := metav1LabelSelector(d.Spec.Selector)
		if err == nil && sel.Matches(labels.Set(dns.Spec.Selector)) {
			return d
		}
	}
	if d := r.m.Deployments[model.Key{Namespace: "kube-system", Name: "coredns"}]; d != nil {
		return d
	}
	return nil
}

var (
	corefileLoop          = regexp.MustCompile(`(?m)^\s*loop\s*$`)
	corefileForwardResolv = regexp.MustCompile(`(?m)^\s*forward\s+\.\s+/etc/resolv\.conf`)
)

// coreDNSCause adds the specific reason CoreDNS is down when the objects show it.
func (r *run) coreDNSCause(pods []*corev1.Pod) {
	crashing := false
	for _, p := range pods {
		if waitingReason(p) == "CrashLoopBackOff" || p.Status.Phase == corev1.PodRunning && !model.PodReady(p) {
			crashing = true
		}
	}
	if !crashing {
		return
	}
	for name, rules := range r.m.ClusterRoles {
		if name != "system:coredns" && name != "coredns" {
			continue
		}
		if !allows(rules, "discovery.k8s.io", "endpointslices", "list") || !allows(rules, "discovery.k8s.io", "endpointslices", "watch") {
			r.add(report.Finding{Code: "DNS_COREDNS_RBAC", Object: r.obj("ClusterRole", "", name), Field: "rules",
				Message:  fmt.Sprintf("ClusterRole %s does not allow list and watch on endpointslices.discovery.k8s.io, so CoreDNS never becomes ready", name),
				Evidence: []string{fmt.Sprintf("ClusterRole %s has no rule granting list,watch on discovery.k8s.io/endpointslices", name)},
				Fix:      fmt.Sprintf("add to ClusterRole %s: {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}", name)})
			return
		}
	}
	cm := r.m.ConfigMaps[model.Key{Namespace: "kube-system", Name: "coredns"}]
	if cm == nil {
		return
	}
	cf := cm.Data["Corefile"]
	if corefileLoop.MatchString(cf) && corefileForwardResolv.MatchString(cf) {
		for _, p := range pods {
			if strings.Contains(lastTerminationMessage(p), "Loop") || waitingReason(p) == "CrashLoopBackOff" {
				r.add(report.Finding{Code: "DNS_COREDNS_LOOP", Severity: report.SeverityError, Object: r.obj("ConfigMap", "kube-system", "coredns"), Field: "data.Corefile",
					Message:  "CoreDNS is crash-looping and its Corefile forwards to /etc/resolv.conf with the loop plugin on: on nodes whose resolv.conf points at a local stub resolver (127.0.0.53) CoreDNS forwards to itself and exits",
					Evidence: []string{"Corefile: forward . /etc/resolv.conf", "Corefile: loop", fmt.Sprintf("pod %s: %s", p.Name, podState(p))},
					Fix:      "point the kubelet's resolvConf at the real upstream file (/run/systemd/resolve/resolv.conf) or forward to explicit upstream servers in the Corefile"})
				return
			}
		}
	}
}

func allows(rules []model.RBACRule, group, resource, verb string) bool {
	has := func(list []string, v string) bool {
		for _, x := range list {
			if x == v || x == "*" {
				return true
			}
		}
		return false
	}
	for _, rule := range rules {
		if has(rule.APIGroups, group) && has(rule.Resources, resource) && has(rule.Verbs, verb) {
			return true
		}
	}
	return false
}

func serviceNames(svcs []*corev1.Service) []string {
	out := make([]string, len(svcs))
	for i, s := range svcs {
		out[i] = s.Name
	}
	return out
}
