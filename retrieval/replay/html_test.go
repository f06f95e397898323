package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// runMini replays the mini LoCoMo file at two budgets and returns the
// report and its records.
func runMini(t *testing.T) (Report, []QuestionRecord) {
	t.Helper()
	env := newEnv(t)
	convs, err := LoadLoCoMo("testdata/locomo-mini.json")
	require.NoError(t, err)
	var qs bytes.Buffer
	cfg := env.config([]int{60, 200, 1000})
	cfg.Questions = &qs
	rep, err := Run(context.Background(), cfg, "locomo", convs)
	require.NoError(t, err)
	var recs []QuestionRecord
	for _, line := range strings.Split(strings.TrimSpace(qs.String()), "\n") {
		var r QuestionRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		recs = append(recs, r)
	}
	return rep, recs
}

func TestWriteHTMLIsSelfContained(t *testing.T) {
	rep, recs := runMini(t)
	var page bytes.Buffer
	require.NoError(t, WriteHTML(&page, rep, recs))
	html := page.String()
	for _, id := range []string{"chart-recall-budget", "chart-recall-category", "chart-latency", "figures"} {
		require.Contains(t, html, `id="`+id+`"`)
	}
	require.NotContains(t, html, "<script", "no script")
	require.NotContains(t, html, "src=", "nothing loaded from anywhere")
	require.NotContains(t, html, "href=", "no link")
	require.Contains(t, html, "Worst-missed questions")
	require.Contains(t, html, "What is the name of Ben&#39;s greyhound?", "a question longmem missed at 60 tokens, escaped")
}

// TestReportHTMLRendersInChromium opens report.html in headless Chromium
// and checks that each chart is laid out with visible marks.
func TestReportHTMLRendersInChromium(t *testing.T) {
	exe := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; CI installs it (.ci/run: apt-get install -y chromium)")
		}
		t.Skip("browser test SKIPPED: chromium is not installed (apt-get install -y chromium)")
	}
	rep, recs := runMini(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var page bytes.Buffer
	require.NoError(t, WriteHTML(&page, rep, recs))
	require.NoError(t, os.WriteFile(path, page.Bytes(), 0o644))

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// A guard against a hung browser, not a speed requirement.
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTimeout()

	type box struct {
		Width, Height float64
		Marks         int
		MarkArea      float64
		// Clipped lists the texts drawn (partly) outside the chart.
		Clipped []string
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("#chart-latency"))))
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]box](`(() => {
		const out = {};
		for (const id of ["chart-recall-budget", "chart-recall-category", "chart-latency"]) {
			const svg = document.getElementById(id);
			if (!svg) continue;
			const r = svg.getBoundingClientRect();
			let marks = 0, area = 0;
			for (const m of svg.querySelectorAll("polyline.series, rect.bar")) {
				const b = m.getBoundingClientRect();
				if (b.width > 0 && b.height > 0) { marks++; area += b.width * b.height; }
			}
			const clipped = [];
			for (const t of svg.querySelectorAll("text")) {
				const b = t.getBBox();
				if (b.x < 0 || b.y < 0 || b.x + b.width > svg.viewBox.baseVal.width + 0.5 || b.y + b.height > svg.viewBox.baseVal.height + 0.5) clipped.push(t.textContent);
			}
			out[id] = {Width: r.width, Height: r.height, Marks: marks, MarkArea: area, Clipped: clipped};
		}
		return out;
	})()`))
	require.NoError(t, err)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	for _, id := range []string{"chart-recall-budget", "chart-recall-category", "chart-latency"} {
		b, ok := boxes[id]
		require.True(t, ok, "%s is in the page", id)
		require.Positive(t, b.Width, id)
		require.Positive(t, b.Height, id)
		require.Positive(t, b.Marks, "%s draws visible lines or bars", id)
		require.Positive(t, b.MarkArea, id)
		require.Empty(t, b.Clipped, "%s: every label lies inside the chart", id)
	}
	require.GreaterOrEqual(t, boxes["chart-recall-budget"].Marks, 3, "one line per strategy")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "report.png"), shot, 0o644))
	require.Greater(t, len(shot), 10000, "a real screenshot")
	t.Logf("screenshot: %s", filepath.Join(dir, "report.png"))
	if p := os.Getenv("REPLAY_SCREENSHOT"); p != "" {
		require.NoError(t, os.WriteFile(p, shot, 0o644))
	}
}

// With one budget the recall chart is a bar per strategy with its value,
// not a line of single dots; categories have their names; the run's
// version, command line and configuration are on the page.
func TestWriteHTMLOneBudgetNamesAndSettings(t *testing.T) {
	rep, recs := runMini(t)
	rep.Budgets = rep.Budgets[:1]
	var one []QuestionRecord
	for _, r := range recs {
		if r.BudgetTokens == rep.Budgets[0].BudgetTokens {
			one = append(one, r)
		}
	}
	rep.Version = "longmem v9.9.9 (commit 0123abcd) go1.26"
	rep.Args = []string{"--format", "locomo", "--budget", "60"}
	rep.Settings = map[string]string{"default": "recall:\n  assembler:\n    layout: cache\n"}
	var page bytes.Buffer
	require.NoError(t, WriteHTML(&page, rep, one))
	out := page.String()
	require.Contains(t, out, "Evidence recall at 60 tokens")
	chart := out[strings.Index(out, `id="chart-recall-budget"`):]
	chart = chart[:strings.Index(chart, "</svg>")]
	require.NotContains(t, chart, "<polyline")
	require.Equal(t, len(strategiesOf(rep)), strings.Count(chart, `class="bar"`), "a bar per strategy")
	require.Contains(t, out, "single-hop", "LoCoMo's category 4 by name")
	require.Contains(t, out, "longmem v9.9.9 (commit 0123abcd)")
	require.Contains(t, out, "longmem replay --format locomo --budget 60")
	require.Contains(t, out, "layout: cache")
}
