package compaction

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// relativeDate matches the English relative time expressions that
// resolveDates can pin to a date.
var relativeDate = regexp.MustCompile(`(?i)\b(yesterday|today|tonight|tomorrow|` +
	`(?:last|this|next) (?:night|week|weekend|month|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|` +
	`(?:a|one|two|three|four|five|six|2|3|4|5|6) (?:days?|weeks?) ago|` +
	`(?:a )?(?:few|couple of) (?:days|weeks) ago)\b`)

var smallNumbers = map[string]int{"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}

// resolveDates follows every relative time expression of text said at at
// with its absolute date in parentheses: "yesterday" → "yesterday (7 May
// 2023)", "last week" → "last week (the week before 8 May 2023)", "last
// year" → "last year (2022)". Times are read in UTC, as the dates of the
// summaries are. English only; other text is returned unchanged.
func resolveDates(text string, at time.Time) string {
	if at.IsZero() {
		return text
	}
	day := at.UTC()
	return relativeDate.ReplaceAllStringFunc(text, func(m string) string {
		if abs := resolveOne(strings.ToLower(m), day); abs != "" {
			return m + " (" + abs + ")"
		}
		return m
	})
}

func resolveOne(expr string, d time.Time) string {
	fields := strings.Fields(expr)
	switch expr {
	case "yesterday", "last night":
		return dateOf(d.AddDate(0, 0, -1))
	case "today", "tonight":
		return dateOf(d)
	case "tomorrow":
		return dateOf(d.AddDate(0, 0, 1))
	case "last week":
		return "the week before " + dateOf(d)
	case "this week":
		return "the week of " + dateOf(d)
	case "next week":
		return "the week after " + dateOf(d)
	case "last weekend":
		return "the weekend before " + dateOf(d)
	case "this weekend", "next weekend":
		return "the weekend after " + dateOf(d)
	case "last month":
		return d.AddDate(0, 0, -d.Day()).Format("January 2006")
	case "this month":
		return d.Format("January 2006")
	case "next month":
		return time.Date(d.Year(), d.Month()+1, 1, 0, 0, 0, 0, time.UTC).Format("January 2006")
	case "last year":
		return strconv.Itoa(d.Year() - 1)
	case "this year":
		return strconv.Itoa(d.Year())
	case "next year":
		return strconv.Itoa(d.Year() + 1)
	}
	if len(fields) == 2 {
		if wd, ok := weekdayOf(fields[1]); ok {
			switch fields[0] {
			case "last":
				back := (int(d.Weekday())-int(wd)+6)%7 + 1 // 1..7 days before
				return dateOf(d.AddDate(0, 0, -back))
			case "next", "this":
				ahead := (int(wd)-int(d.Weekday())+6)%7 + 1 // 1..7 days after
				return dateOf(d.AddDate(0, 0, ahead))
			}
		}
	}
	if strings.HasSuffix(expr, " ago") {
		unit := fields[len(fields)-2]
		if n, ok := smallNumbers[fields[0]]; ok && len(fields) == 3 {
			if strings.HasPrefix(unit, "day") {
				return dateOf(d.AddDate(0, 0, -n))
			}
			return "the week of " + dateOf(d.AddDate(0, 0, -7*n))
		}
		if n, err := strconv.Atoi(fields[0]); err == nil && len(fields) == 3 {
			if strings.HasPrefix(unit, "day") {
				return dateOf(d.AddDate(0, 0, -n))
			}
			return "the week of " + dateOf(d.AddDate(0, 0, -7*n))
		}
		return fmt.Sprintf("a few %s before %s", unit, dateOf(d))
	}
	return ""
}

func weekdayOf(s string) (time.Weekday, bool) {
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		if strings.EqualFold(wd.String(), s) {
			return wd, true
		}
	}
	return 0, false
}
