package compose

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanImageEditsVariables covers the ways compose files write an image
// with variables: the edit is the smallest literal that changes (a literal
// tag, an unset variable's default, a variable's line in its env file),
// shown as the diff of each file; a refusal is shown as its whole message.
func TestPlanImageEditsVariables(t *testing.T) {
	const fw = "services:\n  framework:\n    image: %s\n"
	frameworkImage := func(image string) string { return strings.Replace(fw, "%s", image, 1) }
	tests := []struct {
		name    string
		files   map[string]string
		opts    Options
		environ []string // the process environment
		to      map[string]string
		// diffs maps each file that must change to its unified diff (DIR
		// stands for the project directory); files not listed must not change.
		diffs map[string]string
		// err is the whole expected error message (DIR as above).
		err string
	}{
		{
			name:  "registry variable unset with a default, literal tag: the tag changes in place",
			files: map[string]string{"compose.yaml": frameworkImage("${REG:-127.0.0.1:5055}/tarscloud/framework:v3.0.1 # mirror")},
			to:    map[string]string{"framework": "127.0.0.1:5055/tarscloud/framework:v3.0.2"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${REG:-127.0.0.1:5055}/tarscloud/framework:v3.0.1 # mirror
+    image: ${REG:-127.0.0.1:5055}/tarscloud/framework:v3.0.2 # mirror
`},
		},
		{
			name:  "registry variable set in .env, literal tag: the tag changes, .env does not",
			files: map[string]string{"compose.yaml": frameworkImage(`"${REGISTRY}/tarscloud/framework:v3.0.15"`), ".env": "REGISTRY=mirror.example.com\n"},
			to:    map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: "${REGISTRY}/tarscloud/framework:v3.0.15"
+    image: "${REGISTRY}/tarscloud/framework:v3.0.16"
`},
		},
		{
			name:    "registry from the process environment, literal tag: the tag changes",
			files:   map[string]string{"compose.yaml": frameworkImage("$REGISTRY/tarscloud/framework:v3.0.15")},
			environ: []string{"REGISTRY=mirror.example.com"},
			to:      map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: $REGISTRY/tarscloud/framework:v3.0.15
+    image: $REGISTRY/tarscloud/framework:v3.0.16
`},
		},
		{
			name: "registry default and tag variable in .env: the .env line, quotes kept",
			files: map[string]string{
				"compose.yaml": frameworkImage("${REGISTRY:-docker.io}/tarscloud/framework:${TARS_VERSION}"),
				".env":         "# Tars\nTARS_VERSION=\"v3.0.15\" # pinned\nMYSQL_VERSION=5.6\n",
			},
			to: map[string]string{"framework": "docker.io/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1,3 +1,3 @@
 # Tars
-TARS_VERSION="v3.0.15" # pinned
+TARS_VERSION="v3.0.16" # pinned
 MYSQL_VERSION=5.6
`},
		},
		{
			name: "another registry and tag: the unset registry's default and the tag's .env line",
			files: map[string]string{
				"compose.yaml": frameworkImage("${REGISTRY:-docker.io}/tarscloud/framework:${TARS_VERSION}"),
				".env":         "TARS_VERSION=v3.0.15\n",
			},
			to: map[string]string{"framework": "127.0.0.1:5000/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{
				"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${REGISTRY:-docker.io}/tarscloud/framework:${TARS_VERSION}
+    image: ${REGISTRY:-127.0.0.1:5000}/tarscloud/framework:${TARS_VERSION}
`,
				".env": `@@ -1 +1 @@
-TARS_VERSION=v3.0.15
+TARS_VERSION=v3.0.16
`},
		},
		{
			name:  "whole image in a variable set in .env, single quotes kept",
			files: map[string]string{"compose.yaml": frameworkImage("${FRAMEWORK_IMAGE}"), ".env": "FRAMEWORK_IMAGE='tarscloud/framework:v3.0.15'\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1 +1 @@
-FRAMEWORK_IMAGE='tarscloud/framework:v3.0.15'
+FRAMEWORK_IMAGE='tarscloud/framework:v3.0.16'
`},
		},
		{
			name:  "whole image in a variable unset with a default: the default",
			files: map[string]string{"compose.yaml": frameworkImage("'${FRAMEWORK_IMAGE:-tarscloud/framework:v3.0.15}'")},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: '${FRAMEWORK_IMAGE:-tarscloud/framework:v3.0.15}'
+    image: '${FRAMEWORK_IMAGE:-tarscloud/framework:v3.0.16}'
`},
		},
		{
			name:  "whole image in a variable with a default, set in .env: the .env line",
			files: map[string]string{"compose.yaml": frameworkImage("${FRAMEWORK_IMAGE:-tarscloud/framework:v3.0.15}"), ".env": "FRAMEWORK_IMAGE=tarscloud/framework:v3.0.15-fix\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1 +1 @@
-FRAMEWORK_IMAGE=tarscloud/framework:v3.0.15-fix
+FRAMEWORK_IMAGE=tarscloud/framework:v3.0.16
`},
		},
		{
			name:  "required tag set in .env: the .env line",
			files: map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:${TAG:?set TAG}"), ".env": "TAG=v3.0.15\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1 +1 @@
-TAG=v3.0.15
+TAG=v3.0.16
`},
		},
		{
			name:    "required tag set only in the process environment is refused",
			files:   map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:${TAG:?set TAG}")},
			environ: []string{"TAG=v3.0.15"},
			to:      map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework: image: "tarscloud/framework:${TAG:?set TAG}" at DIR/compose.yaml:3 takes TAG from the process environment (TAG=v3.0.15), which overrides the env files; ` +
				`unset TAG and set it in DIR/.env, or write the value into DIR/compose.yaml`,
		},
		{
			name:    "tag without braces set in .env and in the process environment is refused",
			files:   map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:$TAG"), ".env": "TAG=v3.0.14\n"},
			environ: []string{"TAG=v3.0.15"},
			to:      map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework: image: "tarscloud/framework:$TAG" at DIR/compose.yaml:3 takes TAG from the process environment (TAG=v3.0.15), which overrides the env files; ` +
				`unset TAG and set it in DIR/.env, or write the value into DIR/compose.yaml`,
		},
		{
			name:  "tag without braces set in .env: the .env line, export kept",
			files: map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:$TAG"), ".env": "export TAG=v3.0.15\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1 +1 @@
-export TAG=v3.0.15
+export TAG=v3.0.16
`},
		},
		{
			name:  "unset-only default, variable unset: the default",
			files: map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:${TAG-v3.0.15}")},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: tarscloud/framework:${TAG-v3.0.15}
+    image: tarscloud/framework:${TAG-v3.0.16}
`},
		},
		{
			name:  "unset-only default, variable set in --env-file: the env file",
			files: map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:${TAG-v3.0.14}"), "prod.env": "TAG=v3.0.15\n"},
			opts:  Options{EnvFiles: []string{"prod.env"}},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"prod.env": `@@ -1 +1 @@
-TAG=v3.0.15
+TAG=v3.0.16
`},
		},
		{
			name:  "nested default: the inner variable's default",
			files: map[string]string{"compose.yaml": frameworkImage("${FRAMEWORK_IMAGE:-tarscloud/framework:${TAG:-v3.0.15}}")},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${FRAMEWORK_IMAGE:-tarscloud/framework:${TAG:-v3.0.15}}
+    image: ${FRAMEWORK_IMAGE:-tarscloud/framework:${TAG:-v3.0.16}}
`},
		},
		{
			name:  "$$ escapes in a required variable's message are kept",
			files: map[string]string{"compose.yaml": frameworkImage(`"tarscloud/framework:${TAG:?put TAG=v3.0.x in .env, not $$TAG}"`), ".env": "TAG=v3.0.15\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{".env": `@@ -1 +1 @@
-TAG=v3.0.15
+TAG=v3.0.16
`},
		},
		{
			name:  "alternative not taken, literal tag: the tag",
			files: map[string]string{"compose.yaml": frameworkImage("${MIRROR:+mirror.example.com/}tarscloud/framework:v3.0.15")},
			to:    map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${MIRROR:+mirror.example.com/}tarscloud/framework:v3.0.15
+    image: ${MIRROR:+mirror.example.com/}tarscloud/framework:v3.0.16
`},
		},
		{
			name: "registry default shared by name only: each service has its own default",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: ${REG:-127.0.0.1:5055}/tarscloud/framework:v3.0.15\n" +
				"  node:\n    image: ${REG:-127.0.0.1:5055}/tarscloud/tars-node:latest\n"},
			to: map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,5 +1,5 @@
 services:
   framework:
-    image: ${REG:-127.0.0.1:5055}/tarscloud/framework:v3.0.15
+    image: ${REG:-mirror.example.com}/tarscloud/framework:v3.0.16
   node:
     image: ${REG:-127.0.0.1:5055}/tarscloud/tars-node:latest
`},
		},
		{
			name: "tag variable that also feeds the db image is refused",
			files: map[string]string{
				"compose.yaml": "services:\n  mysql:\n    image: mysql:${TAG}\n  framework:\n    image: tarscloud/framework:${TAG}\n",
				".env":         "# one tag for all\nTAG=5.6\n",
			},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: TAG in DIR/.env sets the image of service framework ("tarscloud/framework:${TAG}" at DIR/compose.yaml:5) ` +
				`and also of service mysql ("mysql:${TAG}" at DIR/compose.yaml:3), which would become mysql:v3.0.16; ` +
				`give service framework its own variable or a literal image: in DIR/compose.yaml (TAG is set at DIR/.env:2)`,
		},
		{
			name: "registry variable that also feeds a node's image is refused when only the framework changes",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: ${REGISTRY}/tarscloud/framework:v3.0.15\n  node:\n    image: ${REGISTRY}/tarscloud/tars-node:latest\n",
				".env":         "REGISTRY=127.0.0.1:5000\n",
			},
			to: map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.15"},
			err: `cannot rewrite the image: REGISTRY in DIR/.env sets the image of service framework ("${REGISTRY}/tarscloud/framework:v3.0.15" at DIR/compose.yaml:3) ` +
				`and also of service node ("${REGISTRY}/tarscloud/tars-node:latest" at DIR/compose.yaml:5), which would become mirror.example.com/tarscloud/tars-node:latest; ` +
				`give service framework its own variable or a literal image: in DIR/compose.yaml (REGISTRY is set at DIR/.env:1)`,
		},
		{
			name: "registry variable shared by framework and node both moving: one .env edit",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: ${REGISTRY}/tarscloud/framework:v3.0.15\n  node:\n    image: ${REGISTRY}/tarscloud/tars-node:latest\n",
				".env":         "REGISTRY=127.0.0.1:5000\n",
			},
			to: map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16", "node": "mirror.example.com/tarscloud/tars-node:latest"},
			diffs: map[string]string{
				"compose.yaml": `@@ -1,5 +1,5 @@
 services:
   framework:
-    image: ${REGISTRY}/tarscloud/framework:v3.0.15
+    image: ${REGISTRY}/tarscloud/framework:v3.0.16
   node:
     image: ${REGISTRY}/tarscloud/tars-node:latest
`,
				".env": `@@ -1 +1 @@
-REGISTRY=127.0.0.1:5000
+REGISTRY=mirror.example.com
`},
		},
		{
			name: "one tag variable asked to take two values is refused",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TAG}\n  web:\n    image: tarscloud/tars-web:${TAG}\n",
				".env":         "TAG=v3.0.15\n",
			},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16", "web": "tarscloud/tars-web:v3.0.17"},
			err: `cannot rewrite the image: TAG in DIR/.env:1 sets the images of services framework and web, and framework needs TAG=v3.0.16 while web needs TAG=v3.0.17; ` +
				`give each service its own variable or a literal image:`,
		},
		{
			name: "an anchored image with variables shared by two services both moving: one edit",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: &fw ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.15\n" +
				"  framework-b:\n    image: *fw\n"},
			to: map[string]string{"framework": "127.0.0.1:5000/tarscloud/framework:v3.0.16", "framework-b": "127.0.0.1:5000/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"compose.yaml": `@@ -1,5 +1,5 @@
 services:
   framework:
-    image: &fw ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.15
+    image: &fw ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.16
   framework-b:
     image: *fw
`},
		},
		{
			name: "an anchored image with variables shared with a service that does not move is refused",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: &fw ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.15\n" +
				"  framework-b:\n    image: *fw\n"},
			to: map[string]string{"framework": "127.0.0.1:5000/tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework takes its image from DIR/compose.yaml:3, which service framework-b shares (through an anchor or alias), ` +
				`and framework-b is not to change to 127.0.0.1:5000/tarscloud/framework:v3.0.16; give service framework its own image: line in DIR/compose.yaml`,
		},
		{
			name: "an anchored image whose tag variable changes, shared with a service that does not move, is refused",
			files: map[string]string{
				"compose.yaml": "x-fw: &fw\n  image: tarscloud/framework:${TAG}\nservices:\n  framework:\n    <<: *fw\n  framework-b:\n    <<: *fw\n",
				".env":         "TAG=v3.0.15\n",
			},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework takes its image from DIR/compose.yaml:2, which service framework-b shares (through an anchor or alias), ` +
				`and framework-b is not to change to tarscloud/framework:v3.0.16; give service framework its own image: line in DIR/compose.yaml`,
		},
		{
			name:  "a variable used twice that would have to differ is refused",
			files: map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:${TAG}-${TAG}"), ".env": "TAG=v3\n"},
			to:    map[string]string{"framework": "tarscloud/framework:v4-v3"},
			err: `cannot rewrite the image: service framework: image: "tarscloud/framework:${TAG}-${TAG}" at DIR/compose.yaml:3 would become "tarscloud/framework:v4-v4", ` +
				`not tarscloud/framework:v4-v3; write the image in DIR/compose.yaml by hand`,
		},
		{
			name: "an override file with variables: the override's literal",
			files: map[string]string{
				"compose.yaml":  frameworkImage("tarscloud/framework:v3.0.15"),
				"override.yaml": frameworkImage("${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.15-fix"),
			},
			opts: Options{Files: []string{"compose.yaml", "override.yaml"}},
			to:   map[string]string{"framework": "127.0.0.1:5000/tarscloud/framework:v3.0.16"},
			diffs: map[string]string{"override.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.15-fix
+    image: ${REG:-127.0.0.1:5000}/tarscloud/framework:v3.0.16
`},
		},
		{
			name: "two services moving whose edits together give one of them another image are refused",
			files: map[string]string{
				"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TAG}\n  web:\n    image: tarscloud/tars-web:${TAG}-web\n",
				".env":         "TAG=v3.0.15\n",
			},
			to: map[string]string{"framework": "tarscloud/framework:v3.0.16", "web": "mirror.example.com/tarscloud/tars-web:v3.0.15-web"},
			err: `cannot rewrite the image: after the edits (TAG=v3.0.16, image: values), service web's image would be mirror.example.com/tarscloud/tars-web:v3.0.16-web, ` +
				`not mirror.example.com/tarscloud/tars-web:v3.0.15-web; give each service its own variable or a literal image: in DIR/compose.yaml`,
		},
		{
			name:  "a variable set nowhere, without default, next to the literal: the literal",
			files: map[string]string{"compose.yaml": frameworkImage("${REGISTRY}tarscloud/framework:v3.0.15"), ".env": "OTHER=1\n"},
			to:    map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.15"},
			diffs: map[string]string{"compose.yaml": `@@ -1,3 +1,3 @@
 services:
   framework:
-    image: ${REGISTRY}tarscloud/framework:v3.0.15
+    image: ${REGISTRY}mirror.example.com/tarscloud/framework:v3.0.15
`},
		},
		{
			name:    "another registry when the registry comes from the process environment is refused",
			files:   map[string]string{"compose.yaml": frameworkImage("${REGISTRY}/tarscloud/framework:v3.0.15"), ".env": "OTHER=1\n"},
			environ: []string{"REGISTRY=127.0.0.1:5000"},
			to:      map[string]string{"framework": "mirror.example.com/tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework: image: "${REGISTRY}/tarscloud/framework:v3.0.15" at DIR/compose.yaml:3 takes REGISTRY from the process environment (REGISTRY=127.0.0.1:5000), which overrides the env files; ` +
				`unset REGISTRY and set it in DIR/.env, or write the value into DIR/compose.yaml`,
		},
		{
			name:    "a tag suffix from the process environment is refused",
			files:   map[string]string{"compose.yaml": frameworkImage("tarscloud/framework:v3.0.15${TAG:?$$}")},
			environ: []string{"TAG=-fix"},
			to:      map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: service framework: image: "tarscloud/framework:v3.0.15${TAG:?$$}" at DIR/compose.yaml:3 takes TAG from the process environment (TAG=-fix), which overrides the env files; ` +
				`unset TAG and set it in DIR/.env, or write the value into DIR/compose.yaml`,
		},
		{
			// Why: compose resolves OTHER from the new TAG; checked against
			// the old environment the edit looked harmless and moved the
			// node's image too.
			name: "a variable the env file defines from the changed one is refused",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TAG}\n  node:\n    image: tarscloud/tars-node:${OTHER}\n",
				".env": "TAG=v3.0.15\nOTHER=${TAG}\n"},
			to:  map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: after the edits (TAG=v3.0.16, image: values), service node's image would be tarscloud/tars-node:v3.0.16, not tarscloud/tars-node:v3.0.15; give each service its own variable or a literal image: in DIR/compose.yaml`,
		},
		{
			// Why: the db would be recreated by the next compose up.
			name: "a variable the db's environment uses too is refused",
			files: map[string]string{"compose.yaml": "services:\n  framework:\n    image: tarscloud/framework:${TAG}\n  mysql:\n    image: mysql:5.7\n    environment:\n      BUILT_FOR: tars-${TAG}\n",
				".env": "TAG=v3.0.15\n"},
			to:  map[string]string{"framework": "tarscloud/framework:v3.0.16"},
			err: `cannot rewrite the image: the edit of TAG=v3.0.16 would also change "tars-${TAG}" at DIR/compose.yaml:7 from "tars-v3.0.15" to "tars-v3.0.16", which is not an image: compose would recreate that service on the next up; give the image its own variable or a literal image: in DIR/compose.yaml`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Environ = tt.environ
			if opts.Environ == nil {
				opts.Environ = []string{}
			}
			p, dir, err := loadFiles(t, tt.files, opts)
			if err != nil {
				t.Fatal(err)
			}
			edits, err := PlanImageEdits(p, tt.to)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("PlanImageEdits succeeded with %d edits, want an error", len(edits))
				}
				if !errors.Is(err, ErrCannotRewrite) {
					t.Errorf("error does not wrap ErrCannotRewrite: %v", err)
				}
				if want := strings.ReplaceAll(tt.err, "DIR", dir); err.Error() != want {
					t.Errorf("error:\n%s\nwant:\n%s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanImageEdits: %v", err)
			}
			got := map[string]string{}
			for _, e := range edits {
				rel, _ := filepath.Rel(dir, e.Path)
				header := "--- " + e.Path + "\n+++ " + e.Path + "\n"
				d := e.Diff()
				if !strings.HasPrefix(d, header) {
					t.Errorf("%s: diff without its headers:\n%s", rel, d)
				}
				got[rel] = strings.TrimPrefix(d, header)
			}
			for name, want := range tt.diffs {
				if got[name] != want {
					t.Errorf("%s: diff:\n%s\nwant:\n%s", name, got[name], want)
				}
			}
			if len(got) != len(tt.diffs) {
				t.Errorf("edited %v, want only %v", sortedKeys(got), sortedKeys(tt.diffs))
			}
			requireReloaded(t, p, dir, edits, opts, tt.to)
		})
	}
}

// requireReloaded applies the edits and loads the project again as compose
// loads it (same env files, same process environment): the services asked
// for name exactly their new image, every other service its old one.
func requireReloaded(t *testing.T, p *Project, dir string, edits []FileEdit, opts Options, to map[string]string) {
	t.Helper()
	if err := Apply(edits); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	opts.Files = p.Files
	opts.EnvFiles = inDir(dir, opts.EnvFiles)
	after, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("load the edited project: %v", err)
	}
	for _, s := range after.Services {
		want, ok := to[s.Name]
		if !ok {
			before, _ := p.Service(s.Name)
			want = before.Image
		}
		if s.Image != want {
			t.Errorf("after the edit service %s has image %s, want %s", s.Name, s.Image, want)
		}
	}
}
