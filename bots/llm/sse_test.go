package llm

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func readEvents(t *testing.T, in string) []sseEvent {
	t.Helper()
	r := newSSEReader(strings.NewReader(in))
	var out []sseEvent
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, ev)
	}
}

func TestSSEReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []sseEvent
	}{
		{name: "events", in: "data: {\"a\":1}\n\ndata: [DONE]\n\n",
			want: []sseEvent{{Data: `{"a":1}`}, {Data: "[DONE]"}}},
		{name: "CRLF", in: "data: x\r\n\r\ndata: y\r\n\r\n",
			want: []sseEvent{{Data: "x"}, {Data: "y"}}},
		{name: "comments and unknown fields", in: ": ping\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n: ping\n\n",
			want: []sseEvent{{Data: "x"}}},
		{name: "multi-line data", in: "data: {\"a\":\ndata: 1}\n\n",
			want: []sseEvent{{Data: "{\"a\":\n1}"}}},
		{name: "no space after colon", in: "data:x\n\ndata:  y\n\n",
			want: []sseEvent{{Data: "x"}, {Data: " y"}}},
		{name: "event name", in: "event: error\ndata: {}\n\ndata: z\n\n",
			want: []sseEvent{{Event: "error", Data: "{}"}, {Data: "z"}}},
		{name: "event without data is dropped", in: "event: ping\n\ndata: z\n\n",
			want: []sseEvent{{Data: "z"}}},
		{name: "empty data line", in: "data\n\n",
			want: []sseEvent{{Data: ""}}},
		{name: "last event without blank line", in: "data: x\n\ndata: [DONE]\n",
			want: []sseEvent{{Data: "x"}, {Data: "[DONE]"}}},
		{name: "last line without newline", in: "data: [DONE]",
			want: []sseEvent{{Data: "[DONE]"}}},
		{name: "empty", in: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, readEvents(t, tc.in))
		})
	}
}

func TestSSELineTooLong(t *testing.T) {
	r := newSSEReader(strings.NewReader("data: " + strings.Repeat("x", maxSSELine) + "\n\n"))
	_, err := r.Next()
	require.ErrorIs(t, err, errLineTooLong)
}

func TestDecodeStreamWithoutBlankLines(t *testing.T) {
	// Some servers write one "data:" line per chunk without the blank line.
	in := "data: " + delta("a") + "\ndata: " + delta("b") + "\ndata: " + finishChunk + "\ndata: [DONE]\n"
	var res streamResult
	var col collector
	require.NoError(t, decodeStream(strings.NewReader(in), &res, nil, col.onDelta))
	require.Equal(t, []string{"a", "b"}, col.deltas)
	require.Equal(t, "stop", res.finish)
	require.True(t, res.done)
}

func TestDecodeStreamIncomplete(t *testing.T) {
	var res streamResult
	err := decodeStream(strings.NewReader("data: "+delta("a")+"\n\n"), &res, nil, nil)
	require.ErrorIs(t, err, errIncomplete)
	require.Equal(t, "a", res.content.String())
}

func FuzzParseSSE(f *testing.F) {
	for _, seed := range []string{
		"data: " + roleChunk + "\n\ndata: " + delta("Hi") + "\n\ndata: " + finishChunk + "\n\ndata: " + usageChunk + "\n\ndata: [DONE]\n\n",
		"data: " + delta("a") + "\r\n\r\n: ping\r\n\r\ndata: [DONE]",
		"event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n",
		"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\ndata: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"y\"}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":null},\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n",
		"data: null\n\ndata: []\n\ndata: \"x\"\n\n",
		"data: {\"error\":\"x\"}\n\n",
		"data:\ndata:\n\n\n\n:\n",
		"data: " + delta("\u4f60\u597d") + "\n\ndata: [DONE]\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The event reader alone: terminates, never panics, and returns no
		// more events than there are lines.
		r := newSSEReader(strings.NewReader(string(in)))
		events := 0
		for {
			_, err := r.Next()
			if err != nil {
				break
			}
			events++
			if events > len(in)+1 {
				t.Fatalf("%d events from %d bytes", events, len(in))
			}
		}

		// The whole decoder: never panics; the deltas it hands out are the
		// content it accumulates; nil only for a whole reply.
		var res streamResult
		var deltas strings.Builder
		firsts := 0
		err := decodeStream(strings.NewReader(string(in)), &res, func() { firsts++ }, func(s string) error {
			if s == "" {
				t.Fatal("empty delta")
			}
			deltas.WriteString(s)
			return nil
		})
		if deltas.String() != res.content.String() {
			t.Fatalf("deltas %q != content %q", deltas.String(), res.content.String())
		}
		if firsts > 1 {
			t.Fatalf("onFirst called %d times", firsts)
		}
		if res.content.Len() > 0 && firsts != 1 {
			t.Fatal("content without a first token")
		}
		if err == nil && !res.complete() {
			t.Fatal("nil error for an incomplete stream")
		}
	})
}
