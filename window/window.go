// Package window is tarsup's maintenance windows (--window): parsing a
// spec such as "Sat 02:00-05:00" or "CRON_TZ=Asia/Shanghai daily 23:00-01:00",
// and, for a given instant, whether it falls inside a window, when that
// window closes and when the next one opens. It is pure: no clock, no I/O;
// callers pass the instant.
//
// A window is the wall-clock span [start, end) in its zone on each of its
// days; the day is the day it opens on, so "Fri 23:00-01:00" closes at 01:00
// on Saturday. Each bound is the first instant the zone's clock reads that
// time: in an hour a DST change skips, the first instant after the jump
// (02:30 on a spring-forward night at 02:00 opens at 03:00); in an hour a
// DST change repeats, its first pass.
package window

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Why embedded zone data: tarsup's image is FROM scratch, and a window
	// may name a zone (CRON_TZ=Asia/Shanghai daily 02:00-04:00).
	_ "time/tzdata"
)

// minutesPerDay is 24:00, the latest end a window may have.
const minutesPerDay = 24 * 60

// Window is one maintenance window. The zero value is no window; use Parse.
type Window struct {
	days       [7]bool // by time.Weekday: the days the window opens on
	start, end int     // minutes after midnight; end <= start: it closes the next day
	loc        *time.Location
	spec       string
}

// Examples is what an error message offers as the forms a spec takes.
const Examples = `"Sat 02:00-05:00", "Mon-Fri 01:00-03:00", "Sat,Sun 02:00-05:00", "daily 23:00-01:00", "CRON_TZ=Asia/Shanghai daily 02:00-04:00"`

// Parse reads a window spec: an optional zone (CRON_TZ=Zone or TZ=Zone, an
// IANA name; the machine's local zone otherwise), the days ("daily", a day
// "Sat", a range "Mon-Fri" that may wrap "Fri-Mon", or a comma list of
// those "Sat,Sun"; names of three letters or in full, any case) and the
// times "HH:MM-HH:MM" (00:00 to 23:59; 24:00 may end a window; an end at or
// before the start closes the window the next day). Start and end must
// differ: a whole day is "00:00-24:00".
func Parse(spec string) (Window, error) {
	w := Window{loc: time.Local, spec: strings.TrimSpace(spec)}
	fields := strings.Fields(spec)
	if len(fields) == 0 {
		return Window{}, errors.New(`empty window: give one, e.g. "Sat 02:00-05:00", or drop the flag`)
	}
	if zone, ok := zoneOf(fields[0]); ok {
		loc, err := loadZone(zone)
		if err != nil {
			return Window{}, err
		}
		w.loc = loc
		fields = fields[1:]
	}
	if len(fields) != 2 {
		return Window{}, fmt.Errorf("want [CRON_TZ=Zone] DAYS HH:MM-HH:MM, e.g. %s; got %d word(s) after the zone", Examples, len(fields))
	}
	var err error
	if w.days, err = parseDays(fields[0]); err != nil {
		return Window{}, err
	}
	if w.start, w.end, err = parseTimes(fields[1]); err != nil {
		return Window{}, err
	}
	return w, nil
}

// zoneOf returns the zone of a "CRON_TZ=Zone" or "TZ=Zone" word.
func zoneOf(word string) (string, bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if z, ok := strings.CutPrefix(word, p); ok {
			return z, true
		}
	}
	return "", false
}

func loadZone(zone string) (*time.Location, error) {
	if zone == "" {
		return nil, errors.New("empty time zone after CRON_TZ= (name one, e.g. CRON_TZ=Asia/Shanghai, or drop it for the local zone)")
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC)", zone)
	}
	return loc, nil
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseDay(s string) (time.Weekday, error) {
	d, ok := dayNames[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("%q is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun, or daily)", s)
	}
	return d, nil
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	if strings.EqualFold(s, "daily") {
		for i := range days {
			days[i] = true
		}
		return days, nil
	}
	for _, item := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(item, "-")
		first, err := parseDay(from)
		if err != nil {
			return days, err
		}
		last := first
		if isRange {
			if last, err = parseDay(to); err != nil {
				return days, err
			}
		}
		for d := first; ; d = (d + 1) % 7 {
			days[d] = true
			if d == last {
				break
			}
		}
	}
	return days, nil
}

func parseTimes(s string) (start, end int, err error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a span of time (use HH:MM-HH:MM, e.g. 02:00-05:00)", s)
	}
	if start, err = parseClock(from, false); err != nil {
		return 0, 0, err
	}
	if end, err = parseClock(to, true); err != nil {
		return 0, 0, err
	}
	if start == end {
		return 0, 0, fmt.Errorf("%s starts and ends at the same time (a whole day is 00:00-24:00)", s)
	}
	return start, end, nil
}

// parseClock reads HH:MM as minutes after midnight; 24:00 only as an end.
func parseClock(s string, isEnd bool) (int, error) {
	bad := fmt.Errorf("%q is not a time of day (use HH:MM, 00:00 to 23:59; 24:00 may end a window)", s)
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || strings.ContainsAny(s, "+ ") {
		return 0, bad
	}
	t := h*60 + m
	if t > minutesPerDay || (t == minutesPerDay && !isEnd) || (h == 24 && m != 0) {
		return 0, bad
	}
	return t, nil
}

// String is the spec the window was parsed from.
func (w Window) String() string { return w.spec }

// Location is the zone the window's clock times are in.
func (w Window) Location() *time.Location { return w.loc }

// occurrence is the opening and closing of the window that opens on the
// calendar day y-m-d of its zone.
func (w Window) occurrence(y int, m time.Month, d int) (open, closes time.Time) {
	open = firstAt(w.loc, y, m, d, w.start)
	if w.end > w.start {
		return open, firstAt(w.loc, y, m, d, w.end)
	}
	return open, firstAt(w.loc, y, m, d+1, w.end)
}

// At reports whether t is inside the window and, if so, when this opening
// of it closes.
func (w Window) At(t time.Time) (open bool, closes time.Time) {
	lt := t.In(w.loc)
	for _, off := range []int{-1, 0} {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+off, 12, 0, 0, 0, w.loc)
		if !w.days[day.Weekday()] {
			continue
		}
		o, c := w.occurrence(day.Year(), day.Month(), day.Day())
		if !t.Before(o) && t.Before(c) {
			return true, c
		}
	}
	return false, time.Time{}
}

// NextOpen is the first opening of the window at or after t (in its zone).
func (w Window) NextOpen(t time.Time) time.Time {
	lt := t.In(w.loc)
	for off := -1; off <= 8; off++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+off, 12, 0, 0, 0, w.loc)
		if !w.days[day.Weekday()] {
			continue
		}
		if o, _ := w.occurrence(day.Year(), day.Month(), day.Day()); !o.Before(t) {
			return o
		}
	}
	return time.Time{} // unreachable: a parsed window opens at least once a week
}

// firstAt is the first instant at which loc's clock reads minute (after
// midnight, up to 24*60) on y-m-d, or, when a DST jump skips that time, the
// instant of the jump.
func firstAt(loc *time.Location, y int, m time.Month, d, minute int) time.Time {
	naive := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Add(time.Duration(minute) * time.Minute)
	// Why the offsets a day either side: a zone changes its offset at most
	// once in a day around a DST change, so the time sought has one of them.
	var found, below time.Time
	for _, probe := range []time.Time{naive.Add(-24 * time.Hour), naive.Add(24 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		u := naive.Add(-time.Duration(off) * time.Second)
		wall := u.In(loc)
		got := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, time.UTC)
		switch {
		case got.Equal(naive):
			if found.IsZero() || u.Before(found) {
				found = u
			}
		case got.Before(naive):
			below = u
		}
	}
	if !found.IsZero() {
		return found.In(loc)
	}
	if !below.IsZero() {
		// In a skipped hour: the clock jumps over the time at the end of
		// the zone in effect just before it.
		_, end := below.In(loc).ZoneBounds()
		if !end.IsZero() {
			return end.In(loc)
		}
	}
	return time.Date(y, m, d, 0, minute, 0, 0, loc)
}
