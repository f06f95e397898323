package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/memory"
)

// BenchmarkHTTPAppend measures durable single-turn appends over real HTTP
// (loopback, keep-alive) into the embedded store, from 16 concurrent
// clients, each appending to its own conversation.
func BenchmarkHTTPAppend(b *testing.B) {
	const clients = 16
	e := newEnv(b, Config{})
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	defer client.CloseIdleConnections()

	var next atomic.Int64
	body := []byte(`{"turns":[{"role":"user","content":"I walked the dog along the river this morning and it started to rain."}]}`)
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := fmt.Sprintf("bench-%d", next.Add(1))
		if _, err := e.store.CreateConversation(b.Context(), memory.Conversation{ID: id}); err != nil {
			b.Error(err)
			return
		}
		url := ts.URL + "/v1/conversations/" + id + "/turns"
		for pb.Next() {
			resp, err := client.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
	require.Positive(b, b.N)
}
