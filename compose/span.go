package compose

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Byte-level location and rendering of YAML scalars and env file values.

// inFlowMapping reports whether scalar n sits in a flow collection
// ({image: x}), where a plain scalar also ends at ',', ']' or '}'.
func inFlowMapping(doc, n *yaml.Node) bool {
	var parent *yaml.Node
	var walk func(p *yaml.Node) bool
	walk = func(p *yaml.Node) bool {
		for _, c := range p.Content {
			if c == n {
				parent = p
				return true
			}
			if walk(c) {
				return true
			}
		}
		return false
	}
	if doc != nil {
		walk(doc)
	}
	return parent != nil && parent.Style&yaml.FlowStyle != 0
}

// scalarSpan returns the byte span [start, end) of scalar n's text in data,
// quotes included, anchor and tag excluded. It refuses block scalars and
// scalars spread over several lines.
func scalarSpan(data []byte, n *yaml.Node, flow bool) (int, int, error) {
	pos, err := offsetOf(data, n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	// Skip properties: "&anchor" and "!tag" come before the value.
	for pos < len(data) && (data[pos] == '&' || data[pos] == '!') {
		for pos < len(data) && !isBlank(data[pos]) && data[pos] != '\n' {
			pos++
		}
		for pos < len(data) && isBlank(data[pos]) {
			pos++
		}
	}
	if pos >= len(data) || data[pos] == '\n' || data[pos] == '\r' {
		return 0, 0, errors.New("the value is not on the line of its anchor or tag; put them on one line")
	}
	start, end := pos, pos
	switch data[pos] {
	case '"':
		end = -1
		for i := pos + 1; i < len(data) && data[i] != '\n'; i++ {
			if data[i] == '\\' {
				i++
				continue
			}
			if data[i] == '"' {
				end = i + 1
				break
			}
		}
	case '\'':
		end = -1
		for i := pos + 1; i < len(data) && data[i] != '\n'; i++ {
			if data[i] == '\'' {
				if i+1 < len(data) && data[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
	case '|', '>':
		return 0, 0, errors.New("the value is a block scalar (| or >); write the image on one line")
	default:
		i := pos
		for ; i < len(data) && data[i] != '\n'; i++ {
			if data[i] == '#' && i > pos && isBlank(data[i-1]) {
				break
			}
			if flow && (data[i] == ',' || data[i] == ']' || data[i] == '}') {
				break
			}
		}
		for i > pos && (isBlank(data[i-1]) || data[i-1] == '\r') {
			i--
		}
		end = i
	}
	if end < 0 {
		return 0, 0, errors.New("the quoted value continues on the next line; write the image on one line")
	}
	// The text found must mean exactly the node's value; otherwise the
	// scalar continues on other lines (or this code misread it).
	var v string
	if err := yaml.Unmarshal(data[start:end], &v); err != nil || v != n.Value {
		return 0, 0, fmt.Errorf("the value %q spans several lines or could not be located at line %d column %d; write the image on one line", n.Value, n.Line, n.Column)
	}
	return start, end, nil
}

// valueOffset returns the byte offset in data at which the value of the
// scalar spelled data[start:end] begins, when the file spells the value
// byte for byte: a plain scalar, or quotes without escapes. Then a part of
// the value can be replaced in place; ok is false otherwise.
func valueOffset(data []byte, start, end int, value string) (int, bool) {
	text := string(data[start:end])
	if text == value {
		return start, true
	}
	if len(text) >= 2 && (text[0] == '"' || text[0] == '\'') && text[len(text)-1] == text[0] && text[1:len(text)-1] == value {
		return start + 1, true
	}
	return 0, false
}

// offsetOf converts a yaml.v3 position (1-based line, 1-based column in
// characters) into a byte offset.
func offsetOf(data []byte, line, column int) (int, error) {
	pos := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(data[pos:]), '\n')
		if i < 0 {
			return 0, fmt.Errorf("line %d is past the end of the file", line)
		}
		pos += i + 1
	}
	for c := 1; c < column; c++ {
		if pos >= len(data) || data[pos] == '\n' {
			return 0, fmt.Errorf("column %d is past the end of line %d", column, line)
		}
		_, size := utf8.DecodeRune(data[pos:])
		pos += size
	}
	return pos, nil
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' }

// plainImage is what an image reference looks like as a safe plain scalar.
var plainImage = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$`)

// renderScalar writes value in the quoting style of the scalar it replaces.
// A plain scalar stays plain unless the value needs quotes.
func renderScalar(value string, style yaml.Style) (string, error) {
	var text string
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		text = doubleQuote(value)
	case style&yaml.SingleQuotedStyle != 0:
		text = "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case plainImage.MatchString(value):
		text = value
	default:
		text = doubleQuote(value)
	}
	var back string
	if err := yaml.Unmarshal([]byte(text), &back); err != nil || back != value {
		if style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			// A plain scalar that YAML reads as something else ("null", "1e3").
			return doubleQuote(value), nil
		}
		return "", fmt.Errorf("cannot write %q as a YAML scalar", value)
	}
	return text, nil
}

func doubleQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// envValueSpan finds the last line of an env file that assigns key
// (KEY=value, export KEY=value, KEY: value) and returns the byte span of
// the value, inside its quotes if it has any, and the quote (0 for none).
func envValueSpan(data []byte, key string) (int, int, byte, error) {
	found := false
	var start, end int
	var quote byte
	pos := 0
	for pos < len(data) {
		lineEnd := len(data)
		if i := strings.IndexByte(string(data[pos:]), '\n'); i >= 0 {
			lineEnd = pos + i
		}
		if s, e, q, ok := envAssignment(data, pos, lineEnd, key); ok {
			found, start, end, quote = true, s, e, q
		}
		pos = lineEnd + 1
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("no line assigns %s", key)
	}
	if end < 0 {
		return 0, 0, 0, errors.New("the quoted value continues on the next line")
	}
	return start, end, quote, nil
}

// envAssignment parses data[pos:lineEnd] as an assignment of key; end is -1
// for an unterminated quote.
func envAssignment(data []byte, pos, lineEnd int, key string) (int, int, byte, bool) {
	line := string(data[pos:lineEnd])
	i := 0
	skipBlank := func() {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
	}
	skipBlank()
	if strings.HasPrefix(line[i:], "export") && len(line) > i+6 && isBlank(line[i+6]) {
		i += 6
		skipBlank()
	}
	if !strings.HasPrefix(line[i:], key) {
		return 0, 0, 0, false
	}
	i += len(key)
	skipBlank()
	if i >= len(line) || (line[i] != '=' && line[i] != ':') {
		return 0, 0, 0, false
	}
	i++
	skipBlank()
	if i < len(line) && (line[i] == '"' || line[i] == '\'') {
		q := line[i]
		for j := i + 1; j < len(line); j++ {
			if line[j] == '\\' {
				j++
				continue
			}
			if line[j] == q {
				return pos + i + 1, pos + j, q, true
			}
		}
		return pos + i + 1, -1, q, true
	}
	end := len(line)
	if c := strings.Index(line[i:], " #"); c >= 0 {
		end = i + c
	}
	for end > i && (isBlank(line[end-1]) || line[end-1] == '\r') {
		end--
	}
	return pos + i, pos + end, 0, true
}

// renderEnvValue writes an env value inside the quotes it had (or none).
func renderEnvValue(value string, quote byte) (string, error) {
	switch quote {
	case '"':
		return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(value), nil
	case '\'':
		if strings.ContainsAny(value, `'\`) {
			return "", fmt.Errorf("cannot write %q inside single quotes", value)
		}
		return value, nil
	}
	if !plainImage.MatchString(value) {
		return "", fmt.Errorf("cannot write %q without quotes; quote the value in the file", value)
	}
	return value, nil
}
