package images

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tarsup/tarsup/fault"
)

// recorder is an in-process registry that logs the requests it serves.
type recorder struct {
	host string
	next http.Handler
	mu   sync.Mutex
	reqs []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Method+" "+r.URL.Path)
	rc.mu.Unlock()
	rc.next.ServeHTTP(w, r)
}

func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = nil
}

func (rc *recorder) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// startRegistry serves a go-containerregistry registry on addr (host:0),
// behind wrap when it is not nil.
func startRegistry(t *testing.T, addr string, wrap func(http.Handler) http.Handler) *recorder {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	rc := &recorder{host: l.Addr().String(), next: h}
	srv := httptest.NewUnstartedServer(rc)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return rc
}

// push writes a random image to host/repo:tag and returns its digest.
func push(t *testing.T, host, repo, tag string, opts ...remote.Option) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Why Insecure: the test registries speak plain HTTP, and pushing must not
	// depend on the code under test to pick the scheme.
	ref, err := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, append(opts, remote.WithContext(t.Context()))...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func mustParse(t *testing.T, s string) Ref {
	t.Helper()
	r, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// anonymous reads no credentials, so the tests do not depend on the
// machine's Docker config.
var anonymous = authn.NewMultiKeychain()

func TestDigestsOneHeadPerTag(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	h := rc.host
	want := map[string]string{
		h + "/tarscloud/framework:v3.0.15": push(t, h, "tarscloud/framework", "v3.0.15"),
		h + "/tarscloud/framework:v3.0.16": push(t, h, "tarscloud/framework", "v3.0.16"),
		h + "/tarscloud/tars-node:stable":  push(t, h, "tarscloud/tars-node", "stable"),
	}
	rc.reset()

	var refs []Ref
	for _, s := range []string{
		h + "/tarscloud/framework:v3.0.15",
		h + "/tarscloud/framework:v3.0.15@" + testDigest, // the same tag, as a container records it
		h + "/tarscloud/framework:v3.0.16",
		h + "/tarscloud/tars-node:stable",
		h + "/tarscloud/tars-node:stable",
		h + "/tarscloud/framework:v3.0.99",
	} {
		refs = append(refs, mustParse(t, s))
	}
	reg := &Registry{Keychain: anonymous, Concurrency: 2}
	got, err := reg.Digests(t.Context(), refs)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("results", func(t *testing.T) {
		if len(got) != 4 {
			t.Errorf("got %d results, want 4 (one per distinct tag): %v", len(got), got)
		}
		for key, d := range want {
			if r := got[key]; r.Err != nil || r.Digest != d {
				t.Errorf("%s: digest %q, err %v; want %s", key, r.Digest, r.Err, d)
			}
		}
		missing := got[h+"/tarscloud/framework:v3.0.99"]
		if !errors.Is(missing.Err, fault.NotFound) {
			t.Errorf("missing tag: err = %v, want fault.NotFound", missing.Err)
		}
	})
	t.Run("requests", func(t *testing.T) {
		heads := map[string]int{}
		for _, r := range rc.requests() {
			switch {
			case strings.HasPrefix(r, "HEAD ") && strings.Contains(r, "/manifests/"):
				heads[r]++
			case r == "GET /v2/": // the API version check, once per repository
			default:
				t.Errorf("unexpected request %s: a digest lookup must make only manifest HEADs", r)
			}
		}
		for _, tag := range []string{"framework/manifests/v3.0.15", "framework/manifests/v3.0.16", "tars-node/manifests/stable", "framework/manifests/v3.0.99"} {
			if n := heads["HEAD /v2/tarscloud/"+tag]; n != 1 {
				t.Errorf("HEAD %s made %d times, want 1", tag, n)
			}
		}
		if len(heads) != 4 {
			t.Errorf("HEADs %v, want one for each of 4 distinct tags", heads)
		}
	})
}

func TestDigest(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	h := rc.host
	imgDigest := push(t, h, "tarscloud/framework", "v3.0.16")

	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, err := name.ParseReference(h + "/tarscloud/tars-node:stable")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(idxRef, idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedHost := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name, ref, want string
		wantErr         error
		wantMsg         string
	}{
		{name: "tag", ref: h + "/tarscloud/framework:v3.0.16", want: imgDigest},
		{name: "multi-platform index gives the index digest", ref: h + "/tarscloud/tars-node:stable", want: idxDigest.String()},
		{name: "by digest", ref: h + "/tarscloud/framework@" + imgDigest, want: imgDigest},
		{name: "missing tag", ref: h + "/tarscloud/framework:v3.0.99", wantErr: fault.NotFound,
			wantMsg: "tag v3.0.99 not found in " + h + "/tarscloud/framework: check the tag with the registry, or pass --to"},
		{name: "missing repository", ref: h + "/tarscloud/nothing:v1", wantErr: fault.NotFound},
		{name: "closed port", ref: closedHost + "/tarscloud/framework:v3.0.16", wantErr: fault.Unreachable,
			wantMsg: "registry " + closedHost + " unreachable for " + closedHost + "/tarscloud/framework:v3.0.16"},
		{name: "unknown host", ref: "registry.invalid/tarscloud/framework:v3.0.16", wantErr: fault.Unreachable},
	}
	reg := &Registry{Keychain: anonymous}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.Digest(t.Context(), mustParse(t, tt.ref))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Digest = %q, %v; want error %v", got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not say %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Digest = %q, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestLoopbackPlainHTTP proves a registry on 127.0.0.0/8 other than 127.0.0.1
// is spoken to in plain HTTP, as the Docker Engine does.
func TestLoopbackPlainHTTP(t *testing.T) {
	rc := startRegistry(t, "127.0.0.2:0", nil)
	want := push(t, rc.host, "tarscloud/framework", "v3.0.16")
	got, err := (&Registry{Keychain: anonymous}).Digest(t.Context(), mustParse(t, rc.host+"/tarscloud/framework:v3.0.16"))
	if err != nil || got != want {
		t.Errorf("Digest = %q, %v; want %s", got, err, want)
	}
}

// basicAuth demands user:pass on every request, as a private registry does.
func basicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type staticKeychain authn.Basic

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.Username, Password: k.Password}, nil
}

func TestDigestCredentials(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", basicAuth("alice", "s3cret"))
	want := push(t, rc.host, "tarscloud/framework", "v3.0.16", remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	ref := mustParse(t, rc.host+"/tarscloud/framework:v3.0.16")

	tests := []struct {
		name    string
		kc      authn.Keychain
		wantErr error
	}{
		{"right credentials", staticKeychain{Username: "alice", Password: "s3cret"}, nil},
		{"wrong credentials", staticKeychain{Username: "alice", Password: "wrong"}, fault.Unauthorized},
		{"no credentials", anonymous, fault.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Registry{Keychain: tt.kc}).Digest(t.Context(), ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Digest = %q, %v; want error %v", got, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "docker login "+rc.host) {
					t.Errorf("error %q does not say to log in", err)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("Digest = %q, %v; want %s", got, err, want)
			}
		})
	}
}

func TestTags(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	for _, tag := range []string{"v3.0.15", "v3.0.16", "latest"} {
		push(t, rc.host, "tarscloud/framework", tag)
	}
	tests := []struct {
		name, ref string
		want      []string
		wantErr   error
	}{
		{"tags of the repository, whatever the ref's tag", rc.host + "/tarscloud/framework:v3.0.15", []string{"latest", "v3.0.15", "v3.0.16"}, nil},
		{"missing repository", rc.host + "/tarscloud/nothing", nil, fault.NotFound},
	}
	reg := &Registry{Keychain: anonymous}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.Tags(t.Context(), mustParse(t, tt.ref))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Tags = %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			slices.Sort(got)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Tags = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestDigestsCancelled(t *testing.T) {
	rc := startRegistry(t, "127.0.0.1:0", nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := (&Registry{Keychain: anonymous}).Digests(ctx, []Ref{mustParse(t, rc.host+"/tarscloud/framework:v3")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Digests with a cancelled context: err = %v, want context.Canceled", err)
	}
}
