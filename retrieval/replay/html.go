package replay

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
)

// palette colours the strategies in charts, in report order.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// WriteHTML writes report.html: a self-contained page (no script, no
// network) with inline SVG charts — evidence recall against budget per
// strategy, recall by category, the distribution of longmem's assembly
// latency — the figures table, and the questions longmem missed worst
// with the evidence it left out.
func WriteHTML(w io.Writer, r Report, records []QuestionRecord) error {
	strategies := strategiesOf(r)
	lead := ""
	if len(strategies) > 0 {
		lead = strategies[0]
	}
	recallCaption := "Evidence recall against budget"
	if len(r.Budgets) == 1 {
		recallCaption = fmt.Sprintf("Evidence recall at %d tokens", r.Budgets[0].BudgetTokens)
	}
	for i := range records {
		records[i].Category = CategoryName(r.Dataset, records[i].Category)
	}
	data := struct {
		R                                    Report
		Lead, RecallCaption                  string
		Scored                               int
		Settings                             []namedText
		RecallChart, CategoryChart, LatChart template.HTML
		Table                                template.HTML
		Worst                                []QuestionRecord
	}{R: r, Lead: lead, RecallCaption: recallCaption, Scored: Scored(r), Settings: sortedSettings(r.Settings),
		RecallChart:   template.HTML(recallChart(r, strategies)),
		CategoryChart: template.HTML(categoryChart(r, strategies)),
		LatChart:      template.HTML(latencyChart(records, lead, r)),
		Table:         template.HTML(figuresTable(r, strategies)),
		Worst:         worstMissed(records, lead, 25),
	}
	return pageTmpl.Execute(w, data)
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"minus": func(a, b int) int { return a - b },
	"rec":   func(q QuestionRecord, st string) string { return fmt.Sprintf("%.2f", q.Strategies[st].Recall) },
	"aic":   func(q QuestionRecord, st string) string { return fmt.Sprintf("%.2f", q.Strategies[st].AnswerInContext) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>longmem replay — {{.R.Dataset}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 12px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.l,th.l{text-align:left}.miss{color:#a00}.charts{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}svg text{font:11px system-ui,sans-serif}
</style></head><body>
<h1>longmem replay — {{.R.Dataset}}</h1>
<p>{{.R.Conversations}} conversations, {{.R.Turns}} turns, {{.R.Questions}} questions{{if ne .Scored .R.Questions}} ({{.Scored}} scored; {{minus .R.Questions .Scored}} skipped: their evidence points to no turn){{end}} · tokenizer {{.R.Tokenizer}} · embedder {{.R.Embedder}} ·
summaries {{if .R.Summaries}}on{{else}}off{{end}}{{if .R.Haystack}} · haystack {{.R.Haystack}} turns{{end}}{{if .R.Server}} · server {{.R.Server}}{{end}}
{{if .R.BackendModel}} · backend {{.R.BackendModel}}, judge {{.R.JudgeModel}}{{end}} · {{.R.StartedAt.Format "2006-01-02 15:04 UTC"}}, {{printf "%.1f" .R.Seconds}} s</p>
{{if .R.Version}}<p>{{.R.Version}}{{if .R.Args}} · <code>longmem replay{{range .R.Args}} {{.}}{{end}}</code>{{end}}</p>{{end}}
{{range .Settings}}<details><summary>configuration {{.Name}}</summary><pre>{{.Text}}</pre></details>{{end}}
<div class="charts">
<figure><figcaption>{{.RecallCaption}}</figcaption>{{.RecallChart}}</figure>
<figure><figcaption>Evidence recall by category (largest budget)</figcaption>{{.CategoryChart}}</figure>
<figure><figcaption>Assembly latency of {{.Lead}} (ms)</figcaption>{{.LatChart}}</figure>
</div>
<h2>Figures</h2>
{{.Table}}
<h2>Worst-missed questions ({{.Lead}}, smallest budget)</h2>
<table><tr><th class="l">conversation</th><th class="l">question</th><th class="l">gold answer</th><th>cat</th><th>budget</th><th>recall</th><th>answer in ctx</th><th class="l">evidence left out</th></tr>
{{range .Worst}}<tr><td class="l">{{.Conversation}} #{{.Index}}</td><td class="l">{{.Question}}</td><td class="l">{{.Answer}}</td><td>{{.Category}}</td><td>{{.BudgetTokens}}</td>
<td>{{rec . $.Lead}}</td><td>{{aic . $.Lead}}</td><td class="l">{{range .Missed}}<div class="miss">#{{.Seq}} {{.Name}}: {{.Content}}</div>{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// figuresTable is the report's figures as an HTML table.
func figuresTable(r Report, strategies []string) string {
	cats := categoriesOf(r)
	var b strings.Builder
	b.WriteString(`<table id="figures"><tr><th>budget</th><th class="l">strategy</th><th>recall</th><th>answer in ctx</th>`)
	for _, c := range cats {
		fmt.Fprintf(&b, "<th>cat %s</th>", html.EscapeString(c))
	}
	b.WriteString("<th>tokens</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>prefix</th><th>J</th></tr>\n")
	for _, br := range r.Budgets {
		for _, st := range strategies {
			s, ok := br.Strategies[st]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, `<tr><td>%d</td><td class="l">%s</td>`, br.BudgetTokens, html.EscapeString(st))
			if s.Questions == 0 && s.NotApplicable > 0 {
				fmt.Fprintf(&b, `<td class="l" colspan="%d">not applicable: the conversation does not fit the backend's window</td></tr>`+"\n", 9+len(cats))
				continue
			}
			fmt.Fprintf(&b, "<td>%.3f</td><td>%.3f</td>", s.EvidenceRecall, s.AnswerInContext)
			for _, c := range cats {
				fmt.Fprintf(&b, "<td>%.3f</td>", s.ByCategory[c])
			}
			acc := "–"
			if s.Accuracy != nil {
				acc = fmt.Sprintf("%.3f", *s.Accuracy)
			}
			fmt.Fprintf(&b, "<td>%.0f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.3f</td><td>%s</td></tr>\n",
				s.MeanUsedTokens, s.P50Ms, s.P95Ms, s.P99Ms, s.PrefixRatio, acc)
		}
	}
	b.WriteString("</table>")
	return b.String()
}

// Chart geometry. padR leaves room for half of the last x-axis label
// (centred on the right edge of the latency chart, up to ~7 characters).
const (
	chartW, chartH                 = 360, 240
	padL, padR, padT, padB float64 = 40, 26, 10, 60
)

// axes draws a y axis from 0 to 1 (or to ymax) with grid lines.
func axes(b *strings.Builder, ymax float64, pct bool) {
	for i := 0; i <= 4; i++ {
		y := padT + (chartH-padT-padB)*(1-float64(i)/4)
		fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, padL, chartW-padR, y, y)
		label := fmt.Sprintf("%.0f", ymax*float64(i)/4)
		if ymax < 4 {
			label = fmt.Sprintf("%.2f", ymax*float64(i)/4)
		}
		if pct {
			label = fmt.Sprintf("%.0f%%", 100*ymax*float64(i)/4)
		}
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`, padL-4, y+4, label)
	}
	fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="#999"/>`, padL, chartW-padR, chartH-padB, chartH-padB)
}

func svgOpen(b *strings.Builder, id string) {
	fmt.Fprintf(b, `<svg id="%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`, id, chartW, chartH, chartW, chartH)
}

// legend lists the strategies under a chart.
func legend(b *strings.Builder, strategies []string) {
	for i, st := range strategies {
		x := padL + float64(i%3)*110
		y := chartH - padB + 28 + float64(i/3)*13
		fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="9" height="9" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`,
			x, y-8, palette[i%len(palette)], x+12, y, html.EscapeString(st))
	}
}

// namedText is one configuration of the report, for the page.
type namedText struct{ Name, Text string }

func sortedSettings(m map[string]string) []namedText {
	out := make([]namedText, 0, len(m))
	for n, t := range m {
		out = append(out, namedText{n, t})
	}
	slices.SortFunc(out, func(a, b namedText) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// recallChart plots evidence recall against budget, one line per strategy;
// budgets are spaced evenly in report order. With one budget a line has
// nothing to join: it draws a bar per strategy instead.
func recallChart(r Report, strategies []string) string {
	if len(r.Budgets) == 1 {
		return recallBars(r.Budgets[0], strategies)
	}
	var b strings.Builder
	svgOpen(&b, "chart-recall-budget")
	axes(&b, 1, true)
	n := len(r.Budgets)
	xOf := func(i int) float64 {
		if n <= 1 {
			return (padL + chartW - padR) / 2
		}
		return padL + 15 + float64(i)*(chartW-padL-padR-30)/float64(n-1)
	}
	yOf := func(v float64) float64 { return padT + (chartH-padT-padB)*(1-v) }
	for i, br := range r.Budgets {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`, xOf(i), chartH-padB+14, br.BudgetTokens)
	}
	for si, st := range strategies {
		var pts []string
		for i, br := range r.Budgets {
			s, ok := br.Strategies[st]
			if !ok || s.Questions == 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(i), yOf(s.EvidenceRecall)))
		}
		if len(pts) == 0 {
			continue
		}
		c := palette[si%len(palette)]
		fmt.Fprintf(&b, `<polyline class="series" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s</title></circle>`, xy[0], xy[1], c, html.EscapeString(st))
		}
	}
	legend(&b, strategies)
	b.WriteString("</svg>")
	return b.String()
}

// recallBars is each strategy's recall at the one budget, a labelled bar
// each.
func recallBars(br BudgetReport, strategies []string) string {
	var b strings.Builder
	svgOpen(&b, "chart-recall-budget")
	axes(&b, 1, true)
	var shown []string
	for _, st := range strategies {
		if s, ok := br.Strategies[st]; ok && s.Questions > 0 {
			shown = append(shown, st)
		}
	}
	if len(shown) > 0 {
		slotW := (chartW - padL - padR) / float64(len(shown))
		barW := math.Min(48, slotW-8)
		for i, st := range shown {
			v := br.Strategies[st].EvidenceRecall
			h := (chartH - padT - padB) * v
			x := padL + float64(i)*slotW + (slotW-barW)/2
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.3f</title></rect>`,
				x, chartH-padB-h, barW, math.Max(0.5, h), palette[slices.Index(strategies, st)%len(palette)], html.EscapeString(st), v)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.2f</text>`, x+barW/2, chartH-padB-h-3, v)
		}
	}
	legend(&b, shown)
	b.WriteString("</svg>")
	return b.String()
}

// categoryChart draws grouped bars: per category, each strategy's recall
// at the largest budget.
func categoryChart(r Report, strategies []string) string {
	var b strings.Builder
	svgOpen(&b, "chart-recall-category")
	axes(&b, 1, true)
	if len(r.Budgets) == 0 {
		b.WriteString("</svg>")
		return b.String()
	}
	br := r.Budgets[len(r.Budgets)-1]
	cats := categoriesOf(r)
	var shown []string
	for _, st := range strategies {
		if s, ok := br.Strategies[st]; ok && s.Questions > 0 {
			shown = append(shown, st)
		}
	}
	if len(cats) == 0 || len(shown) == 0 {
		b.WriteString("</svg>")
		return b.String()
	}
	groupW := (chartW - padL - padR) / float64(len(cats))
	barW := math.Max(1, (groupW-8)/float64(len(shown)))
	for ci, c := range cats {
		gx := padL + float64(ci)*groupW + 4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, gx+groupW/2-4, chartH-padB+14, html.EscapeString(strings.TrimPrefix(shortCat(CategoryName(r.Dataset, c)), "cat ")))
		for si, st := range shown {
			v := br.Strategies[st].ByCategory[c]
			h := (chartH - padT - padB) * v
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %.3f</title></rect>`,
				gx+float64(si)*barW, chartH-padB-h, math.Max(0.5, barW-1), math.Max(0.5, h), palette[slices.Index(strategies, st)%len(palette)],
				html.EscapeString(st), html.EscapeString(CategoryName(r.Dataset, c)), v)
		}
	}
	legend(&b, shown)
	b.WriteString("</svg>")
	return b.String()
}

// latencyChart is a histogram of the lead strategy's assembly latency over
// every record, with the report's p50/p95/p99 of the smallest budget
// marked.
func latencyChart(records []QuestionRecord, lead string, r Report) string {
	var ms []float64
	for _, q := range records {
		if s, ok := q.Strategies[lead]; ok && !s.NotApplicable {
			ms = append(ms, s.Ms)
		}
	}
	var b strings.Builder
	svgOpen(&b, "chart-latency")
	slices.Sort(ms)
	if len(ms) == 0 {
		axes(&b, 1, false)
		b.WriteString("</svg>")
		return b.String()
	}
	hi := math.Max(quantile(ms, 0.99)*1.1, 0.01) // the far tail goes in the last bin
	const bins = 24
	counts := make([]int, bins)
	for _, v := range ms {
		counts[min(bins-1, int(v/hi*bins))]++
	}
	top := slices.Max(counts)
	axes(&b, float64(top), false)
	bw := (chartW - padL - padR) / bins
	for i, c := range counts {
		h := (chartH - padT - padB) * float64(c) / float64(top)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%.2f–%.2f ms: %d</title></rect>`,
			padL+float64(i)*bw, chartH-padB-h, bw-1, math.Max(0.5, h), palette[0], hi*float64(i)/bins, hi*float64(i+1)/bins, c)
	}
	for i := 0; i <= 4; i++ {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.3g</text>`, padL+float64(i)*(chartW-padL-padR)/4, chartH-padB+14, hi*float64(i)/4)
	}
	if len(r.Budgets) > 0 {
		s := r.Budgets[0].Strategies[lead]
		for i, p := range []struct {
			name string
			v    float64
		}{{"p50", s.P50Ms}, {"p95", s.P95Ms}, {"p99", s.P99Ms}} {
			x := padL + math.Min(p.v/hi, 1)*(chartW-padL-padR)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#d62728" stroke-dasharray="3 2"/><text x="%.1f" y="%.0f" fill="#d62728">%s</text>`,
				x, x, padT, chartH-padB, x+2, padT+10+float64(i)*11, p.name)
		}
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%d contexts; ms per context</text>`, padL, chartH-padB+32, len(ms))
	b.WriteString("</svg>")
	return b.String()
}

// worstMissed returns the records of the smallest budget where lead did
// worst (lowest recall, then lowest answer_in_context), at most n.
func worstMissed(records []QuestionRecord, lead string, n int) []QuestionRecord {
	if len(records) == 0 {
		return nil
	}
	small := records[0].BudgetTokens
	for _, r := range records {
		small = min(small, r.BudgetTokens)
	}
	var out []QuestionRecord
	for _, r := range records {
		if s, ok := r.Strategies[lead]; ok && r.BudgetTokens == small && len(r.Missed) > 0 && !s.NotApplicable {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b QuestionRecord) int {
		x, y := a.Strategies[lead], b.Strategies[lead]
		switch {
		case x.Recall != y.Recall:
			return cmp.Compare(x.Recall, y.Recall)
		case x.AnswerInContext != y.AnswerInContext:
			return cmp.Compare(x.AnswerInContext, y.AnswerInContext)
		case a.Conversation != b.Conversation:
			return strings.Compare(a.Conversation, b.Conversation)
		}
		return a.Index - b.Index
	})
	return out[:min(n, len(out))]
}
