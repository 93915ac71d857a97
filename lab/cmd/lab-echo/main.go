// Command lab-echo is the server image of the dataplane lab. Each argument names one
// listener: "8080" (TCP on every address), "127.0.0.1:8080" (TCP on that address only),
// "5353/udp" or "127.0.0.1:5353/udp", bare or as a flag like a real server's,
// "--listen=127.0.0.1:8080" (or "--listen 127.0.0.1:8080", one dash too), repeatable.
// TCP listeners answer HTTP with the pod's name, the port and the client's address;
// UDP listeners echo each datagram after the same line.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	specs, err := listeners(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	host, _ := os.Hostname()
	errs := make(chan error, len(specs))
	for _, spec := range specs {
		addr, udp := strings.CutSuffix(spec, "/udp")
		if !strings.Contains(addr, ":") {
			addr = ":" + addr
		}
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				log.Fatal(err)
			}
			log.Printf("listening on %s/udp", pc.LocalAddr())
			go func() { errs <- serveUDP(pc, host) }()
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("listening on %s/tcp", ln.Addr())
		port := ln.Addr().(*net.TCPAddr).Port
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "pod=%s port=%d client=%s path=%s\n", host, port, r.RemoteAddr, r.URL.Path)
		})
		go func() { errs <- http.Serve(ln, h) }()
	}
	log.Fatal(<-errs)
}

const usage = "usage: lab-echo LISTEN...  (PORT or HOST:PORT, with /udp for UDP; bare or --listen=LISTEN)"

// listeners reads the listener specs from the arguments: bare specs and --listen
// flags, in order.
func listeners(args []string) ([]string, error) {
	var specs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			specs = append(specs, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "listen" {
			return nil, fmt.Errorf("unknown flag %s; %s", a, usage)
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag %s needs a value; %s", a, usage)
			}
			i++
			value = args[i]
		}
		if value == "" {
			return nil, fmt.Errorf("flag %s: empty listener; %s", a, usage)
		}
		specs = append(specs, value)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no listener; %s", usage)
	}
	return specs, nil
}

func serveUDP(pc net.PacketConn, host string) error {
	buf := make([]byte, 64<<10)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		reply := fmt.Appendf(nil, "pod=%s port=%d client=%s\n", host, port, from)
		if _, err := pc.WriteTo(append(reply, buf[:n]...), from); err != nil {
			log.Printf("reply to %s: %v", from, err)
		}
	}
}
