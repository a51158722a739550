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
	ln := accepting(t)
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

// TestProbeDial: the engine's dialer answers each tagged request, telling
// a refused port (fail) from an address it cannot reach (unreachable).
func TestProbeDial(t *testing.T) {
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
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := dead.Addr().String()
	_ = dead.Close()
	in := "1 --tcp " + ln.Addr().String() + "\n2 --tcp " + down + "\n3 --bogus x\n"
	var out bytes.Buffer
	if err := runProbe(context.Background(), probeOptions{out: &out, serve: true, dial: true, in: strings.NewReader(in)}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"ready\n", "1 ok\n", "2 fail tcp " + down, "3 fail bad request"} {
		if !strings.Contains(got, want) {
			t.Errorf("answers %q: want %q among them", got, want)
		}
	}
}

// accepting listens on a loopback port that accepts (and closes) every
// connection until the test ends.
func accepting(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	return ln
}
