package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// outcome is what one probe saw.
type outcome uint8

const (
	connected outcome = iota // TCP handshake done, or the UDP echo answered
	refused                  // ECONNREFUSED: kube-router's REJECT (icmp-port-unreachable)
	timedOut                 // nothing came back in time
	failed                   // any other error
)

func (o outcome) String() string {
	return [...]string{"ok", "refused", "timeout", "error"}[o]
}

// prober sends real packets between the lab's pods. It does not exec anything in the
// pods: a goroutine locked to its OS thread enters the source pod's network
// namespace (setns), opens the socket there and returns to the host's, so one probe
// costs a connection attempt and nothing more. The socket stays in the namespace it
// was created in whatever thread later waits on it.
type prober struct {
	host     *os.File            // the host's network namespace
	netns    map[string]*os.File // namespace/pod -> its network namespace
	ip       map[string]string   // namespace/pod -> pod IP
	timeout  time.Duration
	parallel int

	sent     atomic.Int64
	outcomes [4]atomic.Int64
}

func newProber(timeout time.Duration, parallel int) (*prober, error) {
	host, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, err
	}
	return &prober{host: host, netns: map[string]*os.File{}, ip: map[string]string{}, timeout: timeout, parallel: parallel}, nil
}

// addPod records a pod's address and holds its network namespace open (nsPath is
// /proc/PID/ns/net of one of its containers).
func (p *prober) addPod(name, ip, nsPath string) error {
	f, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	if old := p.netns[name]; old != nil {
		old.Close()
	}
	p.netns[name], p.ip[name] = f, ip
	return nil
}

func (p *prober) close() {
	for _, f := range p.netns {
		f.Close()
	}
	p.host.Close()
}

// one probes to:port over proto from inside from's network namespace.
func (p *prober) one(from, to string, port int32, proto corev1.Protocol) (outcome, string) {
	type result struct {
		o   outcome
		msg string
	}
	done := make(chan result, 1)
	// A goroutine of its own: if the thread cannot be brought back to the host's
	// namespace it stays locked, and the runtime ends it when the goroutine exits.
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(p.netns[from].Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{failed, "setns: " + err.Error()}
			return
		}
		o, msg := p.dial(net.JoinHostPort(p.ip[to], strconv.Itoa(int(port))), proto)
		if err := unix.Setns(int(p.host.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{o, msg}
			return
		}
		runtime.UnlockOSThread()
		done <- result{o, msg}
	}()
	r := <-done
	p.sent.Add(1)
	p.outcomes[r.o].Add(1)
	return r.o, r.msg
}

// dial makes the connection from the current thread's network namespace.
func (p *prober) dial(addr string, proto corev1.Protocol) (outcome, string) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	var d net.Dialer
	switch proto {
	case corev1.ProtocolTCP:
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return classify(err)
		}
		c.Close()
		return connected, ""
	case corev1.ProtocolUDP:
		c, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return classify(err)
		}
		defer c.Close()
		deadline, _ := ctx.Deadline()
		_ = c.SetDeadline(deadline)
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return classify(err)
		}
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err != nil {
			return classify(err)
		}
		return connected, ""
	}
	return failed, "protocol " + string(proto) + " is not probed"
}

func classify(err error) (outcome, string) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return refused, err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return timedOut, err.Error()
	}
	return failed, err.Error()
}

// cell is one probe's result in a table.
type cell struct {
	o   outcome
	msg string
}

// table probes every pair of pods but loopback on port/proto, parallel at a time.
// Unprobed cells (loopback) are false.
func (p *prober) table(port int32, proto corev1.Protocol) (Table, [][]cell) {
	names := Names()
	t := NewTable(false)
	cells := make([][]cell, len(names))
	for i := range cells {
		cells[i] = make([]cell, len(names))
	}
	sem := make(chan struct{}, p.parallel)
	var wg sync.WaitGroup
	for i, from := range names {
		for j, to := range names {
			if i == j {
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				o, msg := p.one(from, to, port, proto)
				t[i][j], cells[i][j] = o == connected, cell{o, msg}
			}()
		}
	}
	wg.Wait()
	return t, cells
}

// outcomeSummary counts the outcomes of a table's probes, e.g. "58 ok, 14 refused".
func outcomeSummary(cells [][]cell) string {
	var n [4]int
	for i := range cells {
		for j := range cells[i] {
			if i != j {
				n[cells[i][j].o]++
			}
		}
	}
	s := ""
	for o, k := range n {
		if k > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d %s", k, outcome(o))
		}
	}
	return s
}
