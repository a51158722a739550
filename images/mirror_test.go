package images

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestParseMirror(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{in: "https://mirror.example.com", want: "https://mirror.example.com"},
		{in: "https://mirror.example.com/", want: "https://mirror.example.com"},
		{in: "http://127.0.0.1:5000", want: "http://127.0.0.1:5000"},
		{in: "http://[::1]:5000/", want: "http://[::1]:5000"},
		{in: "notaurl", err: "not an http or https URL"},
		{in: "mirror.example.com:5000", err: "not an http or https URL"},
		{in: "ftp://mirror.example.com", err: "not an http or https URL"},
		{in: "https://", err: "names no host"},
		{in: "https://user:secret@mirror.example.com", err: "carries credentials"},
		{in: "https://mirror.example.com/?x=1", err: "query or fragment"},
		{in: "https://mirror.example.com/v2/proxy", err: "has a path"},
		{in: "http://%zz", err: "not a URL"},
	} {
		got, err := ParseMirror(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseMirror(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseMirror(%q): the error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMirror(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// toOrigin plays Docker Hub: requests for index.docker.io go, in plain
// HTTP, to a test registry.
type toOrigin struct{ host string }

func (o toOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "index.docker.io" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = "http", o.host, o.host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestMirrors: the HEADs of Docker Hub images go to the mirrors in order, a
// failed mirror passes to the next and, when all failed, to Docker Hub;
// other registries' images and tag lists never go to a mirror.
func TestMirrors(t *testing.T) {
	origin := startRegistry(t, "127.0.0.1:0", nil)
	mirror := startRegistry(t, "127.0.0.1:0", nil)
	fromMirror := push(t, mirror.host, "tarscloud/framework", "v3.0.16")
	push(t, mirror.host, "library/busybox", "1.36")
	fromOrigin := push(t, origin.host, "tarscloud/framework", "v3.0.17")
	push(t, origin.host, "tarscloud/framework", "v3.0.16")
	other := startRegistry(t, "127.0.0.1:0", nil)
	push(t, other.host, "tarscloud/framework", "v3.0.16")
	origin.reset()
	mirror.reset()
	other.reset()

	reg := &Registry{Keychain: anonymous, Transport: toOrigin{origin.host},
		Mirrors: []string{"http://" + closedPort(t), "http://" + mirror.host}}
	if d, err := reg.Digest(t.Context(), mustParse(t, "tarscloud/framework:v3.0.16")); err != nil || d != fromMirror {
		t.Errorf("through the mirror: %q, %v; want %s", d, err, fromMirror)
	}
	if _, err := reg.Digest(t.Context(), mustParse(t, "busybox:1.36")); err != nil {
		t.Errorf("an official image through the mirror: %v", err)
	}
	if d, err := reg.Digest(t.Context(), mustParse(t, "docker.io/tarscloud/framework:v3.0.17")); err != nil || d != fromOrigin {
		t.Errorf("a tag the mirror lacks, from Docker Hub: %q, %v; want %s", d, err, fromOrigin)
	}
	if _, err := reg.Digest(t.Context(), mustParse(t, other.host+"/tarscloud/framework:v3.0.16")); err != nil {
		t.Errorf("another registry's image: %v", err)
	}
	_, err := reg.Digest(t.Context(), mustParse(t, "tarscloud/framework:v9"))
	if err == nil || !strings.Contains(err.Error(), "the mirrors failed too") || !strings.Contains(err.Error(), mirror.host) {
		t.Errorf("a tag nobody has: %v; want the origin's error and the mirrors'", err)
	}
	if _, err := reg.Tags(t.Context(), mustParse(t, "tarscloud/framework")); err != nil {
		t.Errorf("tags: %v", err)
	}

	heads := func(rc *recorder) []string {
		var out []string
		for _, r := range rc.requests() {
			if r != "GET /v2/" {
				out = append(out, r)
			}
		}
		return out
	}
	if got, want := heads(mirror), []string{
		"HEAD /v2/tarscloud/framework/manifests/v3.0.16",
		"HEAD /v2/library/busybox/manifests/1.36",
		"HEAD /v2/tarscloud/framework/manifests/v3.0.17",
		"HEAD /v2/tarscloud/framework/manifests/v9",
	}; !slices.Equal(got, want) {
		t.Errorf("the mirror was asked %q, want %q", got, want)
	}
	if got, want := heads(origin), []string{
		"HEAD /v2/tarscloud/framework/manifests/v3.0.17",
		"HEAD /v2/tarscloud/framework/manifests/v9",
		"GET /v2/tarscloud/framework/tags/list",
	}; !slices.Equal(got, want) {
		t.Errorf("Docker Hub was asked %q, want %q", got, want)
	}
	if got := heads(other); !slices.Equal(got, []string{"HEAD /v2/tarscloud/framework/manifests/v3.0.16"}) {
		t.Errorf("the other registry was asked %q", got)
	}
}

// TestRegistryRemembers: one HEAD per repository:tag and one tag list per
// repository for the Registry's life, whoever asks and however often; a
// Fresh one asks again.
func TestRegistryRemembers(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	push(t, rc.host, "tarscloud/framework", "v3.0.16")
	push(t, rc.host, "tarscloud/tars-node", "latest")
	rc.reset()
	fw := mustParse(t, rc.host+"/tarscloud/framework:v3.0.16")
	node := mustParse(t, rc.host+"/tarscloud/tars-node:latest")

	reg := &Registry{Keychain: anonymous}
	for range 3 {
		if _, err := reg.Digests(t.Context(), []Ref{fw, node, fw}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Digest(t.Context(), node); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Tags(t.Context(), fw); err != nil {
			t.Fatal(err)
		}
	}
	count := func() map[string]int {
		n := map[string]int{}
		for _, r := range rc.requests() {
			n[r]++
		}
		return n
	}
	got := count()
	for _, r := range []string{"HEAD /v2/tarscloud/framework/manifests/v3.0.16", "HEAD /v2/tarscloud/tars-node/manifests/latest", "GET /v2/tarscloud/framework/tags/list"} {
		if got[r] != 1 {
			t.Errorf("%s sent %d times, want once: %v", r, got[r], got)
		}
	}
	if _, err := reg.Fresh().Digest(t.Context(), fw); err != nil {
		t.Fatal(err)
	}
	if n := count()["HEAD /v2/tarscloud/framework/manifests/v3.0.16"]; n != 2 {
		t.Errorf("a Fresh registry did not ask again (%d HEADs)", n)
	}
}
