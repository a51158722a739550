package compose

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// unifiedDiff returns the unified diff from old to new with context lines of
// context, as diff -u prints it; "" when old and new are equal. Why
// go-udiff: a maintained Myers diff (gopls's) in linear space, where a
// hand-written LCS table grows with the product of the files' lengths. The
// hunks are printed here so that the headers read as GNU diff's do.
func unifiedDiff(oldName, newName string, old, new []byte, context int) string {
	if bytes.Equal(old, new) {
		return ""
	}
	o := string(old)
	d, err := udiff.ToUnifiedDiff(oldName, newName, o, udiff.Lines(o, string(new)), context)
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", oldName, newName)
	if err != nil {
		// Cannot happen: udiff.Lines's edits fit the text they come from.
		fmt.Fprintf(&b, "(no diff: %v)\n", err)
		return b.String()
	}
	for _, h := range d.Hunks {
		writeHunk(&b, h)
	}
	return b.String()
}

// writeHunk writes h with its @@ header.
func writeHunk(b *strings.Builder, h *udiff.Hunk) {
	oldCount, newCount := 0, 0
	for _, l := range h.Lines {
		if l.Kind != udiff.Insert {
			oldCount++
		}
		if l.Kind != udiff.Delete {
			newCount++
		}
	}
	fmt.Fprintf(b, "@@ -%s +%s @@\n", hunkRange(h.FromLine, oldCount), hunkRange(h.ToLine, newCount))
	for _, l := range h.Lines {
		switch l.Kind {
		case udiff.Delete:
			b.WriteByte('-')
		case udiff.Insert:
			b.WriteByte('+')
		default:
			b.WriteByte(' ')
		}
		b.WriteString(l.Content)
		if !strings.HasSuffix(l.Content, "\n") {
			b.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange formats a hunk side as GNU diff does: "l" for one line, "l,n"
// otherwise, and for an empty side the line before it.
func hunkRange(line, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", line-1)
	case 1:
		return fmt.Sprintf("%d", line)
	}
	return fmt.Sprintf("%d,%d", line, count)
}
