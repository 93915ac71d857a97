// Command kubectl-reach answers "why can't A talk to B?" in Kubernetes.
package main

import (
	"context"
	"os"
	"os/signal"

	"reach/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
