package testbed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// These tests need no Docker Engine: the e2e tests (build tag e2e, package
// tests) exercise the rest against real engines.

func buildFake(t *testing.T) string {
	t.Helper()
	bin, err := BuildFake(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestPushImageConfigAndRequests(t *testing.T) {
	ctx := t.Context()
	bin := buildFake(t)
	reg, err := StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	ref, digest, err := PushImage(ctx, reg, bin, ImageSpec{
		Repo: FrameworkRepo, Tag: "v3.0.16-hc", Role: RoleFramework, Version: "v3.0.16",
		Env: []string{"REBUILD=true"}, Labels: map[string]string{"x": "y"}, Healthcheck: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := reg.Addr + "/tarscloud/framework:v3.0.16-hc"; ref != want {
		t.Errorf("ref = %s, want %s", ref, want)
	}

	reg.ResetRequests()
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != digest {
		t.Errorf("registry has %s, PushImage said %s", desc.Digest, digest)
	}
	reqs := reg.Requests()
	if !slices.ContainsFunc(reqs, func(r Request) bool {
		return r.Method == http.MethodHead && r.Path == "/v2/tarscloud/framework/manifests/v3.0.16-hc" && r.Status == http.StatusOK
	}) {
		t.Errorf("the HEAD of the manifest was not recorded: %+v", reqs)
	}

	img, err := remote.Image(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/tarsfake", "framework"}) {
		t.Errorf("entrypoint %v", c.Entrypoint)
	}
	for _, env := range []string{"FAKE_VERSION=v3.0.16", "REBUILD=true", defaultPath} {
		if !slices.Contains(c.Env, env) {
			t.Errorf("env %v lacks %s", c.Env, env)
		}
	}
	if c.Labels[VersionLabel] != "v3.0.16" || c.Labels["x"] != "y" {
		t.Errorf("labels %v", c.Labels)
	}
	for _, p := range []string{"3000/tcp", "17890/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.ExposedPorts)
		}
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/tarsfake", "check", "tcp", "127.0.0.1:17890"}) || c.Healthcheck.Interval != time.Second {
		t.Errorf("healthcheck %+v", c.Healthcheck)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("want one layer, got %d (%v)", len(layers), err)
	}
}

func TestStandardImagesMoveATag(t *testing.T) {
	ctx := t.Context()
	reg, err := StartRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	im, err := PushStandardImages(ctx, reg, buildFake(t))
	if err != nil {
		t.Fatal(err)
	}
	if im.NodeLatest != reg.Addr+"/tarscloud/tars-node:latest" || im.Framework3015 != im.FrameworkRepo+":v3.0.15" {
		t.Errorf("refs: %s %s", im.NodeLatest, im.Framework3015)
	}
	before := im.Digest(im.NodeLatest)
	if before == "" || before != im.Digest(im.NodeStable) {
		t.Errorf("latest %q and stable %q should be one image", before, im.Digest(im.NodeStable))
	}
	if _, _, err := im.Push(ctx, ImageSpec{Repo: NodeRepo, Tag: "latest", Role: RoleNode, Version: "v3.0.16"}); err != nil {
		t.Fatal(err)
	}
	after := im.Digest(im.NodeLatest)
	tag, _ := name.NewTag(im.NodeLatest, name.Insecure)
	desc, err := remote.Head(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if after == before || desc.Digest.String() != after {
		t.Errorf("latest moved from %s to %s; registry has %s", before, after, desc.Digest)
	}
}

func TestCertificatesMutualTLS(t *testing.T) {
	ip := net.ParseIP("127.0.0.1")
	cli, srv, err := makeCerts(t.TempDir(), ip)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if _, err := os.Stat(filepath.Join(cli.Dir, f)); err != nil {
			t.Errorf("DOCKER_CERT_PATH layout: %v", err)
		}
	}
	pool := func(path string) *x509.CertPool {
		pem, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(pem) {
			t.Fatal("bad CA PEM")
		}
		return p
	}
	srvCert, err := tls.LoadX509KeyPair(srv.Cert, srv.Key)
	if err != nil {
		t.Fatal(err)
	}
	cliCert, err := tls.LoadX509KeyPair(cli.Cert, cli.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool(srv.CA),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if c.(*tls.Conn).Handshake() == nil {
				c.Write([]byte("ok"))
			}
			c.Close()
		}
	}()

	dial := func(certs []tls.Certificate) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool(cli.CA), Certificates: certs})
		if err != nil {
			return err
		}
		defer c.Close()
		// TLS 1.3 reports a rejected client certificate on the first read.
		buf := make([]byte, 2)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != "ok" {
			return fmt.Errorf("server said %q", buf)
		}
		return nil
	}
	if err := dial([]tls.Certificate{cliCert}); err != nil {
		t.Errorf("client with certificate: %v", err)
	}
	if err := dial(nil); err == nil {
		t.Errorf("a client without a certificate was accepted")
	}
}

func TestFakeCheck(t *testing.T) {
	bin := buildFake(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	closed := freeAddr(t)

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"check", "tcp", open}, 0},
		{[]string{"check", "tcp", closed}, 1},
		{[]string{"check", "http", "http://" + open + "/ok"}, 0},
		{[]string{"check", "http", "http://" + open + "/missing"}, 1},
		{[]string{"check", "udp", open}, 2},
		{[]string{"node"}, 1}, // no WEB_HOST
		{[]string{"nonsense"}, 2},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, tc.args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if code != tc.want {
			t.Errorf("tarsfake %v: exit %d, want %d: %s", tc.args, code, tc.want, out)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHostIPAndSubnet(t *testing.T) {
	local := &Engine{}
	extra := &Engine{slot: 3}
	for _, tc := range []struct{ got, want string }{
		{local.Subnet(1), "10.240.1.0/24"},
		{extra.Subnet(7), "10.243.7.0/24"},
		{extra.Subnet(254), "10.243.254.0/24"},
		{HostIP("10.243.7.0/24", 3), "10.243.7.3"},
		{HostIP("172.25.0.0/16", 259), "172.25.1.3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestSubnetOutOfRange(t *testing.T) {
	for _, k := range []int{0, 255} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Subnet(%d) did not panic", k)
				}
			}()
			(&Engine{slot: 3}).Subnet(k)
		}()
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/a\040b/c`); got != "/tmp/a b/c" {
		t.Errorf("got %q", got)
	}
}
