package policy

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// toV1alpha1 rewrites every ClusterNetworkPolicy of a state into the older API: the Admin tier as
// AdminNetworkPolicy, the Baseline tier as the singleton BaselineAdminNetworkPolicy. It refuses a
// state the older API cannot express (several Baseline policies, Pass in the Baseline tier).
func toV1alpha1(o objects) (objects, error) {
	out := objects{}
	var baseline []string
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		doc := o[k]
		if doc["kind"] != "ClusterNetworkPolicy" {
			out[k] = doc
			continue
		}
		spec := doc["spec"].(map[string]any)
		meta := doc["metadata"].(map[string]any)
		admin := spec["tier"] == "Admin"
		nspec := map[string]any{"subject": spec["subject"]}
		kind := "AdminNetworkPolicy"
		if admin {
			nspec["priority"] = spec["priority"]
		} else {
			kind = "BaselineAdminNetworkPolicy"
			baseline = append(baseline, meta["name"].(string))
			meta = map[string]any{"name": "default"}
		}
		for _, dir := range []string{"ingress", "egress"} {
			rules, _ := spec[dir].([]any)
			var nrules []any
			for _, r := range rules {
				nr, err := convertRule(r.(map[string]any), admin)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", meta["name"], err)
				}
				nrules = append(nrules, nr)
			}
			if nrules != nil {
				nspec[dir] = nrules
			}
		}
		name := meta["name"].(string)
		out[objKey(kind, "", name)] = map[string]any{"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": kind, "metadata": meta, "spec": nspec}
	}
	if len(baseline) > 1 {
		return nil, fmt.Errorf("%d Baseline-tier policies (%s): BaselineAdminNetworkPolicy is a singleton", len(baseline), strings.Join(baseline, ", "))
	}
	return out, nil
}

func convertRule(r map[string]any, admin bool) (map[string]any, error) {
	out := map[string]any{}
	for k, v := range r {
		switch k {
		case "action":
			switch v {
			case "Accept":
				out[k] = "Allow"
			case "Pass":
				if !admin {
					return nil, fmt.Errorf("the Baseline tier has no Pass in v1alpha1")
				}
				out[k] = v
			default:
				out[k] = v
			}
		case "protocols":
			var ports []any
			for _, p := range v.([]any) {
				ports = append(ports, convertProtocol(p.(map[string]any)))
			}
			out["ports"] = ports
		default:
			out[k] = v
		}
	}
	return out, nil
}

func convertProtocol(p map[string]any) map[string]any {
	if n, ok := p["destinationNamedPort"]; ok {
		return map[string]any{"namedPort": n}
	}
	for proto, v := range p {
		dp, _ := v.(map[string]any)["destinationPort"].(map[string]any)
		upper := strings.ToUpper(proto)
		switch {
		case dp == nil:
			return map[string]any{"portRange": map[string]any{"protocol": upper, "start": 1, "end": 65535}}
		case dp["range"] != nil:
			r := dp["range"].(map[string]any)
			return map[string]any{"portRange": map[string]any{"protocol": upper, "start": r["start"], "end": r["end"]}}
		default:
			return map[string]any{"portNumber": map[string]any{"protocol": upper, "port": dp["number"]}}
		}
	}
	return map[string]any{}
}

// TestANPConformance replays the ClusterNetworkPolicy conformance cases through the older
// AdminNetworkPolicy and BaselineAdminNetworkPolicy API: same cluster, same probes.
func TestANPConformance(t *testing.T) {
	total, cases := 0, 0
	var skipped []string
	for _, file := range loadCNPScenarios(t) {
		file := file
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			n, why := runCNPScenario(t, file, toV1alpha1)
			if why != "" {
				skipped = append(skipped, name+": "+why)
				t.Skip(why)
			}
			total += n
			cases++
		})
	}
	t.Logf("AdminNetworkPolicy/BaselineAdminNetworkPolicy conformance: %d tests, %d probes reproduced; not expressible in v1alpha1: %s",
		cases, total, strings.Join(skipped, "; "))
}
