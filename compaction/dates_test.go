package compaction

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolveDates(t *testing.T) {
	monday := time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC) // a Monday
	tests := []struct{ in, want string }{
		{"I joined a community choir yesterday.", "I joined a community choir yesterday (7 May 2023)."},
		{"Today was long. Tomorrow too!", "Today (8 May 2023) was long. Tomorrow (9 May 2023) too!"},
		{"We talked last night.", "We talked last night (7 May 2023)."},
		{"I ran a charity race last week.", "I ran a charity race last week (the week before 8 May 2023)."},
		{"I painted it last year.", "I painted it last year (2022)."},
		{"We move next month.", "We move next month (June 2023)."},
		{"It was last month.", "It was last month (April 2023)."},
		{"I saw her last Sunday.", "I saw her last Sunday (7 May 2023)."},
		{"Call me last Monday.", "Call me last Monday (1 May 2023)."},
		{"Let's meet next Friday.", "Let's meet next Friday (12 May 2023)."},
		{"It happened 3 days ago.", "It happened 3 days ago (5 May 2023)."},
		{"It happened two weeks ago.", "It happened two weeks ago (the week of 24 April 2023)."},
		{"A few days ago I quit.", "A few days ago (a few days before 8 May 2023) I quit."},
		{"Nothing relative here, Yesterdays.", "Nothing relative here, Yesterdays."},
		{"我昨天去了公园。", "我昨天去了公园。"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, resolveDates(tc.in, monday), tc.in)
	}
	require.Equal(t, "yesterday", resolveDates("yesterday", time.Time{}), "no date, no change")
	dec := time.Date(2023, 12, 30, 0, 0, 0, 0, time.UTC)
	require.Equal(t, "next month (January 2024)", resolveDates("next month", dec))
}
