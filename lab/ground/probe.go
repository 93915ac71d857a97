package ground

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Outcome is what real packets did.
type Outcome string

const (
	OK          Outcome = "ok"          // every step succeeded
	Refused     Outcome = "refused"     // a TCP reset or ICMP port unreachable
	Timeout     Outcome = "timeout"     // no answer within the step's time
	Unreachable Outcome = "unreachable" // no route: ICMP host or network unreachable
	NXDomain    Outcome = "nxdomain"    // the name does not exist
	DNSFailed   Outcome = "dns-failed"  // no DNS answer: server refused, timed out or failed
	Failed      Outcome = "failed"      // anything else (reset, HTTP error, ...)
)

// dnsLike says the outcome is a failure to resolve.
func (o Outcome) dnsLike() bool { return o == NXDomain || o == DNSFailed }

// stepTimeout bounds every probe step.
const stepTimeout = 6 * time.Second

// runner runs one program with its arguments where the probe's source is, returning
// its output; a non-zero exit is an error wrapping *exec.ExitError.
type runner func(ctx context.Context, argv ...string) (string, error)

// Result is one probe's outcome and the output that shows it.
type Result struct {
	Outcome Outcome
	Step    string // the step that failed, or the last one
	Output  string
}

// probe runs the steps in order with the lab's client program at bin and stops at
// the first that fails.
func probe(ctx context.Context, run runner, bin string, steps []string) (Result, error) {
	var last Result
	for _, s := range steps {
		mode, target, ok := strings.Cut(strings.TrimSpace(s), " ")
		if !ok {
			return Result{}, fmt.Errorf("probe step %q: want MODE TARGET", s)
		}
		switch mode {
		case "dns", "tcp", "udp", "http":
		default:
			return Result{}, fmt.Errorf("probe step %q: unknown mode %q", s, mode)
		}
		// The program bounds itself; the context only guards against a hang.
		sctx, cancel := context.WithTimeout(ctx, stepTimeout+10*time.Second)
		out, err := run(sctx, bin, mode, strings.TrimSpace(target), stepTimeout.String())
		cancel()
		last = Result{Outcome: OK, Step: s, Output: strings.TrimSpace(out)}
		if err == nil {
			continue
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return Result{}, fmt.Errorf("probe step %q: %w", s, err)
		}
		last.Outcome = classify(ee.ExitCode(), out)
		return last, nil
	}
	return last, nil
}

// classify reads the client's exit code (1 error, 2 timeout) and its "error: ..."
// line. Go names a failed name lookup "lookup NAME on SERVER: ...".
func classify(code int, out string) Outcome {
	msg := strings.ToLower(out)
	switch {
	case strings.Contains(msg, "no such host"):
		return NXDomain
	case strings.Contains(msg, "lookup "):
		return DNSFailed
	case code == 2 || strings.Contains(msg, "i/o timeout"):
		return Timeout
	case strings.Contains(msg, "connection refused"):
		return Refused
	case strings.Contains(msg, "no route to host"), strings.Contains(msg, "network is unreachable"), strings.Contains(msg, "host is unreachable"):
		return Unreachable
	}
	return Failed
}
