package compose

import (
	"strings"
	"testing"
)

// TestImagePieces checks the pieces against compose-go's own interpolation
// (imagePieces fails when they disagree) and that each literal piece is the
// text at its span of the raw value.
func TestImagePieces(t *testing.T) {
	env := map[string]string{"SET": "v1", "EMPTY": "", "REG": "127.0.0.1:5000"}
	tests := []struct {
		raw  string
		want string // the pieces, as kind:value, joined by |
	}{
		{raw: "tarscloud/framework:v3", want: "text:tarscloud/framework:v3"},
		{raw: "repo:$SET", want: "text:repo:|var:v1"},
		{raw: "repo:${SET}-x", want: "text:repo:|var:v1|text:-x"},
		{raw: "${UNSET:-a/b}:${SET}", want: "text:a/b|text::|var:v1"},
		{raw: "${EMPTY:-d}/${EMPTY-e}x", want: "text:d|text:/|var:|text:x"},
		{raw: "${UNSET-${REG}/x}:t", want: "var:127.0.0.1:5000|text:/x|text::t"},
		{raw: "${SET:+alt}/${UNSET:+no}r", want: "text:alt|text:/|var:|text:r"},
		{raw: "${SET:?msg with $$ and }x", want: "var:v1|text:x"},
		{raw: "a$$b", want: "text:a|escape:$|text:b"},
		{raw: "cost$", want: "text:cost$"},
		{raw: "${SET:-x}}", want: "var:v1|text:}"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			ps, err := imagePieces(tt.raw, mapping(env))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				kind := map[pieceKind]string{pieceText: "text", pieceEscape: "escape", pieceVar: "var"}[p.kind]
				got = append(got, kind+":"+p.value)
				switch p.kind {
				case pieceText:
					if tt.raw[p.start:p.end] != p.value {
						t.Errorf("text piece %q at [%d,%d) is %q in the raw value", p.value, p.start, p.end, tt.raw[p.start:p.end])
					}
				case pieceEscape:
					if tt.raw[p.start:p.end] != "$$" {
						t.Errorf("escape at [%d,%d) is %q", p.start, p.end, tt.raw[p.start:p.end])
					}
				}
			}
			if g := strings.Join(got, "|"); g != tt.want {
				t.Errorf("pieces %s, want %s", g, tt.want)
			}
		})
	}
	if _, err := imagePieces("repo:${BAD", mapping(env)); err == nil {
		t.Error("an unclosed reference was accepted")
	}
}
