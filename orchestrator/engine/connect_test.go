package engine

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

// TestConnectSaysTLSIsMissing: an engine that speaks TLS, reached without
// TLS settings, answers "Client sent an HTTP request to an HTTPS server"
// (Go's TLS listener, dockerd's too); the error names the flags that fix
// it. The reverse, TLS settings for an engine that speaks plain HTTP, says
// to drop them. Both are exit 2.
func TestConnectSaysTLSIsMissing(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	_, err := Connect(t.Context(), HostSpec{URL: "tcp://" + srv.Listener.Addr().String()})
	if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), "it speaks TLS") || !strings.Contains(err.Error(), "--tlscacert") {
		t.Errorf("TLS engine without TLS settings: %v", err)
	}

	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, err = Connect(t.Context(), HostSpec{URL: "tcp://" + plain.Listener.Addr().String(), TLS: TLSOptions{Enabled: true}})
	if fault.ExitCode(err) != fault.ExitBadInput || !strings.Contains(err.Error(), "does not speak TLS") {
		t.Errorf("plain engine with TLS settings: %v", err)
	}
}
