package testlab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeTokenFile writes the apiserver's --token-auth-file: token,user,uid,"groups".
func writeTokenFile(path string, users []User) error {
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s,%s,%s", u.Token, u.Name, u.Name)
		if len(u.Groups) > 0 {
			fmt.Fprintf(&b, ",%q", strings.Join(u.Groups, ","))
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	return nil
}

// writeKubeconfigs writes one kubeconfig per user, named USER.kubeconfig, in dir.
func (l *Lab) writeKubeconfigs(dir string) error {
	for _, u := range l.users {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: l.Server, CertificateAuthorityData: l.caPEM}
		cfg.AuthInfos[u.Name] = &clientcmdapi.AuthInfo{Token: u.Token}
		cfg.Contexts[u.Name] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: u.Name, Namespace: "default"}
		cfg.CurrentContext = u.Name
		path := filepath.Join(dir, u.Name+".kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			return fmt.Errorf("write kubeconfig for %q: %w", u.Name, err)
		}
		l.kubeconfigs[u.Name] = path
	}
	return nil
}

func (l *Lab) restConfig(token string) *rest.Config {
	return &rest.Config{
		Host:            l.Server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: l.caPEM},
		// Loading a scenario is hundreds of requests; the default 5 QPS would make it crawl.
		QPS:   500,
		Burst: 1000,
	}
}
