package retrieval

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Relative periods. "What did I cook yesterday?", "上周我们聊了什么？": a
// message may name a past period relative to when it is written. They
// resolve against now (the assembler uses the newest turn's time: the
// message is written after it) into half-open ranges of days in UTC; weeks
// start on Monday. Only past periods count: "this week", "今天", "本周四"
// more often date what is planned ("the party this Thursday") than when it
// was said, and today's turns are in the recent window anyway.

var (
	reEnAgo = regexp.MustCompile(`(?i)\b(\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten)\s+(day|week|month|year)s?\s+ago\b`)
	reEnRel = regexp.MustCompile(`(?i)\b(yesterday|the day before yesterday|(?:last|past|previous)\s+(?:week|weekend|month|year))\b`)
	reZhAgo = regexp.MustCompile(`(\d{1,3}|[一二两三四五六七八九十]{1,2})\s*(天|个?星期|周|个月|年)(?:以|之)?前`)
	reZhRel = regexp.MustCompile(`昨天|前天|上上周|上周|上个?星期|上个?礼拜|上个?月|去年|前年`)
)

// relativeRefs returns the periods text names relative to now, in order of
// appearance, duplicates removed.
func relativeRefs(text string, now time.Time) []TimeRef {
	if now.IsZero() {
		return nil
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	weekStart := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	yearStart := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	span := func(from time.Time, years, months, days int) TimeRef {
		return TimeRef{From: from, To: from.AddDate(years, months, days)}
	}
	// unit returns the period n units back: the day, week, month or year
	// that held now minus n units.
	unit := func(u string, n int) TimeRef {
		switch u {
		case "day":
			return span(today.AddDate(0, 0, -n), 0, 0, 1)
		case "week":
			return span(weekStart.AddDate(0, 0, -7*n), 0, 0, 7)
		case "month":
			return span(monthStart.AddDate(0, -n, 0), 0, 1, 0)
		default:
			return span(yearStart.AddDate(-n, 0, 0), 1, 0, 0)
		}
	}
	type found struct {
		at  int
		ref TimeRef
	}
	var all []found
	for _, m := range reEnAgo.FindAllStringSubmatchIndex(text, -1) {
		n := smallNumber(strings.ToLower(text[m[2]:m[3]]))
		all = append(all, found{m[0], unit(strings.ToLower(text[m[4]:m[5]]), n)})
	}
	for _, m := range reEnRel.FindAllStringIndex(text, -1) {
		f := strings.Fields(strings.ToLower(text[m[0]:m[1]]))
		var r TimeRef
		switch {
		case f[0] == "yesterday":
			r = unit("day", 1)
		case len(f) == 4: // the day before yesterday
			r = unit("day", 2)
		case f[1] == "weekend":
			r = span(weekStart.AddDate(0, 0, -2), 0, 0, 2)
		default:
			r = unit(f[1], 1)
		}
		all = append(all, found{m[0], r})
	}
	for _, m := range reZhAgo.FindAllStringSubmatchIndex(text, -1) {
		n := smallNumber(text[m[2]:m[3]])
		u := map[string]string{"天": "day", "星期": "week", "个星期": "week", "周": "week", "个月": "month", "年": "year"}[text[m[4]:m[5]]]
		all = append(all, found{m[0], unit(u, n)})
	}
	for _, m := range reZhRel.FindAllStringIndex(text, -1) {
		w := text[m[0]:m[1]]
		var r TimeRef
		switch {
		case w == "昨天":
			r = unit("day", 1)
		case w == "前天":
			r = unit("day", 2)
		case w == "上上周":
			r = unit("week", 2)
		case strings.HasSuffix(w, "月"):
			r = unit("month", 1)
		case w == "去年":
			r = unit("year", 1)
		case w == "前年":
			r = unit("year", 2)
		default: // 上周, 上(个)星期, 上(个)礼拜
			r = unit("week", 1)
		}
		all = append(all, found{m[0], r})
	}
	// In order of appearance (stable for equal offsets), duplicates removed.
	var out []TimeRef
	for len(all) > 0 {
		k := 0
		for i := range all {
			if all[i].at < all[k].at {
				k = i
			}
		}
		if r := all[k].ref; !containsRef(out, r) {
			out = append(out, r)
		}
		all = append(all[:k], all[k+1:]...)
	}
	return out
}

func containsRef(refs []TimeRef, r TimeRef) bool {
	for _, o := range refs {
		if o == r {
			return true
		}
	}
	return false
}

// smallNumber reads 1-999 in digits, an English number word up to ten, or
// a Chinese numeral up to 99; 1 when it cannot.
func smallNumber(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if n := strings.Index(" one two three four five six seven eight nine ten ", " "+s+" "); n >= 0 {
		return len(strings.Fields(" one two three four five six seven eight nine ten "[:n+1])) + 1
	}
	digits := map[rune]int{'一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9}
	n, tens := 0, false
	for _, r := range s {
		if r == '十' {
			n, tens = max(n, 1)*10, true
			continue
		}
		d, ok := digits[r]
		if !ok {
			return 1
		}
		if tens {
			n += d
		} else {
			n = n*10 + d
		}
	}
	return max(n, 1)
}
