package testbed

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeTree writes files (path relative to root -> content) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const debianSources = `Types: deb
# snapshot 20250520T000000Z
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
`

func TestMariaDBRecipeSources(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/os-release":                           "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_CODENAME=bookworm\n",
		"etc/apt/sources.list":                     "# deb http://mirror.invalid/debian bookworm main\n",
		"etc/apt/sources.list.d/debian.sources":    debianSources,
		"etc/apt/sources.list.d/security.list":     "deb http://mirror.invalid/debian-security bookworm-security main\n",
		"etc/apt/sources.list.d/vendor.sources":    "Types: deb\nURIs: https://vendor.invalid/node\nSuites: nodistro\n",
		"etc/apt/sources.list.d/sdk.list":          "deb https://vendor.invalid/apt cloud-sdk-bookworm main\n",
		"etc/apt/sources.list.d/old.list.disabled": "deb http://mirror.invalid/debian bookworm main\n",
	})
	r, err := NewMariaDBRecipe(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.Sources {
		names = append(names, s.Name)
	}
	// The commented sources.list, the vendors' and the disabled file are left out.
	if r.Suite != "bookworm" || !slices.Equal(names, []string{"debian.sources", "security.list"}) {
		t.Errorf("suite %q, sources %v", r.Suite, names)
	}
	if r.Sources[0].Content != debianSources {
		t.Errorf("content %q", r.Sources[0].Content)
	}
	args := strings.Join(r.mmdebstrapArgs("/in", "/out.tar"), "\n")
	for _, want := range []string{"--variant=essential", "--include=mariadb-server-core,mariadb-client-core,mariadb-client",
		"--dpkgopt=path-exclude=/usr/share/doc/*", "bookworm\n/out.tar\n/in/sources/debian.sources\n/in/sources/security.list"} {
		if !strings.Contains(args, want) {
			t.Errorf("mmdebstrap arguments lack %q:\n%s", want, args)
		}
	}

	empty := t.TempDir()
	writeTree(t, empty, map[string]string{"etc/os-release": "VERSION_CODENAME=trixie\n", "etc/apt/sources.list.d/debian.sources": debianSources})
	if _, err := NewMariaDBRecipe(empty); err == nil || !strings.Contains(err.Error(), "no apt sources for trixie") {
		t.Errorf("a machine without sources for its release: %v", err)
	}
}

func TestMariaDBRecipeHash(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/apt/sources.list.d/debian.sources": debianSources})
	base, err := NewMariaDBRecipe(root)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewMariaDBRecipe(root)
	if base.Hash() != again.Hash() || !strings.HasPrefix(base.Ref(), MariaDBRepo+":") || len(base.Ref()) != len(MariaDBRepo)+17 {
		t.Fatalf("hash %s vs %s, ref %s", base.Hash(), again.Hash(), base.Ref())
	}
	for name, change := range map[string]func(*MariaDBRecipe){
		"package": func(r *MariaDBRecipe) { r.Packages = append(slices.Clone(r.Packages), "gawk") },
		"sources": func(r *MariaDBRecipe) {
			r.Sources = []AptSource{{Name: "debian.sources", Content: debianSources + "# 20250601\n"}}
		},
		"entrypoint": func(r *MariaDBRecipe) { r.Entrypoint += "\n" },
		"config":     func(r *MariaDBRecipe) { r.Config += "max_connections = 10\n" },
		"builder":    func(r *MariaDBRecipe) { r.Builder = "2" },
		"suite":      func(r *MariaDBRecipe) { r.Suite = "trixie" },
		"excludes":   func(r *MariaDBRecipe) { r.Excludes = r.Excludes[1:] },
	} {
		r := base
		change(&r)
		if r.Hash() == base.Hash() {
			t.Errorf("a changed %s keeps the hash", name)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	status := `Package: mariadb-client-core
Status: install ok installed
Version: 1:10.11.19-0+deb12u1

Package: mariadb-server-core
Status: install ok installed
Version: 1:10.11.19-0+deb12u1
Description: MariaDB database core server files
`
	for _, tc := range []struct{ pkg, want string }{
		{"mariadb-server-core", "10.11.19"},
		{"mariadb-server", ""},
	} {
		got, err := packageVersion(strings.NewReader(status), tc.pkg)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", tc.pkg, got, err, tc.want)
		}
	}
}

func TestMariaDBImportChanges(t *testing.T) {
	r := MariaDBRecipe{Builder: "1"}
	changes := strings.Join(r.importChanges("10.11.19"), "\n")
	for _, want := range []string{`ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]`, `CMD ["mariadbd"]`, "EXPOSE 3306",
		"VOLUME /var/lib/mysql", VersionLabel + `="10.11.19"`, MariaDBRecipeLabel + `="` + r.Hash() + `"`} {
		if !strings.Contains(changes, want) {
			t.Errorf("import changes lack %q:\n%s", want, changes)
		}
	}
}

func TestFlockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := flockWait(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	if _, err := flockWait(ctx, path); err == nil || !strings.Contains(err.Error(), "held by another run") {
		t.Fatalf("a held lock was taken again: %v", err)
	}
	unlock()
	again, err := flockWait(t.Context(), path)
	if err != nil {
		t.Fatalf("a released lock: %v", err)
	}
	again()
}
