package retrieval

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TimeRef is a period a message names: a year, a month (of a year, or of
// any year when Year is 0), or a day.
type TimeRef struct {
	Year  int        // 0: any year
	Month time.Month // 0: the whole year
	Day   int        // 0: the whole month
	// From and To, when set, are a range [From, To) instead (a period
	// named relative to now: "last week", "上个月").
	From, To time.Time
}

// Contains reports whether t (UTC) falls in the period.
func (r TimeRef) Contains(t time.Time) bool {
	if !r.From.IsZero() {
		return !t.Before(r.From) && t.Before(r.To)
	}
	t = t.UTC()
	if r.Year != 0 && t.Year() != r.Year {
		return false
	}
	if r.Month != 0 && t.Month() != r.Month {
		return false
	}
	return r.Day == 0 || t.Day() == r.Day
}

var (
	// "8 May 2023", "May 8, 2023", "May 2023", "May 8", "May", "8 May".
	reMonthDate = regexp.MustCompile(`(?i)\b(?:(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?)?(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b\.?(?:\s+(\d{1,2})(?:st|nd|rd|th)?\b)?(?:,?\s+(\d{4})\b)?`)
	reYear      = regexp.MustCompile(`\b(19\d\d|20\d\d)\b`)
	reISODate   = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})\b`)
	// 2024年4月1日, 2024年04月, 4月1日, 4月, 2024年.
	reCJKDate = regexp.MustCompile(`(?:(\d{4})年)?(?:(\d{1,2})月)?(?:(\d{1,2})[日号])?`)
)

// monthByName maps an English month name or its abbreviation (at least
// three letters, as reMonthDate matches them) to its month.
func monthByName(name string) time.Month {
	name = strings.ToLower(name)
	for m := time.January; m <= time.December; m++ {
		if strings.HasPrefix(strings.ToLower(m.String()), name[:3]) {
			return m
		}
	}
	return 0
}

// TimeRefsAt is TimeRefs plus the periods text names relative to now
// ("yesterday", "three weeks ago", "上周", "去年"; see relativeRefs).
func TimeRefsAt(text string, now time.Time) []TimeRef {
	out := TimeRefs(text)
	for _, r := range relativeRefs(text, now) {
		if !containsRef(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// TimeRefs finds the periods text names. "May" alone is ambiguous in
// English (the verb), so a bare month name counts only with a preposition
// before it ("in May", "on May 8", "since May", "during May") or a day or
// year with it. Deterministic, in order of appearance, duplicates removed.
func TimeRefs(text string) []TimeRef {
	var out []TimeRef
	add := func(r TimeRef) {
		if r == (TimeRef{}) || r.Month > 12 || r.Day > 31 || r.Month < 0 || containsRef(out, r) {
			return
		}
		out = append(out, r)
	}
	covered := make([]bool, len(text)) // bytes already read as part of a date
	mark := func(a, b int) {
		for i := a; i < b; i++ {
			covered[i] = true
		}
	}
	for _, m := range reISODate.FindAllStringSubmatchIndex(text, -1) {
		y, _ := strconv.Atoi(text[m[2]:m[3]])
		mo, _ := strconv.Atoi(text[m[4]:m[5]])
		d, _ := strconv.Atoi(text[m[6]:m[7]])
		add(TimeRef{Year: y, Month: time.Month(mo), Day: d})
		mark(m[0], m[1])
	}
	for _, m := range reMonthDate.FindAllStringSubmatchIndex(text, -1) {
		if covered[m[0]] {
			continue
		}
		group := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return text[m[2*i]:m[2*i+1]]
		}
		month := monthByName(group(2))
		day, _ := strconv.Atoi(group(1))
		if day == 0 {
			day, _ = strconv.Atoi(group(3))
		}
		year, _ := strconv.Atoi(group(4))
		if day == 0 && year == 0 && !prepositionBefore(text[:m[0]]) {
			continue // "may" the verb
		}
		add(TimeRef{Year: year, Month: month, Day: day})
		mark(m[0], m[1])
	}
	for _, m := range reCJKDate.FindAllStringSubmatchIndex(text, -1) {
		if m[1] == m[0] || covered[m[0]] {
			continue
		}
		num := func(i int) int {
			if m[2*i] < 0 {
				return 0
			}
			n, _ := strconv.Atoi(text[m[2*i]:m[2*i+1]])
			return n
		}
		add(TimeRef{Year: num(1), Month: time.Month(num(2)), Day: num(3)})
		mark(m[0], m[1])
	}
	for _, m := range reYear.FindAllStringSubmatchIndex(text, -1) {
		if covered[m[0]] {
			continue
		}
		y, _ := strconv.Atoi(text[m[2]:m[3]])
		add(TimeRef{Year: y})
	}
	return out
}

func prepositionBefore(s string) bool {
	f := strings.Fields(strings.ToLower(s))
	if len(f) == 0 {
		return false
	}
	switch strings.Trim(f[len(f)-1], ",.") {
	case "in", "on", "since", "during", "until", "till", "by", "before", "after", "of", "from", "early", "late", "mid", "last", "this", "next":
		return true
	}
	return false
}
