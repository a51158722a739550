package window

import (
	"fmt"
	"strings"
	"time"
)

// Set is the windows an operator gave (--window, repeatable): an instant is
// inside the set when it is inside any of them. An empty Set has no windows
// at all: no limit.
type Set []Window

// ParseAll parses each spec; the error names the spec that does not parse.
func ParseAll(specs []string) (Set, error) {
	var s Set
	for _, spec := range specs {
		w, err := Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", spec, err)
		}
		s = append(s, w)
	}
	return s, nil
}

// State is what a Set says of one instant.
type State struct {
	// Open is true inside a window.
	Open bool
	// Closes is, when Open, the end of the window open now (of the windows
	// that overlap or follow one another without a gap, the last end).
	Closes time.Time
	// NextOpen is the next opening: after Closes when Open, else the first
	// one after the instant. It is in the zone of the window it belongs to.
	NextOpen time.Time
}

// chainLimit bounds how far overlapping windows are followed: a set that
// covers a whole week (daily 00:00-24:00) never closes.
const chainLimit = 8 * 24 * time.Hour

// At says whether t is inside the set, until when, and when the next window
// opens.
func (s Set) At(t time.Time) State {
	var st State
	for _, w := range s {
		if open, c := w.At(t); open && (!st.Open || c.After(st.Closes)) {
			st.Open, st.Closes = true, c
		}
	}
	if st.Open {
		st.Closes = s.chain(st.Closes, t.Add(chainLimit))
	}
	from := t
	if st.Open {
		from = st.Closes
	}
	for _, w := range s {
		if n := w.NextOpen(from); !n.IsZero() && (st.NextOpen.IsZero() || n.Before(st.NextOpen)) {
			st.NextOpen = n
		}
	}
	return st
}

// chain follows windows that are open at the instant another closes, up to
// limit, and returns the last close.
func (s Set) chain(closes, limit time.Time) time.Time {
	for closes.Before(limit) {
		next := closes
		for _, w := range s {
			if open, c := w.At(closes); open && c.After(next) {
				next = c
			}
		}
		if !next.After(closes) {
			return closes
		}
		closes = next
	}
	return closes
}

// Strings are the specs of the set, as given.
func (s Set) Strings() []string {
	out := make([]string, 0, len(s))
	for _, w := range s {
		out = append(out, w.String())
	}
	return out
}

// Zone names the zone of a time for a report: the IANA name when the
// time's location has one, else the zone's abbreviation ("UTC", "CST")
// for the machine's local zone.
func Zone(t time.Time) string {
	if name := t.Location().String(); name != "Local" && name != "" {
		return name
	}
	abbr, _ := t.Zone()
	return abbr
}

// CheckLocal says why the windows without a zone of their own cannot be
// read in the machine's local zone: the environment's TZ (tz, as set;
// empty when unset) names a zone Go cannot load ("Garbage", or a POSIX
// rule such as "CST-8", which the C library reads and Go does not), so the
// local zone silently fell back to UTC. local is the local zone
// (time.Local). Why an error and not UTC: a window meant for 02:00 Beijing
// time would open at 10:00 there. nil when every window names its zone.
func (s Set) CheckLocal(tz string, local *time.Location) error {
	name := strings.TrimPrefix(tz, ":")
	if name == "" || name == "UTC" || local.String() != "UTC" {
		return nil
	}
	for _, w := range s {
		if w.loc == local {
			return fmt.Errorf("%q: it names no zone, and TZ=%s is not a zone tarsup can read, so the window would follow UTC; "+
				"name the zone in the window (\"CRON_TZ=Asia/Shanghai %s\") or set TZ to an IANA name (TZ=Asia/Shanghai)", w.spec, tz, w.spec)
		}
	}
	return nil
}
