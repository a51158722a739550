package engine

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

func TestLoadInventory(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "inventory.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write(`hosts:
  - name: master
    url: tcp://10.0.0.5:2376
    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: /abs/key.pem}
  - url: unix:///var/run/docker.sock
`)
	got, err := LoadInventory(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []HostSpec{
		{URL: "tcp://10.0.0.5:2376", Name: "master", TLS: TLSOptions{Enabled: true, Verify: true,
			CACert: filepath.Join(dir, "certs/ca.pem"), Cert: filepath.Join(dir, "certs/cert.pem"), Key: "/abs/key.pem"}},
		{URL: "unix:///var/run/docker.sock"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	for name, body := range map[string]string{
		"unknown key":           "hosts:\n  - url: unix:///x\n    colour: red\n",
		"no hosts":              "hosts: []\n",
		"plain tcp without TLS": "hosts:\n  - url: tcp://10.0.0.5:2375\n",
		"twice":                 "hosts:\n  - url: unix:///x\n  - url: unix:///x\n",
		"not yaml":              "hosts: [\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadInventory(write(body)); !errors.Is(err, fault.BadInput) {
				t.Fatalf("err = %v, want bad input", err)
			}
		})
	}
}
