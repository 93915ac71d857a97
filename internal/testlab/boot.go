package testlab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// disabledAdmission lists admission plugins that would change or refuse a scenario's
// objects, so the live cluster would no longer hold what the files say: ServiceAccount
// (pods before their service account exists), TaintNodesByCondition (a not-ready taint
// nobody removes), DefaultTolerationSeconds and Priority (added pod fields, refused
// unknown priority classes), PodSecurity, LimitRanger and ResourceQuota (refusals and
// defaults), Default*Class, StorageObjectInUseProtection, PodTopologyLabels (copies node
// zone labels onto pods), and webhooks and policies a scenario might carry that point at nothing.
const disabledAdmission = "ServiceAccount,TaintNodesByCondition,DefaultTolerationSeconds,Priority," +
	"PodSecurity,LimitRanger,ResourceQuota,DefaultIngressClass,DefaultStorageClass," +
	"StorageObjectInUseProtection,MutatingAdmissionWebhook,ValidatingAdmissionWebhook," +
	"ValidatingAdmissionPolicy,MutatingAdmissionPolicy,PodTopologyLabels"

// boot starts the control plane. startCtx bounds the waits; procCtx lives until Stop.
func (l *Lab) boot(startCtx, procCtx context.Context, bins binaries) error {
	d := func(name string) string { return filepath.Join(l.Dir, name) }
	if err := os.Mkdir(d("logs"), 0o700); err != nil {
		return fmt.Errorf("make log dir: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, kcmPort := ports[0], ports[1], ports[2], ports[3]
	l.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	if l.caPEM, err = servingCert(d("serving.crt"), d("serving.key")); err != nil {
		return err
	}
	if err := serviceAccountKeys(d("sa.key"), d("sa.pub")); err != nil {
		return err
	}
	if err := writeTokenFile(d("tokens.csv"), l.users); err != nil {
		return err
	}
	if err := l.writeKubeconfigs(l.Dir); err != nil {
		return err
	}
	admin := l.admin()
	l.AdminKubeconfig = l.kubeconfigs[admin.Name]
	l.Admin = l.restConfig(admin.Token)
	if l.Clientset, err = kubernetes.NewForConfig(l.Admin); err != nil {
		return fmt.Errorf("admin clientset: %w", err)
	}
	if l.Dynamic, err = dynamic.NewForConfig(l.Admin); err != nil {
		return fmt.Errorf("admin dynamic client: %w", err)
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	if err := l.run(procCtx, "etcd", bins.etcd,
		"--name", "lab",
		"--data-dir", d("etcd"),
		"--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL,
		"--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "lab="+peerURL,
		"--unsafe-no-fsync",
		"--log-level", "warn",
	); err != nil {
		return err
	}
	if err := l.waitHTTP(startCtx, "etcd", etcdURL+"/health", false); err != nil {
		return err
	}

	if err := l.run(procCtx, "kube-apiserver", bins.apiserver,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", d("apiserver-certs"),
		"--tls-cert-file", d("serving.crt"),
		"--tls-private-key-file", d("serving.key"),
		"--endpoint-reconciler-type", "none",
		"--service-cluster-ip-range", "10.96.0.0/16,fd00:10:96::/112",
		"--authorization-mode", "RBAC",
		"--token-auth-file", d("tokens.csv"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", d("sa.pub"),
		"--service-account-signing-key-file", d("sa.key"),
		"--disable-admission-plugins", disabledAdmission,
		"--allow-privileged=true",
	); err != nil {
		return err
	}
	if err := l.waitAPIServer(startCtx); err != nil {
		return err
	}
	// CRDs before the controller manager, so its garbage collector discovers them at start.
	if err := l.installCRDs(startCtx); err != nil {
		return err
	}

	if err := l.run(procCtx, "kube-controller-manager", bins.controllerManager,
		"--kubeconfig", l.AdminKubeconfig,
		"--controllers", "endpointslice,endpointslicemirroring,namespace,serviceaccount,garbagecollector",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--kube-api-qps=200", "--kube-api-burst=400", // large scenarios: slices for thousands of Services
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(kcmPort),
		"--cert-dir", d("kcm-certs"),
		"--tls-cert-file", d("serving.crt"),
		"--tls-private-key-file", d("serving.key"),
	); err != nil {
		return err
	}
	return l.waitHTTP(startCtx, "kube-controller-manager", "https://127.0.0.1:"+strconv.Itoa(kcmPort)+"/healthz", true)
}

func (l *Lab) run(ctx context.Context, name, bin string, args ...string) error {
	p, err := startProcess(ctx, name, bin, filepath.Join(l.Dir, "logs", name+".log"), args...)
	if err != nil {
		return err
	}
	l.procs = append(l.procs, p)
	return nil
}
