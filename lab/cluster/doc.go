// Package cluster runs a small real Kubernetes cluster on one machine, for checking
// reach's verdicts against real traffic: the control plane of reach/internal/testlab
// on loopback (with a scheduler and the workload controllers added), and three nodes
// as network namespaces on one bridge, each with containerd and a kubelet; kube-proxy
// (iptables, nftables, iptables) and kube-router enforcing NetworkPolicy run as
// DaemonSets in kube-system, as in real clusters; bridge CNI with hairpin; CoreDNS as
// a Deployment behind kube-dns 10.96.0.10. Pods run images built here from static Go
// binaries (there is no registry); the workload images carry a probe (ProbeBinary).
// An outside machine (OutsideExec, at OutsideIP) sits on the node network.
//
// Nothing links the lab to the outside: the nodes have no default route, and the host
// reaches them only through one veth whose traffic it does not forward.
package cluster
