package ground

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"reach/internal/model"
)

// steadyFor is how long the pods' state must stay the same before the scenario is
// traced: longer than three readiness probe periods of a second.
const steadyFor = 4 * time.Second

// waitSteady waits until every workload in the namespaces has all its pods, every
// container of every pod has started, and no pod's readiness or restarts changed for
// steadyFor.
func waitSteady(ctx context.Context, cs kubernetes.Interface, namespaces []string) error {
	var last string
	var since time.Time
	return poll(ctx, "pods of "+strings.Join(namespaces, ", ")+" to run and settle", 3*time.Minute, func(ctx context.Context) (string, error) {
		state, err := podState(ctx, cs, namespaces)
		if err != nil {
			return err.Error(), nil
		}
		if strings.HasPrefix(state, "waiting:") {
			last = ""
			return state, nil
		}
		if state != last {
			last, since = state, time.Now()
			return "pod state changed: " + state, nil
		}
		if time.Since(since) < steadyFor {
			return "pod state unchanged for " + time.Since(since).Round(time.Second).String(), nil
		}
		return "", nil
	})
}

// podState describes the pods of the namespaces in one line, or says what is still
// starting, with the prefix "waiting:".
func podState(ctx context.Context, cs kubernetes.Interface, namespaces []string) (string, error) {
	var lines []string
	for _, ns := range namespaces {
		deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		for _, d := range deps.Items {
			if d.Spec.Replicas != nil && d.Status.Replicas != *d.Spec.Replicas || d.Status.UpdatedReplicas != d.Status.Replicas {
				return fmt.Sprintf("waiting: deployment %s/%s has %d of %d pods", ns, d.Name, d.Status.Replicas, *d.Spec.Replicas), nil
			}
		}
		sts, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		for _, s := range sts.Items {
			if s.Spec.Replicas != nil && s.Status.Replicas != *s.Spec.Replicas {
				return fmt.Sprintf("waiting: statefulset %s/%s has %d of %d pods", ns, s.Name, s.Status.Replicas, *s.Spec.Replicas), nil
			}
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", err
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.DeletionTimestamp != nil {
				return fmt.Sprintf("waiting: pod %s/%s is terminating", ns, p.Name), nil
			}
			if p.Status.PodIP == "" || len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
				return fmt.Sprintf("waiting: pod %s/%s has no IP or container status yet", ns, p.Name), nil
			}
			restarts := int32(0)
			for _, c := range p.Status.ContainerStatuses {
				if c.State.Running == nil && c.RestartCount == 0 {
					return fmt.Sprintf("waiting: container %s of pod %s/%s has not started", c.Name, ns, p.Name), nil
				}
				restarts += c.RestartCount
			}
			lines = append(lines, fmt.Sprintf("%s/%s ready=%v restarts=%d", ns, p.Name, model.PodReady(p), restarts))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, ", "), nil
}
