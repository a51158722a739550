package compose

import (
	"fmt"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{name: "equal", old: "a\nb\n", new: "a\nb\n", want: ""},
		{
			name: "one line in the middle",
			old:  "a\nb\nc\nd\ne\nf\ng\nh\n",
			new:  "a\nb\nc\nd\nE\nf\ng\nh\n",
			want: "--- f\n+++ f\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n",
		},
		{
			name: "first line",
			old:  "a\nb\nc\nd\ne\n",
			new:  "A\nb\nc\nd\ne\n",
			want: "--- f\n+++ f\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n",
		},
		{
			name: "changes 7 lines apart make two hunks",
			old:  "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
			new:  "1\nX\n3\n4\n5\n6\n7\n8\n9\nY\n11\n12\n",
			want: "--- f\n+++ f\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -7,6 +7,6 @@\n 7\n 8\n 9\n-10\n+Y\n 11\n 12\n",
		},
		{
			name: "changes 6 lines apart share a hunk",
			old:  "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
			new:  "1\nX\n3\n4\n5\n6\n7\n8\nY\n10\n",
			want: "--- f\n+++ f\n@@ -1,10 +1,10 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+Y\n 10\n",
		},
		{
			name: "lines added at the end",
			old:  "a\nb\n",
			new:  "a\nb\nc\n",
			want: "--- f\n+++ f\n@@ -1,2 +1,3 @@\n a\n b\n+c\n",
		},
		{
			name: "lines removed from an empty result",
			old:  "a\n",
			new:  "",
			want: "--- f\n+++ f\n@@ -1 +0,0 @@\n-a\n",
		},
		{
			name: "no newline at end of file",
			old:  "a\nb",
			new:  "a\nc",
			want: "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n",
		},
		{
			name: "newline added at end of file",
			old:  "a\nb",
			new:  "a\nb\n",
			want: "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		{
			name: "a line inserted",
			old:  "a\nb\nc\nd\ne\nf\n",
			new:  "a\nb\nc\nX\nd\ne\nf\n",
			want: "--- f\n+++ f\n@@ -1,6 +1,7 @@\n a\n b\n c\n+X\n d\n e\n f\n",
		},
		{
			name: "into an empty file",
			old:  "",
			new:  "a\n",
			want: "--- f\n+++ f\n@@ -0,0 +1 @@\n+a\n",
		},
		{
			name: "a block replaced: deletions before insertions",
			old:  "a\nb\nc\nd\n",
			new:  "a\nx\ny\nd\n",
			want: "--- f\n+++ f\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n+x\n+y\n d\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unifiedDiff("f", "f", []byte(tt.old), []byte(tt.new), 3)
			if got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestUnifiedDiffLongFile: a one-line change in a long file is one small
// hunk (a quadratic table would have given up on its size).
func TestUnifiedDiffLongFile(t *testing.T) {
	var old, new strings.Builder
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&old, "line %d\n", i)
		fmt.Fprintf(&new, "line %d\n", i)
		if i == 10000 {
			new.WriteString("X\n")
		}
	}
	want := "--- f\n+++ f\n@@ -9998,6 +9998,7 @@\n line 9998\n line 9999\n line 10000\n+X\n line 10001\n line 10002\n line 10003\n"
	if got := unifiedDiff("f", "f", []byte(old.String()), []byte(new.String()), 3); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFileEditDiffNamesThePath(t *testing.T) {
	e := FileEdit{Path: "/srv/tars/compose.yaml", Old: []byte("image: a\n"), New: []byte("image: b\n")}
	want := "--- /srv/tars/compose.yaml\n+++ /srv/tars/compose.yaml\n@@ -1 +1 @@\n-image: a\n+image: b\n"
	if got := e.Diff(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
