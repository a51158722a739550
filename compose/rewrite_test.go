package compose

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	digestOld = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestNew = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestPlanImageEdits(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		to    map[string]string
		// want maps each file that must change to its new content; files
		// not listed must not change.
		want map[string]string
		// err lists substrings of the expected error (which wraps
		// ErrCannotRewrite); DIR stands for the project directory.
		err []string
	}{
		{
			name:  "TarsDocs: only the framework's image line, its comment kept",
			files: map[string]string{"compose.yaml": tarsDocs},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16", "node": "tarscloud/tars-node:latest", "mysql": "mysql:5.6"},
			want: map[string]string{"compose.yaml": strings.Replace(tarsDocs,
				"    image: tarscloud/framework:v3.0.15 # pinned by ops\n",
				"    image: tarscloud/framework:v3.0.16 # pinned by ops\n", 1)},
		},
		{
			name: "double-quoted image stays double-quoted",
			files: map[string]string{"compose.yaml": `services:
  framework:
    image: "tarscloud/framework:v3.0.15"   # quoted
    restart: always
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": `services:
  framework:
    image: "tarscloud/framework:v3.0.16"   # quoted
    restart: always
`},
		},
		{
			name: "single-quoted image stays single-quoted",
			files: map[string]string{"compose.yaml": `services:
  node:
    image: 'tarscloud/tars-node:latest'
`},
			to: map[string]string{"node": "tarscloud/tars-node:full"},
			want: map[string]string{"compose.yaml": `services:
  node:
    image: 'tarscloud/tars-node:full'
`},
		},
		{
			name: "flow mappings and a tagged scalar",
			files: map[string]string{"compose.yaml": `services:
  framework: {image: tarscloud/framework:v3.0.15, restart: always}
  node: {restart: always, image: !!str tarscloud/tars-node:latest}
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16", "node": "tarscloud/tars-node:java"},
			want: map[string]string{"compose.yaml": `services:
  framework: {image: tarscloud/framework:v3.0.16, restart: always}
  node: {restart: always, image: !!str tarscloud/tars-node:java}
`},
		},
		{
			name:  "columns count characters: non-ASCII text before the image on its line",
			files: map[string]string{"compose.yaml": "services:\n  framework: {labels: {\"é日本\": \"1\"}, image: tarscloud/framework:v3.0.15}\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want:  map[string]string{"compose.yaml": "services:\n  framework: {labels: {\"é日本\": \"1\"}, image: tarscloud/framework:v3.0.16}\n"},
		},
		{
			name:  "CRLF line endings are kept",
			files: map[string]string{"compose.yaml": "services:\r\n  framework:\r\n    image: tarscloud/framework:v3.0.15 \r\n    restart: always\r\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want:  map[string]string{"compose.yaml": "services:\r\n  framework:\r\n    image: tarscloud/framework:v3.0.16 \r\n    restart: always\r\n"},
		},
		{
			name: "digest replaced by a tag",
			files: map[string]string{"compose.yaml": `services:
  framework:
    image: tarscloud/framework:v3.0.15@` + digestOld + ` # pinned
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": `services:
  framework:
    image: tarscloud/framework:v3.0.16 # pinned
`},
		},
		{
			name: "a node pinned by digest gets the new digest",
			files: map[string]string{"compose.yaml": `services:
  node:
    image: tarscloud/tars-node@` + digestOld + `
`},
			to: map[string]string{"node": "tarscloud/tars-node:latest@" + digestNew},
			want: map[string]string{"compose.yaml": `services:
  node:
    image: tarscloud/tars-node:latest@` + digestNew + `
`},
		},
		{
			name: "merge key: the anchor where the image lives is edited",
			files: map[string]string{"compose.yaml": `x-framework: &framework
  image: tarscloud/framework:v3.0.15 # from the anchor
  restart: always
services:
  framework:
    <<: *framework
    container_name: tars-framework
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": `x-framework: &framework
  image: tarscloud/framework:v3.0.16 # from the anchor
  restart: always
services:
  framework:
    <<: *framework
    container_name: tars-framework
`},
		},
		{
			name: "merge key: an explicit image next to the merge wins and is edited",
			files: map[string]string{"compose.yaml": `x-tars: &tars
  image: tarscloud/framework:v3.0.15
  restart: always
services:
  framework:
    <<: *tars
  node:
    <<: *tars
    image: tarscloud/tars-node:latest
`},
			to: map[string]string{"node": "tarscloud/tars-node:full"},
			want: map[string]string{"compose.yaml": `x-tars: &tars
  image: tarscloud/framework:v3.0.15
  restart: always
services:
  framework:
    <<: *tars
  node:
    <<: *tars
    image: tarscloud/tars-node:full
`},
		},
		{
			name: "merge key: an anchor shared by two services both changing is edited once",
			files: map[string]string{"compose.yaml": `x-framework: &framework
  image: tarscloud/framework:v3.0.15
services:
  framework:
    <<: [*framework]
  framework-b:
    <<: *framework
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16", "framework-b": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": `x-framework: &framework
  image: tarscloud/framework:v3.0.16
services:
  framework:
    <<: [*framework]
  framework-b:
    <<: *framework
`},
		},
		{
			name: "merge key: an anchor shared with a service that must not change is refused",
			files: map[string]string{"compose.yaml": `x-framework: &framework
  image: tarscloud/framework:v3.0.15
services:
  framework:
    <<: *framework
  framework-old:
    <<: *framework
    profiles: [old]
`},
			to:  map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: []string{"DIR/compose.yaml:2", "shares", "framework-old", "give service framework its own image: line in DIR/compose.yaml"},
		},
		{
			name: "alias: an anchored image used by another service is refused",
			files: map[string]string{"compose.yaml": `services:
  framework:
    image: &fw tarscloud/framework:v3.0.15
  framework-b:
    image: *fw
`},
			to:  map[string]string{"framework-b": "tarscloud/framework:v3.0.16"},
			err: []string{"DIR/compose.yaml:3", "service framework-b takes its image from", "framework is not to change"},
		},
		{
			name: "alias: an anchored scalar is edited after its anchor",
			files: map[string]string{"compose.yaml": `services:
  framework:
    image: &fw 'tarscloud/framework:v3.0.15'
  framework-b:
    image: *fw
`},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16", "framework-b": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": `services:
  framework:
    image: &fw 'tarscloud/framework:v3.0.16'
  framework-b:
    image: *fw
`},
		},
		{
			name: "several -f files: the override that sets the image is edited",
			files: map[string]string{
				"compose.yaml":  tarsDocs,
				"override.yaml": "services:\n  framework:\n    image: tarscloud/framework:v3.0.15-fix # local build\n",
			},
			opts: Options{Files: []string{"compose.yaml", "override.yaml"}},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"override.yaml": "services:\n  framework:\n    image: tarscloud/framework:v3.0.16 # local build\n"},
		},
		{
			name: "several -f files: an override without image leaves the base file to edit",
			files: map[string]string{
				"compose.yaml":  "services:\n  framework:\n    image: tarscloud/framework:v3.0.15\n",
				"override.yaml": "services:\n  framework:\n    restart: always\n",
			},
			opts: Options{Files: []string{"compose.yaml", "override.yaml"}},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:v3.0.16\n"},
		},
		{
			name: "variable tag set in .env: the .env line is edited",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n",
				".env":         "# versions\nMYSQL_VERSION=5.6\nTARS_VERSION=v3.0.15 # pinned by ops\nOTHER=${TARS_VERSION}-x\n",
			},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{".env": "# versions\nMYSQL_VERSION=5.6\nTARS_VERSION=v3.0.16 # pinned by ops\nOTHER=${TARS_VERSION}-x\n"},
		},
		{
			name: "variable tag: quotes and export in .env are kept, $VAR form",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: \"tarscloud/framework:$TARS_VERSION\"\n",
				".env":         "export TARS_VERSION = \"v3.0.15\"\n",
			},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{".env": "export TARS_VERSION = \"v3.0.16\"\n"},
		},
		{
			name: "variable tag in --env-file: the last file setting it is edited",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION:-v3.0.10}\n",
				"base.env":     "TARS_VERSION=v3.0.14\n",
				"prod.env":     "TARS_VERSION='v3.0.15'\n",
			},
			opts: Options{EnvFiles: []string{"base.env", "prod.env"}},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"prod.env": "TARS_VERSION='v3.0.16'\n"},
		},
		{
			name: "variable image: the whole reference is the variable",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: ${FRAMEWORK_IMAGE}\n",
				".env":         "FRAMEWORK_IMAGE=tarscloud/framework:v3.0.15\n",
			},
			to:   map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			want: map[string]string{".env": "FRAMEWORK_IMAGE=mirror.example.com/tarscloud/framework:v3.0.16\n"},
		},
		{
			name: "variable shared by two images both changing the same way",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n  tars:\n    image: tarscloud/tars:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.15\n",
			},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16", "tars": "tarscloud/tars:v3.0.16"},
			want: map[string]string{".env": "TARS_VERSION=v3.0.16\n"},
		},
		{
			name: "variable shared with a service whose image must not change is refused",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n  tars:\n    image: tarscloud/tars:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.15\n",
			},
			to:  map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: []string{"TARS_VERSION in DIR/.env", "service tars", "tarscloud/tars:v3.0.16", "its own variable"},
		},
		{
			name: "variable set only in the process environment is refused",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n",
			},
			opts: Options{Environ: []string{"TARS_VERSION=v3.0.15"}},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err:  []string{"DIR/compose.yaml:3", "TARS_VERSION from the process environment", "unset TARS_VERSION and set it in DIR/.env"},
		},
		{
			name: "variable in .env overridden by the process environment is refused",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.14\n",
			},
			opts: Options{Environ: []string{"TARS_VERSION=v3.0.15"}},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err:  []string{"process environment"},
		},
		{
			name: "variable set nowhere: its default is edited",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION:-v3.0.15}\n",
				".env":         "OTHER=1\n",
			},
			to:   map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION:-v3.0.16}\n"},
		},
		{
			name: "variable tag and a new repository: the literal and the .env line",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.15\n",
			},
			to: map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			want: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: mirror.example.com/tarscloud/framework:${TARS_VERSION}\n",
				".env":         "TARS_VERSION=v3.0.16\n",
			},
		},
		{
			name: "variable in the repository part: the literal tag is edited",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: ${REGISTRY}/tarscloud/framework:v3.0.15\n",
				".env":         "REGISTRY=mirror.example.com\n",
			},
			to:   map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			want: map[string]string{"compose.yaml": "services:\n  framework:\n    image: ${REGISTRY}/tarscloud/framework:v3.0.16\n"},
		},
		{
			name:  "unknown service",
			files: map[string]string{"compose.yaml": tarsDocs},
			to:    map[string]string{"tarsweb": "tarscloud/tars-web:v3"},
			err:   []string{`service "tarsweb" is not an active service`},
		},
		{
			name:  "invalid new reference",
			files: map[string]string{"compose.yaml": tarsDocs},
			to:    map[string]string{"framework": "tarscloud/Framework:v3.0.16"},
			err:   []string{"not a valid image reference"},
		},
		{
			name:  "a multi-line image is refused",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: >-\n      tarscloud/framework:v3.0.15\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err:   []string{"DIR/compose.yaml:3", "block scalar"},
		},
		{
			name:  "same image: nothing to edit",
			files: map[string]string{"compose.yaml": tarsDocs},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.15"},
			want:  map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir, err := loadFiles(t, tt.files, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			edits, err := PlanImageEdits(p, tt.to)
			if tt.err != nil {
				if err == nil {
					t.Fatalf("PlanImageEdits succeeded with %d edits, want an error", len(edits))
				}
				if !errors.Is(err, ErrCannotRewrite) {
					t.Errorf("error does not wrap ErrCannotRewrite: %v", err)
				}
				for _, w := range tt.err {
					if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
						t.Errorf("error %q\ndoes not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanImageEdits: %v", err)
			}
			got := map[string]string{}
			for _, e := range edits {
				rel, _ := filepath.Rel(dir, e.Path)
				got[rel] = string(e.New)
				if string(e.Old) != tt.files[rel] {
					t.Errorf("%s: Old is not the file as loaded", rel)
				}
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s:\ngot:\n%s\nwant:\n%s", name, got[name], want)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("edited %v, want only %v", sortedKeys(got), sortedKeys(tt.want))
			}
			// The edited project, loaded again as compose loads it, has the
			// new images and every other service as before.
			if err := Apply(edits); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			opts := tt.opts
			opts.Files = p.Files
			opts.EnvFiles = inDir(dir, tt.opts.EnvFiles)
			if opts.Environ == nil {
				opts.Environ = []string{}
			}
			after, err := Load(context.Background(), opts)
			if err != nil {
				t.Fatalf("load the edited project: %v", err)
			}
			for _, s := range after.Services {
				want, ok := tt.to[s.Name]
				if !ok {
					before, _ := p.Service(s.Name)
					want = before.Image
				}
				if s.Image != want {
					t.Errorf("after the edit service %s has image %s, want %s", s.Name, s.Image, want)
				}
			}
		})
	}
}

// TestPlanImageEditsDiff shows what --dry-run prints for the TarsDocs layout.
func TestPlanImageEditsDiff(t *testing.T) {
	p, dir, err := loadFiles(t, map[string]string{"compose.yaml": tarsDocs}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	edits, err := PlanImageEdits(p, map[string]string{"framework": "tarscloud/framework:v3.0.16"})
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) != 1 {
		t.Fatalf("%d edits, want 1", len(edits))
	}
	path := filepath.Join(dir, "compose.yaml")
	want := "--- " + path + "\n+++ " + path + `
@@ -16,7 +16,7 @@
         ipv4_address: 172.25.1.2
 
   framework:
-    image: tarscloud/framework:v3.0.15 # pinned by ops
+    image: tarscloud/framework:v3.0.16 # pinned by ops
     container_name: tars-framework
     ports:
       - "3000:3000"
`
	if got := edits[0].Diff(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if edits[0].Mode != 0o644 {
		t.Errorf("Mode = %v, want the file's 0644", edits[0].Mode)
	}
}

func TestRenderScalar(t *testing.T) {
	tests := []struct {
		name  string
		value string
		style string // the file's image: line the value replaces
		want  string
	}{
		{name: "plain stays plain", value: "tarscloud/framework:v3.0.16", style: "image: a", want: "tarscloud/framework:v3.0.16"},
		{name: "plain that YAML would read as null is quoted", value: "null", style: "image: a", want: `"null"`},
		{name: "double", value: "tarscloud/framework:v3.0.16", style: `image: "a"`, want: `"tarscloud/framework:v3.0.16"`},
		{name: "single", value: "tarscloud/framework:v3.0.16", style: `image: 'a'`, want: `'tarscloud/framework:v3.0.16'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseYAML([]byte(tt.style))
			if err != nil {
				t.Fatal(err)
			}
			got, err := renderScalar(tt.value, lookup(doc, "image").Style)
			if err != nil || got != tt.want {
				t.Errorf("renderScalar = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEnvValueSpan(t *testing.T) {
	tests := []struct {
		name, data, key string
		want            string // the value found, with its quote prefixed
		err             bool
	}{
		{name: "plain with comment", data: "A=1\nK=v3 # c\n", key: "K", want: "v3"},
		{name: "last assignment wins", data: "K=v1\nK=v2\n", key: "K", want: "v2"},
		{name: "prefix of another key", data: "K_OLD=v1\n", key: "K", err: true},
		{name: "commented out", data: "# K=v1\nK=v2\n", key: "K", want: "v2"},
		{name: "yaml style and export", data: "export K: \"v3\"\n", key: "K", want: `"v3`},
		{name: "single quoted", data: "K='v3' # c\n", key: "K", want: "'v3"},
		{name: "unterminated quote", data: "K=\"v3\nmore\"\n", key: "K", err: true},
		{name: "CRLF", data: "K=v3\r\n", key: "K", want: "v3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end, quote, err := envValueSpan([]byte(tt.data), tt.key)
			if tt.err {
				if err == nil {
					t.Fatalf("found %q, want an error", tt.data[start:end])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := tt.data[start:end]
			if quote != 0 {
				got = string(quote) + got
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSortedKeys(t *testing.T) {
	if got := sortedKeys(map[string]int{"b": 1, "a": 2}); !sort.StringsAreSorted(got) || len(got) != 2 {
		t.Errorf("sortedKeys = %v", got)
	}
}
