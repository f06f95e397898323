package retrieval

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSessionStarts(t *testing.T) {
	const min, hour, day = 60, 3600, 86400
	for _, tc := range []struct {
		name string
		at   []int64 // times of seqs 1..n
		want []int64
	}{
		{"empty", nil, nil},
		{"one turn", []int64{0}, []int64{1}},
		{"a chat with a long pause", []int64{0, 30, 60, 90, 2 * hour, 2*hour + 40}, []int64{1, 5}},
		{"a short pause is no boundary", []int64{0, 30, 60, 20 * min, 20*min + 30}, []int64{1}},
		{"time going back starts a session", []int64{5 * day, 5*day + 60, 1 * day, 1*day + 60}, []int64{1, 3}},
		// Turns twice a day: the pace is half a day, so a night is no
		// boundary but a fortnight away is.
		{"slow diary", []int64{0, 12 * hour, 24 * hour, 36 * hour, 50 * day, 50*day + 12*hour}, []int64{1, 5}},
		// Sittings whose turns share one time (imported sessions).
		{"same-time sittings", []int64{0, 0, 0, 3 * day, 3 * day, 9 * day}, []int64{1, 4, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seqs := make([]int64, len(tc.at))
			for i := range seqs {
				seqs[i] = int64(i + 1)
			}
			require.Equal(t, tc.want, SessionStarts(seqs, tc.at))
		})
	}
}

func TestSessionOf(t *testing.T) {
	starts := []int64{1, 10, 20}
	for seq, want := range map[int64]int{1: 0, 9: 0, 10: 1, 19: 1, 20: 2, 500: 2} {
		require.Equal(t, want, sessionOf(starts, seq), "seq %d", seq)
	}
	require.Equal(t, -1, sessionOf([]int64{5}, 2))
}

func TestSessionScores(t *testing.T) {
	starts := []int64{1, 10, 20}
	for _, tc := range []struct {
		name string
		hits []Hit // best first
		want map[int]float64
	}{
		{"none", nil, nil},
		{"one strong hit", []Hit{{Seq: 12, Score: 4}, {Seq: 3, Score: 2}}, map[int]float64{1: 1, 0: 0.5}},
		// Three hits of 2 in session 0: 0.5 + 0.25 + 0.125; one of 4 in
		// session 1: 1. Many matches help; they do not outweigh one
		// strong match by their number alone.
		{"many weak hits decay", []Hit{{Seq: 11, Score: 4}, {Seq: 1, Score: 2}, {Seq: 2, Score: 2}, {Seq: 3, Score: 2}},
			map[int]float64{1: 1, 0: 0.875}},
		{"two hits of the best session", []Hit{{Seq: 20, Score: 4}, {Seq: 21, Score: 4}, {Seq: 1, Score: 4}},
			map[int]float64{2: 1.5, 0: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SessionScores(tc.hits, starts)
			require.Len(t, got, len(tc.want))
			for k, v := range tc.want {
				require.InDelta(t, v, got[k], 1e-9, "session %d", k)
			}
		})
	}
}
