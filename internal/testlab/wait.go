package testlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	startTimeout = 60 * time.Second
	pollInterval = 100 * time.Millisecond
)

// waitUntil polls cond until it holds, the timeout passes, or a lab process dies.
// cond returns why it does not hold yet; the last reason goes into the error.
func (l *Lab) waitUntil(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (string, error)) error {
	var why string
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range l.procs {
			if done, err := p.exited(); done {
				return false, fmt.Errorf("%s exited: %v", p.name, err)
			}
		}
		w, err := cond(ctx)
		if ctx.Err() != nil {
			return false, nil // cut short by the deadline: keep the last real reason
		}
		why = w
		return w == "" && err == nil, err
	})
	if err != nil {
		return fmt.Errorf("wait for %s: %w (last: %s)", what, err, why)
	}
	return nil
}

// waitHTTP waits until url answers 200. TLS urls are checked against the lab's CA.
func (l *Lab) waitHTTP(ctx context.Context, name, url string, useTLS bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if useTLS {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(l.caPEM)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	defer client.CloseIdleConnections()
	return l.waitUntil(ctx, name+" health", startTimeout, func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return "", fmt.Errorf("request %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err.Error(), nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("%s: %s %s", url, resp.Status, body), nil
		}
		return "", nil
	})
}

// waitAPIServer waits for /readyz, asked as the administrator.
func (l *Lab) waitAPIServer(ctx context.Context) error {
	rc := l.Clientset.Discovery().RESTClient()
	return l.waitUntil(ctx, "kube-apiserver /readyz", startTimeout, func(ctx context.Context) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		body, err := rc.Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Sprintf("%v %s", err, body), nil
		}
		return "", nil
	})
}
