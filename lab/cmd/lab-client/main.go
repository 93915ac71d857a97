// Command lab-client is the client image of the dataplane lab. With no arguments it
// waits forever (the container's main process); run inside the pod (kubectl exec, or
// nsenter into the container's namespaces) it makes one connection and prints what
// happened:
//
//	lab-client dns NAME                 resolve NAME with the pod's resolv.conf
//	lab-client tcp HOST:PORT [TIMEOUT]  connect, print "connected LOCAL -> REMOTE"
//	lab-client http URL [TIMEOUT]       GET, print the status line and the body
//	lab-client udp HOST:PORT [TIMEOUT]  send a datagram, print the reply
//
// A host name is resolved first, so a failure to resolve reads "error: lookup NAME ...".
// A failure prints "error: ..." and exits 1; a timeout exits 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		return
	}
	timeout := 5 * time.Second
	if len(os.Args) > 3 {
		d, err := time.ParseDuration(os.Args[3])
		if err != nil {
			fail(err)
		}
		timeout = d
	}
	if len(os.Args) < 3 {
		fail(errors.New("usage: lab-client dns|tcp|http|udp TARGET [TIMEOUT]"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	target := os.Args[2]
	switch os.Args[1] {
	case "dns":
		addrs, err := net.DefaultResolver.LookupHost(ctx, target)
		if err != nil {
			fail(err)
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "tcp":
		if host, _, err := net.SplitHostPort(target); err == nil {
			resolve(ctx, host)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			fail(err)
		}
		fmt.Printf("connected %s -> %s\n", c.LocalAddr(), c.RemoteAddr())
		c.Close()
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			fail(err)
		}
		resolve(ctx, req.URL.Hostname())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fail(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s\n%s", resp.Status, body)
	case "udp":
		if host, _, err := net.SplitHostPort(target); err == nil {
			resolve(ctx, host)
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", target)
		if err != nil {
			fail(err)
		}
		defer c.Close()
		deadline, _ := ctx.Deadline()
		c.SetDeadline(deadline)
		if _, err := c.Write([]byte("ping\n")); err != nil {
			fail(err)
		}
		buf := make([]byte, 64<<10)
		n, err := c.Read(buf)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(buf[:n])
	default:
		fail(fmt.Errorf("unknown mode %q", os.Args[1]))
	}
}

// resolve looks a host name up first, so that a failure to resolve is told apart from
// a failure to connect: it fails with "lookup NAME: ...".
func resolve(ctx context.Context, host string) {
	if host == "" || net.ParseIP(host) != nil {
		return
	}
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			fail(err) // already reads "lookup NAME on SERVER: ..."
		}
		fail(fmt.Errorf("lookup %s: %w", host, err))
	}
}

func fail(err error) {
	fmt.Printf("error: %v\n", err)
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		os.Exit(2)
	}
	os.Exit(1)
}
