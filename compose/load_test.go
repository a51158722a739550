package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// describe prints what Load extracted, with paths relative to dir, so that
// tests compare it with literal text.
func describe(p *Project, dir string) string {
	rel := func(path string) string {
		if r, err := filepath.Rel(dir, path); err == nil {
			return r
		}
		return path
	}
	var b strings.Builder
	fmt.Fprintf(&b, "project %s\n", p.Name)
	if p.Host != "" || p.TLS != nil {
		fmt.Fprintf(&b, "host %s\n", p.Host)
	}
	if p.TLS != nil {
		fmt.Fprintf(&b, "tls ca=%s cert=%s key=%s\n", p.TLS.CA, p.TLS.Cert, p.TLS.Key)
	}
	for _, s := range p.Services {
		fmt.Fprintf(&b, "service %s role=%q image=%s", s.Name, s.Role, s.Image)
		if s.ContainerName != "" {
			fmt.Fprintf(&b, " container=%s", s.ContainerName)
		}
		if s.NetworkMode != "" {
			fmt.Fprintf(&b, " network_mode=%s", s.NetworkMode)
		}
		fmt.Fprintf(&b, " file=%s\n", rel(s.File))
		keys := make([]string, 0, len(s.Environment))
		for k := range s.Environment {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  env %s=%s\n", k, s.Environment[k])
		}
		for _, n := range s.Networks {
			fmt.Fprintf(&b, "  net %s docker=%s bridge=%t", n.Name, n.DockerName, n.Bridge)
			if n.IPv4Address != "" {
				fmt.Fprintf(&b, " ipv4=%s", n.IPv4Address)
			}
			if n.IPv6Address != "" {
				fmt.Fprintf(&b, " ipv6=%s", n.IPv6Address)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  string
	}{
		{
			name:  "TarsDocs layout",
			files: map[string]string{"compose.yaml": tarsDocs},
			opts:  Options{ProjectName: "tars"},
			want: `project tars
service framework role="framework" image=tarscloud/framework:v3.0.15 container=tars-framework file=compose.yaml
  env INET=eth0
  env MYSQL_HOST=172.25.1.2
  env MYSQL_PORT=3306
  env MYSQL_ROOT_PASSWORD=123456
  env MYSQL_USER=root
  env REBUILD=false
  env SLAVE=false
  net internal docker=tars_internal bridge=true ipv4=172.25.1.3
service mysql role="db" image=mysql:5.6 container=tars-mysql file=compose.yaml
  env MYSQL_ROOT_PASSWORD=123456
  net internal docker=tars_internal bridge=true ipv4=172.25.1.2
service node role="node" image=tarscloud/tars-node:latest container=tars-node file=compose.yaml
  env INET=eth0
  env WEB_HOST=http://172.25.1.3:3000
  net internal docker=tars_internal bridge=true ipv4=172.25.1.5
`,
		},
		{
			name: "interpolation from .env, the process environment winning",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n    environment:\n      MYSQL_HOST: ${DB_HOST}\n",
				".env":         "TARS_VERSION=v3.0.15\nDB_HOST=10.0.0.2\n",
			},
			opts: Options{Environ: []string{"TARS_VERSION=v3.0.16"}},
			want: `project lab
service framework role="framework" image=tarscloud/framework:v3.0.16 file=compose.yaml
  env MYSQL_HOST=10.0.0.2
  net default docker=lab_default bridge=true
`,
		},
		{
			name: "--env-file replaces .env",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.15\n",
				"prod.env":     "TARS_VERSION=v3.0.18\n",
			},
			opts: Options{EnvFiles: []string{"prod.env"}},
			want: `project lab
service framework role="framework" image=tarscloud/framework:v3.0.18 file=compose.yaml
  net default docker=lab_default bridge=true
`,
		},
		{
			name: "env_file merged, environment: wins over it",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    env_file: fw.env\n    environment:\n      INET: eth1\n",
				"fw.env":       "INET=eth0\nREBUILD=false\n",
			},
			want: `project lab
service framework role="framework" image=tarscloud/framework:v3.0.15 file=compose.yaml
  env INET=eth1
  env REBUILD=false
  net default docker=lab_default bridge=true
`,
		},
		{
			name: "profiles: inactive services are left out",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n  web:\n    image: tarscloud/tars-web:v3\n    network_mode: host\n    profiles: [web]\n",
			},
			want: `project lab
service framework role="framework" image=tarscloud/framework:v3.0.15 network_mode=host file=compose.yaml
`,
		},
		{
			name: "profiles: --profile enables a service",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n  web:\n    image: tarscloud/tars-web:v3\n    network_mode: host\n    profiles: [web]\n",
			},
			opts: Options{Profiles: []string{"web"}},
			want: `project lab
service framework role="framework" image=tarscloud/framework:v3.0.15 network_mode=host file=compose.yaml
service web role="web" image=tarscloud/tars-web:v3 network_mode=host file=compose.yaml
`,
		},
		{
			name: "COMPOSE_PROFILES enables a service",
			files: map[string]string{
				"compose.yaml": "name: lab\nservices:\n  web:\n    image: tarscloud/tars-web:v3\n    network_mode: host\n    profiles: [web]\n",
			},
			opts: Options{Environ: []string{"COMPOSE_PROFILES=web"}},
			want: `project lab
service web role="web" image=tarscloud/tars-web:v3 network_mode=host file=compose.yaml
`,
		},
		{
			name: "several -f files merge; a label names the role",
			files: map[string]string{
				"compose.yaml":  "name: lab\nservices:\n  fw:\n    image: mirror.example.com/tars/fw:v3.0.15\n    networks:\n      internal:\n        ipv4_address: 10.5.0.3\nnetworks:\n  internal:\n    driver: macvlan\n",
				"override.yaml": "services:\n  fw:\n    image: mirror.example.com/tars/fw:v3.0.16\n    labels:\n      tarsup.role: framework\n",
			},
			opts: Options{Files: []string{"compose.yaml", "override.yaml"}},
			want: `project lab
service fw role="framework" image=mirror.example.com/tars/fw:v3.0.16 file=override.yaml
  net internal docker=lab_internal bridge=false ipv4=10.5.0.3
`,
		},
		{
			name: "project name: -p wins over COMPOSE_PROJECT_NAME and name:",
			files: map[string]string{
				"compose.yaml": "name: fromfile\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n",
			},
			opts: Options{ProjectName: "fromflag", Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}},
			want: `project fromflag
service framework role="framework" image=tarscloud/framework:v3.0.15 network_mode=host file=compose.yaml
`,
		},
		{
			name: "project name: COMPOSE_PROJECT_NAME wins over name:",
			files: map[string]string{
				"compose.yaml": "name: fromfile\nservices:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    network_mode: host\n",
			},
			opts: Options{Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}},
			want: `project fromenv
service framework role="framework" image=tarscloud/framework:v3.0.15 network_mode=host file=compose.yaml
`,
		},
		{
			name: "x-tarsup: host, and TLS paths relative to the project directory",
			files: map[string]string{
				"compose.yaml": "name: lab\nx-tarsup:\n  host: tcp://10.0.0.5:2376\n  tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: /etc/tarsup/key.pem}\nservices:\n  node:\n    image: tarscloud/tars-node:latest\n    network_mode: host\n",
			},
			want: `project lab
host tcp://10.0.0.5:2376
tls ca=DIR/certs/ca.pem cert=DIR/certs/cert.pem key=/etc/tarsup/key.pem
service node role="node" image=tarscloud/tars-node:latest network_mode=host file=compose.yaml
`,
		},
		{
			name: "x-tarsup: interpolated",
			files: map[string]string{
				"compose.yaml": "name: lab\nx-tarsup:\n  host: tcp://${NODE_HOST}:2376\nservices:\n  node:\n    image: tarscloud/tars-node:latest\n    network_mode: host\n",
				".env":         "NODE_HOST=10.0.0.7\n",
			},
			want: `project lab
host tcp://10.0.0.7:2376
service node role="node" image=tarscloud/tars-node:latest network_mode=host file=compose.yaml
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir, err := loadFiles(t, tt.files, tt.opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if got := describe(p, dir); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if p.WorkingDir != dir {
				t.Errorf("WorkingDir = %s, want %s", p.WorkingDir, dir)
			}
			for _, f := range p.Files {
				if !filepath.IsAbs(f) {
					t.Errorf("Files has a relative path %s", f)
				}
			}
			if p.Compose == nil || len(p.Compose.Services) != len(p.Services) {
				t.Errorf("Compose model missing or out of step with Services")
			}
		})
	}
}

func TestLoadFilesAndEnvFiles(t *testing.T) {
	p, dir, err := loadFiles(t, map[string]string{
		"compose.yaml":  "name: lab\nservices:\n  node:\n    image: tarscloud/tars-node:${TAG}\n    network_mode: host\n",
		"override.yaml": "services:\n  node:\n    restart: always\n",
		".env":          "TAG=latest\n",
	}, Options{Files: []string{"compose.yaml", "override.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "override.yaml")}
	if fmt.Sprint(p.Files) != fmt.Sprint(wantFiles) {
		t.Errorf("Files = %v, want %v", p.Files, wantFiles)
	}
	if want := []string{filepath.Join(dir, ".env")}; fmt.Sprint(p.EnvFiles) != fmt.Sprint(want) {
		t.Errorf("EnvFiles = %v, want %v", p.EnvFiles, want)
	}
}

func TestLoadDiscoversComposeFileInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"docker-compose.yml": "services:\n  node:\n    image: tarscloud/tars-node:latest\n    network_mode: host\n",
	})
	p, err := Load(context.Background(), Options{WorkingDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "docker-compose.yml")}; fmt.Sprint(p.Files) != fmt.Sprint(want) {
		t.Errorf("Files = %v, want %v", p.Files, want)
	}
	if want := filepath.Base(dir); p.Name != strings.ToLower(want) {
		t.Errorf("Name = %q, want the directory name %q", p.Name, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		// want are substrings of the message; FILE stands for the
		// absolute path of the file at fault, named by fault.
		fault string
		want  []string
	}{
		{
			name:  "broken YAML names the file and the fault",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: [tarscloud/framework\n"},
			fault: "compose.yaml",
			want:  []string{"compose file FILE is not valid YAML", "did not find expected"},
		},
		{
			name:  "broken YAML in the second -f file names that file",
			files: map[string]string{"compose.yaml": tarsDocs, "override.yaml": "services:\n\tframework: {}\n"},
			opts:  Options{Files: []string{"compose.yaml", "override.yaml"}},
			fault: "override.yaml",
			want:  []string{"compose file FILE is not valid YAML"},
		},
		{
			name:  "missing file",
			files: map[string]string{"compose.yaml": tarsDocs},
			opts:  Options{Files: []string{"compose.yaml", "missing.yaml"}},
			fault: "missing.yaml",
			want:  []string{"compose file FILE", "no such file"},
		},
		{
			name:  "schema violation names the file",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    imag: tarscloud/framework:v3.0.15\n"},
			fault: "compose.yaml",
			want:  []string{"FILE", "services.framework"},
		},
		{
			name:  "missing --env-file",
			files: map[string]string{"compose.yaml": tarsDocs},
			opts:  Options{EnvFiles: []string{"missing.env"}},
			fault: "missing.env",
			want:  []string{"FILE"},
		},
		{
			name:  "missing env_file",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:v3.0.15\n    env_file: fw.env\n"},
			fault: "fw.env",
			want:  []string{"FILE"},
		},
		{
			name:  "required variable unset",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION:?set TARS_VERSION}\n"},
			fault: "compose.yaml",
			want:  []string{"FILE", "set TARS_VERSION"},
		},
		{
			name:  "x-tarsup with an unknown key",
			files: map[string]string{"compose.yaml": "x-tarsup:\n  hots: tcp://10.0.0.5:2376\nservices:\n  node:\n    image: tarscloud/tars-node:latest\n"},
			fault: "compose.yaml",
			want:  []string{"compose file FILE: x-tarsup: unknown key \"hots\""},
		},
		{
			name:  "x-tarsup in an override file is named there",
			files: map[string]string{"compose.yaml": tarsDocs, "hosts.yaml": "x-tarsup:\n  host: 10.0.0.5\n"},
			opts:  Options{Files: []string{"compose.yaml", "hosts.yaml"}},
			fault: "hosts.yaml",
			want:  []string{"compose file FILE: x-tarsup: host \"10.0.0.5\" is not an address"},
		},
		{
			name:  "x-tarsup tls cert without key",
			files: map[string]string{"compose.yaml": "x-tarsup:\n  host: tcp://10.0.0.5:2376\n  tls: {ca: ca.pem, cert: cert.pem}\nservices:\n  node:\n    image: tarscloud/tars-node:latest\n"},
			fault: "compose.yaml",
			want:  []string{"tls.cert and tls.key go together"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir, err := loadFiles(t, tt.files, tt.opts)
			if err == nil {
				t.Fatalf("Load succeeded with %d services, want an error", len(p.Services))
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Errorf("error %T is not a *LoadError: %v", err, err)
			}
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "FILE", filepath.Join(dir, tt.fault))
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNoComposeFile(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(context.Background(), Options{WorkingDir: dir, Environ: []string{}})
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "pass -f FILE") {
		t.Fatalf("err = %v, want a *LoadError that says to pass -f", err)
	}
}

func TestReadProjectList(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"host1/compose.yaml": tarsDocs,
		"host2/tars.yaml":    tarsDocs,
	})
	tests := []struct {
		name string
		list string
		want []Options
		err  string
	}{
		{
			name: "directories, files, comments",
			list: "# fleet\n\nhost1\n  host2/tars.yaml   # second host\n" + filepath.Join(dir, "host1") + "\n",
			want: []Options{
				{WorkingDir: filepath.Join(dir, "host1")},
				{Files: []string{filepath.Join(dir, "host2/tars.yaml")}},
				{WorkingDir: filepath.Join(dir, "host1")},
			},
		},
		{name: "missing entry names the line", list: "host1\nhost3\n", err: "line 2"},
		{name: "empty list", list: "# nothing\n", err: "names no project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "projects.txt")
			if err := os.WriteFile(path, []byte(tt.list), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadProjectList(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and %q", err, path, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadMany(t *testing.T) {
	dir := t.TempDir()
	node := func(host string) string {
		return "name: tars\nx-tarsup:\n  host: " + host + "\nservices:\n  node:\n    image: tarscloud/tars-node:latest\n    network_mode: host\n"
	}
	writeFiles(t, dir, map[string]string{
		"a/compose.yaml": node("tcp://10.0.0.5:2376"),
		"b/compose.yaml": node("tcp://10.0.0.6:2376"),
		"c/compose.yaml": node("tcp://10.0.0.5:2376"),
		"d/compose.yaml": "services: [",
	})
	opts := func(names ...string) []Options {
		var out []Options
		for _, n := range names {
			out = append(out, Options{WorkingDir: filepath.Join(dir, n), Environ: []string{}})
		}
		return out
	}
	tests := []struct {
		name     string
		projects []string
		want     string // hosts of the projects, or a substring of the error
		wantErr  bool
	}{
		{name: "two hosts", projects: []string{"a", "b"}, want: "[tcp://10.0.0.5:2376 tcp://10.0.0.6:2376]"},
		{name: "same project on the same host", projects: []string{"a", "b", "c"}, want: `both project "tars" on tcp://10.0.0.5:2376`, wantErr: true},
		{name: "a broken project among good ones", projects: []string{"a", "d"}, want: filepath.Join(dir, "d/compose.yaml"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := LoadMany(context.Background(), opts(tt.projects...))
			if tt.wantErr {
				var le *LoadError
				if err == nil || !errors.As(err, &le) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want a *LoadError containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			for _, p := range ps {
				hosts = append(hosts, p.Host)
			}
			if got := fmt.Sprint(hosts); got != tt.want {
				t.Errorf("hosts = %s, want %s", got, tt.want)
			}
		})
	}
}
