package archtest

import (
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
func TestFunctionLength(t *testing.T) {
	for _, f := range moduleFiles(t) {
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
				t.Errorf("%s: %s is %d lines, over %d: split it", f.path, funcName(fd), n, limit)
			}
		}
	}
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

// TestOrchestratorFileLength: no file in orchestrator/... over 400 lines,
// tests included.
func TestOrchestratorFileLength(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if (f.path == "orchestrator" || under(f.path, "orchestrator")) && f.lines > maxOrchLines {
			t.Errorf("%s is %d lines, over %d: split it along a seam", f.path, f.lines, maxOrchLines)
		}
	}
}

// TestImports: cmd/tarsup is wiring, so it does not import the Docker SDK
// (it goes through orchestrator/...); the planner is pure, so it imports
// neither the Docker client nor context, nor the packages that hold live
// engines (engine, lock): it gets host names, not clients.
func TestImports(t *testing.T) {
	seen := map[string]int{}
	for _, f := range moduleFiles(t) {
		for _, dir := range []string{"cmd/tarsup", "orchestrator/plan"} {
			if under(f.path, dir) {
				seen[dir]++
			}
		}
		for _, imp := range f.ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case under(f.path, "cmd/tarsup") && strings.HasPrefix(p, "github.com/docker/"):
				t.Errorf("%s imports %s: cmd/tarsup reaches engines through orchestrator/engine", f.path, p)
			case under(f.path, "orchestrator/plan") && (p == "context" || p == "github.com/docker/docker/client" ||
				p == "github.com/tarsup/tarsup/orchestrator/engine" || p == "github.com/tarsup/tarsup/orchestrator/lock"):
				t.Errorf("%s imports %s: the planner is pure (observed facts in, plan out)", f.path, p)
			}
		}
	}
	// Why: a moved directory must not make this test pass by checking nothing.
	for _, dir := range []string{"cmd/tarsup", "orchestrator/plan"} {
		if seen[dir] == 0 {
			t.Errorf("no Go files in %s: update this test to where that code went", dir)
		}
	}
}
