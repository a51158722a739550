package compose

import (
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
)

// Where each byte of an interpolated image comes from. Why: to move an
// image to a new reference, tarsup changes the smallest literal that makes
// it: a literal part of the image: value, the default of an unset variable,
// or a variable's line in an env file, and it must know which is which.

// pieceKind says where a piece of an interpolated image value comes from.
type pieceKind int

const (
	// pieceText is text of the image: value itself (a literal part, or the
	// default or alternative of a variable reference).
	pieceText pieceKind = iota
	// pieceEscape is "$$", a literal "$".
	pieceEscape
	// pieceVar is the value of a variable.
	pieceVar
)

// piece is one part of an interpolated image value.
type piece struct {
	kind pieceKind
	// value is what the piece contributes to the image.
	value string
	// start and end are the piece's byte span in the raw value: the text
	// itself for pieceText and pieceEscape, the whole reference for pieceVar.
	start, end int
	// name is the variable of a pieceVar; for pieceText inside a reference,
	// the variable whose default or alternative it is.
	name string
	// nonEmpty: a pieceVar whose value must stay non-empty (${V:-d}, ${V:?e}):
	// empty, the default would apply or interpolation would fail.
	nonEmpty bool
	// fixed: a pieceVar that stands for an alternative not taken (${V:+alt}
	// with V unset or empty); changing V would not change it into a value.
	fixed bool
}

// imagePieces interpolates raw, an image: value, with lookup as compose
// does, and returns the pieces of the result in order. Every variable
// reference is found with compose-go's own pattern (template.DefaultPattern)
// and resolved with its rules (":-" and "-" defaults, ":?" and "?" errors,
// ":+" and "+" alternatives, nested references in defaults); the joined
// pieces are checked against template.SubstituteWithOptions, so a value
// this code would read differently from compose is an error, not a guess.
func imagePieces(raw string, lookup template.Mapping) ([]piece, error) {
	var out []piece
	if err := appendPieces(&out, raw, 0, "", lookup); err != nil {
		return nil, err
	}
	want, err := template.SubstituteWithOptions(raw, lookup, template.WithoutLogging)
	if err != nil {
		return nil, err
	}
	if got := joinPieces(out); got != want {
		return nil, fmt.Errorf("%q reads as %q here but compose interpolates it to %q; write the image without nested variables", raw, got, want)
	}
	return out, nil
}

// joinPieces returns the interpolated value the pieces make.
func joinPieces(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.value)
	}
	return b.String()
}

// appendPieces interpolates s, which starts at byte base of the raw value,
// appending its pieces to out. owner is the variable s is the default or
// alternative of ("" at the top level).
func appendPieces(out *[]piece, s string, base int, owner string, lookup template.Mapping) error {
	pattern := template.DefaultPattern
	names := pattern.SubexpNames()
	group := func(m []int, name string) (int, int) {
		for i, n := range names {
			if n == name && m[2*i] >= 0 {
				return m[2*i], m[2*i+1]
			}
		}
		return -1, -1
	}
	lit := -1 // start of the pending run of literal text
	flush := func(end int) {
		if lit >= 0 && end > lit {
			*out = append(*out, piece{kind: pieceText, value: s[lit:end], start: base + lit, end: base + end, name: owner})
		}
		lit = -1
	}
	for i := 0; i < len(s); {
		var m []int
		if s[i] == '$' {
			m = pattern.FindStringSubmatchIndex(s[i:])
		}
		if m == nil || m[0] != 0 {
			if lit < 0 {
				lit = i
			}
			i++
			continue
		}
		flush(i)
		if a, _ := group(m, "escaped"); a >= 0 {
			*out = append(*out, piece{kind: pieceEscape, value: "$", start: base + i, end: base + i + 2, name: owner})
			i += 2
			continue
		}
		if a, b := group(m, "named"); a >= 0 {
			name := s[i+a : i+b]
			v, _ := lookup(name)
			*out = append(*out, piece{kind: pieceVar, value: v, start: base + i, end: base + i + b, name: name})
			i += b
			continue
		}
		// ${...}: cut at the first closing brace as compose does, the rest
		// is interpolated on its own.
		sub := s[i : i+m[1]]
		if c := firstBraceClosingIndex(sub); c > -1 {
			sub = sub[:c+1]
		}
		sm := pattern.FindStringSubmatchIndex(sub)
		a, b := -1, -1
		if sm != nil && sm[0] == 0 {
			a, b = group(sm, "braced")
		}
		if a < 0 || a == b {
			return fmt.Errorf("invalid variable reference %q", sub)
		}
		inner := sub[a:b]
		name, op, arg := splitReference(inner)
		argBase := base + i + a + len(name) + len(op)
		ref := piece{kind: pieceVar, start: base + i, end: base + i + len(sub), name: name}
		v, set := lookup(name)
		ref.value = v
		if err := appendReference(out, ref, op, arg, argBase, set, lookup); err != nil {
			return err
		}
		i += len(sub)
	}
	flush(len(s))
	return nil
}

// appendReference appends what ${NAME<op>arg} stands for: the variable
// (ref), or the pieces of arg where the operator takes the default or the
// alternative (arg starts at argBase in the file).
func appendReference(out *[]piece, ref piece, op, arg string, argBase int, set bool, lookup template.Mapping) error {
	switch op {
	case "":
		*out = append(*out, ref)
	case ":-", "-":
		if !set || (op == ":-" && ref.value == "") {
			if err := appendPieces(out, arg, argBase, ref.name, lookup); err != nil {
				return err
			}
		} else {
			ref.nonEmpty = op == ":-"
			*out = append(*out, ref)
		}
	case ":?", "?":
		if !set || (op == ":?" && ref.value == "") {
			return fmt.Errorf("required variable %s is missing a value", ref.name)
		}
		ref.nonEmpty = op == ":?"
		*out = append(*out, ref)
	case ":+", "+":
		if set && (op == "+" || ref.value != "") {
			if err := appendPieces(out, arg, argBase, ref.name, lookup); err != nil {
				return err
			}
		} else {
			ref.value, ref.fixed = "", true
			*out = append(*out, ref)
		}
	}
	return nil
}

// splitReference splits the inside of ${...} into the variable name, the
// operator (":-", "-", ":?", "?", ":+", "+" or "") and its argument. Why
// the operator right after the name: compose picks the first operator in
// the reference, and a name holds none.
func splitReference(inner string) (name, op, arg string) {
	n := 0
	for n < len(inner) && (inner[n] == '_' || inner[n] >= 'a' && inner[n] <= 'z' || inner[n] >= 'A' && inner[n] <= 'Z' || inner[n] >= '0' && inner[n] <= '9') {
		n++
	}
	name, rest := inner[:n], inner[n:]
	switch {
	case len(rest) >= 2 && rest[0] == ':':
		return name, rest[:2], rest[2:]
	case len(rest) >= 1:
		return name, rest[:1], rest[1:]
	}
	return name, "", ""
}

// firstBraceClosingIndex is compose-go's getFirstBraceClosingIndex (not
// exported there): the index of the '}' that closes the first '{', counting
// nested braces, or -1.
func firstBraceClosingIndex(s string) int {
	open := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '}' {
			open--
			if open == 0 {
				return i
			}
		}
		if s[i] == '{' {
			open++
			i++
		}
	}
	return -1
}

// pieceCost ranks solutions: fewer changed pieces first, then fewer
// changed bytes.
type pieceCost struct{ pieces, bytes int }

func (c pieceCost) less(d pieceCost) bool {
	return c.pieces < d.pieces || c.pieces == d.pieces && c.bytes < d.bytes
}

// editSize is the number of bytes removed and added to turn a into b,
// keeping their common prefix and suffix.
func editSize(a, b string) int {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return len(a) + len(b) - 2*(p+s)
}

// solvePieces finds new values for the pieces that make them join to
// target, changing only pieces for which editable is true, as few of them
// and as few bytes as possible. It returns the new value of every piece,
// or false when no such values exist. Ties go to the earlier piece kept.
func solvePieces(ps []piece, target string, editable func(int) bool) ([]string, bool) {
	type cell struct {
		cost pieceCost
		ok   bool
		next int    // position in target after piece i
		val  string // piece i's value
	}
	n, l := len(ps), len(target)
	memo := make([][]cell, n+1)
	for i := range memo {
		memo[i] = make([]cell, l+1)
	}
	memo[n][l] = cell{ok: true}
	for i := n - 1; i >= 0; i-- {
		p := ps[i]
		for pos := 0; pos <= l; pos++ {
			best := cell{}
			if strings.HasPrefix(target[pos:], p.value) {
				if c := memo[i+1][pos+len(p.value)]; c.ok {
					best = cell{cost: c.cost, ok: true, next: pos + len(p.value), val: p.value}
				}
			}
			if editable(i) {
				for q := pos; q <= l; q++ {
					v := target[pos:q]
					c := memo[i+1][q]
					if !c.ok || v == p.value || (p.nonEmpty && v == "") {
						continue
					}
					cost := pieceCost{c.cost.pieces + 1, c.cost.bytes + editSize(p.value, v)}
					if !best.ok || cost.less(best.cost) {
						best = cell{cost: cost, ok: true, next: q, val: v}
					}
				}
			}
			memo[i][pos] = best
		}
	}
	if !memo[0][0].ok {
		return nil, false
	}
	vals := make([]string, n)
	pos := 0
	for i := 0; i < n; i++ {
		c := memo[i][pos]
		vals[i] = c.val
		pos = c.next
	}
	return vals, true
}
