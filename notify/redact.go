package notify

import (
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// hidden stands for a secret in a redacted URL or message.
const hidden = "***"

// Redact is a notification URL fit for a log line: the scheme, the host
// when it is a network address (an IP, localhost, a name with a dot), and
// the query's keys; the user part, the path, the other hosts (robot
// tokens: dingtalk://TOKEN, slack://TOKEN) and the query's values are
// replaced by ***. The endpoint parameter (an address, not a secret) is
// itself redacted the same way.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		_, err = url.ParseQuery(u.RawQuery)
	}
	if err != nil || u.Scheme == "" {
		if m := schemeRe.FindString(raw); m != "" {
			return m + hidden
		}
		return hidden
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(hidden + "@")
	}
	if networkHost(u.Hostname()) {
		b.WriteString(u.Host)
	} else if u.Host != "" {
		b.WriteString(hidden)
	}
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		b.WriteString("/" + hidden)
	}
	if q := u.Query(); len(q) > 0 {
		var keys []string
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			v := hidden
			if k == "endpoint" {
				v = Redact(q.Get(k))
			}
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			b.WriteString(sep + k + "=" + v)
		}
	}
	return b.String()
}

var schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// networkHost reports whether a URL's host names a machine (and so is no
// token): an IP address, localhost, or a name with a dot.
func networkHost(h string) bool {
	return h != "" && (net.ParseIP(h) != nil || h == "localhost" || strings.Contains(h, "."))
}

// secretsOf lists the parts of a notification URL that may be secret, for
// scrubbing messages: the user part, a long host unless it is a network
// address, each path segment, and the query's values (short ones only
// under a key that sounds secret: "yes" or "json" are no secrets, and
// scrubbing them would garble a message).
func secretsOf(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if u.User != nil {
		p, hasPass := u.User.Password()
		if name := u.User.Username(); !hasPass || len(name) >= 8 {
			// Before a password, a short name is a word (slack://hook:TOKEN,
			// smtp://user:PASS): scrubbing it would garble "webhook".
			out = append(out, pieces(name)...)
		}
		if hasPass {
			out = append(out, pieces(p)...)
		}
	}
	if h := u.Host; !networkHost(u.Hostname()) && len(h) >= 12 {
		// A token (discord://TOKEN@ID has it before, slack://hook:TOKEN@webhook
		// a word): short hosts such as telegram://...@telegram are words, and
		// scrubbing them would garble the message. A robot adds its token.
		out = append(out, h)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		out = append(out, seg)
	}
	for k, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 6 || secretKey(k) {
				out = append(out, v)
			}
		}
	}
	return out
}

// pieces is a secret and its long parts: a service may send a token in
// another shape than its URL has it (slack://hook:T0-B0-X@webhook goes out
// as https://hooks.slack.com/services/T0/B0/X), and an error that quotes
// the request's URL must not leak it part by part.
func pieces(sec string) []string {
	out := []string{sec}
	for _, p := range strings.FieldsFunc(sec, func(r rune) bool { return strings.ContainsRune("-:/.,;", r) }) {
		if len(p) >= 8 && p != sec {
			out = append(out, p)
		}
	}
	return out
}

// urlRe finds the http(s) URLs in an error message.
var urlRe = regexp.MustCompile(`https?://[^\s"'<>]+`)

// scrubURLs redacts every http(s) URL in an error message (as Redact does:
// the host stays, path and query values become ***): a library quotes the
// request it sent, token in its path, in a shape tarsup cannot foresee.
func scrubURLs(s string) string {
	return urlRe.ReplaceAllStringFunc(s, Redact)
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"secret", "token", "pass", "key", "auth", "sign"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// scrub replaces every secret in s, as is and as it appears escaped in a
// URL, by ***. Secrets of fewer than 3 characters are left (they would
// garble the message and protect nothing).
func scrub(s string, secrets []string) string {
	s = scrubURLs(s)
	var all []string
	for _, sec := range secrets {
		for _, v := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			if len(v) >= 3 {
				all = append(all, v)
			}
		}
	}
	// Longest first: a URL before the token inside it.
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, v := range all {
		s = strings.ReplaceAll(s, v, hidden)
	}
	return s
}
