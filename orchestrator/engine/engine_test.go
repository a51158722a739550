package engine

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tarsup/tarsup/fault"
)

func fakeEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestHostsFromFlags(t *testing.T) {
	tests := []struct {
		name string
		urls []string
		tls  TLSOptions
		env  map[string]string
		want []HostSpec
	}{
		{name: "default socket", want: []HostSpec{{URL: DefaultHost}}},
		{name: "DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, want: []HostSpec{{URL: "tcp://127.0.0.1:2375"}}},
		{name: "flags win over DOCKER_HOST", urls: []string{"unix:///x.sock"}, env: map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, want: []HostSpec{{URL: "unix:///x.sock"}}},
		{
			name: "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply to tcp engines only",
			urls: []string{"unix:///var/run/docker.sock", "tcp://10.0.0.5:2376"},
			env:  map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
			want: []HostSpec{{URL: "unix:///var/run/docker.sock"}, {URL: "tcp://10.0.0.5:2376", TLS: TLSOptions{Verify: true, CACert: "/certs/ca.pem", Cert: "/certs/cert.pem", Key: "/certs/key.pem"}}},
		},
		{
			name: "flags beat the cert path",
			urls: []string{"tcp://10.0.0.5:2376"},
			tls:  TLSOptions{Verify: true, CACert: "/my/ca.pem"},
			env:  map[string]string{"HOME": "/root"},
			want: []HostSpec{{URL: "tcp://10.0.0.5:2376", TLS: TLSOptions{Verify: true, CACert: "/my/ca.pem", Cert: "/root/.docker/cert.pem", Key: "/root/.docker/key.pem"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HostsFromFlags(tt.urls, tt.tls, false, fakeEnv(tt.env))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestValidateHost(t *testing.T) {
	tests := []struct {
		spec HostSpec
		ok   bool
	}{
		{HostSpec{URL: "unix:///var/run/docker.sock"}, true},
		{HostSpec{URL: "tcp://127.0.0.1:2375"}, true},
		{HostSpec{URL: "tcp://localhost:2375"}, true},
		{HostSpec{URL: "tcp://192.0.2.1:2375"}, false},
		{HostSpec{URL: "tcp://192.0.2.1:2375", Insecure: true}, true},
		{HostSpec{URL: "tcp://192.0.2.1:2376", TLS: TLSOptions{Verify: true}}, true},
		{HostSpec{URL: "ssh://me@host"}, false},
		{HostSpec{URL: "tcp://nohostport"}, false},
		{HostSpec{URL: "not a url"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.spec.URL, func(t *testing.T) {
			err := ValidateHost(tt.spec)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateHost(%+v) = %v, want ok=%v", tt.spec, err, tt.ok)
			}
			if err != nil && !errors.Is(err, fault.BadInput) {
				t.Fatalf("error %v is not bad input", err)
			}
		})
	}
}
