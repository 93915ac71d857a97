// Command lab-pause is the dataplane lab's pod sandbox image (tagged as the pause image
// containerd expects): it holds the pod's namespaces and waits for a signal.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
}
