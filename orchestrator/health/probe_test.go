package health

import (
	"context"
	"net"
	"testing"
)

// TestUnreachable: only a dial that cannot get through means the probe
// cannot work; a refused port or a web that answers late was reached.
func TestUnreachable(t *testing.T) {
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	for _, tt := range []struct {
		name, addr string
		check      Check
		want       bool
	}{
		{"refused", "127.0.0.1:" + closedPort(t), Check{Port: PortNode}, false},
		{"a web that never answers", hung.Addr().String(), Check{Port: PortWeb, Path: "/get_tarsnode"}, false},
		{"no route", "[2001:db8::1]:19385", Check{Port: PortNode}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAddr(context.Background(), tt.addr, tt.check)
			if err == nil {
				t.Fatal("the check passed")
			}
			if got := unreachable(err); got != tt.want {
				t.Errorf("unreachable(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	return port
}
