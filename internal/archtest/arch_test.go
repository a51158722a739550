package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Limits from DESIGN.md and issue 10.
const (
	maxFuncLines    = 80  // any non-test function
	maxCmdFuncLines = 60  // a non-test function in cmd/tarsup
	maxOrchLines    = 400 // any file in orchestrator/...
)

// srcFile is one parsed Go file of the module, by its slash path from the
// module root.
type srcFile struct {
	path  string
	fset  *token.FileSet
	ast   *ast.File
	lines int
}

// moduleFiles parses every Go file of the module (not testdata, not
// hidden directories).
func moduleFiles(t *testing.T) []srcFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	var out []srcFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, srcFile{path: filepath.ToSlash(rel), fset: fset, ast: f, lines: strings.Count(string(src), "\n")})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no Go files found")
	}
	return out
}

func isTest(path string) bool { return strings.HasSuffix(path, "_test.go") }

func under(path, dir string) bool { return strings.HasPrefix(path, dir+"/") }

// TestFunctionLength: no non-test function over 80 lines, none in
// cmd/tarsup over 60. Test functions (table tests) are exempt.
func TestFunctionLength(t *testing.T) { report(t, longFunctions(moduleFiles(t))) }

// TestOrchestratorFileLength: no file in orchestrator/... over 400 lines,
// tests included.
func TestOrchestratorFileLength(t *testing.T) { report(t, longFiles(moduleFiles(t))) }

// TestImports: cmd/tarsup is wiring, so it does not import the Docker SDK
// (it goes through orchestrator/...); the planner is pure, so it imports
// neither the Docker client nor context, nor the packages that hold live
// engines (engine, lock): it gets host names, not clients.
func TestImports(t *testing.T) {
	files := moduleFiles(t)
	report(t, badImports(files))
	// Why: a moved directory must not make this test pass by checking nothing.
	for _, dir := range []string{"cmd/tarsup", "orchestrator/plan"} {
		n := 0
		for _, f := range files {
			if under(f.path, dir) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no Go files in %s: update this test to where that code went", dir)
		}
	}
}

// TestChecksCatch: each check finds a violation planted in a small tree, so
// the tests above cannot pass by checking nothing.
func TestChecksCatch(t *testing.T) {
	long := "package x\n\nfunc Long() {\n" + strings.Repeat("\t_ = 1\n", 60) + "}\n"
	files := []srcFile{
		parseSrc(t, "compose/ok.go", long),
		parseSrc(t, "compose/ok_test.go", "package x\n\nfunc TestTable() {\n"+strings.Repeat("\t_ = 1\n", 90)+"}\n"),
		parseSrc(t, "cmd/tarsup/long.go", long),
		parseSrc(t, "cmd/tarsup/docker.go", "package main\n\nimport _ \"github.com/docker/docker/api/types\"\n"),
		parseSrc(t, "orchestrator/plan/ctx.go", "package plan\n\nimport (\n\t_ \"context\"\n\t_ \"github.com/tarsup/tarsup/orchestrator/engine\"\n)\n"),
		parseSrc(t, "orchestrator/big.go", "package orchestrator\n"+strings.Repeat("\n", 401)),
	}
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"function length", longFunctions(files), []string{"cmd/tarsup/long.go: Long is 62 lines, over 60: split it"}},
		{"file length", longFiles(files), []string{"orchestrator/big.go is 402 lines, over 400: split it along a seam"}},
		{"imports", badImports(files), []string{
			"cmd/tarsup/docker.go imports github.com/docker/docker/api/types: cmd/tarsup reaches engines through orchestrator/engine",
			"orchestrator/plan/ctx.go imports context: the planner is pure (observed facts in, plan out)",
			"orchestrator/plan/ctx.go imports github.com/tarsup/tarsup/orchestrator/engine: the planner is pure (observed facts in, plan out)",
		}},
	} {
		if strings.Join(tt.got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
}

func parseSrc(t *testing.T, path, src string) srcFile {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return srcFile{path: path, fset: fset, ast: f, lines: strings.Count(src, "\n")}
}

func report(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// longFunctions lists the non-test functions over their limit.
func longFunctions(files []srcFile) []string {
	var out []string
	for _, f := range files {
		if isTest(f.path) {
			continue
		}
		limit := maxFuncLines
		if under(f.path, "cmd/tarsup") {
			limit = maxCmdFuncLines
		}
		for _, d := range f.ast.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := f.fset.Position(fd.End()).Line - f.fset.Position(fd.Pos()).Line + 1
			if n > limit {
				out = append(out, fmt.Sprintf("%s: %s is %d lines, over %d: split it", f.path, funcName(fd), n, limit))
			}
		}
	}
	return out
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if g, ok := t.(*ast.IndexExpr); ok {
		t = g.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// longFiles lists the files of orchestrator/... over 400 lines.
func longFiles(files []srcFile) []string {
	var out []string
	for _, f := range files {
		if under(f.path, "orchestrator") && f.lines > maxOrchLines {
			out = append(out, fmt.Sprintf("%s is %d lines, over %d: split it along a seam", f.path, f.lines, maxOrchLines))
		}
	}
	return out
}

// plannerForbidden are the imports that would let the planner do I/O or
// reach a live engine.
var plannerForbidden = map[string]bool{
	"context":                         true,
	"github.com/docker/docker/client": true,
	"github.com/tarsup/tarsup/orchestrator/engine": true,
	"github.com/tarsup/tarsup/orchestrator/lock":   true,
}

// badImports lists cmd/tarsup's imports of the Docker SDK and the
// planner's forbidden imports.
func badImports(files []srcFile) []string {
	var out []string
	for _, f := range files {
		for _, imp := range f.ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case under(f.path, "cmd/tarsup") && strings.HasPrefix(p, "github.com/docker/"):
				out = append(out, fmt.Sprintf("%s imports %s: cmd/tarsup reaches engines through orchestrator/engine", f.path, p))
			case under(f.path, "orchestrator/plan") && plannerForbidden[p]:
				out = append(out, fmt.Sprintf("%s imports %s: the planner is pure (observed facts in, plan out)", f.path, p))
			}
		}
	}
	return out
}
