package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/longmem/longmem/bots"
	"github.com/longmem/longmem/bots/card"
	"github.com/longmem/longmem/bots/embeddedbots"
	"github.com/longmem/longmem/bots/llm"
	"github.com/longmem/longmem/compaction"
	"github.com/longmem/longmem/memory/embedded"
	"github.com/longmem/longmem/retrieval"
)

// The web page's assets: served under /ui/, self-contained.

func TestUIAssets(t *testing.T) {
	e := newUIEnv(t, Config{Keys: []Key{{Key: "k1", Tenant: "t1"}}})

	r := e.do("GET", "/ui", "")
	require.Equal(t, http.StatusMovedPermanently, r.status)
	require.Equal(t, "/ui/", r.header.Get("Location"))

	// The page itself needs no key: it asks for one.
	r = e.must(http.StatusOK, "GET", "/ui/", "")
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
	require.Contains(t, string(r.body), `<script type="module" src="app.js">`)
	require.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'self'")

	for _, tc := range []struct{ path, ctype string }{
		{"/ui/app.js", "javascript"},
		{"/ui/style.css", "text/css"},
	} {
		r := e.must(http.StatusOK, "GET", tc.path, "")
		require.Contains(t, r.header.Get("Content-Type"), tc.ctype, tc.path)
	}
	r = e.do("GET", "/ui/nope.js", "")
	require.Equal(t, http.StatusNotFound, r.status)

	// The data stays behind the key.
	r = e.do("GET", "/v1/conversations", "")
	require.Equal(t, http.StatusUnauthorized, r.status)
}

// TestUISelfContained: no asset loads anything from another origin (no CDN,
// no web font), and every module the page imports is embedded.
func TestUISelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import\s+url\(\s*["']?(https?:)?//|from\s+["'](https?:)?//`)
	imports := regexp.MustCompile(`(?m)^import .* from '\./([a-z]+\.js)';`)
	n := 0
	require.NoError(t, fs.WalkDir(uiAssets, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(uiAssets, path)
		require.NoError(t, err)
		require.False(t, external.Match(b), "%s refers to another origin: %s", path, external.Find(b))
		for _, m := range imports.FindAllSubmatch(b, -1) {
			_, err := fs.Stat(uiAssets, "ui/"+string(m[1]))
			require.NoError(t, err, "%s imports %s", path, m[1])
		}
		return nil
	}))
	require.GreaterOrEqual(t, n, 3)
}

// newUIEnv is a server with everything the page uses: conversations,
// summaries, bots, and the chat loop for context previews (no inference backend: a
// preview never calls one).
func newUIEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(embedded.Config{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	bs, err := embeddedbots.Open(embeddedbots.Config{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, bs.Close()) })
	backends, err := bots.NewBackends(llm.Config{}, http.DefaultClient)
	require.NoError(t, err)
	// Compaction on demand (POST …/compact); no background loop.
	worker, err := compaction.NewWorker(compaction.Config{KeepRecentTurns: 10}, compaction.Deps{Store: store, Tokenizer: tok})
	require.NoError(t, err)
	deps := recallDeps(t, Deps{Store: store, Tokenizer: tok, Registerer: prometheus.NewRegistry(), Bots: bs, Compactor: worker})
	var srv *Server
	deps.Chat, err = bots.NewChat(bots.ChatConfig{}, bots.ChatDeps{
		Store: store, Bots: bs, Assembler: deps.Assembler, Tokenizer: tok, Backends: backends,
		OnAppend: func(tenant, id string, seq int64) { srv.Appended(tenant, id, seq) },
	})
	require.NoError(t, err)
	srv, err = New(cfg, deps)
	require.NoError(t, err)
	return &env{t: t, srv: srv, store: store}
}

// Browser tests: Debian's chromium, headless, driven by chromedp against a
// real server over the embedded store.

// browser is one headless chromium tab on a server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's URL
	dir  string // screenshots

	mu     sync.Mutex
	errors []string // uncaught exceptions and console errors of the page
}

// chromiumPath finds the browser, or skips (fails under CI=true).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; CI installs it (.ci/run: apt-get install -y chromium)")
	}
	t.Skip("browser test SKIPPED: chromium is not installed (apt-get install -y chromium)")
	return ""
}

// newBrowser serves srv on a loopback port and opens a tab of width×height.
func newBrowser(t *testing.T, srv http.Handler, width, height int) *browser {
	t.Helper()
	exe := chromiumPath(t)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	b := &browser{t: t, base: ts.URL, dir: t.TempDir()}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	// A guard against a hung browser, not a speed requirement.
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))))
	return b
}

func (b *browser) listen(ev any) {
	b.record(ev)
}

func (b *browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case runtime.EventExceptionThrown:
		b.record(&ev)
		return
	case runtime.EventConsoleAPICalled:
		b.record(&ev)
		return
	case *runtime.EventExceptionThrown:
		msg = ev.ExceptionDetails.Text
		if ex := ev.ExceptionDetails.Exception; ex != nil {
			msg += " " + ex.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		for _, a := range ev.Args {
			msg += " " + string(a.Value) + a.Description
		}
	default:
		return
	}
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// do runs steps; on failure it saves a screenshot and fails the test.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.shot("failure")
		b.t.Fatalf("browser: %v (page errors: %v)", err, b.pageErrors())
	}
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// open loads a page of the UI ("/ui/#/new").
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// wait waits until the JavaScript expression is truthy.
func (b *browser) wait(expr string) {
	b.t.Helper()
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(20*time.Second))(ctx, t)
		return err
	}))
}

// text is the visible text of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.shot("failure")
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	b.wait(`(document.querySelector(` + jsString(sel) + `)?.innerText || '').includes(` + jsString(want) + `)`)
}

func (b *browser) click(sel string) { b.t.Helper(); b.do(chromedp.Click(chromedp.CSS(sel))) }

func (b *browser) typeIn(sel, s string) {
	b.t.Helper()
	b.do(chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), s))
}

// shot saves a full-page screenshot as name.png in the test's directory
// (and in $LONGMEM_UI_SHOTS when set, to look at while developing).
func (b *browser) shot(name string) string {
	b.t.Helper()
	// The whole page: grow the viewport to the document's height (a
	// capture beyond the viewport can show stale tiles), then restore it.
	w := eval[int64](b, `window.innerWidth`)
	h := eval[int64](b, `window.innerHeight`)
	full := eval[int64](b, `Math.max(document.documentElement.scrollHeight, window.innerHeight)`)
	png, err := chromedp.Run(b.ctx, chromedp.Action[[]byte](func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, min(full, 8000))); err != nil {
			return nil, err
		}
		defer chromedp.Do(ctx, chromedp.EmulateViewport(w, h)) //nolint:errcheck // best effort
		return chromedp.CaptureScreenshot()(ctx, t)
	}))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(b.dir, name+".png")
	require.NoError(b.t, os.WriteFile(p, png, 0o644))
	if d := os.Getenv("LONGMEM_UI_SHOTS"); d != "" {
		_ = os.WriteFile(filepath.Join(d, b.t.Name()+"-"+name+".png"), png, 0o644)
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

// noPageErrors checks the page threw nothing and logged no error.
func (b *browser) noPageErrors() {
	b.t.Helper()
	require.Empty(b.t, b.pageErrors(), "JavaScript errors on the page")
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}

// eval runs a JavaScript expression and returns its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.shot("failure")
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// setValue replaces an input's value as typing would (input events fire).
func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	b.wait(`document.querySelector(` + jsString(sel) + `)`)
	eval[bool](b, `(() => { const el = document.querySelector(`+jsString(sel)+`); el.value = ''; el.dispatchEvent(new Event('input')); return true })()`)
	b.do(chromedp.Focus(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), v))
}

// downloadsTo lets the page download files into dir.
func (b *browser) downloadsTo(dir string) {
	b.t.Helper()
	c := chromedp.FromContext(b.ctx)
	_, err := cdp.Call(b.ctx, c.Browser, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	})
	require.NoError(b.t, err)
}

// waitFile waits for a download to be complete and returns its content.
func (b *browser) waitFile(path string) []byte {
	b.t.Helper()
	for {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			return data
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("no download %s: %v", path, b.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// currentBotID reads the bot id from the page's location (#/bot/{id}/…).
func (b *browser) currentBotID() string {
	b.t.Helper()
	b.wait(`location.hash.startsWith('#/bot/')`)
	return eval[string](b, `decodeURIComponent(location.hash.split('/')[2])`)
}

func TestUISignInCreateBotLoreAndVersions(t *testing.T) {
	e := newUIEnv(t, Config{Keys: []Key{{Key: "k1", Tenant: "t1"}}})
	api := e.as("k1")
	b := newBrowser(t, e.srv, 1440, 1000)

	// A server with keys asks for one; a wrong key is refused at the field.
	b.open("/ui/")
	b.wait(`document.querySelector('#apikey')`)
	b.typeIn("#apikey", "wrong")
	b.click("form button[type=submit]")
	b.waitText("#apikey-err", "not accepted")
	b.setValue("#apikey", "k1")
	b.click("form button[type=submit]")
	b.wait(`document.querySelector('#bot-list')`)
	require.Equal(t, "k1", eval[string](b, `sessionStorage.getItem('longmem.apiKey')`))

	// Create a bot through the form; the preview resolves the macros.
	b.click("#new-bot")
	b.typeIn(`[data-field="name"] input`, "Aria")
	b.typeIn(`[data-field="description"] textarea`, "{{char}} greets {{user}} at the gate.")
	b.waitText("#resolved", "Aria greets User at the gate.")
	b.setValue("#preview-user", "Sam")
	b.waitText("#resolved", "Aria greets Sam at the gate.")
	b.click("#save")
	b.waitText("#save-status", "version 1")
	id := b.currentBotID()
	bot := api.must(http.StatusOK, "GET", "/v1/bots/"+id, "").json(t)
	require.Equal(t, "Aria", bot["name"])
	require.Equal(t, "{{char}} greets {{user}} at the gate.", bot["description"], "stored with its macros")

	// The tabs answer the arrow keys.
	b.do(chromedp.Focus(chromedp.CSS("#tab-persona")), chromedp.SendKeys(chromedp.CSS("#tab-persona"), kb.ArrowRight))
	b.wait(`document.querySelector('#tab-lore').getAttribute('aria-selected') === 'true' && document.activeElement.id === 'tab-lore'`)

	// Add a lore entry with a key chip; saving makes version 2.
	b.click("#add-entry")
	b.typeIn(`[data-field="lorebook.entries[0].keys"] input`, "castle"+kb.Enter)
	b.waitText(`[data-field="lorebook.entries[0].keys"] .chips`, "castle")
	b.typeIn(`[data-field="lorebook.entries[0].content"] textarea`, "The castle has seven towers.")
	b.click("#save")
	b.waitText("#save-status", "version 2")
	bot = api.must(http.StatusOK, "GET", "/v1/bots/"+id, "").json(t)
	require.EqualValues(t, 2, bot["version"])
	entries := bot["lorebook"].(map[string]any)["entries"].([]any)
	require.Len(t, entries, 1)
	require.Equal(t, []any{"castle"}, entries[0].(map[string]any)["keys"])
	require.Equal(t, true, entries[0].(map[string]any)["enabled"])

	// The trigger tester asks the server.
	b.typeIn("#lore-test-text", "Tell me about the castle")
	b.click("#lore-test")
	b.waitText("#lore-test-result", "Triggered (1)")
	b.wait(`document.querySelector('.entry.hit')`)
	b.shot("lore")

	// A second entry, moved first: the order is the insertion order.
	b.click("#add-entry")
	b.typeIn(`[data-field="lorebook.entries[1].keys"] input`, "tower,")
	b.typeIn(`[data-field="lorebook.entries[1].content"] textarea`, "The towers lean east.")
	b.click(`[data-field="lorebook.entries[1]"] button.up`)
	b.waitText(`[data-field="lorebook.entries[0]"]`, "#1")
	b.click("#save")
	b.waitText("#save-status", "version 3")
	entries = api.must(http.StatusOK, "GET", "/v1/bots/"+id, "").json(t)["lorebook"].(map[string]any)["entries"].([]any)
	require.Len(t, entries, 2)
	require.Equal(t, []any{"tower"}, entries[0].(map[string]any)["keys"])
	require.EqualValues(t, 0, entries[0].(map[string]any)["insertion_order"])
	require.EqualValues(t, 1, entries[1].(map[string]any)["insertion_order"])

	// Versions: all three, with their author, and the lorebook in the diff.
	b.click("#tab-versions")
	b.wait(`document.querySelectorAll('#versions tbody tr').length === 3`)
	b.waitText("#versions", "t1")
	b.waitText("#version-diff", "lorebook.entries[id=0].insertion_order")
	b.shot("versions")

	// Restore version 1: a new version 4 with version 1's content.
	b.click(`#versions tbody tr:last-child button`)
	b.waitText("#save-status", "version 4")
	b.wait(`document.querySelectorAll('#versions tbody tr').length === 4`)
	bot = api.must(http.StatusOK, "GET", "/v1/bots/"+id, "").json(t)
	require.EqualValues(t, 4, bot["version"])
	require.Nil(t, bot["lorebook"], "version 1 had no lorebook")
	b.noPageErrors()
}

func TestUIValidationErrorAtField(t *testing.T) {
	e := newUIEnv(t, Config{}) // no keys: no sign-in
	b := newBrowser(t, e.srv, 1440, 1000)

	b.open("/ui/")
	b.wait(`document.querySelector('#bot-list')`)
	require.False(t, eval[bool](b, `!!document.querySelector('#apikey')`), "no sign-in without keys")

	b.click("#new-bot")
	b.click("#save")
	b.wait(`document.querySelector('[data-field="name"]').classList.contains('invalid')`)
	require.NotEmpty(t, b.text(`[data-field="name"] > .field-error`))
	require.Equal(t, "true", eval[string](b, `document.querySelector('[data-field="name"] input').getAttribute('aria-invalid') === null ? 'false' : 'true'`))
	require.Equal(t, "name", eval[string](b, `document.activeElement.closest('[data-field]').dataset.field`), "the field is focused")

	b.typeIn(`[data-field="name"] input`, "Bo")
	b.typeIn(`[data-field="model.temperature"] input`, "5")
	b.click("#save")
	b.wait(`document.querySelector('[data-field="model.temperature"]').classList.contains('invalid')`)
	b.waitText(`[data-field="model.temperature"] > .field-error`, "2")
	require.False(t, eval[bool](b, `document.querySelector('[data-field="name"]').classList.contains('invalid')`), "the fixed field is clear")
	b.shot("validation")

	// The form at phone width: one column, no sideways scrolling.
	b.do(chromedp.EmulateViewport(390, 844))
	b.wait(`document.documentElement.scrollWidth <= window.innerWidth + 1`)
	b.shot("validation-phone")

	// Nothing was created.
	list := e.must(http.StatusOK, "GET", "/v1/bots", "").json(t)
	require.Empty(t, list["bots"])
	b.noPageErrors()
}

func TestUIImportCard(t *testing.T) {
	e := newUIEnv(t, Config{})
	b := newBrowser(t, e.srv, 1440, 1000)
	card := filepath.Join(t.TempDir(), "seraphina.json")
	require.NoError(t, os.WriteFile(card, []byte(`{"spec":"chara_card_v2","spec_version":"2.0","data":{
		"name":"Seraphina","description":"{{char}} is a guardian of the forest.","personality":"kind","scenario":"",
		"first_mes":"Welcome, {{user}}.","mes_example":"","creator_notes":"","system_prompt":"","post_history_instructions":"",
		"alternate_greetings":[],"tags":["fantasy"],"creator":"test","character_version":"1","extensions":{"x_custom":{"a":1}},
		"character_book":{"entries":[{"keys":["glade"],"content":"The glade is sacred.","extensions":{},"enabled":true,"insertion_order":0,"id":1}],"extensions":{}}}}`), 0o644))

	b.open("/ui/")
	b.wait(`document.querySelector('#card-drop')`)
	b.shot("empty-list")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#card-file"), []string{card}))
	b.waitText("h1", "Seraphina")
	id := b.currentBotID()
	bot := e.must(http.StatusOK, "GET", "/v1/bots/"+id, "").json(t)
	require.Equal(t, "Seraphina", bot["name"])
	b.waitText("#resolved", "Seraphina is a guardian of the forest.")
	b.click("#tab-lore")
	b.waitText(`[data-field="lorebook.entries[0].keys"]`, "glade")
	b.shot("imported")

	// Export: the PNG card downloads, and it imports back.
	downloads := t.TempDir()
	b.downloadsTo(downloads)
	b.click("#tab-card")
	b.click("#export-png")
	png := b.waitFile(filepath.Join(downloads, id+".png"))
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	b.click("#export-v3")
	v3 := b.waitFile(filepath.Join(downloads, id+".v3.json"))
	require.Contains(t, string(v3), `"chara_card_v3"`)

	// A PNG card (a SillyTavern-style chara chunk).
	b.open("/ui/#/")
	b.wait(`document.querySelector('#card-file')`)
	pngCard, err := filepath.Abs(filepath.Join("..", "bots", "card", "testdata", "v2_text.png"))
	require.NoError(t, err)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#card-file"), []string{pngCard}))
	b.wait(`(location.hash.startsWith('#/bot/') && decodeURIComponent(location.hash.split('/')[2]) !== ` + jsString(id) + `) || document.querySelector('#import-error')?.textContent`)
	require.Empty(t, eval[string](b, `document.querySelector('#import-error')?.textContent || ''`))
	pngBot := e.must(http.StatusOK, "GET", "/v1/bots/"+b.currentBotID(), "").json(t)
	b.waitText("h1", pngBot["name"].(string))

	// A file that is not a card is refused where it was dropped.
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"hello":1}`), 0o644))
	b.open("/ui/#/")
	b.wait(`document.querySelector('#card-file')`)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#card-file"), []string{bad}))
	b.waitText("#import-error", "bad.json")
	b.waitText("#bot-list", "Seraphina")
	b.shot("list")

	// Search asks the API (name, tags, description).
	require.Equal(t, 2, eval[int](b, `document.querySelectorAll('#bot-list li').length`))
	b.typeIn("#bot-search", "Eldwood")
	b.wait(`document.querySelectorAll('#bot-list li').length === 1`)
	b.waitText("#bot-list", "Eldwood forest")
	b.noPageErrors()
}

func TestUIContextPreview(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"keeper","name":"Mara",
		"system_prompt":"You are {{char}}, the lighthouse keeper of Skerry Point. Speak plainly to {{user}}.",
		"post_history_instructions":"Stay in character.",
		"lorebook":{"entries":[
			{"id":1,"name":"Skerry","keys":[],"constant":true,"enabled":true,"insertion_order":0,"content":"Skerry Point is a rock with one lamp."},
			{"id":2,"name":"Bergen","keys":["sister"],"enabled":true,"insertion_order":1,"content":"Bergen is a rainy harbour city."}]}}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c1","bot_id":"keeper","user_id":"sam"}`)
	var turns []string
	for i, s := range []string{
		"user: My sister Ida moved to Bergen last spring.",
		"assistant: Bergen is rainy; does she like it?",
		"user: She loves the fish market there.",
		"assistant: The lamp needs oil every night.",
		"user: The storm broke the north window.",
		"assistant: I will fix it tomorrow.",
		"user: Did you see the ships?",
		"assistant: Three passed at dawn.",
	} {
		role, content, _ := strings.Cut(s, ": ")
		turns = append(turns, `{"role":"`+role+`","content":"`+content+`","created_at":"2026-03-0`+string(rune('1'+i))+`T10:00:00Z"}`)
	}
	e.must(http.StatusCreated, "POST", "/v1/conversations/c1/turns", `{"turns":[`+strings.Join(turns, ",")+`]}`)

	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/keeper/preview")
	b.wait(`document.querySelector('#preview-conv option[value="c1"]')`)
	b.do(chromedp.SetValue(chromedp.CSS("#preview-conv"), "c1"))
	b.typeIn("#preview-message", "Where does my sister live now?")
	b.setValue("#preview-budget", "2048")
	b.click("#preview-run")

	// The section bar, with the persona, and the exact messages.
	b.wait(`document.querySelector('#section-bar .seg[data-section="persona"]')`)
	b.waitText("#preview-messages", "You are Mara, the lighthouse keeper of Skerry Point.")
	label := eval[string](b, `document.querySelector('#section-bar').getAttribute('aria-label')`)
	require.Regexp(t, `persona \d+ tokens`, label)
	require.Regexp(t, `message \d+ tokens`, label)
	require.Contains(t, b.text(".legend"), "persona: ")
	for _, sec := range []string{"constant lore", "triggered lore", "post-history instructions"} {
		require.Regexp(t, sec+` \d+ tokens`, label, "sections by their friendly names")
	}
	require.NotContains(t, label, "lore_constant")
	require.NotContains(t, b.text(".legend"), "post_history")
	b.waitText("#preview-lore", "#2 Bergen")
	b.waitText("#preview-messages", "Skerry Point is a rock with one lamp.")
	b.shot("preview")

	// A smaller budget: the preview says what moved.
	b.setValue("#preview-budget", "200")
	b.click("#preview-run")
	b.waitText("#preview-moved", "budget 2048 → 200 tokens")
	b.shot("preview-moved")

	// Sample turns pasted into a scratch conversation, made through the API.
	b.click(".preview-form summary")
	b.typeIn("#scratch-turns", "Sam: I keep bees in Tromsø.\nMara: Bees, this far north?")
	b.click("#scratch-create")
	b.wait(`document.querySelector('#preview-conv').selectedOptions[0].textContent.includes('scratch')`)
	scratch := eval[string](b, `document.querySelector('#preview-conv').value`)
	conv := e.must(http.StatusOK, "GET", "/v1/conversations/"+scratch, "").json(t)
	require.Equal(t, "keeper", conv["bot_id"])
	require.EqualValues(t, 2, conv["last_seq"])
	b.setValue("#preview-message", "What do I keep?")
	b.setValue("#preview-budget", "1024")
	b.click("#preview-run")
	b.waitText("#preview-messages", "I keep bees in Tromsø.")

	// Phone width: no sideways scrolling, the bar still there.
	b.do(chromedp.EmulateViewport(390, 844))
	b.wait(`document.documentElement.scrollWidth <= window.innerWidth + 1`)
	b.shot("preview-phone")
	b.noPageErrors()
}

func TestUISaveConflict(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"First"}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/persona")
	b.waitText("#save-status", "version 1")

	// Someone else saves version 2 meanwhile.
	e.must(http.StatusOK, "PUT", "/v1/bots/b1", `{"id":"b1","name":"Theirs"}`, "X-Author: alice")
	b.setValue(`[data-field="name"] input`, "Mine")
	b.click("#save")
	b.waitText("#conflict", "version 2")
	b.waitText("#conflict", "alice")
	b.shot("conflict")
	require.Equal(t, "Theirs", e.must(http.StatusOK, "GET", "/v1/bots/b1", "").json(t)["name"], "nothing overwritten")

	b.click("#conflict button")
	b.waitText("#save-status", "version 2")
	require.Equal(t, "Theirs", eval[string](b, `document.querySelector('[data-field="name"] input').value`))
	b.noPageErrors()
}

func TestUIDarkAndConversations(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Nox"}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c1","bot_id":"b1"}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"other"}`)
	var turns []string
	for i := range 60 {
		turns = append(turns, fmt.Sprintf(`{"role":"user","content":"Turn %d: the night watch saw lantern number %d on the east wall."}`, i+1, i+1))
	}
	e.must(http.StatusCreated, "POST", "/v1/conversations/c1/turns", `{"turns":[`+strings.Join(turns, ",")+`]}`)
	e.must(http.StatusOK, "POST", "/v1/conversations/c1/compact", "")

	b := newBrowser(t, e.srv, 1440, 1000)
	b.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	b.open("/ui/#/bot/b1/conversations")
	b.wait(`document.querySelector('#conv-list button')`)
	require.NotContains(t, b.text("#conv-list"), "other", "only the bot's conversations")
	b.click("#conv-list button")

	// Turns paged with seq and date; the summaries timeline.
	b.waitText("#conv-detail", "turns 1–50 of 60")
	b.waitText("#conv-detail table.turns", "#50")
	b.wait(`document.querySelectorAll('.tl-bar').length > 0`)
	require.Contains(t, b.text(".summaries"), "L0 · turns 1–")
	b.click("#conv-detail .row button:last-child")
	b.waitText("#conv-detail", "turns 51–60 of 60")
	require.Equal(t, "rgb(20, 23, 28)", eval[string](b, `getComputedStyle(document.body).backgroundColor`), "dark colours")
	b.shot("dark-conversations")
	b.noPageErrors()
}

// The lorebook editor: removing an entry, secondary keys as chips, and the
// enabled / constant / selective toggles reach the saved version exactly.
func TestUILoreRemoveSecondaryKeysAndToggles(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Warden","lorebook":{"entries":[
		{"id":1,"name":"Gate","keys":["gate"],"enabled":true,"insertion_order":0,"content":"The gate is iron."},
		{"id":2,"name":"Moat","keys":["moat"],"enabled":true,"insertion_order":1,"content":"The moat is deep."}]}}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/lore")
	b.waitText("#save-status", "version 1")
	b.wait(`document.querySelectorAll('#lore-entries .entry').length === 2`)

	// Remove the first entry: the second is now the only one.
	b.click(`[data-field="lorebook.entries[0]"] button.danger`)
	b.wait(`document.querySelectorAll('#lore-entries .entry').length === 1`)
	require.Equal(t, "2", eval[string](b, `document.querySelector('#lore-entries .entry').dataset.entryId`))
	b.waitText("#save-status", "unsaved changes")

	// Secondary keys show once the entry is selective.
	p := `[data-field="lorebook.entries[0]"]`
	require.False(t, eval[bool](b, `document.querySelector('`+p+` .secondary').offsetParent !== null`), "no secondary keys unless selective")
	b.click(`[data-field="lorebook.entries[0].selective"] input`)
	b.wait(`document.querySelector('` + p + `').classList.contains('selective')`)
	b.wait(`document.querySelector('` + p + ` .secondary').offsetParent !== null`)
	b.typeIn(`[data-field="lorebook.entries[0].secondary_keys"] input`, "water"+kb.Enter)
	b.typeIn(`[data-field="lorebook.entries[0].secondary_keys"] input`, "bridge,")
	b.typeIn(`[data-field="lorebook.entries[0].secondary_keys"] input`, "oops"+kb.Enter)
	b.wait(`document.querySelectorAll('[data-field="lorebook.entries[0].secondary_keys"] .chip').length === 3`)
	b.click(`[data-field="lorebook.entries[0].secondary_keys"] button[aria-label="Remove oops"]`)
	b.wait(`document.querySelectorAll('[data-field="lorebook.entries[0].secondary_keys"] .chip').length === 2`)
	require.Equal(t, "water×bridge×", strings.Join(strings.Fields(b.text(`[data-field="lorebook.entries[0].secondary_keys"] .chips`)), ""))

	// Constant on, enabled off.
	b.click(`[data-field="lorebook.entries[0].constant"] input`)
	b.click(`[data-field="lorebook.entries[0].enabled"] input`)
	b.wait(`document.querySelector('` + p + `').classList.contains('disabled')`)
	b.shot("lore-toggles")

	b.click("#save")
	b.waitText("#save-status", "version 2")
	bot := e.must(http.StatusOK, "GET", "/v1/bots/b1", "").json(t)
	require.EqualValues(t, 2, bot["version"])
	entries := bot["lorebook"].(map[string]any)["entries"].([]any)
	require.Len(t, entries, 1, "the removed entry is gone")
	got := entries[0].(map[string]any)
	require.EqualValues(t, 2, got["id"])
	require.Equal(t, "Moat", got["name"])
	require.Equal(t, []any{"moat"}, got["keys"])
	require.Equal(t, []any{"water", "bridge"}, got["secondary_keys"])
	require.Equal(t, true, got["selective"])
	require.Equal(t, true, got["constant"])
	require.Equal(t, false, got["enabled"])
	require.Nil(t, got["case_sensitive"], "an untouched toggle stays unset")

	// The saved form shows what was saved.
	b.wait(`document.querySelector('[data-field="lorebook.entries[0].constant"] input').checked`)
	require.False(t, eval[bool](b, `document.querySelector('[data-field="lorebook.entries[0].enabled"] input').checked`))
	b.noPageErrors()
}

// Versions: any two versions side by side, not only the last two; and the
// card downloads as Character Card V2 JSON.
func TestUIVersionPairAndV2Export(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Iris","description":"Iris tends the alpha garden."}`)
	e.must(http.StatusOK, "PUT", "/v1/bots/b1", `{"id":"b1","name":"Iris","description":"Iris tends the beta garden."}`)
	e.must(http.StatusOK, "PUT", "/v1/bots/b1", `{"id":"b1","name":"Iris","description":"Iris tends the gamma garden.","personality":"patient"}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/versions")
	b.wait(`document.querySelectorAll('#versions tbody tr').length === 3`)

	// The default pair: the last two.
	b.waitText("#version-diff", "v2 (")
	diff := b.text("#version-diff")
	require.Contains(t, diff, "beta")
	require.Contains(t, diff, "gamma")
	require.NotContains(t, diff, "alpha")

	// v1 on the left, v3 on the right.
	b.click(`input[aria-label="Compare version 1 on the left"]`)
	b.waitText("#version-diff", "v1 (")
	b.wait(`!document.querySelector('#version-diff').innerText.includes('Loading')`)
	diff = b.text("#version-diff")
	require.Contains(t, diff, "alpha")
	require.Contains(t, diff, "gamma")
	require.NotContains(t, diff, "beta", "v2 is not in the comparison")
	require.Equal(t, []string{"v1", "v3"}, eval[[]string](b, `[...document.querySelectorAll('#version-diff table.diff thead th')].slice(1).map((th) => th.textContent)`))
	require.Equal(t, []string{"description", "personality"}, eval[[]string](b, `[...document.querySelectorAll('#version-diff table.diff tbody th')].map((th) => th.textContent)`))
	// The changed line is marked on each side.
	require.Contains(t, b.text("#version-diff table.diff tbody tr:first-child td:nth-of-type(1) .del"), "alpha")
	require.Contains(t, b.text("#version-diff table.diff tbody tr:first-child td:nth-of-type(2) .add"), "gamma")

	// Right side back to v2: v1 ↔ v2.
	b.click(`input[aria-label="Compare version 2 on the right"]`)
	b.waitText("#version-diff", "v2 (")
	b.wait(`!document.querySelector('#version-diff').innerText.includes('gamma')`)
	diff = b.text("#version-diff")
	require.Contains(t, diff, "alpha")
	require.Contains(t, diff, "beta")
	require.NotContains(t, diff, "personality")
	b.shot("versions-pair")

	// Export as V2: a chara_card_v2 JSON with the bot's name.
	downloads := t.TempDir()
	b.downloadsTo(downloads)
	b.click("#tab-card")
	b.click("#export-v2")
	raw := b.waitFile(filepath.Join(downloads, "b1.v2.json"))
	var card struct {
		Spec        string `json:"spec"`
		SpecVersion string `json:"spec_version"`
		Data        struct {
			Name        string `json:"name"`
			Description string `json:"description"`
			Personality string `json:"personality"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &card), "%s", raw)
	require.Equal(t, "chara_card_v2", card.Spec)
	require.Equal(t, "2.0", card.SpecVersion)
	require.Equal(t, "Iris", card.Data.Name)
	require.Equal(t, "Iris tends the gamma garden.", card.Data.Description, "the latest version")
	require.Equal(t, "patient", card.Data.Personality)
	b.noPageErrors()
}

// The context preview by keyboard, the summaries with their reason, and
// what moved after a persona change saved with Ctrl+S.
func TestUIPreviewSummariesKeyboardAndPersonaMove(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Nox",
		"system_prompt":"You are {{char}}, captain of the night watch.","memory":{"recent_max_turns":8}}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"c1","bot_id":"b1"}`)
	var turns []string
	// Eight nights of eight turns: a session, and a summary, each.
	for i := range 64 {
		turns = append(turns, fmt.Sprintf(`{"role":"user","content":"Turn %d: the night watch saw lantern number %d on the east wall.","created_at":"2026-03-%02dT22:%02d:00Z"}`, i+1, i+1, 1+i/8, i%8))
	}
	e.must(http.StatusCreated, "POST", "/v1/conversations/c1/turns", `{"turns":[`+strings.Join(turns, ",")+`]}`)
	e.must(http.StatusOK, "POST", "/v1/conversations/c1/compact", "")
	require.GreaterOrEqual(t, len(e.summaries("c1")), 4)
	const msg = "Which lantern did the night watch see on the east wall?"
	want := e.context("c1", `{"message":{"role":"user","content":`+jsonString(t, msg)+`},"budget_tokens":4096,"bot_id":"b1"}`)
	require.NotEmpty(t, want.Report.Summaries, "the compacted history has summaries in the context")

	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/preview")
	b.wait(`document.querySelector('#preview-conv option[value="c1"]')`)
	b.do(chromedp.SetValue(chromedp.CSS("#preview-conv"), "c1"))
	b.setValue("#preview-budget", "4096")
	b.setValue("#preview-message", msg)

	// Ctrl+Enter in the message runs the preview.
	require.False(t, eval[bool](b, `!!document.querySelector('#preview-messages')`))
	b.do(chromedp.Focus(chromedp.CSS("#preview-message")), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitText("#preview-messages", "You are Nox, captain of the night watch.")

	// Each summary in the context is listed with its reason.
	b.wait(`document.querySelector('#preview-summaries')`)
	listed := func(want []retrieval.SummaryReport) {
		t.Helper()
		items := eval[[]string](b, `[...document.querySelectorAll('#preview-summaries li')].map((li) => li.textContent)`)
		require.Len(t, items, len(want))
		for i, s := range want {
			require.Equal(t, fmt.Sprintf("level %d · covers turns %d–%d · %d tokens · %s", s.Level, s.FromSeq, s.ToSeq, s.Tokens, s.Reason), items[i])
		}
	}
	for _, s := range want.Report.Summaries {
		require.Equal(t, retrieval.ReasonSummaryRelevant, s.Reason)
	}
	listed(want.Report.Summaries)
	require.False(t, eval[bool](b, `!!document.querySelector('#preview-moved')`), "nothing to compare yet")
	b.shot("preview-summaries")

	// A message no summary is relevant to: the gist of the history.
	const other = "What is for dinner tonight?"
	gist := e.context("c1", `{"message":{"role":"user","content":`+jsonString(t, other)+`},"budget_tokens":4096,"bot_id":"b1"}`)
	require.NotEmpty(t, gist.Report.Summaries)
	for _, s := range gist.Report.Summaries {
		require.Equal(t, retrieval.ReasonSummaryGist, s.Reason)
	}
	b.setValue("#preview-message", other)
	b.do(chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitText("#preview-summaries", "gist of the history (no summary is relevant)")
	listed(gist.Report.Summaries)

	// A longer persona, saved with Ctrl+S: a new version.
	b.click("#tab-persona")
	b.wait(`!document.querySelector('#panel-persona').hidden`)
	b.setValue(`[data-field="system_prompt"] textarea`, "You are {{char}}, captain of the night watch.\nYou count every lantern on the walls and remember each one by its number.")
	b.waitText("#save-status", "unsaved changes")
	b.do(chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitText("#save-status", "version 2")
	bot := e.must(http.StatusOK, "GET", "/v1/bots/b1", "").json(t)
	require.EqualValues(t, 2, bot["version"])
	require.Contains(t, bot["system_prompt"], "remember each one by its number")

	// Preview again: the persona section grew, the system message changed.
	b.click("#tab-preview")
	b.wait(`!document.querySelector('#panel-preview').hidden`)
	b.do(chromedp.Focus(chromedp.CSS("#preview-message")), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitText("#preview-moved", "bot version 1 → 2")
	moved := b.text("#preview-moved")
	require.Regexp(t, `persona: (\d+) → (\d+) tokens \(\+\d+\)`, moved)
	require.Contains(t, moved, "system message: +")
	b.waitText("#preview-messages", "remember each one by its number")
	b.shot("preview-persona-moved")
	b.noPageErrors()
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return string(b)
}

// Ctrl+S with a key still typed in a chips input saves it, as the Save
// button (which takes the focus, and so adds it) does.
func TestUICtrlSSavesPendingChip(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Warden","lorebook":{"entries":[
		{"id":1,"name":"Gate","keys":["gate"],"enabled":true,"insertion_order":0,"content":"The gate is iron."}]}}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/lore")
	b.waitText("#save-status", "version 1")
	b.wait(`!document.querySelector('#panel-lore').hidden`)
	b.typeIn(`[data-field="lorebook.entries[0].keys"] input`, "portcullis")
	b.do(chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.waitText("#save-status", "version 2")
	entries := e.must(http.StatusOK, "GET", "/v1/bots/b1", "").json(t)["lorebook"].(map[string]any)["entries"].([]any)
	require.Equal(t, []any{"gate", "portcullis"}, entries[0].(map[string]any)["keys"])
	b.waitText(`[data-field="lorebook.entries[0].keys"] .chips`, "portcullis")
	b.noPageErrors()
}

// Ctrl+S pressed again while the save is on its way is not a second save
// (which, with the old ETag, would report the page's own save as a conflict).
func TestUICtrlSTwiceSavesOnce(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"First"}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/b1/persona")
	b.waitText("#save-status", "version 1")
	b.wait(`!document.querySelector('#panel-persona').hidden`)
	b.setValue(`[data-field="name"] input`, "Second")
	// Count the saves the page sends: a save calls fetch in the key's
	// handler, so once the key events are dispatched, the count is final.
	eval[bool](b, `(() => { window.puts = 0; const f = window.fetch; window.fetch = (u, o) => { if (o?.method === 'PUT') window.puts++; return f(u, o); }; return true })()`)
	b.do(chromedp.KeyEvent("ss", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	require.Equal(t, 1, eval[int](b, `window.puts`), "one PUT")
	b.waitText("#save-status", "version 2")
	b.wait(`!document.querySelector('#save').disabled`)
	require.Empty(t, eval[string](b, `document.querySelector('#save-alert').innerText`), "no conflict, no error")
	versions := e.must(http.StatusOK, "GET", "/v1/bots/b1/versions", "").json(t)["versions"].([]any)
	require.Len(t, versions, 2, "one save")
	b.noPageErrors()
}

// The Lorebook tab takes a SillyTavern World Info file: a new version with
// its entries, drawn in the editor; a file that is no lorebook is refused
// where it was dropped.
func TestUIImportWorldInfo(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"vell","name":"Vell"}`)
	wi, err := filepath.Abs(filepath.Join("..", "bots", "card", "testdata", "worldinfo.json"))
	require.NoError(t, err)
	for _, w := range []int{1440, 390} {
		b := newBrowser(t, e.srv, w, 900)
		b.open("/ui/#/bot/vell/lore")
		b.wait(`document.querySelector('#lore-file')`)
		before := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", "")).Version
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#lore-file"), []string{wi}))
		b.waitText("#save-status", fmt.Sprintf("version %d", before+1))
		b.waitText(`[data-field="lorebook.entries[0].keys"]`, "lighthouse")
		require.Equal(t, 10, eval[int](b, `document.querySelectorAll('#lore-entries .entry').length`))
		// The file's whole-word settings show, per entry.
		whole := `document.querySelector('[data-field="lorebook.entries[%d].extensions.match_whole_words"] select').value`
		require.Equal(t, "false", eval[string](b, fmt.Sprintf(whole, 2)), "tide: matchWholeWords false")
		require.Equal(t, "true", eval[string](b, fmt.Sprintf(whole, 3)))
		require.Equal(t, "", eval[string](b, fmt.Sprintf(whole, 0)), "null: the default")
		got := decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", ""))
		require.Equal(t, before+1, got.Version)
		require.Len(t, got.Lorebook.Entries, 10)
		b.shot(fmt.Sprintf("worldinfo-%d", w))

		bad := filepath.Join(t.TempDir(), "notes.json")
		require.NoError(t, os.WriteFile(bad, []byte(`{"hello":1}`), 0o644))
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#lore-file"), []string{bad}))
		b.waitText("#lore-import-error", "notes.json")
		require.Equal(t, before+1, decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/vell", "")).Version, "nothing changed")
		b.noPageErrors()
	}
}

// The editor shows what the persona, its fields and each lore entry cost
// against the shares of the bot's budget, warns when the persona cannot
// fit, and the preview starts at the bot's own budget.
func TestUITokenCountsAndPreviewBudget(t *testing.T) {
	e := newUIEnv(t, Config{})
	long := strings.Repeat("Mara tends the glasshouse and remembers every seed she ever planted. ", 70)
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"mara","name":"Mara","description":`+jsString2(long)+`,"personality":"patient",
		"model":{"context_window":2048,"max_output_tokens":448},
		"lorebook":{"entries":[{"id":3,"keys":["seed"],"content":"Seeds are kept in paper envelopes.","enabled":true}]}}`)
	b := newBrowser(t, e.srv, 1440, 1000)
	b.open("/ui/#/bot/mara/persona")
	b.waitText("#persona-tokens", "Persona:")
	want := e.srv.deps.Chat.Tokens(decodeBot(t, e.must(http.StatusOK, "GET", "/v1/bots/mara", "")), "")
	require.Equal(t, 1600, want.BudgetTokens)
	b.waitText("#persona-tokens", fmt.Sprintf("%s tokens", commas(want.Persona.Tokens)))
	b.waitText("#persona-tokens", "of its share 800 (persona_share 0.5, the default × budget 1,600)")
	b.waitText("#persona-tokens", "too big")
	b.waitText(`[data-field="description"]`, fmt.Sprintf("%s tokens", commas(want.Persona.Fields["description"])))
	b.shot("tokens-persona")

	// Shortening the persona updates the counts as one types.
	b.setValue(`[data-field="description"] textarea`, "Mara tends the glasshouse.")
	b.wait(`!document.querySelector('#persona-tokens').innerText.includes('too big')`)

	b.click("#tab-lore")
	b.waitText("#lore-tokens", "room for lore 160 tokens")
	b.waitText(`.entry[data-entry-id="3"]`, fmt.Sprintf("· %d tokens", want.Lore.Entries[0].Tokens))

	b.open("/ui/#/bot/mara/preview")
	b.wait(`document.querySelector('#preview-budget')?.value === '1600'`)
	b.noPageErrors()
}

func jsString2(s string) string { b, _ := json.Marshal(s); return string(b) }

// commas writes n as the page does (en: 1,234).
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// What moved between two previews reads in ranges and friendly names:
// twenty turns that came in are one line, not twenty.
func TestUIPreviewMovesRanges(t *testing.T) {
	e := newUIEnv(t, Config{})
	b := newBrowser(t, e.srv, 1440, 900)
	b.open("/ui/")
	b.wait(`document.readyState === 'complete'`)
	eval[bool](b, `(() => { import('/ui/diff.js').then((m) => {
		const turn = (seq, section) => ({ seq, section });
		const prev = { budget: 2048, result: { messages: [], report: { sections: [{ name: 'lore_before', tokens: 30 }],
			turns: [turn(1, 'recalled'), turn(2, 'recalled'), turn(40, 'recent')] } } };
		const cur = { budget: 4096, result: { messages: [], report: { sections: [{ name: 'lore_before', tokens: 10 }],
			turns: [...Array.from({ length: 20 }, (_, i) => turn(10 + i, 'recalled')), turn(33, 'recalled'), turn(40, 'recalled')] } } };
		window.__moves = m.previewMoves(prev, cur).map((x) => x.text);
		window.__ranges = m.ranges([9, 1, 2, 3, 7, 10, 3]);
	}); return true })()`)
	b.wait(`window.__moves`)
	moves := eval[[]string](b, `window.__moves`)
	require.Equal(t, []string{
		"budget 2048 → 4096 tokens",
		"triggered lore (before memory): 30 → 10 tokens (-20)",
		"turns 10–29, 33 came in (recalled turns)",
		"turn 40 moved recent turns → recalled turns",
		"turns 1–2 left (was recalled turns)",
	}, moves)
	require.Equal(t, "1–3, 7, 9–10", eval[string](b, `window.__ranges`))
	b.noPageErrors()
}

// At 390 px and at 1440 px: every tab of a bot is on screen (the tab bar
// wraps instead of scrolling off), a conversation made without a bot is
// reachable from the bot list (All conversations), and no summary bar
// shows a cut range ("102–1"): a range that does not fit is hidden, and
// stays in the bar's label and in the list.
func TestUINarrowTabsAllConversationsAndSummaryLabels(t *testing.T) {
	e := newUIEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"b1","name":"Nox"}`)
	e.must(http.StatusCreated, "POST", "/v1/conversations", `{"id":"loose","user_id":"Ines"}`)
	var turns []string
	for i := range 140 {
		turns = append(turns, fmt.Sprintf(`{"role":"user","content":"Turn %d: the harbour bell rang %d times before the ferry from the north arrived late."}`, i+1, i%7+2))
	}
	e.must(http.StatusCreated, "POST", "/v1/conversations/loose/turns", `{"turns":[`+strings.Join(turns, ",")+`]}`)
	e.must(http.StatusOK, "POST", "/v1/conversations/loose/compact", "")
	require.NotEmpty(t, e.must(http.StatusOK, "GET", "/v1/conversations/loose/summaries", "").json(t)["summaries"])

	for _, w := range []int{390, 1440} {
		b := newBrowser(t, e.srv, w, 900)
		b.open("/ui/#/bot/b1/persona")
		b.wait(`document.querySelectorAll('.tabs [role=tab]').length === 6`)
		off := eval[[]string](b, `[...document.querySelectorAll('.tabs [role=tab]')].filter((t) => {
			const r = t.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 0.5 || r.width === 0 }).map((t) => t.textContent)`)
		require.Empty(t, off, "tabs off screen at %d px", w)
		require.False(t, eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`), "no sideways scrolling at %d px", w)
		b.shot(fmt.Sprintf("tabs-%d", w))

		b.open("/ui/#/")
		b.click("#all-conversations")
		b.waitText("#conv-list", "loose")
		b.waitText("#conv-list", "no bot")
		b.click("#conv-list button")
		b.waitText("#conv-detail", "Conversation loose")
		b.wait(`document.querySelectorAll('.tl-bar').length > 0`)
		b.wait(`[...document.querySelectorAll('.tl-text')].every((t) => t.hidden || t.parentElement.scrollWidth <= t.parentElement.clientWidth + 1)`)
		cut := eval[[]string](b, `[...document.querySelectorAll('.tl-text')].filter((t) => !t.hidden && t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).map((t) => t.textContent)`)
		require.Empty(t, cut, "summary labels cut at %d px", w)
		require.Equal(t, eval[int](b, `document.querySelectorAll('.tl-bar').length`), eval[int](b, `document.querySelectorAll('.tl-bar[aria-label^="level"]').length`))
		b.shot(fmt.Sprintf("conversations-%d", w))
		b.noPageErrors()
	}
}

// A PNG card's picture shows in the bot list and on the Card tab.
func TestUIAvatars(t *testing.T) {
	e := newUIEnv(t, Config{})
	cardPNG, err := card.ExportPNG(bots.Bot{Name: "Wren", Description: "A cartographer."}, pngOf(t, 120, 80, false))
	require.NoError(t, err)
	e.must(http.StatusCreated, "POST", "/v1/bots/import?id=wren", string(cardPNG), "Content-Type: image/png")
	e.must(http.StatusCreated, "POST", "/v1/bots", `{"id":"plain","name":"Plain"}`)
	for _, w := range []int{390, 1440} {
		b := newBrowser(t, e.srv, w, 900)
		b.open("/ui/#/")
		b.wait(`[...document.querySelectorAll('#bot-list img.avatar')].filter((i) => i.complete && i.naturalWidth > 0).length === 2`)
		widths := eval[[]int](b, `[...document.querySelectorAll('#bot-list img.avatar')].map((i) => i.naturalWidth)`)
		require.Contains(t, widths, 120, "Wren's own picture")
		require.Contains(t, widths, 64, "a placeholder for the bot without one")
		b.shot(fmt.Sprintf("avatars-%d", w))
		b.open("/ui/#/bot/wren/card")
		b.wait(`document.querySelector('#card-avatar')?.naturalWidth === 120`)
		b.noPageErrors()
	}
}
