// Package cli parses the command line, wires sources, engines and renderers, and chooses exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Exit codes, as the design fixes them.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitError   = 2
	ExitUnknown = 3
)

// Streams are the standard streams a command writes to.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// exitError carries an exit code through cobra.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(s.Err, "error: %v\n", err)
	return ExitError
}

func newRoot(s Streams) *cobra.Command {
	kube := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl-reach",
		Short:         "Find why A cannot talk to B in Kubernetes",
		Long:          "reach follows the path a request takes (client, DNS, Service, proxy, EndpointSlices, pods, ports, NetworkPolicies, exposure) and names the first place it breaks.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	kube.AddFlags(root.PersistentFlags())
	root.AddCommand(newTrace(s, kube), newChecks(s), newMatrix(s, kube))
	return root
}

// colorful says whether text output to w should be coloured: a terminal, and NO_COLOR unset.
func colorful(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
