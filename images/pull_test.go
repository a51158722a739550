package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/tarsup/tarsup/fault"
)

// fakePuller answers ImagePull with a canned stream or error and records the
// call, handing the stream out one byte at a time so that messages arrive split.
type fakePuller struct {
	stream  string
	err     error
	gotRef  string
	gotAuth string
	calls   int
	closed  bool
}

func (f *fakePuller) ImagePull(_ context.Context, ref string, o image.PullOptions) (io.ReadCloser, error) {
	f.calls++
	f.gotRef, f.gotAuth = ref, o.RegistryAuth
	if f.err != nil {
		return nil, f.err
	}
	return readCloser{iotest.OneByteReader(strings.NewReader(f.stream)), func() { f.closed = true }}, nil
}

type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }

const pullDigest = "sha256:4d6c0a8b1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b"

// stream renders engine messages the way the engine sends them: one JSON
// object per line, "\r\n" terminated.
func stream(msgs ...string) string { return strings.Join(msgs, "\r\n") + "\r\n" }

var okStream = stream(
	`{"status":"Pulling from tarscloud/framework","id":"v3.0.16"}`,
	`{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2c3"}`,
	`{"status":"Pulling fs layer","progressDetail":{},"id":"d4e5f6"}`,
	`{"status":"Downloading","progressDetail":{"current":512,"total":2048},"progress":"[=====>   ]","id":"a1b2c3"}`,
	`{"status":"Downloading","progressDetail":{"current":1024,"total":2048},"progress":"[==========>  ]","id":"a1b2c3"}`,
	`{"status":"Download complete","progressDetail":{},"id":"a1b2c3"}`,
	`{"status":"Already exists","progressDetail":{},"id":"d4e5f6"}`,
	`{"status":"Extracting","progressDetail":{"current":2048,"total":2048},"progress":"[====>]","id":"a1b2c3"}`,
	`{"status":"Pull complete","progressDetail":{},"id":"a1b2c3"}`,
	`{"status":"Digest: `+pullDigest+`"}`,
	`{"status":"Status: Downloaded newer image for tarscloud/framework:v3.0.16"}`,
)

func TestPull(t *testing.T) {
	errStream := func(msg string) string {
		return stream(
			`{"status":"Pulling from tarscloud/framework","id":"v3.0.99"}`,
			fmt.Sprintf(`{"errorDetail":{"message":%q},"error":%q}`, msg, msg),
		)
	}
	tests := []struct {
		name       string
		stream     string
		callErr    error
		tty        bool
		wantDigest string
		wantOut    string // non-tty output, exact
		wantErr    error  // a kind, or errAny for an unclassified failure
		wantMsg    string
	}{
		{
			name: "success", stream: okStream, wantDigest: pullDigest,
			wantOut: "v3.0.16: Pulling from tarscloud/framework\n" +
				"a1b2c3: Pulling fs layer\n" +
				"d4e5f6: Pulling fs layer\n" +
				"a1b2c3: Downloading\n" +
				"a1b2c3: Download complete\n" +
				"d4e5f6: Already exists\n" +
				"a1b2c3: Extracting\n" +
				"a1b2c3: Pull complete\n" +
				"Digest: " + pullDigest + "\n" +
				"Status: Downloaded newer image for tarscloud/framework:v3.0.16\n",
		},
		{name: "success on a terminal", stream: okStream, tty: true, wantDigest: pullDigest},
		{
			name: "last message without newline", wantDigest: pullDigest,
			stream: `{"status":"Pulling from tarscloud/framework","id":"v3.0.16"}` + "\r\n" + `{"status":"Digest: ` + pullDigest + `"}`,
		},
		{
			name: "up to date, no digest line", stream: stream(`{"status":"Status: Image is up to date for tarscloud/framework:v3.0.16"}`),
			wantOut: "Status: Image is up to date for tarscloud/framework:v3.0.16\n",
		},
		{
			name: "missing tag in the stream", stream: errStream("manifest for tarscloud/framework:v3.0.99 not found: manifest unknown: manifest unknown"),
			wantErr: fault.NotFound, wantMsg: "tag v3.0.99 not found in tarscloud/framework",
		},
		{
			name: "missing tag in the stream, terminal", tty: true, stream: errStream("manifest for tarscloud/framework:v3.0.99 not found: manifest unknown: manifest unknown"),
			wantErr: fault.NotFound,
		},
		{
			name: "access denied in the stream", stream: errStream("pull access denied for tarscloud/framework, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"),
			wantErr: fault.Unauthorized, wantMsg: "docker login docker.io",
		},
		{
			name: "unreachable in the stream", stream: errStream(`Get "https://registry.example.com/v2/": dial tcp: lookup registry.example.com: no such host`),
			wantErr: fault.Unreachable,
		},
		{
			name: "old-style error field only", stream: stream(`{"error":"unauthorized: authentication required"}`),
			wantErr: fault.Unauthorized,
		},
		{
			name: "typed not-found from the engine", callErr: fmt.Errorf("Error response from daemon: manifest unknown: %w", cerrdefs.ErrNotFound),
			wantErr: fault.NotFound,
		},
		{
			name: "registry unreachable reported as the call's error", callErr: errors.New(`Error response from daemon: Get "https://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused`),
			wantErr: fault.Unreachable, wantMsg: "registry docker.io unreachable",
		},
		{
			name: "unclassified failure keeps its cause", callErr: errors.New("toomanyrequests: You have reached your pull rate limit"),
			wantErr: errAny, wantMsg: "pull tarscloud/framework:v3.0.99: toomanyrequests",
		},
		{
			name: "garbage in the stream", stream: "this is not JSON\r\n", wantErr: errAny, wantMsg: "read the engine's progress stream",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := mustParse(t, "tarscloud/framework:v3.0.16")
			if tt.wantErr != nil {
				ref = mustParse(t, "tarscloud/framework:v3.0.99")
			}
			f := &fakePuller{stream: tt.stream, err: tt.callErr}
			var out bytes.Buffer
			got, err := Pull(t.Context(), f, ref, "c2VjcmV0", &out, tt.tty)

			if f.calls != 1 || f.gotRef != ref.String() || f.gotAuth != "c2VjcmV0" {
				t.Errorf("ImagePull called %d times with %q, auth %q; want once with %q, auth c2VjcmV0", f.calls, f.gotRef, f.gotAuth, ref)
			}
			if tt.callErr == nil && !f.closed {
				t.Error("the pull stream was not closed")
			}
			switch {
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, fault.NotFound) || errors.Is(err, fault.Unauthorized) || errors.Is(err, fault.Unreachable) {
					t.Fatalf("Pull error = %v, want an unclassified error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Pull = %q, %v; want error %v", got, err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("Pull: %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if got != tt.wantDigest {
				t.Errorf("digest = %q, want %q", got, tt.wantDigest)
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tt.wantOut)
			}
			if tt.tty && tt.wantErr == nil && !strings.Contains(out.String(), "Pull complete") {
				t.Errorf("terminal output %q lacks the layer display", out.String())
			}
		})
	}
}

// errAny in a test table means "an error of no particular kind".
var errAny = errors.New("any error")
