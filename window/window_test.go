package window

import (
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestAt: inside or not, when the open window closes and when the next one
// opens, across midnight, day lists and ranges, zones and DST changes.
func TestAt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		specs  []string
		at     string // RFC 3339
		open   bool
		closes string // RFC 3339 (UTC), when open
		next   string // RFC 3339 (UTC)
	}{
		{"inside a weekly window", []string{"TZ=UTC Sat 02:00-05:00"}, "2025-06-07T03:00:00Z", true, "2025-06-07T05:00:00Z", "2025-06-14T02:00:00Z"},
		{"the opening minute is inside", []string{"TZ=UTC Sat 02:00-05:00"}, "2025-06-07T02:00:00Z", true, "2025-06-07T05:00:00Z", "2025-06-14T02:00:00Z"},
		{"the closing minute is outside", []string{"TZ=UTC Sat 02:00-05:00"}, "2025-06-07T05:00:00Z", false, "", "2025-06-14T02:00:00Z"},
		{"before it on its day", []string{"TZ=UTC Sat 02:00-05:00"}, "2025-06-07T01:59:59Z", false, "", "2025-06-07T02:00:00Z"},
		{"on another day", []string{"TZ=UTC Sat 02:00-05:00"}, "2025-06-04T03:00:00Z", false, "", "2025-06-07T02:00:00Z"},
		{"a range skips the weekend", []string{"TZ=UTC Mon-Fri 01:00-03:00"}, "2025-06-07T02:00:00Z", false, "", "2025-06-09T01:00:00Z"},
		{"a wrapping range", []string{"TZ=UTC Fri-Mon 01:00-03:00"}, "2025-06-08T02:00:00Z", true, "2025-06-08T03:00:00Z", "2025-06-09T01:00:00Z"},
		{"a wrapping range leaves out midweek", []string{"TZ=UTC Fri-Mon 01:00-03:00"}, "2025-06-10T02:00:00Z", false, "", "2025-06-13T01:00:00Z"},
		{"a list", []string{"TZ=UTC Sat,Sun 02:00-05:00"}, "2025-06-08T04:00:00Z", true, "2025-06-08T05:00:00Z", "2025-06-14T02:00:00Z"},
		{"full day names, any case", []string{"TZ=UTC saturday,SUNDAY 02:00-05:00"}, "2025-06-08T04:00:00Z", true, "2025-06-08T05:00:00Z", "2025-06-14T02:00:00Z"},
		{"across midnight, after midnight", []string{"TZ=UTC daily 23:00-01:00"}, "2025-06-08T00:30:00Z", true, "2025-06-08T01:00:00Z", "2025-06-08T23:00:00Z"},
		{"across midnight, before midnight", []string{"TZ=UTC daily 23:00-01:00"}, "2025-06-07T23:30:00Z", true, "2025-06-08T01:00:00Z", "2025-06-08T23:00:00Z"},
		{"across midnight, closed at its end", []string{"TZ=UTC daily 23:00-01:00"}, "2025-06-08T01:00:00Z", false, "", "2025-06-08T23:00:00Z"},
		{"across midnight, the day is the opening's", []string{"TZ=UTC Fri 23:00-01:00"}, "2025-06-07T00:30:00Z", true, "2025-06-07T01:00:00Z", "2025-06-13T23:00:00Z"},
		{"across midnight, not the day after another day", []string{"TZ=UTC Fri 23:00-01:00"}, "2025-06-06T00:30:00Z", false, "", "2025-06-06T23:00:00Z"},
		{"across a month's end", []string{"TZ=UTC daily 22:00-02:00"}, "2025-06-30T23:00:00Z", true, "2025-07-01T02:00:00Z", "2025-07-01T22:00:00Z"},
		{"24:00 ends at midnight", []string{"TZ=UTC Sat 22:00-24:00"}, "2025-06-07T23:59:00Z", true, "2025-06-08T00:00:00Z", "2025-06-14T22:00:00Z"},
		{"a zone", []string{"CRON_TZ=Asia/Shanghai daily 02:00-04:00"}, "2025-01-01T19:00:00Z", true, "2025-01-01T20:00:00Z", "2025-01-02T18:00:00Z"},
		{"a zone, outside", []string{"CRON_TZ=Asia/Shanghai daily 02:00-04:00"}, "2025-01-01T12:00:00Z", false, "", "2025-01-01T18:00:00Z"},
		{"windows that follow one another close at the last end", []string{"TZ=UTC daily 01:00-03:00", "TZ=UTC daily 03:00-05:00"}, "2025-06-07T02:00:00Z", true, "2025-06-07T05:00:00Z", "2025-06-08T01:00:00Z"},
		{"overlapping windows", []string{"TZ=UTC daily 01:00-04:00", "TZ=UTC Sat 03:00-06:00"}, "2025-06-07T02:00:00Z", true, "2025-06-07T06:00:00Z", "2025-06-08T01:00:00Z"},
		{"the nearest of several openings", []string{"TZ=UTC Sun 01:00-02:00", "CRON_TZ=Asia/Shanghai Sat 12:00-13:00"}, "2025-06-07T00:00:00Z", false, "", "2025-06-07T04:00:00Z"},
		{"a week-long chain never closes within the limit", []string{"TZ=UTC daily 00:00-24:00"}, "2025-06-07T02:00:00Z", true, "2025-06-16T00:00:00Z", "2025-06-16T00:00:00Z"},

		// New York springs forward on 2025-03-09 at 02:00 EST (07:00Z) to 03:00 EDT.
		{"DST: an opening in the skipped hour opens at the jump", []string{"CRON_TZ=America/New_York Sun 02:30-04:00"}, "2025-03-09T06:59:00Z", false, "", "2025-03-09T07:00:00Z"},
		{"DST: after the jump, the close is the new clock's", []string{"CRON_TZ=America/New_York Sun 02:30-04:00"}, "2025-03-09T07:10:00Z", true, "2025-03-09T08:00:00Z", "2025-03-16T06:30:00Z"},
		{"DST: a window across the jump is an hour shorter", []string{"CRON_TZ=America/New_York daily 01:00-05:00"}, "2025-03-09T08:30:00Z", true, "2025-03-09T09:00:00Z", "2025-03-10T05:00:00Z"},
		// New York falls back on 2025-11-02 at 02:00 EDT (06:00Z) to 01:00 EST.
		{"DST: an opening in the repeated hour is its first pass", []string{"CRON_TZ=America/New_York daily 01:30-03:00"}, "2025-11-02T05:00:00Z", false, "", "2025-11-02T05:30:00Z"},
		{"DST: inside during the repeated hour's second pass", []string{"CRON_TZ=America/New_York daily 01:30-03:00"}, "2025-11-02T06:45:00Z", true, "2025-11-02T08:00:00Z", "2025-11-03T06:30:00Z"},
		{"DST: a close in the repeated hour is its first pass", []string{"CRON_TZ=America/New_York daily 00:00-01:30"}, "2025-11-02T06:10:00Z", false, "", "2025-11-03T05:00:00Z"},
		// Berlin springs forward on 2025-03-30 at 02:00 CET (01:00Z).
		{"DST: across midnight and the jump", []string{"CRON_TZ=Europe/Berlin Sat 23:00-04:00"}, "2025-03-30T01:30:00Z", true, "2025-03-30T02:00:00Z", "2025-04-05T21:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseAll(tc.specs)
			if err != nil {
				t.Fatal(err)
			}
			st := s.At(utc(tc.at))
			var closes string
			if st.Open {
				closes = st.Closes.UTC().Format(time.RFC3339)
			}
			if st.Open != tc.open || closes != tc.closes || st.NextOpen.UTC().Format(time.RFC3339) != tc.next {
				t.Errorf("At(%s) = open %v, closes %q, next %s; want open %v, closes %q, next %s",
					tc.at, st.Open, closes, st.NextOpen.UTC().Format(time.RFC3339), tc.open, tc.closes, tc.next)
			}
		})
	}
}

// TestNextOpenZone: the next opening is given in its window's zone.
func TestNextOpenZone(t *testing.T) {
	s, err := ParseAll([]string{"CRON_TZ=Asia/Shanghai daily 02:00-04:00"})
	if err != nil {
		t.Fatal(err)
	}
	next := s.At(utc("2025-01-01T12:00:00Z")).NextOpen
	if got := next.Format(time.RFC3339); got != "2025-01-02T02:00:00+08:00" || Zone(next) != "Asia/Shanghai" {
		t.Errorf("next opening %s (%s), want 2025-01-02T02:00:00+08:00 (Asia/Shanghai)", got, Zone(next))
	}
}

// TestLocalByDefault: without a zone, the machine's local zone.
func TestLocalByDefault(t *testing.T) {
	w, err := Parse("daily 02:00-04:00")
	if err != nil {
		t.Fatal(err)
	}
	if w.Location() != time.Local {
		t.Errorf("zone %v, want the local zone", w.Location())
	}
	day := time.Date(2025, 6, 7, 3, 0, 0, 0, time.Local)
	if open, _ := w.At(day); !open {
		t.Errorf("03:00 local is not inside daily 02:00-04:00")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "empty window"},
		{"   ", "empty window"},
		{"Sat 25:00-26:00", `"25:00" is not a time of day`},
		{"Funday 01:00-02:00", `"Funday" is not a day`},
		{"Mon-Funday 01:00-02:00", `"Funday" is not a day`},
		{"Sat, 01:00-02:00", `"" is not a day`},
		{"CRON_TZ=Nowhere/Land daily 01:00-02:00", `unknown time zone "Nowhere/Land"`},
		{"TZ= daily 01:00-02:00", "empty time zone"},
		{"daily 02:00-02:00", "starts and ends at the same time"},
		{"daily 00:00-00:00", "starts and ends at the same time"},
		{"daily 24:00-01:00", `"24:00" is not a time of day`},
		{"daily 01:00-24:30", `"24:30" is not a time of day`},
		{"daily 01:60-02:00", `"01:60" is not a time of day`},
		{"daily 1:0-02:00", `"1:0" is not a time of day`},
		{"daily +1:00-02:00", `"+1:00" is not a time of day`},
		{"daily 01:00", "is not a span of time"},
		{"daily 01:00-02:00-03:00", "is not a time of day"},
		{"Sat", "want [CRON_TZ=Zone] DAYS HH:MM-HH:MM"},
		{"02:00-05:00", "want [CRON_TZ=Zone] DAYS HH:MM-HH:MM"},
		{"Sat 01:00-02:00 extra", "want [CRON_TZ=Zone] DAYS HH:MM-HH:MM"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Parse(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.spec, err, tc.want)
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	for _, spec := range []string{"Sat 02:00-05:00", "Mon-Fri 01:00-03:00", "daily 01:00-03:00", "Sat,Sun 02:00-05:00",
		"daily 23:00-01:00", "CRON_TZ=Asia/Shanghai daily 02:00-04:00", "TZ=UTC Sat 2:00-5:00", "Mon,Wed-Fri 00:00-24:00", "DAILY 23:00-00:00"} {
		w, err := Parse(spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", spec, err)
			continue
		}
		if w.String() != spec {
			t.Errorf("String() = %q, want %q", w.String(), spec)
		}
	}
}

// TestEmptySet: no windows, no state to speak of; ParseAll of nothing is
// the empty set.
func TestEmptySet(t *testing.T) {
	s, err := ParseAll(nil)
	if err != nil || len(s) != 0 {
		t.Fatalf("ParseAll(nil) = %v, %v", s, err)
	}
	if st := s.At(utc("2025-06-07T03:00:00Z")); st.Open || !st.NextOpen.IsZero() {
		t.Errorf("the empty set's state %+v, want closed with no next opening (callers check len first)", st)
	}
}

func TestZone(t *testing.T) {
	if z := Zone(time.Date(2025, 1, 1, 0, 0, 0, 0, mustLoad(t, "Europe/Berlin"))); z != "Europe/Berlin" {
		t.Errorf("Zone = %q, want Europe/Berlin", z)
	}
	if z := Zone(time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("XYZ", 3600))); z != "XYZ" {
		t.Errorf("Zone of a fixed zone = %q, want XYZ", z)
	}
}

// TestCheckLocal: a window without a zone is refused when the
// environment's TZ is a zone Go cannot read (the local zone fell back to
// UTC, hours away from the one meant); with TZ unset, empty, UTC or a
// readable zone, or when every window names its zone, it is fine.
func TestCheckLocal(t *testing.T) {
	fallback, _ := time.LoadLocation("UTC") // named as Go's time.Local is after a TZ it cannot read
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	parseIn := func(loc *time.Location, specs ...string) Set {
		s, err := ParseAll(specs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range s {
			if s[i].loc == time.Local {
				s[i].loc = loc
			}
		}
		return s
	}
	for _, c := range []struct {
		tz    string
		local *time.Location
		specs []string
		bad   string
	}{
		{"CST-8", fallback, []string{"Sat 02:00-05:00"}, `"Sat 02:00-05:00": it names no zone, and TZ=CST-8 is not a zone tarsup can read, so the window would follow UTC; name the zone in the window ("CRON_TZ=Asia/Shanghai Sat 02:00-05:00") or set TZ to an IANA name (TZ=Asia/Shanghai)`},
		{"Garbage/Zone", fallback, []string{"CRON_TZ=Asia/Shanghai daily 01:00-02:00", "daily 03:00-04:00"}, `"daily 03:00-04:00": it names no zone`},
		{"Garbage/Zone", fallback, []string{"CRON_TZ=Asia/Shanghai daily 01:00-02:00"}, ""},
		{"", fallback, []string{"daily 01:00-02:00"}, ""},
		{"UTC", fallback, []string{"daily 01:00-02:00"}, ""},
		{":UTC", fallback, []string{"daily 01:00-02:00"}, ""},
		{"Asia/Shanghai", shanghai, []string{"daily 01:00-02:00"}, ""},
	} {
		err := parseIn(c.local, c.specs...).CheckLocal(c.tz, c.local)
		if (c.bad == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), c.bad)) {
			t.Errorf("TZ=%q %q: %v, want %q", c.tz, c.specs, err, c.bad)
		}
	}
}
