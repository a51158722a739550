package backup

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// sqlScan reads a dump's SQL as the database client would (strings,
// comments, the executable /*! comments, DELIMITER) and records the first
// statement a restore must never run: one that names a database outside
// the snapshot's (USE, CREATE/DROP/ALTER DATABASE, a `db`.`table`.`column`),
// touches a system schema (mysql, sys, performance_schema,
// information_schema), manages accounts or privileges, sets a global
// variable, loads a library or a file, or is no statement mysqldump writes.
// Why: a restore runs with the framework's (usually root) credentials, so
// a dump with a matching manifest could otherwise drop `mysql`.
// Its memory does not grow with the input: names and words are capped.
type sqlScan struct {
	allowed map[string]bool
	delim   []byte
	st      scanState
	exec    bool   // inside a /*! ... */ comment, whose text is code
	pend    []byte // the delimiter's bytes matched so far
	word    []byte // the word or `name` being read
	wordLen int    // its full length (word is capped)
	toks    []sqlToken
	nth     int    // tokens in the statement
	first   string // its first word
	line    int64
	delimLn []byte // the rest of a DELIMITER line
	ver     []byte // the version of a /*! comment
	bad     string
}

type scanState int

const (
	stCode scanState = iota
	stWord
	stBquote
	stSquote
	stSquoteEsc
	stDquote
	stDquoteEsc
	stSlash       // a '/' in code
	stExecVer     // the version digits after /*!
	stCommentOpen // right after /*
	stCommentM    // /*M
	stComment     // /* ... */
	stCommentStar
	stDash     // a '-' in code
	stDashDash // "--"
	stLineComment
	stStar      // a '*' in a /*! comment
	stDelimLine // after DELIMITER
)

// sqlToken is a word (upper-cased), a `name`, or a dot.
type sqlToken struct {
	kind byte // 'w' word, 'n' quoted name, '.' dot, 'o' anything else
	text string
	raw  string // a word as written (names are case-sensitive)
}

// sandboxVersion is the version of a /*M! comment no server runs.
const sandboxVersion = "999999"

// maxName caps the text kept of one word or name: a longer one is no
// database name and no keyword.
const maxName = 128

// systemSchemas are the server's own schemas: nothing of a snapshot
// restore may name them.
var systemSchemas = map[string]bool{"mysql": true, "sys": true, "performance_schema": true, "information_schema": true}

// firstWords are the statements mysqldump writes (and a dump may hold).
var firstWords = map[string]bool{"SET": true, "USE": true, "CREATE": true, "DROP": true, "INSERT": true, "LOCK": true, "UNLOCK": true, "ALTER": true, "COMMIT": true, "DELIMITER": true}

// deniedWords may appear nowhere in a dump's code (routine and trigger
// bodies included).
var deniedWords = map[string]bool{"GRANT": true, "REVOKE": true, "SONAME": true, "OUTFILE": true, "DUMPFILE": true, "INFILE": true,
	"INSTALL": true, "UNINSTALL": true, "SHUTDOWN": true, "GLOBAL": true, "PERSIST": true, "PERSIST_ONLY": true, "BINLOG": true}

// deniedPairs are two adjacent words no dump may hold: accounts, roles,
// servers, passwords.
var deniedPairs = map[[2]string]bool{}

func init() {
	for _, a := range []string{"CREATE", "DROP", "ALTER", "RENAME", "REPLACE"} {
		for _, b := range []string{"USER", "ROLE", "SERVER"} {
			deniedPairs[[2]string{a, b}] = true
		}
	}
	for _, b := range []string{"PASSWORD", "ROLE", "DEFAULT"} {
		deniedPairs[[2]string{"SET", b}] = true
	}
}

func newSQLScan(databases []string) *sqlScan {
	s := &sqlScan{allowed: map[string]bool{}, delim: []byte(";"), line: 1}
	for _, d := range databases {
		s.allowed[d] = true
	}
	return s
}

// err is the first statement refused, or nil.
func (s *sqlScan) err() error {
	if s.bad == "" {
		return nil
	}
	return fmt.Errorf("%s", s.bad)
}

// Write scans p; it never fails (the verdict is err).
func (s *sqlScan) Write(p []byte) (int, error) {
	if s.bad != "" {
		return len(p), nil
	}
	for _, b := range p {
		s.byte(b)
		if b == '\n' {
			s.line++
		}
	}
	return len(p), nil
}

// refuse records why the dump is refused (the first reason only).
func (s *sqlScan) refuse(format string, a ...any) {
	if s.bad == "" {
		s.bad = fmt.Sprintf("line %d: ", s.line) + fmt.Sprintf(format, a...)
	}
}

// byte advances the state machine by one byte.
func (s *sqlScan) byte(b byte) {
	switch s.st {
	case stCode, stWord:
		s.code(b)
	case stBquote:
		if b == '`' {
			s.endWord('n')
			s.st = stCode
			return
		}
		s.addWord(b)
	case stSquote, stDquote:
		s.quoted(b)
	case stSquoteEsc:
		s.st = stSquote
	case stDquoteEsc:
		s.st = stDquote
	default:
		s.punct(b)
	}
}

// quoted is a byte inside a string.
func (s *sqlScan) quoted(b byte) {
	q, esc := byte('\''), stSquoteEsc
	if s.st == stDquote {
		q, esc = '"', stDquoteEsc
	}
	switch b {
	case '\\':
		s.st = esc
	case q:
		s.st = stCode
	}
}

// punct handles the states of comments and two-byte openers.
func (s *sqlScan) punct(b byte) {
	switch s.st {
	case stSlash:
		s.st = stCode
		if b != '*' {
			s.token('o', "/")
			s.code(b)
			return
		}
		s.st = stCommentOpen
	case stCommentOpen, stCommentM:
		switch {
		case b == '!':
			// /*! and /*M! open an executable comment: its text is code.
			s.st = stExecVer
		case b == 'M' && s.st == stCommentOpen:
			s.st = stCommentM
		default:
			s.st = stComment
			s.punct(b)
		}
	case stComment:
		if b == '*' {
			s.st = stCommentStar
		}
	case stCommentStar:
		switch b {
		case '/':
			s.st = stCode
		case '*':
		default:
			s.st = stComment
		}
	case stExecVer:
		s.execVer(b)
	case stDash:
		s.st = stCode
		if b == '-' {
			s.st = stDashDash
			return
		}
		s.token('o', "-")
		s.code(b)
	case stDashDash:
		if b == ' ' || b == '\t' || b == '\n' || b == '\r' {
			s.st = stLineComment
			if b == '\n' {
				s.st = stCode
			}
			return
		}
		s.st = stCode
		s.token('o', "-")
		s.code(b)
	case stLineComment:
		if b == '\n' {
			s.st = stCode
		}
	case stStar:
		s.st = stCode
		if b == '/' {
			s.exec = false
			return
		}
		s.token('o', "*")
		s.code(b)
	case stDelimLine:
		s.delimiterLine(b)
	}
}

// execVer skips the version of /*!40101 (and the '!' of /*M!).
func (s *sqlScan) execVer(b byte) {
	switch {
	case b == '!':
	case b >= '0' && b <= '9':
		if len(s.ver) < 8 {
			s.ver = append(s.ver, b)
		}
	case string(s.ver) == sandboxVersion:
		// MariaDB's dump opens with /*M!999999\- enable the sandbox mode */:
		// no server runs it, and the client's \- forbids its commands.
		s.ver = s.ver[:0]
		s.st = stComment
		s.punct(b)
	default:
		s.ver = s.ver[:0]
		s.exec = true
		s.st = stCode
		s.code(b)
	}
}

// delimiterLine collects a DELIMITER line; its first word is the new
// delimiter.
func (s *sqlScan) delimiterLine(b byte) {
	if b != '\n' {
		if len(s.delimLn) < maxName {
			s.delimLn = append(s.delimLn, b)
		}
		return
	}
	f := strings.Fields(string(s.delimLn))
	s.delimLn = s.delimLn[:0]
	s.st = stCode
	if len(f) == 0 || strings.ContainsAny(f[0], "\\") {
		s.refuse("a DELIMITER without a delimiter")
		return
	}
	s.delim = []byte(f[0])
	s.endStatement()
}

// code is a byte of code (outside strings and comments): the delimiter,
// a word, a name, a string or comment opener, or punctuation.
func (s *sqlScan) code(b byte) {
	if s.delimiter(b) {
		return
	}
	if isWordByte(b) {
		if s.st != stWord {
			s.st, s.word, s.wordLen = stWord, s.word[:0], 0
		}
		s.addWord(b)
		return
	}
	if s.st == stWord {
		s.st = stCode
		s.endWord('w')
		if s.st == stDelimLine {
			s.punct(b)
			return
		}
	}
	s.opener(b)
}

// opener starts what b opens, or is punctuation.
func (s *sqlScan) opener(b byte) {
	switch b {
	case '`':
		s.st, s.word, s.wordLen = stBquote, s.word[:0], 0
	case '\'':
		s.st = stSquote
		s.token('o', "'")
	case '"':
		s.st = stDquote
		s.token('o', "\"")
	case '/':
		s.st = stSlash
	case '-':
		s.st = stDash
	case '#':
		s.st = stLineComment
	case '*':
		if s.exec {
			s.st = stStar
			return
		}
		s.token('o', "*")
	case '\\':
		s.refuse("a client command (\\) outside a string: no dump holds one")
	case '.':
		s.token('.', ".")
	case ' ', '\t', '\n', '\r':
	default:
		s.token('o', string(b))
	}
}

// delimiter matches the statement delimiter; it reports whether b was
// taken by it.
func (s *sqlScan) delimiter(b byte) bool {
	if b == s.delim[len(s.pend)] {
		if s.st == stWord {
			s.st = stCode
			s.endWord('w')
		}
		s.pend = append(s.pend, b)
		if len(s.pend) < len(s.delim) {
			return true
		}
		s.pend = s.pend[:0]
		s.endStatement()
		return true
	}
	if len(s.pend) > 0 {
		// Not the delimiter after all: its bytes were punctuation.
		s.pend = s.pend[:0]
		s.token('o', string(s.delim[0]))
	}
	return false
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '$' || b >= 0x80
}

func (s *sqlScan) addWord(b byte) {
	s.wordLen++
	if len(s.word) < maxName {
		s.word = append(s.word, b)
	}
}

// endWord ends a word or a `name`.
func (s *sqlScan) endWord(kind byte) {
	raw := string(s.word)
	if s.wordLen > maxName {
		raw += "..."
	}
	text := raw
	if kind == 'w' {
		text = strings.ToUpper(raw)
		if s.nth == 0 && text == "DELIMITER" {
			s.st = stDelimLine
			return
		}
	}
	s.tokenRaw(kind, text, raw)
}

// endStatement starts a new statement.
func (s *sqlScan) endStatement() {
	if s.expectingName() {
		s.refuse("%s names no database", s.phrase())
	}
	s.toks, s.nth, s.first = s.toks[:0], 0, ""
}

// token checks one token (not a word or name) against the statement.
func (s *sqlScan) token(kind byte, text string) { s.tokenRaw(kind, text, text) }

// tokenRaw checks one token against the statement so far.
func (s *sqlScan) tokenRaw(kind byte, text, raw string) {
	if s.nth == 0 && (kind != 'w' || !firstWords[text]) {
		s.refuse("statement %q: not one a dump of the Tars databases holds", text)
	}
	if s.nth == 0 {
		s.first = text
	}
	s.nth++
	if kind == 'w' && deniedWords[text] {
		s.refuse("%q: no dump of the Tars databases grants, loads a file or library, or sets a global variable", text)
	}
	if prev, ok := s.last(0); ok && prev.kind == 'w' && kind == 'w' && deniedPairs[[2]string{prev.text, text}] {
		s.refuse("%s %s: a snapshot restore manages no account, role or server", prev.text, text)
	}
	if kind == '.' {
		s.qualified()
	}
	if (kind == 'w' || kind == 'n') && s.expectingName() && !(kind == 'w' && nameless[text]) {
		if !s.allowed[raw] {
			s.refuse("%s %s: %q is not one of the snapshot's databases (%s)", s.phrase(), raw, raw, s.allowedList())
		}
		s.toks = s.toks[:0]
	}
	s.toks = append(s.toks, sqlToken{kind, text, raw})
	if len(s.toks) > 6 {
		s.toks = append(s.toks[:0], s.toks[1:]...)
	}
}

// nameless are the words that may follow DATABASE in ALTER DATABASE
// (which then means the current one) or IF [NOT] EXISTS.
var nameless = map[string]bool{"IF": true, "NOT": true, "EXISTS": true, "CHARACTER": true, "CHARSET": true, "DEFAULT": true, "COLLATE": true, "COMMENT": true}

// expectingName: the tokens so far are USE, or CREATE/DROP/ALTER
// DATABASE|SCHEMA [IF [NOT] EXISTS], and a database name comes next.
func (s *sqlScan) expectingName() bool {
	i := len(s.toks) - 1
	for i >= 0 && s.toks[i].kind == 'w' && (s.toks[i].text == "IF" || s.toks[i].text == "NOT" || s.toks[i].text == "EXISTS") {
		i--
	}
	if i < 0 || s.toks[i].kind != 'w' {
		return false
	}
	switch s.toks[i].text {
	case "USE":
		return i == 0 && s.first == "USE"
	case "DATABASE", "SCHEMA":
		return i > 0 && s.toks[i-1].kind == 'w' && (s.toks[i-1].text == "CREATE" || s.toks[i-1].text == "DROP" || s.toks[i-1].text == "ALTER")
	}
	return false
}

// qualified checks the name before a dot: a system schema is refused, and
// so is the database of a three-part name outside the snapshot's.
func (s *sqlScan) qualified() {
	q, ok := s.last(0)
	if !ok || q.kind == 'o' || q.kind == '.' {
		return
	}
	if systemSchemas[strings.ToLower(q.raw)] {
		s.refuse("%s.: a snapshot restore touches no system schema", q.text)
	}
	if d, ok1 := s.last(1); ok1 && d.kind == '.' {
		if db, ok2 := s.last(2); ok2 && db.kind != 'o' && db.kind != '.' && !s.allowed[db.raw] {
			s.refuse("%s.%s.: %q is not one of the snapshot's databases (%s)", db.raw, q.raw, db.raw, s.allowedList())
		}
	}
}

// last is the token i before the newest (0: the newest).
func (s *sqlScan) last(i int) (sqlToken, bool) {
	if len(s.toks) <= i {
		return sqlToken{}, false
	}
	return s.toks[len(s.toks)-1-i], true
}

func (s *sqlScan) phrase() string {
	var b bytes.Buffer
	for i, t := range s.toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

func (s *sqlScan) allowedList() string {
	return strings.Join(slices.Sorted(maps.Keys(s.allowed)), ", ")
}
