package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLocatorRoundTrip(t *testing.T) {
	addrs := []string{"10.0.0.3:17890", "10.0.0.4:17890"}
	loc := formatLocator(addrs)
	if loc != "tars.tarsregistry.QueryObj@tcp -h 10.0.0.3 -p 17890:tcp -h 10.0.0.4 -p 17890" {
		t.Fatalf("formatLocator = %q", loc)
	}
	if got := parseLocator(loc); !slices.Equal(got, addrs) {
		t.Errorf("parseLocator(%q) = %v", loc, got)
	}
	// The form of tars.tarsnode.config.conf: -t, no -p, a bad endpoint.
	got := parseLocator("tars.tarsregistry.QueryObj@tcp -h 10.0.0.2 -t 60000 -p 17890:tcp -h 10.0.0.5:tcp -p 1")
	if want := []string{"10.0.0.2:17890", "10.0.0.5:17890"}; !slices.Equal(got, want) {
		t.Errorf("parseLocator = %v, want %v", got, want)
	}
	if got := parseLocator("no servant"); got != nil {
		t.Errorf("parseLocator without @ = %v", got)
	}
	script := "#!/bin/sh\n# tarsnode installer\nlocator=" + loc + "\n"
	if got := locatorLine(script); got != loc {
		t.Errorf("locatorLine = %q", got)
	}
}

func TestEnvRegistries(t *testing.T) {
	got := envRegistries(" 10.0.0.3;10.0.0.4:18890;; ")
	if want := []string{"10.0.0.3:17890", "10.0.0.4:18890"}; !slices.Equal(got, want) {
		t.Errorf("envRegistries = %v, want %v", got, want)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v, min string
		want   bool
	}{
		{"v3.0.15", "", true},
		{"unknown", "", true},
		{"v3.0.15", "v3.0.16", false},
		{"v3.0.16", "v3.0.16", true},
		{"v3.0.16-slow", "v3.0.16", true},
		{"v3.1.0", "v3.0.16", true},
		{"v2.4.30", "v3.0.16", false},
		{"3.0.20", "v3.0.16", true},
		{"unknown", "v3.0.16", false},
	} {
		if got := versionAtLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("versionAtLeast(%q, %q) = %t", tc.v, tc.min, got)
		}
	}
}

func TestIsGreeting(t *testing.T) {
	handshake := []byte{0x4a, 0, 0, 0, 10, '1', '0', '.', '1', '1'}
	errPacket := []byte{0x17, 0, 0, 0, 0xff, 0x10, 0x04}
	for _, tc := range []struct {
		name string
		in   []byte
		want bool
	}{
		{"handshake", handshake, true},
		{"error packet", errPacket, true},
		{"closed at once", nil, false},
		{"a banner", []byte("SSH-2.0-OpenSSH\r\n"), false},
		{"sequence not 0", []byte{0x4a, 0, 0, 1, 10}, false},
	} {
		if got := isGreeting(bytes.NewReader(tc.in)); got != tc.want {
			t.Errorf("%s: isGreeting = %t", tc.name, got)
		}
	}
}

// TestGreetsStandIn: a listener that closes connections at once (the
// `tarsfake db` stand-in) is not MySQL; one that greets is; a closed port
// is an error (keep waiting).
func TestGreetsStandIn(t *testing.T) {
	ctx := t.Context()
	serve := func(greeting []byte) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write(greeting)
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	if ok, err := greets(ctx, serve(nil)); ok || err != nil {
		t.Errorf("stand-in: greets = %t, %v; want false, nil", ok, err)
	}
	if ok, err := greets(ctx, serve([]byte{0x4a, 0, 0, 0, 10, 0})); !ok || err != nil {
		t.Errorf("a MySQL greeting: greets = %t, %v; want true, nil", ok, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := greets(ctx, closed); err == nil {
		t.Errorf("a closed port: greets gave no error")
	}
}

// memRegistry is a registry in memory, for the node's side.
type memRegistry struct {
	mu     sync.Mutex
	self   string
	others []string
	nodes  map[string]int // ip -> heartbeats
	regs   map[string]int // ip -> registrations
}

func (m *memRegistry) registries(context.Context) []string {
	return append([]string{m.self}, m.others...)
}

func (m *memRegistry) register(_ context.Context, ip, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[ip] = 0
	m.regs[ip]++
	return nil
}

func (m *memRegistry) keepAlive(_ context.Context, ip string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nodes[ip]; !ok {
		return false, nil
	}
	m.nodes[ip]++
	return true, nil
}

func (m *memRegistry) counts(ip string) (regs, beats int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.regs[ip], m.nodes[ip]
}

func (m *memRegistry) forget(ip string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, ip)
}

func newMemRegistry(t *testing.T) (*memRegistry, string) {
	m := &memRegistry{nodes: map[string]int{}, regs: map[string]int{}}
	srv := httptest.NewServer(registryHandler(m))
	t.Cleanup(srv.Close)
	m.self = strings.TrimPrefix(srv.URL, "http://")
	return m, m.self
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHeartbeaterFailsOver: the node registers with the first registry that
// answers (the first is down), learns the second from the answer's locator,
// heartbeats, and registers again when its row is gone. The locator of the
// answer replaces the list (the dead one is not in it).
func TestHeartbeaterFailsOver(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	reg, addr := newMemRegistry(t)
	other, otherAddr := newMemRegistry(t)
	reg.others = []string{otherAddr}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	h := &heartbeater{ip: "10.0.0.5", version: "v3.0.15", interval: 10 * time.Millisecond}
	h.setRegistries([]string{deadAddr, addr})
	done := make(chan struct{})
	go func() { h.run(ctx); close(done) }()
	waitFor(t, "registration and heartbeats", func() bool { r, b := reg.counts("10.0.0.5"); return r == 1 && b >= 3 })
	if r, _ := other.counts("10.0.0.5"); r != 0 {
		t.Errorf("registered with the other registry too")
	}
	reg.forget("10.0.0.5")
	waitFor(t, "a second registration", func() bool { r, _ := reg.counts("10.0.0.5"); return r == 2 })
	cancel()
	<-done
	// The registry's locator replaced the installer's list.
	want := []string{addr, otherAddr}
	if !slices.Equal(h.regs, want) {
		t.Errorf("registries %v, want %v", h.regs, want)
	}
}

// TestHeartbeaterOnce: FAKE_NO_HEARTBEAT registers and stops.
func TestHeartbeaterOnce(t *testing.T) {
	reg, addr := newMemRegistry(t)
	h := &heartbeater{ip: "10.0.0.6", interval: time.Millisecond, once: true}
	h.setRegistries([]string{addr})
	done := make(chan struct{})
	go func() { h.run(t.Context()); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return")
	}
	if r, b := reg.counts("10.0.0.6"); r != 1 || b != 0 {
		t.Errorf("registrations %d, heartbeats %d; want 1, 0", r, b)
	}
}

// TestRegistryHandlerFileMode: in file mode the registry answers with its
// own locator and records nothing; a plain TCP connect is harmless.
func TestRegistryHandlerFileMode(t *testing.T) {
	srv := httptest.NewServer(registryHandler(fileRegistry{ip: "10.0.0.3"}))
	defer srv.Close()
	for _, path := range []string{"/registry/register?ip=10.0.0.5", "/registry/keepalive?ip=10.0.0.5"} {
		resp, err := http.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(b.String()) != "locator=tars.tarsregistry.QueryObj@tcp -h 10.0.0.3 -p 17890" {
			t.Errorf("POST %s: %s %q", path, resp.Status, b.String())
		}
	}
	resp, err := http.Post(srv.URL+"/registry/register", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("register without ip: %s", resp.Status)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
