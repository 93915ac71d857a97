package testlab

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

const (
	settleTimeout   = 30 * time.Second
	managedByLabel  = "endpointslice.kubernetes.io/managed-by"
	sliceController = "endpointslice-controller.k8s.io"
)

// podWant is the part of a pod's status Apply wrote and waits to read back.
type podWant struct {
	podIP string
	phase corev1.PodPhase
}

// WaitForEndpointSlices waits until every Service with a selector has controller-made
// EndpointSlices holding exactly the endpoints the controller should produce from the
// pods now in the cluster.
func (l *Lab) WaitForEndpointSlices(ctx context.Context) error {
	return l.settle(ctx, nil)
}

// settle is WaitForEndpointSlices that also waits for the given pod statuses to read back.
func (l *Lab) settle(ctx context.Context, written map[types.NamespacedName]podWant) error {
	last := "nothing checked yet"
	return l.waitUntil(ctx, "endpointslices to settle", settleTimeout, func(ctx context.Context) (string, error) {
		problems, err := l.unsettled(ctx, written)
		if err != nil {
			return last, nil // the apiserver may be busy; try again, reporting what was last seen
		}
		last = strings.Join(problems, "; ")
		return last, nil
	})
}

// unsettled lists what does not match yet.
func (l *Lab) unsettled(ctx context.Context, written map[types.NamespacedName]podWant) ([]string, error) {
	pods, err := l.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	svcs, err := l.Clientset.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	sl, err := l.Clientset.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{
		LabelSelector: managedByLabel + "=" + sliceController,
	})
	if err != nil {
		return nil, fmt.Errorf("list endpointslices: %w", err)
	}
	problems := unreadPods(pods.Items, written)
	podsByNS := map[string][]corev1.Pod{}
	for _, p := range pods.Items {
		podsByNS[p.Namespace] = append(podsByNS[p.Namespace], p)
	}
	slicesBySvc := map[types.NamespacedName][]discoveryv1.EndpointSlice{}
	for _, s := range sl.Items {
		k := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		slicesBySvc[k] = append(slicesBySvc[k], s)
	}
	for _, svc := range svcs.Items {
		if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		want := wantEndpoints(&svc, podsByNS[svc.Namespace])
		got := sliceEndpoints(slicesBySvc[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}])
		if !slices.Equal(want, got) {
			problems = append(problems, fmt.Sprintf("service %s/%s: want endpoints %v, slices hold %v", svc.Namespace, svc.Name, want, got))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

func unreadPods(pods []corev1.Pod, written map[types.NamespacedName]podWant) []string {
	seen := map[types.NamespacedName]bool{}
	var problems []string
	for _, p := range pods {
		k := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		w, ok := written[k]
		if !ok {
			continue
		}
		seen[k] = true
		if p.Status.PodIP != w.podIP || p.Status.Phase != w.phase {
			problems = append(problems, fmt.Sprintf("pod %s: status reads podIP=%q phase=%q, wrote %q %q", k, p.Status.PodIP, p.Status.Phase, w.podIP, w.phase))
		}
	}
	for k := range written {
		if !seen[k] {
			problems = append(problems, fmt.Sprintf("pod %s: missing", k))
		}
	}
	return problems
}

// wantEndpoints is what the endpointslice controller makes of the pods for a
// Service, one endpointLine per endpoint, sorted. Terminating pods stay in, as
// terminating endpoints: serving as their readiness says, ready only when the Service
// publishes not-ready addresses.
func wantEndpoints(svc *corev1.Service, pods []corev1.Pod) []string {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	families := svc.Spec.IPFamilies
	if len(families) == 0 {
		families = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	var out []string
	for i := range pods {
		p := &pods[i]
		if !sel.Matches(labels.Set(p.Labels)) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		serving := podReady(p)
		terminating := p.DeletionTimestamp != nil
		ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
		for _, fam := range families {
			if ip := podIPOf(p, fam); ip != "" {
				out = append(out, endpointLine(addressType(fam), p.Name, ip, ready, serving, terminating))
			}
		}
	}
	slices.Sort(out)
	return out
}

func sliceEndpoints(ss []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, s := range ss {
		for _, ep := range s.Endpoints {
			name, ip := "", ""
			if ep.TargetRef != nil {
				name = ep.TargetRef.Name
			}
			if len(ep.Addresses) > 0 {
				ip = ep.Addresses[0]
			}
			// Unset conditions read as the API documents them.
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			serving := ready
			if ep.Conditions.Serving != nil {
				serving = *ep.Conditions.Serving
			}
			terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			out = append(out, endpointLine(s.AddressType, name, ip, ready, serving, terminating))
		}
	}
	slices.Sort(out)
	return out
}

// endpointLine is "FAMILY POD IP ready=BOOL serving=BOOL terminating=BOOL".
func endpointLine(at discoveryv1.AddressType, pod, ip string, ready, serving, terminating bool) string {
	return fmt.Sprintf("%s %s %s ready=%t serving=%t terminating=%t", at, pod, ip, ready, serving, terminating)
}

func addressType(f corev1.IPFamily) discoveryv1.AddressType {
	if f == corev1.IPv6Protocol {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

func podIPOf(p *corev1.Pod, fam corev1.IPFamily) string {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if a.Is4() == (fam != corev1.IPv6Protocol) {
			return s
		}
	}
	return ""
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
