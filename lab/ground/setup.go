package ground

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"reach/internal/model"
	"reach/internal/scenario"
)

// applySetup makes the scenario's changes to the cluster and returns what undoes them.
func applySetup(ctx context.Context, cs kubernetes.Interface, s scenario.Setup) (func(context.Context) error, error) {
	var undo []func(context.Context) error
	undoAll := func(ctx context.Context) error {
		var first error
		for i := len(undo) - 1; i >= 0; i-- {
			if err := undo[i](ctx); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	if s.CoreDNSReplicas != nil {
		prev, err := scaleCoreDNS(ctx, cs, *s.CoreDNSReplicas)
		if err != nil {
			return undoAll, err
		}
		undo = append(undo, func(ctx context.Context) error {
			_, err := scaleCoreDNS(ctx, cs, prev)
			return err
		})
	}
	if s.StopProxyOn != "" {
		undo = append(undo, func(ctx context.Context) error { return keepProxyOff(ctx, cs, "") })
		if err := keepProxyOff(ctx, cs, s.StopProxyOn); err != nil {
			return undoAll, err
		}
	}
	return undoAll, nil
}

// scaleCoreDNS sets the replicas of kube-system/coredns, waits until exactly that
// many pods run ready, and returns the replicas it had.
func scaleCoreDNS(ctx context.Context, cs kubernetes.Interface, n int32) (int32, error) {
	deps := cs.AppsV1().Deployments("kube-system")
	sc, err := deps.GetScale(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read coredns scale: %w", err)
	}
	prev := sc.Spec.Replicas
	sc.Spec.Replicas = n
	if _, err := deps.UpdateScale(ctx, "coredns", sc, metav1.UpdateOptions{}); err != nil {
		return prev, fmt.Errorf("scale coredns to %d: %w", n, err)
	}
	return prev, poll(ctx, fmt.Sprintf("coredns at %d ready pods", n), 2*time.Minute, func(ctx context.Context) (string, error) {
		pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
		if err != nil {
			return err.Error(), nil
		}
		ready := 0
		for i := range pods.Items {
			if model.PodReady(&pods.Items[i]) {
				ready++
			}
		}
		if int32(len(pods.Items)) != n || int32(ready) != n {
			return fmt.Sprintf("%d pods, %d ready", len(pods.Items), ready), nil
		}
		return "", nil
	})
}

// keepProxyOff keeps the kube-proxy DaemonSet's pods off node (none: everywhere) with
// a node affinity, as a mistaken nodeSelector would, and waits until the DaemonSet
// runs exactly where it should.
func keepProxyOff(ctx context.Context, cs kubernetes.Interface, node string) error {
	var affinity any
	if node != "" {
		affinity = map[string]any{"nodeAffinity": map[string]any{
			"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
				"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{map[string]any{
					"key": "kubernetes.io/hostname", "operator": "NotIn", "values": []string{node},
				}}}},
			},
		}}
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"affinity": affinity}}}})
	if err != nil {
		return err
	}
	dss := cs.AppsV1().DaemonSets("kube-system")
	if _, err := dss.Patch(ctx, "kube-proxy", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch kube-proxy affinity: %w", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	return poll(ctx, "kube-proxy pods where they belong", 2*time.Minute, func(ctx context.Context) (string, error) {
		pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-proxy"})
		if err != nil {
			return err.Error(), nil
		}
		on := map[string]int{}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp == nil && model.PodReady(p) {
				on[p.Spec.NodeName]++
			} else {
				on[p.Spec.NodeName] += 100 // any pod not ready, or going, is not settled
			}
		}
		for _, n := range nodes.Items {
			want := 1
			if n.Name == node {
				want = 0
			}
			if on[n.Name] != want {
				return fmt.Sprintf("node %s: %d", n.Name, on[n.Name]), nil
			}
		}
		return "", nil
	})
}

// poll checks cond every 250 ms until it reports nothing left to wait for.
func poll(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not checked yet"
	for {
		msg, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if msg == "" {
			return nil
		}
		last = msg
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %s after %v: %s", what, ctx.Err(), timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
