package bots

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/memory"
	"github.com/longmem/longmem/retrieval"
)

// Defaults of ChatConfig.
const (
	// DefaultContextWindow (8192) is declared with the bot limits.
	DefaultMaxOutputTokens = 512
	// DefaultReplyLookback is how many turns after a user turn are read to
	// find the reply a retried request already got.
	DefaultReplyLookback = 64
)

// BotSource reads bots; the bots store implements it. Errors for a missing
// bot or version unwrap to memory.ErrNotFound.
type BotSource interface {
	// Get returns the latest version of bot id.
	Get(ctx context.Context, tenant, id string) (Bot, error)
	// GetVersion returns version v of bot id.
	GetVersion(ctx context.Context, tenant, id string, v int) (Bot, error)
}

// BotLister is the optional ability of a BotSource to list a tenant's bots
// (latest versions, ascending by id), for GET /v1/models and for naming a
// bot by name; Store implements it.
type BotLister interface {
	List(ctx context.Context, opts ListOptions) ([]Bot, error)
}

// Assembler builds the context of a reply; *retrieval.Assembler implements
// it.
type Assembler interface {
	Assemble(ctx context.Context, req retrieval.Request) (retrieval.Context, error)
}

// ChatConfig configures the chat loop. The zero value works.
type ChatConfig struct {
	// DefaultContextWindow and DefaultMaxOutputTokens stand in for a bot's
	// model.context_window and model.max_output_tokens when zero (and for
	// conversations without a bot), in tokens (defaults 8192 and 512).
	DefaultContextWindow   int `yaml:"default_context_window" json:"default_context_window,omitempty"`
	DefaultMaxOutputTokens int `yaml:"default_max_output_tokens" json:"default_max_output_tokens,omitempty"`
	// ReplyLookback is how many turns after a retried request's user turn
	// are searched for the reply it already got (default 64).
	ReplyLookback int `yaml:"reply_lookback" json:"reply_lookback,omitempty"`
	// AllowedBackends are the base URLs a bot's model.backend may name
	// besides the server's own backend (none by default: a bot designer
	// cannot make the server call an arbitrary address).
	AllowedBackends []string `yaml:"allowed_backends" json:"allowed_backends,omitempty"`
}

// Validate reports a configuration that cannot work.
func (c ChatConfig) Validate() error {
	if c.DefaultContextWindow < 0 || c.DefaultMaxOutputTokens < 0 || c.ReplyLookback < 0 {
		return errors.New("bots: chat default_context_window, default_max_output_tokens and reply_lookback must be >= 0")
	}
	for _, u := range c.AllowedBackends {
		if err := (llm.Config{BaseURL: u}).Validate(); err != nil {
			return fmt.Errorf("bots: chat allowed_backends: %w", err)
		}
	}
	w, o := c.withDefaults().DefaultContextWindow, c.withDefaults().DefaultMaxOutputTokens
	if o >= w {
		return fmt.Errorf("bots: chat default_max_output_tokens (%d) must be less than default_context_window (%d)", o, w)
	}
	return nil
}

// WithDefaults is c with every zero field set to its default: the
// configuration in effect.
func (c ChatConfig) WithDefaults() ChatConfig { return c.withDefaults() }

func (c ChatConfig) withDefaults() ChatConfig {
	if c.DefaultContextWindow == 0 {
		c.DefaultContextWindow = DefaultContextWindow
	}
	if c.DefaultMaxOutputTokens == 0 {
		c.DefaultMaxOutputTokens = DefaultMaxOutputTokens
	}
	if c.ReplyLookback == 0 {
		c.ReplyLookback = DefaultReplyLookback
	}
	return c
}

// ChatDeps are what the chat loop works with. Store, Assembler, Tokenizer
// and Backends are required.
type ChatDeps struct {
	Store memory.Store
	// Bots reads bots; nil means no bots: every conversation is chatted
	// with through the server's backend without a persona.
	Bots      BotSource
	Assembler Assembler
	// Tokenizer counts each stored turn's content tokens.
	Tokenizer retrieval.Tokenizer
	Backends  BackendSource
	// OnAppend, when set, is called after every append with the
	// conversation's new last seq (the API notifies the indexer and the
	// compaction worker). It must not block.
	OnAppend func(tenant, conversationID string, lastSeq int64)
	// Clock stamps the turns; nil means time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Chat is the chat loop: store the user's message, assemble the context,
// ask the backend, store the reply. Safe for concurrent use; it holds no
// lock while the backend answers.
type Chat struct {
	cfg  ChatConfig
	deps ChatDeps
}

// NewChat wires the chat loop. It starts nothing.
func NewChat(cfg ChatConfig, deps ChatDeps) (*Chat, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Assembler == nil || deps.Tokenizer == nil || deps.Backends == nil {
		return nil, errors.New("bots: ChatDeps.Store, Assembler, Tokenizer and Backends are required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Chat{cfg: cfg.withDefaults(), deps: deps}, nil
}

// ChatRequest is one user message to answer.
type ChatRequest struct {
	Tenant         string
	ConversationID string
	// Message is the user's new message: Role "user" (or empty), Name
	// optional, Content not empty.
	Message retrieval.Message
	// BudgetTokens of the context; 0 means the bot's memory.budget_tokens,
	// else its context window minus its max output tokens.
	BudgetTokens int
	// IdempotencyKey makes a retry safe: the user turn is stored once,
	// and a reply already stored for it is returned without asking the
	// backend again.
	IdempotencyKey string
	// OnStart, when set, is called once the user turn is stored, just
	// before the backend is asked (or the stored reply is replayed); an
	// error from it ends the chat. The API starts its event stream there.
	OnStart func(user memory.Turn) error
	// OnDelta, when set, streams the reply: it gets each piece of content
	// in order (a replayed reply comes as one piece).
	OnDelta func(content string) error
}

// ChatResult is an answered message.
type ChatResult struct {
	Reply    memory.Turn
	UserTurn memory.Turn
	// Usage is the backend's token count of the reply.
	Usage llm.Usage
	// Report is the context's report; nil when the reply was replayed.
	Report *retrieval.Report
	// Model that answered, and the backend's finish reason.
	Model        string
	FinishReason string
	// Replayed: the reply was stored by an earlier attempt with the same
	// idempotency key; the backend was not asked.
	Replayed bool
}

// BackendFailure is the error of a chat whose backend failed after the
// user turn was stored. It unwraps to the *llm.BackendError (and so to
// llm.ErrBackend or llm.ErrTimeout).
type BackendFailure struct {
	UserTurn memory.Turn
	// IdempotencyKey is the request's ("" when it sent none).
	IdempotencyKey string
	Err            error
}

// Error says what a client can do: retry with its key, which stores
// nothing twice; without one, a retry stores the message again.
func (e *BackendFailure) Error() string {
	if e.IdempotencyKey != "" {
		return fmt.Sprintf("%v (the user turn is stored as seq %d; retry with the same Idempotency-Key)", e.Err, e.UserTurn.Seq)
	}
	return fmt.Sprintf("%v (the user turn is stored as seq %d; the request had no Idempotency-Key, so sending it again stores the message again — send one to make retries safe)", e.Err, e.UserTurn.Seq)
}

func (e *BackendFailure) Unwrap() error { return e.Err }

// NotFoundError says which conversation, bot or version is missing. It
// unwraps to memory.ErrNotFound.
type NotFoundError struct {
	Message string
	Err     error
}

func (e *NotFoundError) Error() string { return e.Message }
func (e *NotFoundError) Unwrap() []error {
	return []error{memory.ErrNotFound, e.Err}
}

// Prompt is what a bot contributes to a context: persona text and budget
// policy. The zero Prompt is a conversation without a bot.
type Prompt struct {
	Bot         *Bot
	Persona     string
	Policy      *retrieval.BudgetPolicy
	NoSummaries bool
	// Lore is the bot's lorebook (nil: none), scanned against the message
	// and the last LoreScanDepth turns.
	Lore          retrieval.Lorebook
	LoreScanDepth int
	// PostHistory is the bot's post-history instructions, macros expanded.
	PostHistory string
	// BudgetTokens is the default context budget: memory.budget_tokens,
	// else the context window minus the max output tokens.
	BudgetTokens int
	// MaxOutputTokens is sent to the backend as max_tokens.
	MaxOutputTokens int
}

// PromptFor is the Prompt of bot (nil: none) for a user named user.
func (c *Chat) PromptFor(b *Bot, user string) Prompt {
	window, maxOut := c.cfg.DefaultContextWindow, c.cfg.DefaultMaxOutputTokens
	p := Prompt{Bot: b}
	if b != nil {
		if b.Model.ContextWindow > 0 {
			window = b.Model.ContextWindow
		}
		if b.Model.MaxOutputTokens > 0 {
			maxOut = b.Model.MaxOutputTokens
		}
		p.Persona = RenderPersona(*b, user)
		p.Policy = budgetPolicy(b.Memory)
		p.NoSummaries = b.Memory.Summaries != nil && !*b.Memory.Summaries
		if b.Lorebook != nil && len(b.Lorebook.Entries) > 0 {
			p.Lore = LoreSource{Book: b.Lorebook, Char: b.Name, User: user}
			p.LoreScanDepth = b.Lorebook.EffectiveScanDepth()
		}
		p.PostHistory = strings.TrimSpace(Expand(b.PostHistoryInstructions, b.Name, user))
	}
	if maxOut >= window {
		maxOut = window / 2
	}
	p.MaxOutputTokens = maxOut
	p.BudgetTokens = window - maxOut
	if b != nil && b.Memory.BudgetTokens > 0 {
		p.BudgetTokens = b.Memory.BudgetTokens
	}
	return p
}

// budgetPolicy maps a bot's memory policy to the assembler's; nil when the
// bot keeps the server's.
func budgetPolicy(m MemoryPolicy) *retrieval.BudgetPolicy {
	if m.RecentShare == 0 && m.RecentMaxTurns == 0 && m.SummaryShare == 0 && m.PersonaShare == 0 && m.LoreShare == 0 {
		return nil
	}
	return &retrieval.BudgetPolicy{RecentShare: m.RecentShare, RecentMaxTurns: m.RecentMaxTurns,
		SummaryShare: m.SummaryShare, PersonaShare: m.PersonaShare, LoreShare: m.LoreShare}
}

// Bot returns bot id of tenant: version v, or the latest when v is 0. A
// missing bot or version is a *NotFoundError.
func (c *Chat) Bot(ctx context.Context, tenant, id string, v int) (*Bot, error) {
	if c.deps.Bots == nil {
		return nil, &NotFoundError{Message: fmt.Sprintf("bot %q not found (this server has no bots)", id), Err: memory.ErrNotFound}
	}
	var (
		b   Bot
		err error
	)
	if v > 0 {
		b, err = c.deps.Bots.GetVersion(ctx, tenant, id, v)
	} else {
		b, err = c.deps.Bots.Get(ctx, tenant, id)
	}
	if errors.Is(err, memory.ErrNotFound) {
		msg := fmt.Sprintf("bot %q not found", id)
		if v > 0 {
			msg = fmt.Sprintf("version %d of bot %q not found", v, id)
		}
		return nil, &NotFoundError{Message: msg, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("bots: get bot %q: %w", id, err)
	}
	return &b, nil
}

// HasBots reports whether the chat loop reads bots.
func (c *Chat) HasBots() bool { return c.deps.Bots != nil }

// conversationBot is the bot conv is chatted with: nil when it has none
// or the server has no bots.
func (c *Chat) conversationBot(ctx context.Context, conv memory.Conversation) (*Bot, error) {
	if conv.BotID == "" || c.deps.Bots == nil {
		return nil, nil
	}
	b, err := c.Bot(ctx, conv.Tenant, conv.BotID, conv.BotVersion)
	var nf *NotFoundError
	if errors.As(err, &nf) {
		nf.Message = fmt.Sprintf("conversation %q was made with a bot that no longer exists (%s)", conv.ID, nf.Message)
	}
	return b, err
}

// Send answers req.Message: it stores the user turn, assembles the
// context, asks the backend (streaming when req.OnDelta is set) and stores
// the reply as an assistant turn. Errors: memory.ErrInvalid (bad message
// or budget), *NotFoundError (conversation, bot), ErrNoBackend — nothing
// stored; after the user turn is stored, a *BackendFailure (unwrapping to
// llm.ErrBackend or llm.ErrTimeout), or the context's error.
func (c *Chat) Send(ctx context.Context, req ChatRequest) (ChatResult, error) {
	msg := req.Message
	switch {
	case msg.Role != "" && msg.Role != string(memory.RoleUser):
		return ChatResult{}, memory.Invalid("message.role", "must be %q, got %q", memory.RoleUser, msg.Role)
	case strings.TrimSpace(msg.Content) == "":
		return ChatResult{}, memory.Invalid("message.content", "is required and must not be empty")
	case req.BudgetTokens < 0:
		return ChatResult{}, memory.Invalid("budget_tokens", "must be a positive number of tokens, got %d", req.BudgetTokens)
	}
	msg.Role = string(memory.RoleUser)

	conv, err := c.deps.Store.GetConversation(ctx, req.Tenant, req.ConversationID)
	if errors.Is(err, memory.ErrNotFound) {
		return ChatResult{}, &NotFoundError{Message: fmt.Sprintf("conversation %q not found", req.ConversationID), Err: err}
	}
	if err != nil {
		return ChatResult{}, err
	}
	bot, err := c.conversationBot(ctx, conv)
	if err != nil {
		return ChatResult{}, err
	}
	var mc ModelConfig
	if bot != nil {
		mc = bot.Model
	}
	backend, err := c.deps.Backends.Backend(mc)
	if err != nil {
		return ChatResult{}, err
	}
	userName, err := c.UserFor(ctx, conv, msg.Name)
	if err != nil {
		return ChatResult{}, err
	}
	prompt := c.PromptFor(bot, userName)
	budget := req.BudgetTokens
	if budget == 0 {
		budget = prompt.BudgetTokens
	}

	// The context as of now, assembled before anything is written, so that
	// a request it refuses (a budget too small) changes nothing.
	areq := retrieval.Request{
		Tenant: conv.Tenant, ConversationID: conv.ID, Message: msg, BudgetTokens: budget,
		Persona: prompt.Persona, Policy: prompt.Policy, NoSummaries: prompt.NoSummaries, BeforeSeq: conv.LastSeq + 1,
		Lore: prompt.Lore, LoreScanDepth: prompt.LoreScanDepth, PostHistory: prompt.PostHistory,
	}
	asm, err := c.deps.Assembler.Assemble(ctx, areq)
	if err != nil {
		return ChatResult{}, err
	}

	// The user turn, stored once per idempotency key.
	userHash := requestHash(conv.ID, msg)
	user, err := c.append(ctx, conv, memory.Turn{Role: memory.RoleUser, Name: msg.Name, Content: msg.Content},
		req.IdempotencyKey, userHash)
	if err != nil {
		return ChatResult{}, err
	}
	res := ChatResult{UserTurn: user}
	if req.IdempotencyKey != "" {
		stored, ok, err := c.storedReply(ctx, conv, user.Seq)
		if err != nil {
			return res, err
		}
		if ok {
			return c.replay(res, stored, req)
		}
	}
	if user.Seq != areq.BeforeSeq {
		// A retry (its user turn stored earlier) or a concurrent append:
		// the context is the one before this user turn.
		areq.BeforeSeq = user.Seq
		if asm, err = c.deps.Assembler.Assemble(ctx, areq); err != nil {
			return res, err
		}
	}
	res.Report = &asm.Report
	if req.OnStart != nil {
		if err := req.OnStart(user); err != nil {
			return res, err
		}
	}

	creq := llm.ChatRequest{
		Messages:    make([]llm.Message, len(asm.Messages)),
		Model:       mc.Model,
		Temperature: mc.Temperature,
		TopP:        mc.TopP,
		MaxTokens:   prompt.MaxOutputTokens,
		Stop:        mc.Stop,
		User:        conv.ID,
	}
	for i, m := range asm.Messages {
		creq.Messages[i] = llm.Message{Role: m.Role, Content: m.Content, Name: m.Name}
	}
	var resp llm.ChatResponse
	if req.OnDelta != nil {
		resp, err = backend.Stream(ctx, creq, req.OnDelta)
	} else {
		resp, err = backend.Complete(ctx, creq)
	}
	if err == nil && strings.TrimSpace(resp.Content) == "" {
		err = &llm.BackendError{Kind: llm.ErrBackend, Status: 200, Endpoint: endpointOf(backend),
			Message: fmt.Sprintf("the backend sent an empty reply (finish_reason %q)", resp.FinishReason)}
	}
	if err != nil {
		var be *llm.BackendError
		if errors.As(err, &be) {
			c.deps.Logger.Warn("chat: backend failed", "conversation", conv.ID, "user_seq", user.Seq, "error", err)
			return res, &BackendFailure{UserTurn: user, IdempotencyKey: req.IdempotencyKey, Err: err}
		}
		return res, err
	}

	md := map[string]any{
		"reply_to":      user.Seq,
		"model":         resp.Model,
		"finish_reason": resp.FinishReason,
		"usage": map[string]any{
			"prompt_tokens": resp.Usage.PromptTokens, "completion_tokens": resp.Usage.CompletionTokens,
			"total_tokens": resp.Usage.TotalTokens,
		},
	}
	name := ""
	if bot != nil {
		name = bot.Name
		md["bot_id"], md["bot_version"] = bot.ID, bot.Version
	}
	replyKey := ""
	if req.IdempotencyKey != "" {
		replyKey = req.IdempotencyKey + "/reply"
	}
	reply, err := c.append(ctx, conv, memory.Turn{Role: memory.RoleAssistant, Name: name, Content: resp.Content, Metadata: md},
		replyKey, userHash+"/reply")
	if err != nil {
		return res, fmt.Errorf("bots: store the reply to turn %d: %w", user.Seq, err)
	}
	res.Reply, res.Usage, res.Model, res.FinishReason = reply, resp.Usage, resp.Model, resp.FinishReason
	if reply.Content != resp.Content {
		// A concurrent attempt with the same key stored its reply first;
		// that one is the answer.
		res.Usage, res.Model, res.FinishReason = replyUsage(reply)
	}
	return res, nil
}

// replay answers with a reply stored by an earlier attempt.
func (c *Chat) replay(res ChatResult, reply memory.Turn, req ChatRequest) (ChatResult, error) {
	res.Reply, res.Replayed = reply, true
	res.Usage, res.Model, res.FinishReason = replyUsage(reply)
	if req.OnStart != nil {
		if err := req.OnStart(res.UserTurn); err != nil {
			return res, err
		}
	}
	if req.OnDelta != nil {
		if err := req.OnDelta(reply.Content); err != nil {
			return res, err
		}
	}
	return res, nil
}

// append stores one turn of conv, stamped with the clock and its tokens
// counted, and notifies OnAppend.
func (c *Chat) append(ctx context.Context, conv memory.Conversation, t memory.Turn, key, hash string) (memory.Turn, error) {
	t.CreatedAt = c.deps.Clock().UTC()
	t.Tokens = c.deps.Tokenizer.Count(t.Content)
	if t.Metadata != nil {
		// As JSON gives it back, so that a replayed turn equals a fresh one.
		raw, err := json.Marshal(t.Metadata)
		if err != nil {
			return memory.Turn{}, fmt.Errorf("bots: encode turn metadata: %w", err)
		}
		t.Metadata = nil
		if err := json.Unmarshal(raw, &t.Metadata); err != nil {
			return memory.Turn{}, fmt.Errorf("bots: decode turn metadata: %w", err)
		}
	}
	opts := memory.AppendOptions{IdempotencyKey: key}
	if key != "" {
		opts.RequestHash = hash
	}
	stored, err := c.deps.Store.AppendTurns(ctx, conv.Tenant, conv.ID, []memory.Turn{t}, opts)
	if errors.Is(err, memory.ErrConflict) {
		return memory.Turn{}, &ConflictError{Message: fmt.Sprintf("Idempotency-Key %q was already used with a different request", key), Err: err}
	}
	if err != nil {
		return memory.Turn{}, err
	}
	if len(stored) != 1 {
		return memory.Turn{}, fmt.Errorf("bots: append to %q returned %d turns, want 1", conv.ID, len(stored))
	}
	if c.deps.OnAppend != nil {
		c.deps.OnAppend(conv.Tenant, conv.ID, stored[0].Seq)
	}
	return stored[0], nil
}

// ConflictError: an idempotency key reused with another message. It
// unwraps to memory.ErrConflict.
type ConflictError struct {
	Message string
	Err     error
}

func (e *ConflictError) Error() string { return e.Message }
func (e *ConflictError) Unwrap() []error {
	return []error{memory.ErrConflict, e.Err}
}

// storedReply finds the assistant turn stored as the reply to user turn
// seq (metadata reply_to), among the ReplyLookback turns after it.
func (c *Chat) storedReply(ctx context.Context, conv memory.Conversation, seq int64) (memory.Turn, bool, error) {
	turns, err := c.deps.Store.Turns(ctx, conv.Tenant, conv.ID, seq, c.cfg.ReplyLookback)
	if err != nil {
		return memory.Turn{}, false, err
	}
	for _, t := range turns {
		if t.Role == memory.RoleAssistant && metaInt(t.Metadata["reply_to"]) == seq {
			return t, true, nil
		}
	}
	return memory.Turn{}, false, nil
}

// replyUsage reads the usage, model and finish reason a reply's metadata
// recorded.
func replyUsage(t memory.Turn) (llm.Usage, string, string) {
	var u llm.Usage
	if m, ok := t.Metadata["usage"].(map[string]any); ok {
		u.PromptTokens = int(metaInt(m["prompt_tokens"]))
		u.CompletionTokens = int(metaInt(m["completion_tokens"]))
		u.TotalTokens = int(metaInt(m["total_tokens"]))
	}
	model, _ := t.Metadata["model"].(string)
	finish, _ := t.Metadata["finish_reason"].(string)
	return u, model, finish
}

// metaInt reads an integer from metadata, which a store may give back as
// any JSON number type; -1 when it is none.
func metaInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	case json.Number:
		i, err := n.Int64()
		if err == nil {
			return i
		}
	}
	return -1
}

// requestHash identifies a user message to conversation id, for the
// idempotency of its append.
func requestHash(id string, m retrieval.Message) string {
	b, _ := json.Marshal([]string{"chat", id, m.Name, m.Content})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// UserNameKey is the conversation metadata key that names the user for
// {{user}} (set when the conversation is created).
const UserNameKey = "user_name"

// firstUserScan bounds how many of a conversation's first turns are read
// to find its first user turn.
const firstUserScan = 64

// UserName is who {{user}} is in every prompt of conversation conv: its
// metadata user_name (set at creation), else its user_id, else first (the
// name of its first user turn; see Chat.UserFor), else "" (which Expand
// reads as DefaultUserName). It never follows a later message's name, so
// the persona — the prompt prefix the backend caches — stays the same
// from reply to reply. The chat loop, the context preview and the first
// message use it alike.
func UserName(conv memory.Conversation, first string) string {
	if n, ok := conv.Metadata[UserNameKey].(string); ok && strings.TrimSpace(n) != "" {
		return strings.TrimSpace(n)
	}
	if n := strings.TrimSpace(conv.UserID); n != "" {
		return n
	}
	return strings.TrimSpace(first)
}

// UserFor is UserName(conv, …) with the name of conv's first user turn
// among its first 64 turns, or next when it has none yet (next is the
// name of the message about to become that turn).
func (c *Chat) UserFor(ctx context.Context, conv memory.Conversation, next string) (string, error) {
	if n := UserName(conv, ""); n != "" {
		return n, nil
	}
	turns, err := c.deps.Store.Turns(ctx, conv.Tenant, conv.ID, 0, firstUserScan)
	if err != nil {
		return "", fmt.Errorf("bots: first turns of %q: %w", conv.ID, err)
	}
	for _, t := range turns {
		if t.Role == memory.RoleUser {
			return UserName(conv, t.Name), nil
		}
	}
	return UserName(conv, next), nil
}

// Greet stores bot's first message (macros expanded, {{user}} being the
// conversation's user_id, else DefaultUserName) as the first assistant
// turn of the new conversation conv, once (an idempotency key guards it).
// It does nothing when the bot has no first message.
func (c *Chat) Greet(ctx context.Context, conv memory.Conversation, bot *Bot) (*memory.Turn, error) {
	if bot == nil || strings.TrimSpace(bot.FirstMessage) == "" {
		return nil, nil
	}
	content := strings.TrimSpace(Expand(bot.FirstMessage, bot.Name, UserName(conv, "")))
	md := map[string]any{"first_message": true, "bot_id": bot.ID, "bot_version": bot.Version}
	h := sha256.Sum256([]byte(bot.ID + "\x00" + content))
	t, err := c.append(ctx, conv, memory.Turn{Role: memory.RoleAssistant, Name: bot.Name, Content: content, Metadata: md},
		"longmem:first_message", hex.EncodeToString(h[:]))
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// endpointOf names a backend for errors.
func endpointOf(c Completer) string {
	if e, ok := c.(interface{ Endpoint() string }); ok {
		return e.Endpoint()
	}
	return fmt.Sprintf("%T", c)
}
