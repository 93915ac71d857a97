package report

import "sort"

// Code is a stable finding identifier, never derived from message text.
type Code string

// Check describes one code in the catalogue.
type Check struct {
	Code     Code     `json:"code"`
	Layer    Layer    `json:"layer"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
}

// The catalogue. Severity here is the default; a check may lower it for a case it knows is partial.
var catalogue = []Check{
	{"SOURCE_NOT_FOUND", LayerClient, SeverityError, "the source object does not exist"},
	{"CLIENT_NOT_RUNNING", LayerClient, SeverityError, "the source pod is not running"},
	{"CLIENT_HOSTNETWORK_DNSPOLICY", LayerClient, SeverityError, "hostNetwork pod with dnsPolicy ClusterFirst uses the node's resolver"},

	{"DNS_NAME_NOT_FOUND", LayerDNS, SeverityError, "no Service has that name"},
	{"DNS_WRONG_NAMESPACE", LayerDNS, SeverityError, "short name resolves in the client's namespace; the Service lives in another"},
	{"DNS_SERVICE_MISSING", LayerDNS, SeverityError, "no cluster DNS Service (kube-dns)"},
	{"DNS_CLUSTERIP_MISMATCH", LayerDNS, SeverityError, "kube-dns ClusterIP differs from the kubelet's clusterDNS"},
	{"DNS_COREDNS_UNAVAILABLE", LayerDNS, SeverityError, "cluster DNS has no ready endpoints"},
	{"DNS_COREDNS_RBAC", LayerDNS, SeverityError, "CoreDNS lacks permission to list/watch EndpointSlices"},
	{"DNS_COREDNS_LOOP", LayerDNS, SeverityError, "CoreDNS forwards to a resolver that loops back"},
	{"DNS_HEADLESS_NOT_READY", LayerDNS, SeverityError, "headless Service names do not exist while its pods are not ready"},
	{"DNS_EXTERNALNAME_BAD", LayerDNS, SeverityError, "ExternalName is not a valid host name"},
	{"DNS_NDOTS_EXTERNAL", LayerDNS, SeverityWarning, "external name under ndots:5 costs several queries"},
	{"DNS_POD_NAME_NOT_FOUND", LayerDNS, SeverityError, "per-pod name does not exist"},

	{"SERVICE_NOT_FOUND", LayerService, SeverityError, "the target Service does not exist"},
	{"SERVICE_PORT_NOT_EXPOSED", LayerService, SeverityError, "the Service does not list the port the client calls"},
	{"SERVICE_PROTOCOL_MISMATCH", LayerService, SeverityError, "the Service port protocol differs from the client's"},
	{"SERVICE_IPFAMILY_MISMATCH", LayerService, SeverityError, "the Service IP family differs from the pods' IPs"},
	{"SERVICE_SESSION_AFFINITY_SNAT", LayerService, SeverityWarning, "ClientIP session affinity sends every SNAT'd client to one pod"},
	{"SERVICE_APPPROTOCOL_MESH", LayerService, SeverityWarning, "port name or appProtocol mis-declares the protocol under a mesh"},
	{"SERVICE_CLUSTERIP_FROM_OUTSIDE", LayerService, SeverityError, "a ClusterIP Service is not reachable from outside the cluster"},
	{"SERVICE_NO_CLUSTERIP_ADDRESS", LayerService, SeverityError, "the address is no Service's ClusterIP and no pod's IP"},

	{"SELECTOR_MISMATCH", LayerEndpoints, SeverityError, "no pod matches the Service selector"},
	{"SELECTOR_TOO_BROAD", LayerEndpoints, SeverityWarning, "the Service selector matches pods of several workloads"},
	{"ENDPOINTS_NONE_READY", LayerEndpoints, SeverityError, "pods match but none is ready"},
	{"ENDPOINTS_PARTIALLY_READY", LayerEndpoints, SeverityWarning, "only some matching pods are ready"},
	{"ENDPOINTS_TERMINATING_ONLY", LayerEndpoints, SeverityError, "only terminating endpoints remain"},
	{"ENDPOINTS_NO_SELECTOR", LayerEndpoints, SeverityError, "Service without selector and without EndpointSlices"},
	{"ENDPOINTS_MANUAL_BROKEN", LayerEndpoints, SeverityError, "hand-made EndpointSlice is not used by the Service"},
	{"ENDPOINTS_MANUAL_ORPHAN", LayerEndpoints, SeverityWarning, "hand-made EndpointSlice addresses belong to no pod or node"},
	{"ENDPOINTS_STALE", LayerEndpoints, SeverityWarning, "EndpointSlice disagrees with pod readiness"},

	{"POD_CRASHLOOP", LayerPod, SeverityError, "backend container crashing or not starting"},
	{"POD_READINESS_FAILING", LayerPod, SeverityError, "backend running but readiness probe failing"},
	{"POD_READINESS_GATE", LayerPod, SeverityError, "readiness gate missing or False"},
	{"POD_PENDING", LayerPod, SeverityError, "backend pod not scheduled or not started"},
	{"POD_NODE_NOTREADY", LayerPod, SeverityError, "backend pod's node is not ready"},
	{"POD_PUBLISH_NOT_READY", LayerPod, SeverityWarning, "publishNotReadyAddresses sends traffic to unready pods"},

	{"PORT_NAMED_MISSING", LayerPort, SeverityError, "named targetPort not declared by the backend pods"},
	{"PORT_NUMBER_MISMATCH", LayerPort, SeverityError, "numeric targetPort is not a port the containers declare or probe"},
	{"PORT_APP_LOCALHOST", LayerPort, SeverityError, "the app binds to localhost only"},
	{"PORT_PROTOCOL_MISMATCH", LayerPort, SeverityError, "container port protocol differs from the Service port protocol"},

	{"PROXY_MISSING", LayerProxy, SeverityError, "nothing programs Service rules on the client's node"},
	{"PROXY_BOTH", LayerProxy, SeverityWarning, "kube-proxy runs beside a replacement"},
	{"PROXY_INTERNAL_LOCAL_NO_ENDPOINT", LayerProxy, SeverityError, "internalTrafficPolicy Local with no ready endpoint on the client's node"},
	{"PROXY_EXTERNAL_LOCAL_NO_ENDPOINT", LayerProxy, SeverityError, "externalTrafficPolicy Local: nodes without a ready endpoint drop external traffic"},
	{"PROXY_HAIRPIN", LayerProxy, SeverityWarning, "pod calls its own Service and hairpin traffic may be dropped"},
	{"PROXY_IPVS_STRICTARP", LayerProxy, SeverityWarning, "IPVS mode without strictARP beside an L2 load balancer"},

	{"POLICY_INGRESS_DENY", LayerPolicy, SeverityError, "backend ingress policies allow no rule for this flow"},
	{"POLICY_EGRESS_DENY", LayerPolicy, SeverityError, "client egress policies allow no rule for this flow"},
	{"POLICY_EGRESS_DNS", LayerPolicy, SeverityError, "client egress isolation without DNS"},
	{"POLICY_EGRESS_DNS_UDP_ONLY", LayerPolicy, SeverityWarning, "client egress allows DNS over UDP only"},
	{"POLICY_ADMIN_DENY", LayerPolicy, SeverityError, "an Admin-tier cluster policy denies the flow"},
	{"POLICY_BASELINE_DENY", LayerPolicy, SeverityError, "a Baseline-tier cluster policy denies the flow"},
	{"POLICY_NOT_ENFORCED", LayerPolicy, SeverityInfo, "the network plugin does not enforce NetworkPolicy"},
	{"POLICY_ENDPORT", LayerPolicy, SeverityWarning, "port ranges are ignored by some network plugins"},
	{"POLICY_HOSTNETWORK_PEER", LayerPolicy, SeverityError, "a hostNetwork peer is seen as its node's IP, not as a pod"},
	{"POLICY_NAMESPACE_LABEL", LayerPolicy, SeverityError, "namespaceSelector on a label the namespace does not carry"},
	{"POLICY_AND_VS_OR", LayerPolicy, SeverityError, "podSelector without namespaceSelector selects the policy's own namespace only"},
	{"POLICY_TYPES_DEFAULT", LayerPolicy, SeverityError, "policyTypes isolates a direction the policy has no rules for"},
	{"POLICY_NAMED_PORT", LayerPolicy, SeverityError, "rule port name not declared by the destination pod"},
	{"POLICY_IPBLOCK_CLUSTER", LayerPolicy, SeverityError, "ipBlock names a ClusterIP or excepts the pod IP; policies see pod IPs after DNAT"},
	{"POLICY_SAME_PRIORITY", LayerPolicy, SeverityWarning, "cluster policies of equal priority disagree on the flow"},
	{"POLICY_DOMAIN_UNKNOWN", LayerPolicy, SeverityWarning, "a domainNames peer cannot be evaluated without DNS"},

	{"EXPOSURE_NONE", LayerExposure, SeverityError, "nothing exposes the Service outside the cluster"},
	{"EXPOSURE_LB_PENDING", LayerExposure, SeverityWarning, "LoadBalancer has no address"},
	{"EXPOSURE_NODEPORT_RANGE", LayerExposure, SeverityError, "nodePort outside the node port range"},
	{"EXPOSURE_LB_SOURCE_RANGES", LayerExposure, SeverityError, "loadBalancerSourceRanges exclude the client"},
	{"EXPOSURE_INGRESS_CLASS", LayerExposure, SeverityError, "Ingress class unknown; no controller serves it"},
	{"EXPOSURE_INGRESS_BACKEND", LayerExposure, SeverityError, "Ingress backend Service missing, wrong port, or without endpoints"},
	{"EXPOSURE_GATEWAY_ROUTE", LayerExposure, SeverityError, "HTTPRoute not accepted or backend unresolved"},
	{"EXPOSURE_GATEWAY_CLASS", LayerExposure, SeverityError, "Gateway names a GatewayClass that does not exist"},

	{"NODE_NOT_READY", LayerNode, SeverityError, "a node on the path is not ready"},
	{"NODE_CNI_NOT_READY", LayerNode, SeverityError, "the node's network plugin is not ready"},
}

// Catalogue returns every check, sorted by layer order then code.
func Catalogue() []Check {
	out := append([]Check(nil), catalogue...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Lookup returns the catalogue entry of a code.
func Lookup(c Code) (Check, bool) {
	for _, ch := range catalogue {
		if ch.Code == c {
			return ch, true
		}
	}
	return Check{}, false
}
