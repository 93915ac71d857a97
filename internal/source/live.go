package source

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"reach/internal/model"
	"reach/internal/ref"
)

// LiveRequest names the two ends of one trace, parsed and with the default namespace filled.
type LiveRequest struct{ Source, Target ref.Ref }

// Live reads from the API server the objects one trace needs: the namespaces of both ends and
// of whatever the target name or address leads to, cluster DNS and proxy in kube-system, nodes
// and cluster-scoped policies. It never lists pods across the cluster. A forbidden request
// leaves its kind uncovered in the model's Coverage; any other failure is an error.
func Live(ctx context.Context, cfg *rest.Config, req LiveRequest) (*model.Cluster, error) {
	cs, dyn, err := newClients(cfg)
	if err != nil {
		return nil, err
	}
	return loadLive(ctx, cs, dyn, req, time.Now())
}

// LiveNamespaces reads whole namespaces (every namespace when none are given) for the matrix:
// namespaces, nodes, pods, NetworkPolicies and cluster-scoped policies, in pages.
func LiveNamespaces(ctx context.Context, cfg *rest.Config, namespaces []string) (*model.Cluster, error) {
	cs, dyn, err := newClients(cfg)
	if err != nil {
		return nil, err
	}
	return loadNamespaces(ctx, cs, dyn, namespaces, time.Now())
}

// newClients builds a typed client that speaks protobuf, which costs the server less to encode
// than JSON, and a dynamic client (JSON) for the kinds that come from CRDs.
func newClients(cfg *rest.Config) (kubernetes.Interface, dynamic.Interface, error) {
	base := rest.CopyConfig(cfg)
	if base.QPS == 0 && base.RateLimiter == nil {
		// client-go's default (5/s, burst 10) would stretch a trace's few dozen requests over
		// seconds; maxInFlight is what keeps the load on the server small.
		base.QPS, base.Burst = 20, 50
	}
	pb := rest.CopyConfig(base)
	pb.ContentType = runtime.ContentTypeProtobuf
	pb.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs, err := kubernetes.NewForConfig(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("build client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(base)
	if err != nil {
		return nil, nil, fmt.Errorf("build dynamic client: %w", err)
	}
	return cs, dyn, nil
}

// loadLive makes its requests in two rounds: everything known from the references, then the
// namespaces a DNS name or address turned out to lead to, with gets by name for the ends whose
// namespace list was forbidden.
func loadLive(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, req LiveRequest, now time.Time) (*model.Cluster, error) {
	f := newFetcher(cs, dyn)
	b := newBatch()
	gateway := req.Source.Kind == ref.Outside || req.Target.Kind == ref.Ingress
	srcNS := sourceNamespace(req.Source)
	f.clusterScoped(b, gateway)
	f.clusterDNS(b)
	f.networkPlugin(b)
	f.discover(b, req.Target)
	for _, ns := range dedupe(srcNS, objectNamespace(req.Target)) {
		f.namespaceLists(b, ns, gateway)
	}
	if err := runAll(ctx, maxInFlight, b.take()); err != nil {
		return nil, err
	}
	for _, ns := range targetNamespaces(req.Target, srcNS, f.found()) {
		f.namespaceLists(b, ns, gateway)
	}
	f.byName(b, req.Source)
	f.byName(b, req.Target)
	if err := runAll(ctx, maxInFlight, b.take()); err != nil {
		return nil, err
	}
	return f.build(now)
}

func loadNamespaces(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, namespaces []string, now time.Time) (*model.Cluster, error) {
	f := newFetcher(cs, dyn)
	b := newBatch()
	f.listIn(b, "", "Namespace", "Node")
	f.clusterPolicies(b)
	f.listIn(b, kubeSystem, "DaemonSet")
	f.networkPlugin(b)
	scopes := dedupe(namespaces...)
	if len(scopes) == 0 {
		scopes = []string{""}
	}
	for _, ns := range scopes {
		f.listIn(b, ns, "Pod", "NetworkPolicy")
	}
	if err := runAll(ctx, maxInFlight, b.take()); err != nil {
		return nil, err
	}
	return f.build(now)
}

// dedupe returns the non-empty names, sorted, each once.
func dedupe(names ...string) []string {
	out := slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
