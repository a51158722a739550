package testbed

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/stdcopy"
)

// MariaDBRepo is the repository of the bed's MariaDB image on each engine:
// MariaDBRepo:<recipe hash>. It is never pushed anywhere.
const MariaDBRepo = "tarsup-testbed/mariadb"

// mariadbBuilderVersion is part of the recipe hash: bump it when the way the
// image is made changes in a way neither the recipe's fields nor the
// mmdebstrap arguments and Dockerfile instructions show.
const mariadbBuilderVersion = "1"

// mariadbEntrypoint is /usr/local/bin/docker-entrypoint.sh in the image.
//
//go:embed mariadb-entrypoint.sh
var mariadbEntrypoint string

// mariadbConfig is /etc/mysql/mariadb.conf.d/99-tarsup.cnf: the server as the
// official images run it (the Debian package's 50-server.cnf, which binds to
// 127.0.0.1, comes with mariadb-server, which the image does not install).
const mariadbConfig = `# tarsup test bed: MariaDB as the official mysql and mariadb images run it.
[mysqld]
user = mysql
datadir = /var/lib/mysql
socket = /run/mysqld/mysqld.sock
bind-address = 0.0.0.0
port = 3306
skip-name-resolve
`

// mariadbPackages are what the image installs on top of Debian's essential
// set. The server and client "core" packages hold mariadbd, mariadb and
// mariadb-install-db; mariadb-client adds mariadb-dump and mariadb-admin.
// mariadb-server itself would bring galera, rsync, socat, lsof and more.
var mariadbPackages = []string{"mariadb-server-core", "mariadb-client-core", "mariadb-client"}

// mariadbExcludes are dpkg path-exclude patterns: what running mysqld,
// mysql and mysqldump does not need. mariadbIncludes take some back.
var mariadbExcludes = []string{
	"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*",
	"/usr/share/lintian/*", "/usr/share/mysql/*/errmsg.sys", "/usr/share/mysql/fill_help_tables.sql",
	// mariadb-client's other tools (about 5 MB each).
	"/usr/bin/innotop", "/usr/bin/mariadb-access", "/usr/bin/mariadb-binlog", "/usr/bin/mariadb-check",
	"/usr/bin/mariadb-conv", "/usr/bin/mariadb-convert-table-format", "/usr/bin/mariadb-dumpslow",
	"/usr/bin/mariadb-find-rows", "/usr/bin/mariadb-fix-extensions", "/usr/bin/mariadb-hotcopy",
	"/usr/bin/mariadb-import", "/usr/bin/mariadb-plugin", "/usr/bin/mariadb-report",
	"/usr/bin/mariadb-secure-installation", "/usr/bin/mariadb-setpermission", "/usr/bin/mariadb-show",
	"/usr/bin/mariadb-slap", "/usr/bin/mariadb-tzinfo-to-sql", "/usr/bin/mariadb-waitpid",
	"/usr/bin/mariadb-upgrade", "/usr/bin/innochecksum", "/usr/bin/msql2mysql", "/usr/bin/mytop",
	"/usr/bin/perror", "/usr/bin/replace", "/usr/bin/resolve_stack_dump",
}

// mariadbIncludes are dpkg path-include patterns, applied after the excludes.
var mariadbIncludes = []string{"/usr/share/mysql/english/*"}

// mariadbRemove are removed from the root file system once every package is
// installed. Why not path-exclude: the essential set's maintainer scripts
// (usrmerge) run perl with its full library; once they ran, nothing needs it.
var mariadbRemove = []string{
	"/usr/share/perl", "/usr/lib/*/perl", "/usr/lib/*/libperl.so*", "/usr/lib/*/gconv",
	"/var/lib/apt/lists/*", "/var/cache/apt/*", "/var/log/*",
}

// mariadbUID is the mysql user's and group's ID, as in the official images.
const mariadbUID = "999"

// mariadbAptOptions are given to mmdebstrap's apt. Why: a machine whose
// sources point at a snapshot needs the expired Release files accepted, as
// its own apt configuration does.
var mariadbAptOptions = []string{`Acquire::Check-Valid-Until "false"`, `Acquire::Check-Date "false"`}

// AptSource is one apt sources file of the machine, as mmdebstrap is given it.
type AptSource struct {
	Name    string // base name, such as debian.sources; the extension tells the format
	Content string
}

// MariaDBRecipe is everything the MariaDB image is made of. Its Hash names
// the image and the cached root file system, so a change to any of it (a
// package, the apt sources or their snapshot, the entrypoint, the server
// config, the build's arguments, the builder version) makes a new image, and
// nothing else does.
type MariaDBRecipe struct {
	Suite      string      // Debian release, such as bookworm
	Sources    []AptSource // the machine's apt sources for Suite
	Arch       string      // GOARCH
	Packages   []string
	Excludes   []string
	Includes   []string
	Remove     []string
	AptOptions []string
	Entrypoint string
	Config     string
	Builder    string // mariadbBuilderVersion
}

// NewMariaDBRecipe returns the recipe for this machine: its Debian release
// (VERSION_CODENAME of root/etc/os-release; bookworm when it says none) and
// its apt sources for that release (root/etc/apt/sources.list and
// sources.list.d/*.list, *.sources). root is "/" but in tests.
func NewMariaDBRecipe(root string) (MariaDBRecipe, error) {
	suite := "bookworm"
	if b, err := os.ReadFile(filepath.Join(root, "etc/os-release")); err == nil {
		if m := regexp.MustCompile(`(?m)^VERSION_CODENAME="?([a-z]+)"?$`).FindSubmatch(b); m != nil {
			suite = string(m[1])
		}
	}
	sources, err := aptSources(root, suite)
	if err != nil {
		return MariaDBRecipe{}, err
	}
	return MariaDBRecipe{
		Suite:      suite,
		Sources:    sources,
		Arch:       runtime.GOARCH,
		Packages:   mariadbPackages,
		Excludes:   mariadbExcludes,
		Includes:   mariadbIncludes,
		Remove:     mariadbRemove,
		AptOptions: mariadbAptOptions,
		Entrypoint: mariadbEntrypoint,
		Config:     mariadbConfig,
		Builder:    mariadbBuilderVersion,
	}, nil
}

// aptSources returns the enabled apt sources files under root that name
// suite (or one of its -updates, -security, ... suites). Others (a vendor's
// repository for another distribution) would only break the build.
func aptSources(root, suite string) ([]AptSource, error) {
	files := []string{filepath.Join(root, "etc/apt/sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob(filepath.Join(root, "etc/apt/sources.list.d", pat))
		files = append(files, m...)
	}
	sort.Strings(files[1:])
	names := regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(suite) + `(-[a-z]+)?(\s|$)`)
	var out []AptSource
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var active strings.Builder
		for _, line := range strings.Split(string(b), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				active.WriteString(line + "\n")
			}
		}
		if !names.MatchString(active.String()) {
			continue
		}
		name := filepath.Base(f)
		if i == 0 {
			name = "sources.list"
		}
		out = append(out, AptSource{Name: name, Content: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("MariaDB image: no apt sources for %s under %s/etc/apt (add one to sources.list.d)", suite, root)
	}
	return out, nil
}

// Hash is the recipe's SHA-256, in hex. Besides the fields it covers the
// mmdebstrap arguments and the image's Dockerfile instructions, so that a
// change to how the image is made needs no bump of the builder version.
func (r MariaDBRecipe) Hash() string {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("testbed: marshal the MariaDB recipe: %v", err)) // plain strings: cannot happen
	}
	h := sha256.New()
	h.Write(b)
	for _, part := range [][]string{r.mmdebstrapArgs("{dir}", "{out}"), r.imageChanges()} {
		h.Write([]byte("\x00" + strings.Join(part, "\x00")))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Ref is the image's reference on an engine: MariaDBRepo:<first 16 of Hash>.
func (r MariaDBRecipe) Ref() string { return MariaDBRepo + ":" + r.Hash()[:16] }

// tarName is the root file system's file name in the cache dir.
func (r MariaDBRecipe) tarName() string { return "mariadb-" + r.Hash()[:16] + ".tar" }

// mmdebstrapArgs are the arguments that build the root file system into out
// from the files writeInputs wrote into dir.
func (r MariaDBRecipe) mmdebstrapArgs(dir, out string) []string {
	args := []string{"--variant=essential", "--format=tar", "--include=" + strings.Join(r.Packages, ",")}
	for _, o := range r.AptOptions {
		args = append(args, "--aptopt="+o)
	}
	for _, p := range r.Excludes {
		args = append(args, "--dpkgopt=path-exclude="+p)
	}
	for _, p := range r.Includes {
		args = append(args, "--dpkgopt=path-include="+p)
	}
	rm := make([]string, len(r.Remove))
	for i, p := range r.Remove {
		rm[i] = `"$1"` + p
	}
	args = append(args,
		"--customize-hook=rm -rf "+strings.Join(rm, " "),
		`--customize-hook=echo 'mysql:x:`+mariadbUID+`:`+mariadbUID+`:MariaDB Server:/nonexistent:/usr/sbin/nologin' >>"$1/etc/passwd"`,
		`--customize-hook=echo 'mysql:x:`+mariadbUID+`:' >>"$1/etc/group"`,
		`--customize-hook=echo 'mysql:*:19000:0:99999:7:::' >>"$1/etc/shadow"`,
		`--customize-hook=mkdir -p "$1/var/lib/mysql" "$1/run/mysqld" "$1/docker-entrypoint-initdb.d" "$1/usr/local/bin"`,
		// mariadb-install-db insists on the help tables' file; empty, it
		// spares each new data directory 2.4 MB of help text.
		`--customize-hook=touch "$1/usr/share/mysql/fill_help_tables.sql"`,
		`--customize-hook=chown `+mariadbUID+`:`+mariadbUID+` "$1/var/lib/mysql" "$1/run/mysqld"`,
		"--customize-hook=upload "+filepath.Join(dir, "docker-entrypoint.sh")+" /usr/local/bin/docker-entrypoint.sh",
		`--customize-hook=chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"`,
		"--customize-hook=upload "+filepath.Join(dir, "99-tarsup.cnf")+" /etc/mysql/mariadb.conf.d/99-tarsup.cnf",
		r.Suite, out,
	)
	for _, s := range r.Sources {
		args = append(args, filepath.Join(dir, "sources", s.Name))
	}
	return args
}

// writeInputs writes the files mmdebstrapArgs names into dir.
func (r MariaDBRecipe) writeInputs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "sources"), 0o755); err != nil {
		return err
	}
	files := map[string]string{"docker-entrypoint.sh": r.Entrypoint, "99-tarsup.cnf": r.Config}
	for _, s := range r.Sources {
		files[filepath.Join("sources", s.Name)] = s.Content
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// imageChanges are the Dockerfile instructions `docker import` applies,
// but the labels: what the official mysql image declares.
func (r MariaDBRecipe) imageChanges() []string {
	return []string{
		"ENV " + defaultPath,
		"ENV LANG=C.UTF-8",
		`ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]`,
		`CMD ["mariadbd"]`,
		"EXPOSE 3306",
		"VOLUME /var/lib/mysql",
	}
}

// importChanges are imageChanges and the labels: the MariaDB version and
// the recipe hash.
func (r MariaDBRecipe) importChanges(version string) []string {
	return append(r.imageChanges(), fmt.Sprintf("LABEL %s=%q %s=%q", VersionLabel, version, MariaDBRecipeLabel, r.Hash()))
}

// MariaDBRecipeLabel on the image holds the full recipe hash.
const MariaDBRecipeLabel = "tarsup.testbed.mariadb.recipe"

// MariaDBCacheDir is where the root file systems are kept between runs:
// $TARSUP_TESTBED_CACHE, or /var/cache/tarsup-testbed.
func MariaDBCacheDir() string {
	if d := os.Getenv("TARSUP_TESTBED_CACHE"); d != "" {
		return d
	}
	return "/var/cache/tarsup-testbed"
}

// MariaDB returns a reference to the bed's MariaDB image on engine e,
// importing it there on first use; see EnsureMariaDB.
func (b *Bed) MariaDB(ctx context.Context, e *Engine) (string, error) {
	return EnsureMariaDB(ctx, e, MariaDBCacheDir())
}

// EnsureMariaDB makes sure engine e has the MariaDB image of this machine's
// recipe and returns its reference (MariaDBRepo:<hash>). When the engine
// lacks it, it imports the root file system kept in cacheDir, building it
// first with mmdebstrap (installed with apt-get when missing) if the cache
// lacks it too. Builders and importers on the machine take turns (flock on
// cacheDir/mariadb.lock), so concurrent runs build once. Older images and
// file systems of the repository are removed when a new one is made.
func EnsureMariaDB(ctx context.Context, e *Engine, cacheDir string) (string, error) {
	r, err := NewMariaDBRecipe("/")
	if err != nil {
		return "", err
	}
	ref := r.Ref()
	if _, err := e.Client.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	unlock, err := lockCache(ctx, cacheDir)
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := e.Client.ImageInspect(ctx, ref); err == nil {
		return ref, nil // another process imported it while we waited
	}
	tarPath, err := ensureMariaDBTar(ctx, r, cacheDir)
	if err != nil {
		return "", err
	}
	if err := importMariaDB(ctx, e, r, tarPath); err != nil {
		return "", err
	}
	removeOtherTags(ctx, e, ref)
	return ref, nil
}

// MariaDBTar returns the path of the root file system of this machine's
// recipe in cacheDir (what EnsureMariaDB imports), building it if missing.
func MariaDBTar(ctx context.Context, cacheDir string) (string, error) {
	r, err := NewMariaDBRecipe("/")
	if err != nil {
		return "", err
	}
	unlock, err := lockCache(ctx, cacheDir)
	if err != nil {
		return "", err
	}
	defer unlock()
	return ensureMariaDBTar(ctx, r, cacheDir)
}

// lockCache makes cacheDir and takes its lock: one builder or importer at a time.
func lockCache(ctx context.Context, cacheDir string) (func(), error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("MariaDB image: cache dir: %w", err)
	}
	unlock, err := flockWait(ctx, filepath.Join(cacheDir, "mariadb.lock"))
	if err != nil {
		return nil, fmt.Errorf("MariaDB image: %w", err)
	}
	return unlock, nil
}

// ensureMariaDBTar builds r's root file system into cacheDir unless it is
// there, and removes those of other recipes. The caller holds the lock.
func ensureMariaDBTar(ctx context.Context, r MariaDBRecipe, cacheDir string) (string, error) {
	tarPath := filepath.Join(cacheDir, r.tarName())
	if fileExists(tarPath) {
		return tarPath, nil
	}
	if err := buildMariaDB(ctx, r, tarPath); err != nil {
		return "", err
	}
	removeOthers(cacheDir, "mariadb-*.tar", r.tarName())
	return tarPath, nil
}

// flockWait takes an exclusive flock on path, waiting for it until ctx ends;
// the returned function releases it.
func flockWait(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return func() { f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s (held by another run): %w", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// buildMariaDB builds r's root file system into tarPath with mmdebstrap.
func buildMariaDB(ctx context.Context, r MariaDBRecipe, tarPath string) error {
	if err := ensureMmdebstrap(ctx); err != nil {
		return err
	}
	// The lock is ours: a build dir left here is a killed builder's.
	removeOthers(filepath.Dir(tarPath), "mariadb-build-*", "")
	dir, err := os.MkdirTemp(filepath.Dir(tarPath), "mariadb-build-")
	if err != nil {
		return fmt.Errorf("MariaDB image: build: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := r.writeInputs(dir); err != nil {
		return fmt.Errorf("MariaDB image: build: %w", err)
	}
	tmp := filepath.Join(dir, "rootfs.tar")
	cmd := exec.CommandContext(ctx, "mmdebstrap", r.mmdebstrapArgs(dir, tmp)...)
	// Why SIGTERM and a delay: mmdebstrap then unmounts what it mounted in
	// its chroot and removes its temporary directory.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("MariaDB image: mmdebstrap %s: %w: %s", r.Suite, err, lastLines(string(out), 30))
	}
	if err := os.Rename(tmp, tarPath); err != nil {
		return fmt.Errorf("MariaDB image: build: %w", err)
	}
	return nil
}

// ensureMmdebstrap installs mmdebstrap with apt-get when it is missing,
// updating the package lists first only when the plain install fails.
func ensureMmdebstrap(ctx context.Context) error {
	if _, err := exec.LookPath("mmdebstrap"); err == nil {
		return nil
	}
	apt := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := apt("install", "-y", "mmdebstrap"); err == nil {
		return nil
	}
	if out, err := apt("update"); err != nil {
		return fmt.Errorf("MariaDB image: apt-get update (to install mmdebstrap): %w: %s", err, lastLines(string(out), 10))
	}
	if out, err := apt("install", "-y", "mmdebstrap"); err != nil {
		return fmt.Errorf("MariaDB image: apt-get install mmdebstrap (install it by hand to build the image): %w: %s", err, lastLines(string(out), 10))
	}
	return nil
}

// importMariaDB imports the root file system at tarPath into engine e as r.Ref().
func importMariaDB(ctx context.Context, e *Engine, r MariaDBRecipe, tarPath string) error {
	version, err := mariadbVersion(tarPath)
	if err != nil {
		return fmt.Errorf("MariaDB image: %s: %w", tarPath, err)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return fmt.Errorf("MariaDB image: %w", err)
	}
	defer f.Close()
	rc, err := e.Client.ImageImport(ctx, image.ImportSource{Source: f, SourceName: "-"}, r.Ref(),
		image.ImportOptions{Changes: r.importChanges(version), Message: "tarsup test bed MariaDB " + version})
	if err != nil {
		return fmt.Errorf("MariaDB image: import %s on %s: %w", r.Ref(), e.Host, err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("MariaDB image: import %s on %s: %w", r.Ref(), e.Host, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("MariaDB image: import %s on %s: %s", r.Ref(), e.Host, msg.Error)
		}
	}
}

// mariadbVersion reads the upstream version of mariadb-server-core (such as
// 10.11.19) from the dpkg status file in the root file system at tarPath.
func mariadbVersion(tarPath string) (string, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("no var/lib/dpkg/status: %w", err)
		}
		if strings.TrimPrefix(h.Name, "./") == "var/lib/dpkg/status" {
			return packageVersion(tr, "mariadb-server-core")
		}
	}
}

// packageVersion returns the upstream part of pkg's Version in a dpkg
// status file: "1:10.11.19-0+deb12u1" gives "10.11.19".
func packageVersion(status io.Reader, pkg string) (string, error) {
	sc := bufio.NewScanner(status)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			in = false
		case strings.HasPrefix(line, "Package: "):
			in = strings.TrimPrefix(line, "Package: ") == pkg
		case in && strings.HasPrefix(line, "Version: "):
			v := strings.TrimPrefix(line, "Version: ")
			if _, after, ok := strings.Cut(v, ":"); ok {
				v = after
			}
			if i := strings.LastIndex(v, "-"); i > 0 {
				v = v[:i]
			}
			if i := strings.IndexAny(v, "+~"); i > 0 {
				v = v[:i]
			}
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("package %s is not installed", pkg)
}

// removeOthers removes what matches pattern in dir, but keep.
func removeOthers(dir, pattern, keep string) {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, f := range m {
		if filepath.Base(f) != keep {
			os.RemoveAll(f)
		}
	}
}

// removeOtherTags removes the engine's other MariaDBRepo tags (images of
// older recipes), leaving those a container still uses.
func removeOtherTags(ctx context.Context, e *Engine, keep string) {
	imgs, err := e.Client.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", MariaDBRepo))})
	if err != nil {
		return
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if tag == keep {
				continue
			}
			// Why an hour: a run of another checkout may be about to use it.
			if time.Since(time.Unix(img.Created, 0)) < time.Hour {
				continue
			}
			// An image a container still uses stays: the engine refuses.
			_, _ = e.Client.ImageRemove(ctx, tag, image.RemoveOptions{})
		}
	}
}

// tarsDBPassword is the root password TarsDocs gives its database.
const tarsDBPassword = "tars2015"

// MariaDBSpec describes a database container laid out as TarsDocs lays out
// its mysql service: a name, a network (optionally a static IP and aliases),
// a named volume at /var/lib/mysql and MYSQL_ROOT_PASSWORD.
type MariaDBSpec struct {
	Name  string
	Image string // from Bed.MariaDB; required
	// Network is a user-defined network's name; empty means the default bridge.
	Network string
	IPv4    string
	Aliases []string
	// Volume is the named volume at /var/lib/mysql; empty means <Name>-data.
	Volume string
	// RootPassword is MYSQL_ROOT_PASSWORD; empty means TarsDocs's tars2015.
	RootPassword string
	// Env is added after MYSQL_ROOT_PASSWORD (MYSQL_DATABASE, ...).
	Env []string
	// Restart is the restart policy; empty means "always", as in the docs.
	Restart string
	// NoWait returns without waiting for the server to accept connections.
	NoWait bool
}

// MariaDB runs a database container as spec says and, unless spec.NoWait,
// waits until root is let in over TCP (see WaitMariaDB).
func (d *Deployer) MariaDB(spec MariaDBSpec) *Container {
	d.t.Helper()
	if spec.Image == "" {
		d.t.Fatalf("MariaDB %s: no image (use Bed.MariaDB)", spec.Name)
	}
	pw := or(spec.RootPassword, tarsDBPassword)
	cs := ContainerSpec{
		Name:    spec.Name,
		Image:   spec.Image,
		Env:     append([]string{"MYSQL_ROOT_PASSWORD=" + pw}, spec.Env...),
		Volumes: []string{or(spec.Volume, spec.Name+"-data") + ":/var/lib/mysql"},
		Restart: or(spec.Restart, "always"),
	}
	if spec.Network != "" {
		cs.Networks = []Attachment{{Network: spec.Network, IPv4: spec.IPv4, Aliases: spec.Aliases}}
	}
	c := d.Run(cs)
	if !spec.NoWait {
		d.WaitMariaDB(c.Name, pw)
	}
	return c
}

// WaitMariaDB waits until the server in container name lets root in with
// password over TCP (mariadb -h 127.0.0.1 -e 'select 1', run in the
// container). The set-up of a new data directory runs without networking,
// so this also waits for it to end. A container that stops fails the test.
func (d *Deployer) WaitMariaDB(name, password string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, waitTimeout)
	defer cancel()
	var last error
	for {
		info, err := d.Engine.Client.ContainerInspect(ctx, name)
		switch {
		case err != nil:
			last = err
		case info.State == nil || !info.State.Running || info.State.Restarting:
			logs, _ := containerLogs(ctx, d.Engine, name)
			d.t.Fatalf("wait for MariaDB in %s on %s: the container stopped:\n%s", name, d.Engine.Host, lastLines(logs, 20))
		default:
			tctx, tcancel := context.WithTimeout(ctx, 5*time.Second)
			r, err := d.exec(tctx, name, mariadbEnv(password), nil, "mariadb", "-h127.0.0.1", "-uroot", "-e", "select 1")
			tcancel()
			switch {
			case err != nil:
				last = err
			case r.ExitCode != 0:
				last = fmt.Errorf("mariadb exited %d: %s", r.ExitCode, strings.TrimSpace(r.Stderr))
			default:
				return
			}
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("wait for MariaDB in %s on %s: %v (gave up after %s)", name, d.Engine.Host, last, waitTimeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SQL runs statements with the mariadb client in container name, as root
// over TCP, and returns what it printed (tab-separated, no column names).
func (d *Deployer) SQL(name, password, statements string) string {
	d.t.Helper()
	r, err := d.exec(d.ctx, name, mariadbEnv(password), strings.NewReader(statements),
		"mariadb", "-h127.0.0.1", "-uroot", "--batch", "--skip-column-names")
	if err != nil || r.ExitCode != 0 {
		d.t.Fatalf("SQL in %s on %s: exit %d, %v: %s", name, d.Engine.Host, r.ExitCode, err, strings.TrimSpace(r.Stderr))
	}
	return r.Stdout
}

// MariaDBDump dumps the server of container db with mariadb-dump run in a
// second, short-lived container of image that shares db's network namespace
// (docker run --network container:<db>), connecting as root to 127.0.0.1 with
// password in MYSQL_PWD, and returns the dump. args follow the connection
// options and --skip-dump-date, e.g. "--single-transaction", "--databases", "db_tars".
// The dump container is removed before MariaDBDump returns.
func (d *Deployer) MariaDBDump(db *Container, image, password string, args ...string) string {
	d.t.Helper()
	c := d.Run(ContainerSpec{
		Image:       image,
		Env:         mariadbEnv(password),
		Cmd:         append([]string{"mariadb-dump", "-h127.0.0.1", "-P3306", "-uroot", "--skip-dump-date"}, args...),
		NetworkMode: "container:" + db.ID,
	})
	code := d.Wait(c.ID)
	stdout, stderr, err := containerStreams(d.ctx, d.Engine, c.ID)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.Engine.Client.ContainerRemove(d.ctx, c.ID, container.RemoveOptions{RemoveVolumes: true}); err != nil {
		d.t.Errorf("remove the dump container %s on %s: %v", c.Name, d.Engine.Host, err)
	}
	if code != 0 {
		d.t.Fatalf("mariadb-dump of %s on %s exited %d: %s", db.Name, d.Engine.Host, code, strings.TrimSpace(stderr))
	}
	return stdout
}

// mariadbEnv passes the password to the clients without a command-line option.
func mariadbEnv(password string) []string { return []string{"MYSQL_PWD=" + password} }

// execResult is how a command run in a container ended.
type execResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// exec runs cmd in the running container name with env added and stdin (if
// not nil) on its standard input, and waits for it.
func (d *Deployer) exec(ctx context.Context, name string, env []string, stdin io.Reader, cmd ...string) (execResult, error) {
	cli := d.Engine.Client
	created, err := cli.ContainerExecCreate(ctx, name, container.ExecOptions{
		Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true, AttachStdin: stdin != nil,
	})
	if err != nil {
		return execResult{}, fmt.Errorf("exec %s in %s: %w", cmd[0], name, err)
	}
	resp, err := cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return execResult{}, fmt.Errorf("exec %s in %s: attach: %w", cmd[0], name, err)
	}
	defer resp.Close()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(resp.Conn, stdin)
			_ = resp.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, resp.Reader); err != nil {
		return execResult{}, fmt.Errorf("exec %s in %s: read output: %w", cmd[0], name, err)
	}
	r := execResult{Stdout: stdout.String(), Stderr: stderr.String()}
	// Why a loop: the output can end a moment before the engine records the exit.
	for {
		in, err := cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return r, fmt.Errorf("exec %s in %s: inspect: %w", cmd[0], name, err)
		}
		if !in.Running {
			r.ExitCode = in.ExitCode
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("exec %s in %s: %w", cmd[0], name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// containerStreams returns a container's stdout and stderr, apart.
func containerStreams(ctx context.Context, e *Engine, id string) (stdout, stderr string, err error) {
	rc, err := e.Client.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", "", fmt.Errorf("logs of %s on %s: %w", id, e.Host, err)
	}
	defer rc.Close()
	var o, s bytes.Buffer
	if _, err := stdcopy.StdCopy(&o, &s, rc); err != nil {
		return o.String(), s.String(), fmt.Errorf("logs of %s on %s: %w", id, e.Host, err)
	}
	return o.String(), s.String(), nil
}
