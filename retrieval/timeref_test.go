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
		{"When did Melanie go camping in June?", []TimeRef{{Month: time.June}}},
		{"What did they paint in their latest project in July 2023?", []TimeRef{{Year: 2023, Month: time.July}}},
		{"What painting did Melanie show on October 13, 2023?", []TimeRef{{Year: 2023, Month: time.October, Day: 13}}},
		{"the talk on 8 May, 2023 went well", []TimeRef{{Year: 2023, Month: time.May, Day: 8}}},
		{"How many times has she gone to the beach in 2023?", []TimeRef{{Year: 2023}}},
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
	for _, s := range []string{"in May 2023", "2024年4月1日", "2024-13-45", "May 99, 0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range TimeRefs(s) {
			require.True(t, r.Month >= 0 && r.Month <= 12 && r.Day >= 0 && r.Day <= 31, "%+v", r)
		}
	})
}
