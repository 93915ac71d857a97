// Command lab-echo is the server image of the dataplane lab. Each argument names one
// listener: "8080" (TCP on every address), "127.0.0.1:8080" (TCP on that address only),
// "5353/udp" or "127.0.0.1:5353/udp". TCP listeners answer HTTP with the pod's name,
// the port and the client's address; UDP listeners echo each datagram after the same
// line.
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
	if len(os.Args) < 2 {
		log.Fatal("usage: lab-echo LISTEN...  (PORT, HOST:PORT, with /udp for UDP)")
	}
	host, _ := os.Hostname()
	errs := make(chan error, len(os.Args)-1)
	for _, spec := range os.Args[1:] {
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
