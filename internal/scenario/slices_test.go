package scenario

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"reach/internal/testlab"
)

// writeSlices saves the EndpointSlices the real controller made into endpointslices.yaml, in the
// scenario's directory for its own Services and in the base's for the base's, so the run from
// files reads exactly what a cluster holds.
func writeSlices(ctx context.Context, t *testing.T, lab *testlab.Lab, s *Scenario) {
	list, err := lab.Clientset.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelManagedBy + "=endpointslice-controller.k8s.io"})
	if err != nil {
		t.Fatal(err)
	}
	owners, err := serviceDirs(s)
	if err != nil {
		t.Fatal(err)
	}
	byDir := map[string][]interface{}{}
	for i := range list.Items {
		es := list.Items[i]
		svc := es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]
		dir, ok := owners[svc]
		if !ok {
			continue // the apiserver's own Services
		}
		byDir[dir] = append(byDir[dir], cleanSlice(&es))
	}
	for _, dir := range append(s.Inputs(baseRoot), "") {
		if dir == "" {
			continue
		}
		items := byDir[dir]
		path := filepath.Join(dir, "endpointslices.yaml")
		if len(items) == 0 {
			_ = os.Remove(path)
			continue
		}
		sort.Slice(items, func(i, j int) bool {
			a, b := items[i].(map[string]interface{}), items[j].(map[string]interface{})
			return fmt.Sprint(a["metadata"]) < fmt.Sprint(b["metadata"])
		})
		data, err := yaml.Marshal(map[string]interface{}{"apiVersion": "v1", "kind": "List", "items": items})
		if err != nil {
			t.Fatal(err)
		}
		header := "# EndpointSlices as the EndpointSlice controller of kube-controller-manager v1.37.2 wrote them for these objects.\n"
		if err := os.WriteFile(path, append([]byte(header), data...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceDirs maps namespace/name of every Service in the scenario to the directory defining it.
func serviceDirs(s *Scenario) (map[string]string, error) {
	out := map[string]string{}
	for _, dir := range s.Inputs(baseRoot) {
		objs, err := testlab.LoadObjects(dir)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.GetKind() == "Service" {
				ns := o.GetNamespace()
				if ns == "" {
					ns = "default"
				}
				out[ns+"/"+o.GetName()] = dir
			}
		}
	}
	return out, nil
}

// cleanSlice drops server-set fields and gives the slice a stable name, so rewrites do not churn.
func cleanSlice(es *discoveryv1.EndpointSlice) interface{} {
	svc := es.Labels[discoveryv1.LabelServiceName]
	h := fnv.New32a()
	h.Write([]byte(es.Namespace + "/" + svc + fmt.Sprint(es.AddressType)))
	for _, p := range es.Ports {
		if p.Port != nil {
			fmt.Fprintf(h, "/%d", *p.Port)
		}
	}
	name := fmt.Sprintf("%s-%05x", svc, h.Sum32()&0xfffff)
	es.ObjectMeta = metav1.ObjectMeta{
		Name: name, Namespace: es.Namespace, Labels: es.Labels, Annotations: es.Annotations, GenerateName: svc + "-",
		OwnerReferences: es.OwnerReferences,
	}
	for i := range es.OwnerReferences {
		es.OwnerReferences[i].UID = ""
	}
	delete(es.Annotations, "endpoints.kubernetes.io/last-change-trigger-time")
	if len(es.Annotations) == 0 {
		es.Annotations = nil
	}
	for i := range es.Endpoints {
		if r := es.Endpoints[i].TargetRef; r != nil {
			r.UID, r.ResourceVersion = "", ""
		}
	}
	es.APIVersion, es.Kind = "discovery.k8s.io/v1", "EndpointSlice"
	raw, _ := yaml.Marshal(es)
	var m map[string]interface{}
	_ = yaml.Unmarshal(raw, &m)
	if md, ok := m["metadata"].(map[string]interface{}); ok {
		delete(md, "creationTimestamp")
	}
	return m
}
