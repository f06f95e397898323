package retrieval

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTimeRefs(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []TimeRef
	}{
		{"Did the roof get fixed in June?", []TimeRef{{Month: time.June}}},
		{"Which quilt did she finish in March 2021?", []TimeRef{{Year: 2021, Month: time.March}}},
		{"What did the vet say on February 3, 2022?", []TimeRef{{Year: 2022, Month: time.February, Day: 3}}},
		{"the recital on 19 November, 2020 was long", []TimeRef{{Year: 2020, Month: time.November, Day: 19}}},
		{"How often did we go sailing in 2019?", []TimeRef{{Year: 2019}}},
		{"I may go, you may not", nil},
		{"We met on 2024-04-12 at noon", []TimeRef{{Year: 2024, Month: time.April, Day: 12}}},
		{"活动在2024年04月10日举行", []TimeRef{{Year: 2024, Month: time.April, Day: 10}}},
		{"4月份我在上海", []TimeRef{{Month: time.April}}},
		{"since Sept 3rd and again in March", []TimeRef{{Month: time.September, Day: 3}, {Month: time.March}}},
		{"nothing here", nil},
		{"in May and in May", []TimeRef{{Month: time.May}}},
	} {
		got := TimeRefs(tc.text)
		if tc.want == nil {
			require.Empty(t, got, tc.text)
			continue
		}
		require.Equal(t, tc.want, got, tc.text)
	}
}

func TestTimeRefContains(t *testing.T) {
	at := time.Date(2023, time.June, 9, 13, 0, 0, 0, time.UTC)
	require.True(t, TimeRef{Month: time.June}.Contains(at))
	require.True(t, TimeRef{Year: 2023}.Contains(at))
	require.True(t, TimeRef{Year: 2023, Month: time.June, Day: 9}.Contains(at))
	require.False(t, TimeRef{Year: 2023, Month: time.June, Day: 10}.Contains(at))
	require.False(t, TimeRef{Year: 2022, Month: time.June}.Contains(at))
	require.False(t, TimeRef{Month: time.July}.Contains(at))
}

func FuzzTimeRefs(f *testing.F) {
	for _, s := range []string{"in May 2023", "2024年4月1日", "2024-13-45", "May 99, 0000", "999 years ago", "九十九天前", "last weekend"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range TimeRefs(s) {
			require.True(t, r.Month >= 0 && r.Month <= 12 && r.Day >= 0 && r.Day <= 31, "%+v", r)
		}
		for _, r := range relativeRefs(s, time.Date(2025, 6, 12, 15, 0, 0, 0, time.UTC)) {
			require.True(t, r.From.Before(r.To), "%+v", r)
		}
	})
}

func TestTimeRefsRelative(t *testing.T) {
	// Thursday 12 June 2025, afternoon.
	now := time.Date(2025, time.June, 12, 15, 30, 0, 0, time.UTC)
	day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 0, 0, 0, 0, time.UTC) }
	rng := func(from, to time.Time) TimeRef { return TimeRef{From: from, To: to} }
	for _, tc := range []struct {
		text string
		want []TimeRef
	}{
		{"What did I cook yesterday?", []TimeRef{rng(day(6, 11), day(6, 12))}},
		{"the day before yesterday it rained", []TimeRef{rng(day(6, 10), day(6, 11))}},
		{"Who called last week?", []TimeRef{rng(day(6, 2), day(6, 9))}},
		{"anything new this week", nil},
		{"本周四晚上的聚会在哪里", nil},
		{"what did we plan last weekend", []TimeRef{rng(day(6, 7), day(6, 9))}},
		{"which film last month", []TimeRef{rng(day(5, 1), day(6, 1))}},
		{"three weeks ago I moved", []TimeRef{rng(day(5, 19), day(5, 26))}},
		{"2 days ago", []TimeRef{rng(day(6, 10), day(6, 11))}},
		{"last year in the spring", []TimeRef{rng(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{"上周我们聊了什么？", []TimeRef{rng(day(6, 2), day(6, 9))}},
		{"我昨天买了什么", []TimeRef{rng(day(6, 11), day(6, 12))}},
		{"上个月去了哪里", []TimeRef{rng(day(5, 1), day(6, 1))}},
		{"三天前说的那本书", []TimeRef{rng(day(6, 9), day(6, 10))}},
		{"十二天前", []TimeRef{rng(day(5, 31), day(6, 1))}},
		{"去年和前年", []TimeRef{rng(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
			rng(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{"in June and yesterday", []TimeRef{{Month: time.June}, rng(day(6, 11), day(6, 12))}},
		{"nothing relative", nil},
	} {
		got := TimeRefsAt(tc.text, now)
		if tc.want == nil {
			require.Empty(t, got, tc.text)
			continue
		}
		require.Equal(t, tc.want, got, tc.text)
	}
	require.Empty(t, relativeRefs("yesterday", time.Time{}), "no reference time: nothing relative")
	r := rng(day(6, 2), day(6, 9))
	require.True(t, r.Contains(time.Date(2025, 6, 8, 23, 59, 0, 0, time.UTC)))
	require.False(t, r.Contains(day(6, 9)), "the range is half-open")
}
