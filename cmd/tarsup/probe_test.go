package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// TestProbeServe: the gate's sidecar says ready, then answers each request
// line with one line, and ends with its stdin.
func TestProbeServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	up := ln.Addr().String()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := dead.Addr().String()
	_ = dead.Close()

	for _, tt := range []struct {
		addr, want string
	}{
		{up, "ready\nok\nok\n"},
		{down, "ready\nfail tcp " + down},
	} {
		var out bytes.Buffer
		err := runProbe(context.Background(), probeOptions{tcp: []string{tt.addr}, out: &out, serve: true, in: strings.NewReader("probe\nprobe\n")})
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
		if !strings.HasPrefix(out.String(), tt.want) || strings.Count(out.String(), "\n") != 3 {
			t.Errorf("answers %q, want three lines starting %q", out.String(), tt.want)
		}
	}
}
