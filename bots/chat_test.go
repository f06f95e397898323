package bots_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/bots/llm/llmtest"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
	"github.com/longmem/longmem/retrieval/embeddedindex"
)

type rig struct {
	store    memory.Store
	bots     *embeddedbots.Store
	chat     *bots.Chat
	backend  *llmtest.Server
	backends *bots.Backends
	appends  atomic.Int32
}

var sharedTok retrieval.Tokenizer

func newRig(t *testing.T, handle llmtest.Handler, cfg llm.Config) *rig {
	t.Helper()
	if sharedTok == nil {
		tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
		require.NoError(t, err)
		sharedTok = tok
	}
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	ix := retrieval.NewIndexer(st, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), sharedTok, nil)
	bs, err := embeddedbots.Open(embeddedbots.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { bs.Close() })
	r := &rig{store: st, bots: bs}
	r.backend = llmtest.New(t, handle)
	cfg.BaseURL = r.backend.URL
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = -1
	}
	be, err := bots.NewBackends(cfg, nil)
	require.NoError(t, err)
	r.backends = be
	r.chat, err = bots.NewChat(bots.ChatConfig{}, bots.ChatDeps{
		Store: st, Bots: r.bots, Assembler: retrieval.NewAssembler(retrieval.AssemblerConfig{SummaryCoverShare: 1}, st, ix, sharedTok),
		Tokenizer: sharedTok, Backends: be, OnAppend: func(string, string, int64) { r.appends.Add(1) },
	})
	require.NoError(t, err)
	return r
}

var aria = bots.Bot{ID: "aria", Name: "Aria", Description: "{{char}} is a cheerful botanist who helps {{user}} with plants.",
	Personality: "warm, curious", FirstMessage: "Hello {{user}}, I am {{char}}!",
	Model: bots.ModelConfig{Model: "hunyuan-a13b", ContextWindow: 4096, MaxOutputTokens: 256}}

// put stores b as a new bot or as the next version of it.
func (r *rig) put(t *testing.T, b bots.Bot) bots.Bot {
	t.Helper()
	ctx := context.Background()
	if _, err := r.bots.Get(ctx, "", b.ID); err == nil {
		b, err = r.bots.Update(ctx, "", b, 0, "test")
		require.NoError(t, err)
		return b
	}
	b, err := r.bots.Create(ctx, "", b, "test")
	require.NoError(t, err)
	return b
}

func (r *rig) conversation(t *testing.T, id, botID string, version int) {
	t.Helper()
	_, err := r.store.CreateConversation(context.Background(), memory.Conversation{ID: id, BotID: botID, BotVersion: version})
	require.NoError(t, err)
}

func (r *rig) turns(t *testing.T, id string) []memory.Turn {
	t.Helper()
	ts, err := r.store.Turns(context.Background(), "", id, 0, 0)
	require.NoError(t, err)
	return ts
}

func send(content, key string) bots.ChatRequest {
	return bots.ChatRequest{ConversationID: "c", Message: retrieval.Message{Role: "user", Name: "Alice", Content: content}, IdempotencyKey: key}
}

var usage = llmtest.Usage{PromptTokens: 120, CompletionTokens: 7, TotalTokens: 127}

func TestChatPlainReplyStored(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Water it ", "twice a week."), llm.Config{})
	r.put(t, aria)
	r.conversation(t, "c", "aria", 0)

	res, err := r.chat.Send(context.Background(), send("How often should I water my fern?", "k1"))
	require.NoError(t, err)
	require.False(t, res.Replayed)
	require.Equal(t, int64(1), res.UserTurn.Seq)
	require.Equal(t, memory.RoleUser, res.UserTurn.Role)
	require.Equal(t, "Alice", res.UserTurn.Name)
	require.Equal(t, int64(2), res.Reply.Seq)
	require.Equal(t, memory.RoleAssistant, res.Reply.Role)
	require.Equal(t, "Aria", res.Reply.Name)
	require.Equal(t, "Water it twice a week.", res.Reply.Content)
	require.Positive(t, res.Reply.Tokens)
	require.Equal(t, llm.Usage{PromptTokens: 120, CompletionTokens: 7, TotalTokens: 127}, res.Usage)
	require.Equal(t, "stop", res.FinishReason)
	require.NotNil(t, res.Report)
	require.Equal(t, 4096-256, res.Report.BudgetTokens, "budget: the context window less the max output")
	require.EqualValues(t, 2, r.appends.Load())

	// Stored with its metadata.
	turns := r.turns(t, "c")
	require.Len(t, turns, 2)
	md := turns[1].Metadata
	require.EqualValues(t, 1, md["reply_to"])
	require.Equal(t, "stop", md["finish_reason"])
	require.Equal(t, "test-model", md["model"])
	require.Equal(t, "aria", md["bot_id"])
	require.Equal(t, map[string]any{"prompt_tokens": float64(120), "completion_tokens": float64(7), "total_tokens": float64(127)}, md["usage"])

	// What the backend got: the bot's model, the conversation as user,
	// the persona first, the message last and once.
	reqs := r.backend.Requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	require.Equal(t, "hunyuan-a13b", got.Model)
	require.Equal(t, "c", got.User, "the conversation id goes as the OpenAI user field")
	require.EqualValues(t, 256, got.Raw["max_tokens"])
	require.False(t, got.Stream)
	require.Equal(t, "system", got.Messages[0].Role)
	require.Contains(t, got.Messages[0].Content, "Aria is a cheerful botanist who helps Alice with plants.")
	require.Contains(t, got.Messages[0].Content, "Personality:\nwarm, curious")
	last := got.Messages[len(got.Messages)-1]
	require.Equal(t, "How often should I water my fern?", last.Content)
	n := 0
	for _, m := range got.Messages {
		n += strings.Count(m.Content, "water my fern")
	}
	require.Equal(t, 1, n, "the stored user turn is not sent twice")
}

func TestChatStreams(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Hel", "lo ", "there"), llm.Config{})
	r.conversation(t, "c", "", 0) // no bot: server defaults, no persona
	var deltas []string
	started := false
	req := send("hi", "")
	req.OnStart = func(u memory.Turn) error {
		require.Equal(t, int64(1), u.Seq, "the user turn is stored before the backend is asked")
		started = true
		return nil
	}
	req.OnDelta = func(s string) error {
		require.True(t, started)
		deltas = append(deltas, s)
		return nil
	}
	res, err := r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, []string{"Hel", "lo ", "there"}, deltas)
	require.Equal(t, "Hello there", res.Reply.Content)
	require.Equal(t, "", res.Reply.Name)
	require.Equal(t, 127, res.Usage.TotalTokens)
	got := r.backend.Requests()[0]
	require.True(t, got.Stream)
	require.Equal(t, "user", got.Messages[0].Role, "no bot, no persona")
	require.EqualValues(t, bots.DefaultMaxOutputTokens, got.Raw["max_tokens"])
}

// failing answers 500 to the first `fail` calls, then replies.
func failing(fail int) llmtest.Handler {
	return func(w http.ResponseWriter, r *http.Request, req llmtest.Request, n int) {
		if n <= fail {
			llmtest.WriteError(w, http.StatusInternalServerError, "model overloaded")
			return
		}
		llmtest.Reply(usage, "Sorry, ", "I'm back.")(w, r, req, n)
	}
}

func TestChatBackendFailureKeepsUserTurnAndRetryGenerates(t *testing.T) {
	r := newRig(t, failing(1), llm.Config{})
	r.put(t, aria)
	r.conversation(t, "c", "aria", 0)

	_, err := r.chat.Send(context.Background(), send("Are you there?", "k1"))
	require.ErrorIs(t, err, llm.ErrBackend)
	var bf *bots.BackendFailure
	require.ErrorAs(t, err, &bf)
	require.Equal(t, int64(1), bf.UserTurn.Seq)
	require.Contains(t, err.Error(), r.backend.URL, "the error names the backend")
	require.Contains(t, err.Error(), "model overloaded")
	require.Len(t, r.turns(t, "c"), 1, "the user turn stays stored")

	res, err := r.chat.Send(context.Background(), send("Are you there?", "k1"))
	require.NoError(t, err)
	require.False(t, res.Replayed)
	require.Equal(t, int64(1), res.UserTurn.Seq, "the retry does not store the user turn again")
	require.Equal(t, "Sorry, I'm back.", res.Reply.Content)
	turns := r.turns(t, "c")
	require.Len(t, turns, 2)
	require.Equal(t, memory.RoleUser, turns[0].Role)
	require.Equal(t, memory.RoleAssistant, turns[1].Role)
	require.Equal(t, 2, r.backend.Calls())
	n := 0
	for _, m := range r.backend.Requests()[1].Messages {
		n += strings.Count(m.Content, "Are you there?")
	}
	require.Equal(t, 1, n, "the retry's context has the stored message once")

	// The same key with another message is a conflict and stores nothing.
	_, err = r.chat.Send(context.Background(), send("something else", "k1"))
	require.ErrorIs(t, err, memory.ErrConflict)
	require.Len(t, r.turns(t, "c"), 2)
}

func TestChatRetryAfterSuccessReplaysWithoutBackend(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Ferns like shade."), llm.Config{})
	r.put(t, aria)
	r.conversation(t, "c", "aria", 0)
	first, err := r.chat.Send(context.Background(), send("Where do ferns grow?", "k1"))
	require.NoError(t, err)
	require.Equal(t, 1, r.backend.Calls())

	for _, stream := range []bool{false, true} {
		req := send("Where do ferns grow?", "k1")
		var deltas []string
		if stream {
			req.OnDelta = func(s string) error { deltas = append(deltas, s); return nil }
		}
		again, err := r.chat.Send(context.Background(), req)
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Equal(t, first.Reply, again.Reply)
		require.Equal(t, first.UserTurn.Seq, again.UserTurn.Seq)
		require.Equal(t, first.Usage, again.Usage)
		require.Nil(t, again.Report)
		if stream {
			require.Equal(t, []string{"Ferns like shade."}, deltas)
		}
	}
	require.Equal(t, 1, r.backend.Calls(), "no backend call for a stored reply")
	require.Len(t, r.turns(t, "c"), 2)

	// Without a key, the same message is a new turn.
	_, err = r.chat.Send(context.Background(), send("Where do ferns grow?", ""))
	require.NoError(t, err)
	require.Len(t, r.turns(t, "c"), 4)
}

func TestChatSlowBackendTimesOut(t *testing.T) {
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, req *http.Request, _ llmtest.Request, _ int) {
		r.backend.Hang(req)
	}, llm.Config{Timeout: 100 * time.Millisecond})
	r.conversation(t, "c", "", 0)
	_, err := r.chat.Send(context.Background(), send("hello?", "k"))
	require.ErrorIs(t, err, llm.ErrTimeout)
	require.False(t, errors.Is(err, llm.ErrBackend))
	require.Len(t, r.turns(t, "c"), 1)
}

func TestChatBrokenStreamKeepsUserTurn(t *testing.T) {
	r := newRig(t, func(w http.ResponseWriter, _ *http.Request, _ llmtest.Request, _ int) {
		llmtest.StartStream(w)
		llmtest.WriteChunk(w, "Once upon")
		// The connection ends without a finish_reason or [DONE].
	}, llm.Config{MaxRetries: 3})
	r.conversation(t, "c", "", 0)
	var deltas []string
	req := send("tell me a story", "k")
	req.OnDelta = func(s string) error { deltas = append(deltas, s); return nil }
	_, err := r.chat.Send(context.Background(), req)
	require.ErrorIs(t, err, llm.ErrBackend)
	require.Equal(t, []string{"Once upon"}, deltas)
	require.Equal(t, 1, r.backend.Calls(), "no retry after the first token")
	turns := r.turns(t, "c")
	require.Len(t, turns, 1, "the user turn stays; no partial reply is stored")
	require.Equal(t, memory.RoleUser, turns[0].Role)
}

func TestChatPersonaPrefixStable(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Sure."), llm.Config{})
	r.put(t, aria)
	r.conversation(t, "c", "aria", 0)
	for _, q := range []string{"What is a fern?", "And a moss?", "Which one needs more light?"} {
		_, err := r.chat.Send(context.Background(), send(q, ""))
		require.NoError(t, err)
	}
	reqs := r.backend.Requests()
	require.Len(t, reqs, 3)
	// The first chat has no history: its system message is the persona
	// alone. Every later one starts with it, byte for byte.
	persona := reqs[0].Messages[0].Content
	require.Contains(t, persona, "cheerful botanist")
	for _, rq := range reqs[1:] {
		require.Equal(t, "system", rq.Messages[0].Role)
		require.True(t, strings.HasPrefix(rq.Messages[0].Content, persona), "the persona part is byte-identical")
	}
}

// {{user}} is fixed per conversation: its metadata user_name, else the
// name of its first user turn; later messages with other names (or none)
// leave the persona — the cached prefix — byte for byte the same.
func TestChatUserFixedPerConversation(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "Sure."), llm.Config{})
	r.put(t, aria)
	ctx := context.Background()
	for _, tc := range []struct {
		id    string
		meta  map[string]any
		names []string
		want  string
	}{
		{"first-turn", nil, []string{"Ines", "Bram", "", "Ines"}, "helps Ines with plants"},
		{"created-with", map[string]any{bots.UserNameKey: "Noor"}, []string{"Bram", "Ines"}, "helps Noor with plants"},
		{"nameless", nil, []string{"", "Bram"}, "helps User with plants"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, err := r.store.CreateConversation(ctx, memory.Conversation{ID: tc.id, BotID: "aria", Metadata: tc.meta})
			require.NoError(t, err)
			start := len(r.backend.Requests())
			for i, n := range tc.names {
				req := send(fmt.Sprintf("question %d about moss", i), "")
				req.ConversationID, req.Message.Name = tc.id, n
				_, err := r.chat.Send(ctx, req)
				require.NoError(t, err)
			}
			reqs := r.backend.Requests()[start:]
			persona := reqs[0].Messages[0].Content
			require.Contains(t, persona, tc.want)
			for _, rq := range reqs[1:] {
				require.True(t, strings.HasPrefix(rq.Messages[0].Content, persona), "the persona part is byte-identical: %q", rq.Messages[0].Content)
			}
		})
	}
}

func TestChatPinnedVersion(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	r.put(t, aria)
	v2 := aria
	v2.Description = "{{char}} is now a grumpy astronomer."
	r.put(t, v2)
	r.conversation(t, "c", "aria", 1)
	r.conversation(t, "latest", "aria", 0)

	_, err := r.chat.Send(context.Background(), send("hi", ""))
	require.NoError(t, err)
	req := send("hi", "")
	req.ConversationID = "latest"
	_, err = r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	reqs := r.backend.Requests()
	require.Contains(t, reqs[0].Messages[0].Content, "botanist", "pinned to version 1")
	require.Contains(t, reqs[1].Messages[0].Content, "astronomer", "follows the latest")

	r.conversation(t, "gone", "aria", 7)
	req.ConversationID = "gone"
	_, err = r.chat.Send(context.Background(), req)
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.Contains(t, err.Error(), `version 7 of bot "aria"`)
	require.Empty(t, r.turns(t, "gone"), "nothing stored")
}

func TestChatRejects(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	r.conversation(t, "c", "nobody", 0)
	r.conversation(t, "plain", "", 0)
	for _, tc := range []struct {
		name string
		req  bots.ChatRequest
		is   error
		text string
	}{
		{"empty", bots.ChatRequest{ConversationID: "plain", Message: retrieval.Message{Content: " "}}, memory.ErrInvalid, "message.content"},
		{"role", bots.ChatRequest{ConversationID: "plain", Message: retrieval.Message{Role: "assistant", Content: "x"}}, memory.ErrInvalid, "message.role"},
		{"budget", bots.ChatRequest{ConversationID: "plain", Message: retrieval.Message{Content: "x"}, BudgetTokens: -1}, memory.ErrInvalid, "budget_tokens"},
		{"budget too small", bots.ChatRequest{ConversationID: "plain", Message: retrieval.Message{Content: "a message longer than its budget"}, BudgetTokens: 5}, memory.ErrInvalid, "budget_tokens"},
		{"no conversation", bots.ChatRequest{ConversationID: "none", Message: retrieval.Message{Content: "x"}}, memory.ErrNotFound, `conversation "none" not found`},
		{"no bot", bots.ChatRequest{ConversationID: "c", Message: retrieval.Message{Content: "x"}}, memory.ErrNotFound, `bot "nobody" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.chat.Send(context.Background(), tc.req)
			require.ErrorIs(t, err, tc.is)
			require.Contains(t, err.Error(), tc.text)
		})
	}
	require.Empty(t, r.turns(t, "c"))
	require.Empty(t, r.turns(t, "plain"))
	require.Zero(t, r.backend.Calls())
}

func TestChatNoBackend(t *testing.T) {
	st, err := embedded.Open(embedded.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	defer st.Close()
	be, err := bots.NewBackends(llm.Config{}, nil)
	require.NoError(t, err)
	idx, err := embeddedindex.New(embeddedindex.Config{})
	require.NoError(t, err)
	tok, err := retrieval.NewTokenizer(retrieval.TokenizerConfig{})
	require.NoError(t, err)
	ix := retrieval.NewIndexer(st, idx, retrieval.NewAnalyzer(retrieval.AnalyzerConfig{}), tok, nil)
	chat, err := bots.NewChat(bots.ChatConfig{}, bots.ChatDeps{Store: st, Assembler: retrieval.NewAssembler(retrieval.AssemblerConfig{}, st, ix, tok),
		Tokenizer: tok, Backends: be})
	require.NoError(t, err)
	_, err = st.CreateConversation(context.Background(), memory.Conversation{ID: "c"})
	require.NoError(t, err)
	_, err = chat.Send(context.Background(), send("hi", ""))
	require.ErrorIs(t, err, bots.ErrNoBackend)
	turns, err := st.Turns(context.Background(), "", "c", 0, 0)
	require.NoError(t, err)
	require.Empty(t, turns, "nothing stored without a backend")
}

func TestGreet(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	b := r.put(t, aria)
	r.conversation(t, "c", "aria", 0)
	conv, err := r.store.GetConversation(context.Background(), "", "c")
	require.NoError(t, err)
	for range 2 {
		turn, err := r.chat.Greet(context.Background(), conv, &b)
		require.NoError(t, err)
		require.Equal(t, "Hello User, I am Aria!", turn.Content)
		require.Equal(t, int64(1), turn.Seq, "greeted once")
	}
	turns := r.turns(t, "c")
	require.Len(t, turns, 1)
	require.Equal(t, memory.RoleAssistant, turns[0].Role)
	require.Equal(t, "Aria", turns[0].Name)

	// {{user}} is the conversation's user_id when it has one, as in the
	// prompts of its chats.
	_, err = r.store.CreateConversation(context.Background(), memory.Conversation{ID: "sam", BotID: "aria", UserID: "Sam"})
	require.NoError(t, err)
	samConv, err := r.store.GetConversation(context.Background(), "", "sam")
	require.NoError(t, err)
	turn, err := r.chat.Greet(context.Background(), samConv, &b)
	require.NoError(t, err)
	require.Equal(t, "Hello Sam, I am Aria!", turn.Content)
	req := send("hi", "")
	req.ConversationID, req.Message.Name = "sam", ""
	_, err = r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	require.Contains(t, r.backend.Requests()[0].Messages[0].Content, "helps Sam with plants", "the persona's {{user}} too")
	req.Message.Name = "Samuel"
	_, err = r.chat.Send(context.Background(), req)
	require.NoError(t, err)
	require.Contains(t, r.backend.Requests()[1].Messages[0].Content, "helps Sam with plants", "the conversation's user, not the message's name: the prefix stays")

	quiet := aria
	quiet.FirstMessage = ""
	turn, err = r.chat.Greet(context.Background(), conv, &quiet)
	require.NoError(t, err)
	require.Nil(t, turn)
}

func TestChatLoreAndPostHistory(t *testing.T) {
	r := newRig(t, llmtest.Reply(usage, "ok"), llm.Config{})
	b := aria
	b.PostHistoryInstructions = "Answer {{user}} in one sentence."
	b.Lorebook = &bots.Lorebook{Entries: []bots.LoreEntry{
		{ID: 1, Constant: true, Enabled: true, Content: "The greenhouse is on Kestrel Island."},
		{ID: 2, Keys: []string{"orchid"}, Enabled: true, Content: "{{char}} grows a rare ghost orchid."},
	}}
	r.put(t, b)
	r.conversation(t, "c", "aria", 0)
	for _, q := range []string{"Good morning!", "How is the orchid?"} {
		res, err := r.chat.Send(context.Background(), send(q, ""))
		require.NoError(t, err)
		require.NotNil(t, res.Report)
	}
	reqs := r.backend.Requests()
	first, second := reqs[0].Messages, reqs[1].Messages
	require.Contains(t, first[0].Content, "Kestrel Island", "constant lore is in every prompt")
	all := func(msgs []llmtest.Message) string {
		var b strings.Builder
		for _, m := range msgs {
			b.WriteString(m.Content + "\n")
		}
		return b.String()
	}
	require.NotContains(t, all(first), "ghost orchid")
	require.Contains(t, all(second), "Aria grows a rare ghost orchid.", "a key in the message triggers its entry")
	require.NotContains(t, second[0].Content, "ghost orchid", "triggered lore is not in the stable prefix")
	for _, msgs := range [][]llmtest.Message{first, second} {
		post := msgs[len(msgs)-2]
		require.Equal(t, "system", post.Role)
		require.Equal(t, "Answer Alice in one sentence.", post.Content)
	}
	// Persona and constant lore form the stable prefix.
	prefix := first[0].Content
	if i := strings.Index(prefix, "Kestrel Island."); i >= 0 {
		prefix = prefix[:i+len("Kestrel Island.")]
	}
	require.True(t, strings.HasPrefix(second[0].Content, prefix))
	require.Equal(t, first[0], second[0], "the first message is the same from one reply to the next")
}

// TestChatConcurrentRetriesStoreOneReply: two attempts with the same key
// in flight at once both reach the backend, but only one reply is stored
// and both return it.
func TestChatConcurrentRetriesStoreOneReply(t *testing.T) {
	arrived := make(chan struct{}, 2)
	both := make(chan struct{})
	var r *rig
	r = newRig(t, func(w http.ResponseWriter, req *http.Request, lr llmtest.Request, n int) {
		arrived <- struct{}{}
		select {
		case <-both:
		case <-r.backend.Release:
			return
		}
		llmtest.Reply(usage, fmt.Sprintf("answer %d", n))(w, req, lr, n)
	}, llm.Config{})
	r.conversation(t, "c", "", 0)
	go func() {
		<-arrived
		<-arrived
		close(both)
	}()
	results := make(chan bots.ChatResult, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			res, err := r.chat.Send(context.Background(), send("hello twice", "same-key"))
			results <- res
			errs <- err
		}()
	}
	a, b := <-results, <-results
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	require.Equal(t, a.Reply.Seq, b.Reply.Seq)
	require.Equal(t, a.Reply.Content, b.Reply.Content)
	require.Equal(t, a.UserTurn.Seq, b.UserTurn.Seq)
	require.Len(t, r.turns(t, "c"), 2, "one user turn, one reply")
}
