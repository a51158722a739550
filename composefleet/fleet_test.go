package composefleet

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tarsup/tarsup/compose"
	"github.com/tarsup/tarsup/fault"
	"github.com/tarsup/tarsup/orchestrator/engine"
)

func TestNewFleet(t *testing.T) {
	proj := func(name, host string, tls *compose.TLSFiles) *compose.Project {
		return &compose.Project{Name: name, Files: []string{"/p/" + name + "/compose.yaml"}, Host: host, TLS: tls}
	}
	local := []engine.HostSpec{{URL: "unix:///var/run/docker.sock"}}
	certs := &compose.TLSFiles{CA: "/c/ca.pem", Cert: "/c/cert.pem", Key: "/c/key.pem"}
	tests := []struct {
		name     string
		projects []*compose.Project
		defaults []engine.HostSpec
		flagTLS  engine.TLSOptions
		env      map[string]string
		// want is each project's engine, then each distinct engine's spec.
		want  []string
		err   string
		errIs error
	}{
		{
			name:     "a project without x-tarsup.host runs on --host",
			projects: []*compose.Project{proj("a", "", nil)},
			defaults: local,
			want:     []string{"a -> unix:///var/run/docker.sock", "spec unix:///var/run/docker.sock tls={false false   }"},
		},
		{
			name:     "projects on one engine share it",
			projects: []*compose.Project{proj("a", "tcp://127.0.0.1:2375", nil), proj("b", "tcp://127.0.0.1:2375", nil)},
			want:     []string{"a -> tcp://127.0.0.1:2375", "b -> tcp://127.0.0.1:2375", "spec tcp://127.0.0.1:2375 tls={false false   }"},
		},
		{
			name:     "x-tarsup.host without tls takes the TLS flags and DOCKER_CERT_PATH",
			projects: []*compose.Project{proj("a", "tcp://10.0.0.5:2376", nil)},
			flagTLS:  engine.TLSOptions{Verify: true},
			env:      map[string]string{"DOCKER_CERT_PATH": "/certs"},
			want:     []string{"a -> tcp://10.0.0.5:2376", "spec tcp://10.0.0.5:2376 tls={true false /certs/ca.pem /certs/cert.pem /certs/key.pem}"},
		},
		{
			name:     "x-tarsup.tls wins over the flags; a CA means verify",
			projects: []*compose.Project{proj("a", "tcp://10.0.0.5:2376", certs)},
			flagTLS:  engine.TLSOptions{Enabled: true, CACert: "/flag/ca.pem"},
			want:     []string{"a -> tcp://10.0.0.5:2376", "spec tcp://10.0.0.5:2376 tls={true true /c/ca.pem /c/cert.pem /c/key.pem}"},
		},
		{
			name:     "one engine reached with two TLS settings is refused",
			projects: []*compose.Project{proj("a", "tcp://10.0.0.5:2376", certs), proj("b", "tcp://10.0.0.5:2376", &compose.TLSFiles{CA: "/other/ca.pem"})},
			err:      "projects a and b reach engine tcp://10.0.0.5:2376 with different TLS settings",
			errIs:    fault.BadInput,
		},
		{
			name:     "a project without engine and two --host values is a usage error",
			projects: []*compose.Project{proj("a", "tcp://10.0.0.5:2376", certs), proj("b", "", nil)},
			defaults: []engine.HostSpec{{URL: "unix:///a.sock"}, {URL: "unix:///b.sock"}},
			err:      "project b (/p/b/compose.yaml) names no engine (x-tarsup.host) and 2 --host values are given",
			errIs:    ErrUsage,
		},
		{
			name:     "a plain tcp:// to another machine needs --insecure, and the error names the project",
			projects: []*compose.Project{proj("a", "tcp://10.0.0.5:2375", nil)},
			err:      "project a (/p/a/compose.yaml): ",
			errIs:    fault.BadInput,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			eng := Engines{
				Default: func() ([]engine.HostSpec, error) { calls++; return tt.defaults, nil },
				TLS:     tt.flagTLS,
				Getenv:  func(k string) string { return tt.env[k] },
			}
			f, err := newFleet(tt.projects, eng)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, tt.errIs) {
					t.Fatalf("err = %v, want %q wrapping %v", err, tt.err, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range tt.projects {
				got = append(got, p.Name+" -> "+f.HostOf(p))
			}
			for _, s := range f.Specs {
				got = append(got, fmt.Sprintf("spec %s tls=%v", s.URL, s.TLS))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			// Why: --host is read (and checked) only for a project that uses it.
			if uses := tt.defaults != nil; (calls > 0) != uses || calls > 1 {
				t.Errorf("Default called %d times", calls)
			}
		})
	}
}

func TestProjectsOptions(t *testing.T) {
	tests := []struct {
		name string
		p    Projects
		want string
		err  string
	}{
		{name: "nothing named: docker compose's own search", want: "[{files=[] dir= name= env=[] profiles=[]}]"},
		{name: "-f with one --project-dir", p: Projects{Files: []string{"a.yaml"}, Dirs: []string{"/d"}, ProjectName: "x", Profiles: []string{"p"}},
			want: "[{files=[a.yaml] dir=/d name=x env=[] profiles=[p]}]"},
		{name: "-f with two --project-dir", p: Projects{Files: []string{"a.yaml"}, Dirs: []string{"/d", "/e"}}, err: "-f names one project, and --project-dir is given 2 times"},
		{name: "several projects, profiles to each", p: Projects{Dirs: []string{"/d", "/e"}, Profiles: []string{"p"}},
			want: "[{files=[] dir=/d name= env=[] profiles=[p]} {files=[] dir=/e name= env=[] profiles=[p]}]"},
		{name: "-p with several projects", p: Projects{Dirs: []string{"/d", "/e"}, ProjectName: "x"}, err: "-p and --env-file apply to one project, and 2 are named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := tt.p.options()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want a usage error %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range opts {
				got = append(got, fmt.Sprintf("{files=%v dir=%s name=%s env=%v profiles=%v}", o.Files, o.WorkingDir, o.ProjectName, o.EnvFiles, o.Profiles))
			}
			if s := "[" + strings.Join(got, " ") + "]"; s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}
